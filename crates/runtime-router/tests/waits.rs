//! Upstream waits: a hinted wait is waited on the same deployment only when it is short and
//! fits the deadline; cooldowns are capped and end in a half-open trial; every "come back
//! later" error says when. Scripted fake providers and tokio's paused clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err
)]

use std::sync::Arc;
use std::time::Duration;

use runtime_core::{ChatRequest, Error, Provider, RequestContext, ServiceExt, Usage};
use runtime_router::{DeploymentConfig, ModelConfig, Router, RouterDefaults};
use runtime_testkit::fake::{FakeProvider, Step};
use tokio::time::Instant;

fn req() -> ChatRequest {
    ChatRequest::new("chat", vec![runtime_core::Message::user("hello there")])
}

fn rate_limited(wait: Duration) -> Error {
    Error::RateLimited {
        provider: "p".into(),
        model: "m".into(),
        retry_after: Some(wait),
        message: "Rate limit reached. Please try again in a while.".into(),
    }
}

fn defaults() -> RouterDefaults {
    RouterDefaults {
        backoff_base: Duration::from_millis(100),
        backoff_max: Duration::from_secs(1),
        ..RouterDefaults::default()
    }
}

/// A router over `fakes` (one deployment each, in priority order) with `d`.
fn router(fakes: &[Arc<FakeProvider>], d: RouterDefaults) -> Router {
    let mut m = ModelConfig::new("chat");
    for (i, f) in fakes.iter().enumerate() {
        m = m.deployment(DeploymentConfig::new(f.name(), "x").priority(i as u32));
    }
    let mut b = Router::builder().defaults(d).model(m);
    for f in fakes {
        b = b.provider(f.name().to_owned(), f.clone());
    }
    b.build().unwrap()
}

fn only() -> Arc<FakeProvider> {
    Arc::new(FakeProvider::new("only"))
}

