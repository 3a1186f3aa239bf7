//! The router's shared state when Redis is refused, hung, slow or flapping: requests finish
//! quickly on local state, limits still hold per replica, and the fleet shares one budget
//! again once Redis is back. Each test starts its own `redis-server` on a free port (never
//! the shared 6379); they fail, never skip, when redis-server is missing.
#![cfg(feature = "redis")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err
)]

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use runtime_core::{ChatRequest, Error, Message, RequestContext, ServiceExt};
use runtime_redis::RedisState;
use runtime_router::{
    DeploymentConfig, ModelConfig, Redis, RedisConfig, Router, RouterDefaults, SharedStore,
    StateStore,
};
use runtime_testkit::fake::FakeProvider;
use runtime_testkit::redis::{RedisServer, free_port};

fn req(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user("hello")])
}

fn handle(url: &str) -> Redis {
    Redis::new(
        &RedisConfig::standalone(url)
            .with_timeout(Duration::from_millis(200))
            .with_probe(Duration::from_millis(50), Duration::from_millis(250)),
    )
    .unwrap()
}

/// A router with model `chat` (one deployment `shared`, `rpm`) and model `free` (no
/// limits), its state in `redis`.
fn router(redis: Redis, fake: Arc<FakeProvider>, rpm: u64) -> Router {
    Router::builder()
        .defaults(RouterDefaults {
            queue_max_len: 0,
            redis_prefix: "faults".into(),
            ..RouterDefaults::default()
        })
        .model(
            ModelConfig::new("chat")
                .max_attempts(1)
                .deployment(DeploymentConfig::new("p", "m").name("shared").rpm(rpm)),
        )
        .model(
            ModelConfig::new("free")
                .max_attempts(1)
                .deployment(DeploymentConfig::new("p", "m").name("free")),
        )
        .provider("p", fake)
        .redis(redis)
        .build()
        .unwrap()
}

/// Rate windows are whole minutes (of the Redis clock, or since start locally): a counting
/// test must not straddle a minute boundary.
async fn away_from_window_edge() {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 60_000;
    if ms > 45_000 {
        tokio::time::sleep(Duration::from_millis((60_000 - ms) as u64 + 200)).await;
    }
}

/// Sends `n` requests for `model` round-robin over `routers`: (granted, rate limited), each
/// request under one second.
async fn send(routers: &[&Router], model: &str, n: usize) -> (usize, usize) {
    let (mut ok, mut limited) = (0, 0);
    for i in 0..n {
        let t = Instant::now();
        match routers[i % routers.len()]
            .chat(&req(model), &RequestContext::new())
            .await
        {
            Ok(_) => ok += 1,
            Err(Error::RateLimited { .. }) => limited += 1,
            Err(e) => panic!("request {i}: {e:?}"),
        }
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "request {i} took {:?}",
            t.elapsed()
        );
    }
    (ok, limited)
}

async fn wait_up(h: &Redis) {
    let start = Instant::now();
    while h.state() != RedisState::Up {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "redis not back: {:?}",
            h.status()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn refused_redis_costs_nothing_and_the_limit_holds_locally() {
    let url = format!("redis://127.0.0.1:{}/", free_port());
    let fake = Arc::new(FakeProvider::new("p"));
    away_from_window_edge().await;
    let start = Instant::now();
    let r = router(handle(&url), fake.clone(), 5);
    let (ok, limited) = send(&[&r], "chat", 50).await;
    assert_eq!((ok, limited), (5, 45));
    let (ok, _) = send(&[&r], "free", 50).await;
    assert_eq!(ok, 50);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "100 requests on a refused Redis took {:?}",
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_redis_costs_one_timeout_and_shared_counts_resume_after_thaw() {
    let mut server = RedisServer::start();
    away_from_window_edge().await;
    let (ha, hb) = (handle(&server.url()), handle(&server.url()));
    let a = router(ha.clone(), Arc::new(FakeProvider::new("p")), 10);
    let b = router(hb.clone(), Arc::new(FakeProvider::new("p")), 10);
    assert_eq!(send(&[&a, &b], "chat", 4).await, (4, 0));

    server.pause();
    let t = Instant::now();
    // A counts 3 on its own while Redis is frozen (B sends nothing meanwhile).
    assert_eq!(send(&[&a], "chat", 3).await, (3, 0));
    assert_eq!(send(&[&a], "free", 20).await, (20, 0));
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "23 requests with Redis frozen took {:?}",
        t.elapsed()
    );
    assert_eq!(ha.state(), RedisState::Down);

    server.resume();
    wait_up(&ha).await;
    // 4 shared + 3 pushed back by A = 7 of 10: three left for the whole fleet.
    assert_eq!(send(&[&b, &a], "chat", 6).await, (3, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flapping_redis_rejoins_one_budget_after_each_restart() {
    let mut server = RedisServer::start();
    away_from_window_edge().await;
    let (ha, hb) = (handle(&server.url()), handle(&server.url()));
    let a = router(ha.clone(), Arc::new(FakeProvider::new("p")), 12);
    let b = router(hb.clone(), Arc::new(FakeProvider::new("p")), 12);
    assert_eq!(send(&[&a, &b], "chat", 2).await, (2, 0));

    // Killed: what Redis held is gone (no persistence). Each replica counts locally.
    server.kill();
    assert_eq!(send(&[&a], "chat", 3).await, (3, 0));
    assert_eq!(send(&[&b], "chat", 2).await, (2, 0));
    server.restart();
    wait_up(&ha).await;
    wait_up(&hb).await;
    // Both replicas pushed their local counts: 3 + 2 = 5 of 12 are spent.
    let shared = SharedStore::new(runtime_router::RedisStore::new(
        handle(&server.url()),
        "faults",
    ));
    // Any call (here by a third replica) sees the pushed counts once A and B touched Redis.
    assert_eq!(send(&[&a, &b], "free", 2).await, (2, 0));
    assert_eq!(shared.usage("rate:shared").await.unwrap().requests, 5);

    // Flap again: down, up, and the budget is still one.
    server.kill();
    assert_eq!(send(&[&a], "free", 3).await, (3, 0));
    server.restart();
    wait_up(&ha).await;
    // B's connection died while it was idle: its next call finds out (and is answered
    // locally) and its probe reconnects.
    assert_eq!(send(&[&b], "free", 1).await, (1, 0));
    wait_up(&hb).await;
    // Restarted empty once more, nothing local to push: one fresh budget of 12.
    assert_eq!(send(&[&a, &b], "chat", 14).await, (12, 2));
}

#[tokio::test]
async fn a_router_built_while_redis_is_down_shares_state_once_it_starts() {
    let port = free_port();
    let url = format!("redis://127.0.0.1:{port}/");
    away_from_window_edge().await;
    let (ha, hb) = (handle(&url), handle(&url));
    let a = router(ha.clone(), Arc::new(FakeProvider::new("p")), 4);
    let b = router(hb.clone(), Arc::new(FakeProvider::new("p")), 4);
    // Down at start: served at once, counted locally.
    assert_eq!(send(&[&a], "chat", 1).await, (1, 0));
    assert_eq!(ha.state(), RedisState::Down);
    let _server = RedisServer::start_on(port);
    wait_up(&ha).await;
    // B was never used: it connects on its first call. One budget of 4, one already spent.
    assert_eq!(send(&[&b, &a], "chat", 5).await, (3, 2));
}
