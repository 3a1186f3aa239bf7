//! Shared router state on a real Redis Cluster (3 masters + 3 replicas) and behind Redis
//! Sentinel (a master, a replica, one sentinel), each started by the test on free ports:
//! two routers keep one exact rpm budget, through the failover of the node holding it.
//! Fails, never skips, when redis-server / redis-cli are missing.
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
    DeploymentConfig, ModelConfig, Redis, RedisConfig, RedisStore, Router, RouterDefaults,
    StateStore,
};
use runtime_testkit::fake::FakeProvider;
use runtime_testkit::redis::{RedisCluster, RedisSentinel, cli};

const PREFIX: &str = "fleet";

fn router(redis: Redis, rpm: u64) -> Router {
    Router::builder()
        .defaults(RouterDefaults {
            queue_max_len: 0,
            redis_prefix: PREFIX.into(),
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
        .provider("p", Arc::new(FakeProvider::new("p")))
        .redis(redis)
        .build()
        .unwrap()
}

async fn away_from_window_edge() {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        % 60_000;
    if ms > 40_000 {
        tokio::time::sleep(Duration::from_millis((60_000 - ms) as u64 + 200)).await;
    }
}

async fn send(routers: &[&Router], model: &str, n: usize) -> (usize, usize) {
    let (mut ok, mut limited) = (0, 0);
    for i in 0..n {
        let t = Instant::now();
        match routers[i % routers.len()]
            .chat(
                &ChatRequest::new(model, vec![Message::user("hi")]),
                &RequestContext::new(),
            )
            .await
        {
            Ok(_) => ok += 1,
            Err(Error::RateLimited { .. }) => limited += 1,
            Err(e) => panic!("request {i}: {e:?}"),
        }
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "request {i} took {:?}",
            t.elapsed()
        );
    }
    (ok, limited)
}

/// Sends `free` requests through `r` until its handle is up (each one quick, answered
/// locally while it is not).
async fn until_shared(r: &Router, h: &Redis) {
    let start = Instant::now();
    loop {
        send(&[r], "free", 1).await;
        if h.state() == RedisState::Up {
            // One more round trip proves the connection answers.
            send(&[r], "free", 1).await;
            if h.state() == RedisState::Up {
                return;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "shared state not back: {:?}",
            h.status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn timings(cfg: RedisConfig) -> RedisConfig {
    // Generous per-command bound: the exact counts below must not go local on a loaded CI
    // machine; outages still open the breaker at once (refused) or within this bound.
    cfg.with_timeout(Duration::from_millis(500))
        .with_probe(Duration::from_millis(100), Duration::from_millis(500))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_keeps_one_exact_budget_across_a_master_failover() {
    let mut cluster = RedisCluster::start(3, 1);
    let cfg = timings(RedisConfig::cluster(cluster.urls()));
    let (ha, hb) = (Redis::new(&cfg).unwrap(), Redis::new(&cfg).unwrap());
    assert!(ha.is_cluster());
    away_from_window_edge().await;
    let a = router(ha.clone(), 20);
    let b = router(hb.clone(), 20);
    assert_eq!(send(&[&a, &b], "chat", 6).await, (6, 0));

    // Every key of the fleet is on the slot of its hash tag; kill the master serving it once
    // its replica has the counts.
    let probe = RedisStore::new(Redis::new(&cfg).unwrap(), PREFIX);
    let key = probe.key("rate:shared");
    let master = cluster
        .master_of(&key)
        .expect("a master serves the fleet's slot");
    let mport = cluster.nodes[master].port();
    let offset: u64 = info_field(mport, "master_repl_offset");
    let replica_port = cluster
        .nodes
        .iter()
        .map(|n| n.port())
        .find(|p| {
            *p != mport
                && cli(*p, &["INFO", "replication"]).contains(&format!("master_port:{mport}"))
        })
        .expect("a replica of the master");
    let start = Instant::now();
    while info_field(replica_port, "slave_repl_offset") < offset {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "replica never caught up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cluster.nodes[master].kill();

    // During the failover requests keep being answered, quickly, from local state.
    assert_eq!(send(&[&a, &b], "free", 10).await, (10, 0));
    // The replica takes over once the others see the master fail (node timeout 1 s).
    let start = Instant::now();
    while cluster.master_of(&key).is_none_or(|m| m == master) {
        assert!(start.elapsed() < Duration::from_secs(30), "no failover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster.wait_ok(Duration::from_secs(30));
    until_shared(&a, &ha).await;
    until_shared(&b, &hb).await;

    // The 6 counted before the failover survived on the promoted replica: 14 left.
    assert_eq!(probe.usage("rate:shared").await.unwrap().requests, 6);
    assert_eq!(send(&[&b, &a], "chat", 17).await, (14, 3));
}

fn info_field(port: u16, field: &str) -> u64 {
    cli(port, &["INFO", "replication"])
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_keeps_one_exact_budget_across_a_failover() {
    let mut setup = RedisSentinel::start(1);
    let cfg = timings(RedisConfig::sentinel(
        setup.urls(),
        setup.master_name.clone(),
    ));
    let (ha, hb) = (Redis::new(&cfg).unwrap(), Redis::new(&cfg).unwrap());
    away_from_window_edge().await;
    let a = router(ha.clone(), 10);
    let b = router(hb.clone(), 10);
    assert_eq!(send(&[&a, &b], "chat", 4).await, (4, 0));

    let offset = info_field(setup.master.port(), "master_repl_offset");
    let rport = setup.replica.port();
    let start = Instant::now();
    while info_field(rport, "slave_repl_offset") < offset {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "replica never caught up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    setup.master.kill();
    assert_eq!(send(&[&a, &b], "free", 6).await, (6, 0));
    setup.wait_master(rport, Duration::from_secs(30));
    until_shared(&a, &ha).await;
    until_shared(&b, &hb).await;

    // The new master has the 4 counted before: 6 left for the fleet.
    assert_eq!(send(&[&b, &a], "chat", 8).await, (6, 2));
}