#[tokio::test(start_paused = true)]
async fn a_short_hinted_wait_is_waited_exactly_then_the_same_deployment_retried() {
    let f = only();
    // OpenAI: "Please try again in 20ms."
    f.push(Step::fail(rate_limited(Duration::from_millis(20))));
    let r = router(std::slice::from_ref(&f), defaults());
    let start = Instant::now();
    let routed = r.chat_routed(&req(), &RequestContext::new()).await.unwrap();
    // The hint alone, no backoff on top of it.
    assert_eq!(start.elapsed(), Duration::from_millis(20));
    assert_eq!(routed.attempts.len(), 2);
    assert_eq!(f.calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_wait_longer_than_max_retry_wait_is_answered_at_once_with_the_wait() {
    // Issue 13: "Please try again in 26.604s" was retried three times within 0.4 s.
    let f = only();
    f.set_default(Step::fail(rate_limited(Duration::from_millis(26_604))));
    let r = router(std::slice::from_ref(&f), defaults());
    let start = Instant::now();
    let e = r.chat(&req(), &RequestContext::new()).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(f.calls(), 1, "one call, no fast retries");
    assert!(matches!(e, Error::RateLimited { .. }), "{e:?}");
    assert_eq!(e.wait_hint(), Some(Duration::from_millis(26_604)));
}

#[tokio::test(start_paused = true)]
async fn a_wait_past_the_deadline_is_answered_at_once() {
    let f = only();
    f.set_default(Step::fail(rate_limited(Duration::from_secs(8))));
    // 8 s is under max_retry_wait (10 s) but past the caller's 5 s deadline.
    let r = router(std::slice::from_ref(&f), defaults());
    let ctx = RequestContext::new().with_timeout(Duration::from_secs(5));
    let start = Instant::now();
    let e = r.chat(&req(), &ctx).await.unwrap_err();
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(f.calls(), 1);
    assert_eq!(e.wait_hint(), Some(Duration::from_secs(8)));
}

#[tokio::test(start_paused = true)]
async fn a_long_wait_fails_over_to_the_next_deployment_at_once() {
    let a = Arc::new(FakeProvider::new("a"));
    let b = Arc::new(FakeProvider::new("b"));
    a.set_default(Step::fail(rate_limited(Duration::from_millis(26_604))));
    let r = router(&[a.clone(), b.clone()], defaults());
    let start = Instant::now();
    let routed = r.chat_routed(&req(), &RequestContext::new()).await.unwrap();
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(routed.value.meta.deployment.as_deref(), Some("b/x"));
    assert_eq!((a.calls(), b.calls()), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn the_answer_says_when_the_first_deployment_is_back() {
    let a = Arc::new(FakeProvider::new("a"));
    let b = Arc::new(FakeProvider::new("b"));
    a.set_default(Step::fail(rate_limited(Duration::from_secs(12))));
    b.set_default(Step::fail(rate_limited(Duration::from_secs(40))));
    let r = router(&[a.clone(), b.clone()], defaults());
    let e = r.chat(&req(), &RequestContext::new()).await.unwrap_err();
    assert_eq!((a.calls(), b.calls()), (1, 1));
    // The last error was b's (40 s), but a is back after 12 s.
    assert_eq!(e.wait_hint(), Some(Duration::from_secs(12)));
    // While both cool down: 503 no healthy deployment, with the same wait.
    tokio::time::advance(Duration::from_secs(2)).await;
    let e = r.chat(&req(), &RequestContext::new()).await.unwrap_err();
    assert!(matches!(e, Error::NoHealthyDeployment { .. }), "{e:?}");
    assert_eq!(e.wait_hint(), Some(Duration::from_secs(10)));
    assert_eq!(e.http_status(), 503);
}

#[tokio::test(start_paused = true)]
async fn retry_after_86400_cools_for_max_cooldown_then_one_half_open_trial() {
    let f = only();
    // Azure: "Please retry after 86400 seconds."
    f.push(Step::fail(rate_limited(Duration::from_secs(86_400))));
    let r = Arc::new(router(std::slice::from_ref(&f), defaults()));
    let e = r.chat(&req(), &RequestContext::new()).await.unwrap_err();
    // Reported as the time the router will try again, not a day.
    assert_eq!(e.wait_hint(), Some(Duration::from_secs(60)));
    let st = &r.status("chat").await.unwrap()[0];
    assert_eq!(st.cooldown_remaining, Some(Duration::from_secs(60)));
    let e = r.chat(&req(), &RequestContext::new()).await.unwrap_err();
    assert!(matches!(e, Error::NoHealthyDeployment { .. }), "{e:?}");
    assert_eq!(e.wait_hint(), Some(Duration::from_secs(60)));
    assert_eq!(f.calls(), 1);

    // After max_cooldown: half-open, and only one trial request goes through.
    tokio::time::advance(Duration::from_secs(60)).await;
    assert!(r.status("chat").await.unwrap()[0].half_open);
    f.set_default(Step::Reply {
        text: "back".into(),
        usage: Usage::new(1, 1),
        delay: Duration::from_secs(1),
    });
    let r2 = r.clone();
    let trial = tokio::spawn(async move { r2.chat_routed(&req(), &RequestContext::new()).await });
    tokio::time::sleep(Duration::from_millis(1)).await;
    let e = r.chat(&req(), &RequestContext::new()).await.unwrap_err();
    assert!(matches!(e, Error::NoHealthyDeployment { .. }), "{e:?}");
    let routed = trial.await.unwrap().unwrap();
    assert!(routed.attempts[0].trial);
    assert_eq!(f.calls(), 2);
    // The trial passed: closed again.
    let st = &r.status("chat").await.unwrap()[0];
    assert!(!st.half_open && st.cooldown_remaining.is_none(), "{st:?}");
    r.chat(&req(), &RequestContext::new()).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_failed_trial_after_a_capped_cooldown_cools_again() {
    let f = only();
    f.set_default(Step::fail(rate_limited(Duration::from_secs(86_400))));
    let d = RouterDefaults {
        max_cooldown: Duration::from_secs(90),
        ..defaults()
    };
    let r = router(std::slice::from_ref(&f), d);
    r.chat(&req(), &RequestContext::new()).await.unwrap_err();
    tokio::time::advance(Duration::from_secs(90)).await;
    let routed = r
        .chat_routed(&req(), &RequestContext::new())
        .await
        .unwrap_err();
    assert!(routed.attempts[0].trial);
    assert_eq!(routed.error.wait_hint(), Some(Duration::from_secs(90)));
    assert_eq!(f.calls(), 2);
    let st = &r.status("chat").await.unwrap()[0];
    assert_eq!(st.cooldown_remaining, Some(Duration::from_secs(90)));
}

#[test]
fn max_cooldown_below_cooldown_is_a_config_error() {
    let f = only();
    let d = RouterDefaults {
        cooldown: Duration::from_secs(120),
        max_cooldown: Duration::from_secs(60),
        ..defaults()
    };
    let e = Router::builder()
        .defaults(d)
        .model(ModelConfig::new("chat").deployment(DeploymentConfig::new("only", "x")))
        .provider("only", f)
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("router.max_cooldown"), "{e}");
}
