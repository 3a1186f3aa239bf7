//! Rate limits and keys: the FIFO queue, token estimates corrected by real usage, dead and
//! rotating keys.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{defaults, fakes, req, router};
use runtime_core::{Error, RequestContext, ServiceExt};
use runtime_router::{DeploymentConfig, ModelConfig, Router, RouterDefaults};
use runtime_testkit::fake::Step;

#[tokio::test(start_paused = true)]
async fn queue_waits_for_capacity_then_succeeds() {
    let f = fakes(&["a"]);
    let m = ModelConfig::new("chat").deployment(DeploymentConfig::new("a", "x").rpm(1));
    let d = RouterDefaults {
        queue_max_wait: Duration::from_secs(90),
        ..defaults()
    };
    let r = Arc::new(router(m, &f, d));
    r.chat(&req("chat"), &RequestContext::new()).await.unwrap();
    let start = tokio::time::Instant::now();
    let r2 = r.clone();
    let waiting = tokio::spawn(async move { r2.chat(&req("chat"), &RequestContext::new()).await });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!waiting.is_finished());
    assert_eq!(f[0].calls(), 1);
    waiting.await.unwrap().unwrap();
    assert_eq!(f[0].calls(), 2);
    assert!(start.elapsed() <= Duration::from_secs(60));
}

#[tokio::test(start_paused = true)]
async fn queue_is_fifo() {
    let f = fakes(&["a"]);
    let m = ModelConfig::new("chat")
        .timeout(Duration::from_secs(600))
        .deployment(DeploymentConfig::new("a", "x").rpm(1));
    let d = RouterDefaults {
        queue_max_wait: Duration::from_secs(600),
        ..defaults()
    };
    let r = Arc::new(router(m, &f, d));
    r.chat(&req("chat"), &RequestContext::new()).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..3 {
        let r2 = r.clone();
        tasks.push(tokio::spawn(async move {
            let mut q = req("chat");
            q.user = Some(format!("u{i}"));
            r2.chat(&q, &RequestContext::new()).await
        }));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let users: Vec<_> = f[0]
        .requests()
        .iter()
        .skip(1)
        .map(|r| r.user.clone().unwrap())
        .collect();
    assert_eq!(users, ["u0", "u1", "u2"]);
}

#[tokio::test(start_paused = true)]
async fn full_queue_and_expired_wait_are_rate_limited_errors() {
    let f = fakes(&["a"]);
    let m = ModelConfig::new("chat").deployment(DeploymentConfig::new("a", "x").rpm(1));
    let d = RouterDefaults {
        queue_max_len: 1,
        queue_max_wait: Duration::from_secs(5),
        ..defaults()
    };
    let r = Arc::new(router(m, &f, d));
    r.chat(&req("chat"), &RequestContext::new()).await.unwrap();
    let r2 = r.clone();
    let waiting = tokio::spawn(async move { r2.chat(&req("chat"), &RequestContext::new()).await });
    tokio::time::sleep(Duration::from_millis(10)).await;
    let e = r
        .chat(&req("chat"), &RequestContext::new())
        .await
        .unwrap_err();
    match e {
        Error::RateLimited {
            provider,
            retry_after,
            message,
            ..
        } => {
            assert_eq!(provider, "router");
            assert!(retry_after.is_some());
            assert!(message.contains("queue is full"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let e = waiting.await.unwrap().unwrap_err();
    assert!(matches!(e, Error::RateLimited { .. }), "{e:?}");
    assert_eq!(f[0].calls(), 1);
}

#[tokio::test(start_paused = true)]
async fn tpm_counts_estimates_and_corrects_with_real_usage() {
    let f = fakes(&["a"]);
    // Estimate: 11 chars / 4 = 2 tokens + max_tokens 98 = 100. Real usage: 10 + 5.
    let m = ModelConfig::new("chat").deployment(DeploymentConfig::new("a", "x").tpm(200));
    let d = RouterDefaults {
        queue_max_len: 0,
        ..defaults()
    };
    let r = router(m, &f, d);
    let mut q = req("chat");
    q.max_tokens = Some(98);
    // Each request charges 100 up front and is corrected to 15 after: 15 * 6 + 100 fits,
    // 15 * 7 + 100 does not. Without the correction only two would fit.
    for _ in 0..7 {
        r.chat(&q, &RequestContext::new()).await.unwrap();
    }
    assert_eq!(f[0].calls(), 7);
    let e = r.chat(&q, &RequestContext::new()).await.unwrap_err();
    assert!(matches!(e, Error::RateLimited { .. }), "{e:?}");
}

#[tokio::test(start_paused = true)]
async fn stream_usage_corrects_the_token_estimate() {
    let f = fakes(&["a"]);
    let m = ModelConfig::new("chat").deployment(DeploymentConfig::new("a", "x").tpm(200));
    let r = router(
        m,
        &f,
        RouterDefaults {
            queue_max_len: 0,
            ..defaults()
        },
    );
    let mut q = req("chat");
    q.max_tokens = Some(98);
    for _ in 0..7 {
        let s = r.chat_stream(&q, &RequestContext::new()).await.unwrap();
        s.collect_response().await.unwrap();
        // The correction is written by a task spawned when the stream ends.
        tokio::task::yield_now().await;
    }
    let e = r.chat_stream(&q, &RequestContext::new()).await.unwrap_err();
    assert!(matches!(e, Error::RateLimited { .. }), "{e:?}");
}

#[tokio::test(start_paused = true)]
async fn dead_key_is_skipped_until_recheck() {
    let f = fakes(&["a"]);
    let m = ModelConfig::new("chat")
        .deployment(DeploymentConfig::new("a", "x").api_keys(["${K_BAD}", "good"]));
    let r = Router::builder()
        .defaults(RouterDefaults {
            dead_key_recheck: Duration::from_secs(60),
            ..defaults()
        })
        .model(m)
        .provider("a", f[0].clone())
        .env(|k| (k == "K_BAD").then(|| "bad".to_owned()))
        .build()
        .unwrap();
    f[0].push(Step::fail(Error::Authentication {
        provider: "a".into(),
        model: "x".into(),
        status: 401,
        message: "bad key".into(),
    }));
    let routed = r
        .chat_routed(&req("chat"), &RequestContext::new())
        .await
        .unwrap();
    assert_eq!(routed.attempts[0].key_index, Some(0));
    assert_eq!(routed.attempts[1].key_index, Some(1));
    for _ in 0..4 {
        let routed = r
            .chat_routed(&req("chat"), &RequestContext::new())
            .await
            .unwrap();
        assert_eq!(routed.attempts[0].key_index, Some(1));
    }
    assert_eq!(r.status("chat").await.unwrap()[0].dead_keys, vec![0]);
    tokio::time::advance(Duration::from_secs(60)).await;
    assert!(r.status("chat").await.unwrap()[0].dead_keys.is_empty());
}

#[tokio::test(start_paused = true)]
async fn live_keys_rotate() {
    let f = fakes(&["a"]);
    let r = router(
        ModelConfig::new("chat")
            .deployment(DeploymentConfig::new("a", "x").api_keys(["k0", "k1", "k2"])),
        &f,
        defaults(),
    );
    let mut used = Vec::new();
    for _ in 0..6 {
        let routed = r
            .chat_routed(&req("chat"), &RequestContext::new())
            .await
            .unwrap();
        used.push(routed.attempts[0].key_index.unwrap());
    }
    assert_eq!(used, [0, 1, 2, 0, 1, 2]);
}
