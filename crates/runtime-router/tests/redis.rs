//! The Redis state store against a real `redis-server` (MODELRT_TEST_REDIS_URL, default
//! redis://127.0.0.1:6379/). These tests fail when Redis is not running.
#![cfg(feature = "redis")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err
)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use runtime_core::{ChatRequest, Error, Message, RequestContext, ServiceExt};
use runtime_router::{
    Acquire, DeploymentConfig, ModelConfig, RateLimits, Redis, RedisConfig, RedisStore, Router,
    RouterDefaults, StateStore,
};
use runtime_testkit::fake::{FakeProvider, Step};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn url() -> String {
    std::env::var("MODELRT_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

fn prefix(test: &str) -> String {
    let n = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("modelrt-test:router:{test}:{}:{n}", std::process::id())
}

/// A store straight on Redis (no local fallback): a test fails when Redis does not answer.
async fn store(prefix: &str) -> Arc<RedisStore> {
    let cfg = RedisConfig::standalone(url()).with_timeout(Duration::from_secs(2));
    let s = RedisStore::new(Redis::new(&cfg).unwrap(), prefix);
    s.flags(&["probe"])
        .await
        .expect("redis-server must be running (MODELRT_TEST_REDIS_URL)");
    Arc::new(s)
}

/// Rate windows are whole minutes of the Redis clock: don't start a counting test in the
/// last seconds of one.
async fn away_from_window_edge() {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        % 60_000;
    if ms > 50_000 {
        tokio::time::sleep(Duration::from_millis(60_000 - ms + 200)).await;
    }
}

fn req() -> ChatRequest {
    ChatRequest::new("chat", vec![Message::user("hello")])
}

fn router(
    store: Arc<RedisStore>,
    fake: Arc<FakeProvider>,
    d: DeploymentConfig,
    defaults: RouterDefaults,
) -> Router {
    Router::builder()
        .defaults(defaults)
        .model(ModelConfig::new("chat").max_attempts(1).deployment(d))
        .provider("p", fake)
        .store(store)
        .build()
        .unwrap()
}

#[tokio::test]
async fn store_operations() {
    let s = store(&prefix("ops")).await;
    s.set_flag("f", Duration::from_secs(10)).await.unwrap();
    s.set_flag("f", Duration::from_secs(1)).await.unwrap();
    let f = s.flags(&["f", "g"]).await.unwrap();
    assert!(
        f[0].unwrap() > Duration::from_secs(5),
        "a shorter ttl does not shorten a flag"
    );
    assert_eq!(f[1], None);
    s.clear_flags(&["f"]).await.unwrap();
    assert_eq!(s.flags(&["f"]).await.unwrap(), vec![None]);

    assert!(s.try_lock("l", Duration::from_secs(5)).await.unwrap());
    assert!(!s.try_lock("l", Duration::from_secs(5)).await.unwrap());

    assert_eq!(
        s.record_failure("x", Duration::from_secs(5)).await.unwrap(),
        1
    );
    assert_eq!(
        s.record_failure("x", Duration::from_secs(5)).await.unwrap(),
        2
    );

    away_from_window_edge().await;
    let lim = RateLimits {
        rpm: Some(10),
        tpm: Some(100),
    };
    let Acquire::Granted { window } = s.acquire("r", lim, 80).await.unwrap() else {
        panic!("first acquire")
    };
    assert!(matches!(
        s.acquire("r", lim, 30).await.unwrap(),
        Acquire::Denied { .. }
    ));
    s.adjust_tokens("r", window, -60).await.unwrap();
    assert!(matches!(
        s.acquire("r", lim, 30).await.unwrap(),
        Acquire::Granted { .. }
    ));
    let u = s.usage("r").await.unwrap();
    assert_eq!((u.requests, u.tokens), (2, 50));
}

#[tokio::test]
async fn two_routers_share_one_rpm_budget() {
    away_from_window_edge().await;
    let p = prefix("rpm");
    let fa = Arc::new(FakeProvider::new("p"));
    let fb = Arc::new(FakeProvider::new("p"));
    let d = || DeploymentConfig::new("p", "m").name("shared").rpm(5);
    let no_queue = RouterDefaults {
        queue_max_len: 0,
        ..RouterDefaults::default()
    };
    let a = router(store(&p).await, fa.clone(), d(), no_queue.clone());
    let b = router(store(&p).await, fb.clone(), d(), no_queue);
    let mut ok = 0;
    let mut limited = 0;
    for i in 0..8 {
        let r = if i % 2 == 0 { &a } else { &b };
        match r.chat(&req(), &RequestContext::new()).await {
            Ok(_) => ok += 1,
            Err(Error::RateLimited {
                provider,
                retry_after,
                ..
            }) => {
                assert_eq!(provider, "router");
                assert!(retry_after.is_some_and(|d| d <= Duration::from_secs(60)));
                limited += 1;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(ok, 5, "one combined budget, not 5 per replica");
    assert_eq!(limited, 3);
    assert_eq!(fa.calls() + fb.calls(), 5);
}

#[tokio::test]
async fn two_routers_share_one_tpm_budget_with_corrections() {
    away_from_window_edge().await;
    let p = prefix("tpm");
    let fa = Arc::new(FakeProvider::new("p"));
    let fb = Arc::new(FakeProvider::new("p"));
    // Estimate 1 + 99 = 100 per request, real usage 15 (10 + 5).
    let d = || DeploymentConfig::new("p", "m").name("shared").tpm(200);
    let no_queue = RouterDefaults {
        queue_max_len: 0,
        ..RouterDefaults::default()
    };
    let a = router(store(&p).await, fa.clone(), d(), no_queue.clone());
    let b = router(store(&p).await, fb.clone(), d(), no_queue);
    let mut q = req();
    q.max_tokens = Some(99);
    let mut ok = 0;
    for i in 0..10 {
        let r = if i % 2 == 0 { &a } else { &b };
        if r.chat(&q, &RequestContext::new()).await.is_ok() {
            ok += 1;
        }
    }
    // 15 * 6 + 100 <= 200 < 15 * 7 + 100.
    assert_eq!(ok, 7);
}

#[tokio::test]
async fn cooldown_is_seen_by_the_other_router() {
    let p = prefix("cool");
    let fa = Arc::new(FakeProvider::new("p"));
    fa.set_default(Step::fail(Error::Api {
        provider: "p".into(),
        model: "m".into(),
        status: 503,
        error_type: None,
        code: None,
        message: "down".into(),
        retry_after: None,
        should_retry: None,
    }));
    let fb = Arc::new(FakeProvider::new("p"));
    let d = || DeploymentConfig::new("p", "m").name("shared");
    let cfg = RouterDefaults {
        cooldown_failures: 2,
        cooldown: Duration::from_secs(30),
        ..RouterDefaults::default()
    };
    let a = router(store(&p).await, fa.clone(), d(), cfg.clone());
    let b = router(store(&p).await, fb.clone(), d(), cfg);
    a.chat(&req(), &RequestContext::new()).await.unwrap_err();
    a.chat(&req(), &RequestContext::new()).await.unwrap_err();
    let st = &b.status("chat").await.unwrap()[0];
    assert!(st.cooldown_remaining.is_some());
    let e = b.chat(&req(), &RequestContext::new()).await.unwrap_err();
    assert!(matches!(e, Error::NoHealthyDeployment { .. }), "{e:?}");
    assert_eq!(fb.calls(), 0);
}

#[tokio::test]
async fn one_health_probe_per_interval_for_the_fleet() {
    let p = prefix("probe");
    let upstream = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&upstream)
        .await;
    let d = || {
        DeploymentConfig::new("p", "m")
            .name("shared")
            .health_check(Some(format!("{}/health", upstream.uri())))
    };
    let cfg = RouterDefaults {
        health_check_interval: Duration::from_secs(60),
        ..RouterDefaults::default()
    };
    let a = router(
        store(&p).await,
        Arc::new(FakeProvider::new("p")),
        d(),
        cfg.clone(),
    );
    let b = router(store(&p).await, Arc::new(FakeProvider::new("p")), d(), cfg);
    // Both routers' first tick is immediate; only the lock holder probes.
    let marked = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if !b.status("chat").await.unwrap()[0].healthy {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(marked.is_ok(), "the other router sees the health result");
    assert!(!a.status("chat").await.unwrap()[0].healthy);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(upstream.received_requests().await.unwrap().len(), 1);
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn from_config_shares_state_through_redis_url() {
    let p = prefix("cfg");
    let text = format!(
        r#"
[router]
redis_url = "{}"
redis_prefix = "{p}"
queue_max_len = 0
[[models]]
name = "chat"
[[models.deployments]]
name = "shared"
provider = "fake"
model = "m"
rpm = 2
"#,
        url()
    );
    let cfg: runtime_router::RouterConfig = toml::from_str(&text).unwrap();
    let fake = Arc::new(FakeProvider::new("fake"));
    let f2 = fake.clone();
    away_from_window_edge().await;
    let r = Router::from_config(cfg.clone(), move |_name| {
        Ok(runtime_core::ProviderService::shared(f2.clone()))
    })
    .await
    .unwrap();
    let f3 = fake.clone();
    let r2 = Router::from_config(cfg, move |_name| {
        Ok(runtime_core::ProviderService::shared(f3.clone()))
    })
    .await
    .unwrap();
    r.chat(&req(), &RequestContext::new()).await.unwrap();
    r2.chat(&req(), &RequestContext::new()).await.unwrap();
    assert!(matches!(
        r.chat(&req(), &RequestContext::new()).await,
        Err(Error::RateLimited { .. })
    ));
    // The keys are under the configured prefix.
    let s = store(&p).await;
    assert_eq!(s.usage("rate:shared").await.unwrap().requests, 2);
}
