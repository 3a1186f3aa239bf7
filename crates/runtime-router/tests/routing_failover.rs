//! Retries, failover, fallback models, deadlines, streams before and after their first event,
//! and cancellation.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{defaults, fakes, model, req, router, server_error};
use futures::StreamExt;
use runtime_core::{Call, Error, RequestContext, Service, ServiceExt, StreamEvent, TimeoutPhase};
use runtime_router::{DeploymentConfig, ModelConfig, Router, RouterDefaults, Strategy};
use runtime_testkit::fake::Step;

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_on_the_same_deployment() {
    let f = fakes(&["only"]);
    f[0].push(Step::fail(Error::RateLimited {
        provider: "only".into(),
        model: "m".into(),
        retry_after: Some(Duration::from_secs(7)),
        message: "slow down".into(),
    }));
    let r = router(model("chat", Strategy::RoundRobin, &f), &f, defaults());
    let start = tokio::time::Instant::now();
    let routed = r
        .chat_routed(&req("chat"), &RequestContext::new())
        .await
        .unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(7),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(routed.attempts.len(), 2);
    assert_eq!(routed.attempts[0].outcome, "rate_limited");
}

#[tokio::test(start_paused = true)]
async fn retryable_errors_go_to_another_deployment_first() {
    let f = fakes(&["a", "b"]);
    f[0].set_default(Step::fail(server_error()));
    let r = router(model("chat", Strategy::RoundRobin, &f), &f, defaults());
    let start = tokio::time::Instant::now();
    let routed = r
        .chat_routed(&req("chat"), &RequestContext::new())
        .await
        .unwrap();
    assert_eq!(
        start.elapsed(),
        Duration::ZERO,
        "no backoff when switching deployment"
    );
    assert_eq!(routed.value.meta.deployment.as_deref(), Some("b/b-model"));
}

#[tokio::test(start_paused = true)]
async fn non_retryable_errors_are_returned_at_once() {
    let f = fakes(&["a", "b"]);
    f[0].set_default(Step::fail(Error::invalid_request(
        "a",
        "m",
        Some("n"),
        "bad",
    )));
    let r = router(model("chat", Strategy::RoundRobin, &f), &f, defaults());
    let e = r
        .chat_routed(&req("chat"), &RequestContext::new())
        .await
        .unwrap_err();
    assert_eq!(e.error.kind(), "invalid_request");
    assert_eq!(e.attempts.len(), 1);
    assert_eq!(f[1].calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn max_attempts_bounds_retries_with_backoff() {
    let f = fakes(&["only"]);
    f[0].set_default(Step::fail(server_error()));
    let d = RouterDefaults {
        max_attempts: 3,
        cooldown_failures: 10,
        backoff_base: Duration::from_secs(1),
        backoff_max: Duration::from_secs(10),
        ..defaults()
    };
    let r = router(model("chat", Strategy::RoundRobin, &f), &f, d);
    let start = tokio::time::Instant::now();
    let e = r
        .chat_routed(&req("chat"), &RequestContext::new())
        .await
        .unwrap_err();
    assert_eq!(e.attempts.len(), 3);
    // Backoff 1s then 2s, each with equal jitter (at least half).
    assert!(start.elapsed() >= Duration::from_millis(1500));

    // Through the layer contract the failure carries the route for the layers above it.
    let f = r
        .call(Call::chat(&req("chat")), &RequestContext::new())
        .await
        .unwrap_err();
    let route = f.route.unwrap();
    assert_eq!(route.attempts, 3);
    assert_eq!(route.deployment, e.attempts[2].deployment);
    assert_eq!(route.provider, e.attempts[2].provider);
}

#[tokio::test(start_paused = true)]
async fn deadline_bounds_the_whole_request() {
    let f = fakes(&["a", "b"]);
    f[0].set_default(Step::Hang);
    f[1].set_default(Step::Hang);
    let m = model("chat", Strategy::RoundRobin, &f).timeout(Duration::from_secs(2));
    let r = router(m, &f, defaults());
    let start = tokio::time::Instant::now();
    let e = r
        .chat(&req("chat"), &RequestContext::new())
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Timeout {
                phase: TimeoutPhase::Deadline,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(start.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn fallback_chain_is_tried_in_order() {
    let f = fakes(&["a", "b", "c"]);
    f[0].set_default(Step::fail(server_error()));
    f[1].set_default(Step::fail(server_error()));
    let d = RouterDefaults {
        max_attempts: 1,
        ..defaults()
    };
    let r = Router::builder()
        .defaults(d)
        .model(
            ModelConfig::new("main")
                .fallbacks(["second", "third"])
                .deployment(DeploymentConfig::new("a", "x")),
        )
        .model(ModelConfig::new("second").deployment(DeploymentConfig::new("b", "y")))
        .model(ModelConfig::new("third").deployment(DeploymentConfig::new("c", "z")))
        .provider("a", f[0].clone())
        .provider("b", f[1].clone())
        .provider("c", f[2].clone())
        .build()
        .unwrap();
    let routed = r
        .chat_routed(&req("main"), &RequestContext::new())
        .await
        .unwrap();
    let models: Vec<&str> = routed.attempts.iter().map(|a| a.model.as_str()).collect();
    assert_eq!(models, ["main", "second", "third"]);
    assert_eq!(routed.value.meta.deployment.as_deref(), Some("c/z"));
    assert_eq!(f[2].requests()[0].model, "z");
}

#[tokio::test(start_paused = true)]
async fn context_window_and_content_filter_fallbacks() {
    let f = fakes(&["a", "long", "general", "lenient"]);
    let r = Router::builder()
        .defaults(defaults())
        .model(
            ModelConfig::new("main")
                .fallbacks(["general"])
                .context_window_fallbacks(["long"])
                .content_filter_fallbacks(["lenient"])
                .deployment(DeploymentConfig::new("a", "x")),
        )
        .model(ModelConfig::new("long").deployment(DeploymentConfig::new("long", "y")))
        .model(ModelConfig::new("general").deployment(DeploymentConfig::new("general", "z")))
        .model(ModelConfig::new("lenient").deployment(DeploymentConfig::new("lenient", "w")))
        .provider("a", f[0].clone())
        .provider("long", f[1].clone())
        .provider("general", f[2].clone())
        .provider("lenient", f[3].clone())
        .build()
        .unwrap();
    f[0].push(Step::fail(Error::ContextLengthExceeded {
        provider: "a".into(),
        model: "x".into(),
        message: "too long".into(),
    }));
    let resp = r.chat(&req("main"), &RequestContext::new()).await.unwrap();
    assert_eq!(resp.meta.deployment.as_deref(), Some("long/y"));
    f[0].push(Step::fail(Error::ContentFiltered {
        provider: "a".into(),
        model: "x".into(),
        message: "no".into(),
    }));
    let resp = r.chat(&req("main"), &RequestContext::new()).await.unwrap();
    assert_eq!(resp.meta.deployment.as_deref(), Some("lenient/w"));
    assert_eq!(f[2].calls(), 0);
    // The same errors are never retried on the model's own deployments.
    assert_eq!(f[0].calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn no_failover_after_the_first_stream_event() {
    let f = fakes(&["a", "b"]);
    f[0].set_default(Step::Stream(
        vec![
            Ok(StreamEvent::TextDelta {
                text: "partial".into(),
            }),
            Err(Error::Stream {
                provider: "a".into(),
                model: "x".into(),
                error_type: Some("overloaded_error".into()),
                message: "Overloaded".into(),
                transient: true,
                content_sent: false,
            }),
        ],
        Duration::ZERO,
    ));
    let r = router(model("chat", Strategy::RoundRobin, &f), &f, defaults());
    let mut s = r
        .chat_stream(&req("chat"), &RequestContext::new())
        .await
        .unwrap();
    let first = s.next().await.unwrap().unwrap();
    assert_eq!(
        first,
        StreamEvent::TextDelta {
            text: "partial".into()
        }
    );
    let err = s.next().await.unwrap().unwrap_err();
    assert!(!err.is_retryable(), "{err:?}");
    assert!(s.next().await.is_none());
    assert_eq!(f[1].calls(), 0);
}

#[tokio::test(start_paused = true)]
async fn stream_error_before_content_fails_over() {
    let f = fakes(&["a", "b"]);
    f[0].set_default(Step::Stream(
        vec![
            Ok(StreamEvent::Start {
                id: "1".into(),
                model: "x".into(),
                created: 0,
            }),
            Err(Error::Stream {
                provider: "a".into(),
                model: "x".into(),
                error_type: None,
                message: "server_error".into(),
                transient: true,
                content_sent: false,
            }),
        ],
        Duration::ZERO,
    ));
    let r = router(model("chat", Strategy::RoundRobin, &f), &f, defaults());
    let s = r
        .chat_stream(&req("chat"), &RequestContext::new())
        .await
        .unwrap();
    assert_eq!(s.meta().deployment.as_deref(), Some("b/b-model"));
    assert_eq!(s.meta().attempts, Some(2));
    let resp = s.collect_response().await.unwrap();
    assert_eq!(resp.message.text().as_deref(), Some("ok"));
}

#[tokio::test(start_paused = true)]
async fn ttft_timeout_fails_over() {
    let f = fakes(&["stuck", "b"]);
    f[0].set_default(Step::Hang);
    let m = ModelConfig::new("chat")
        .deployment(DeploymentConfig::new("stuck", "x").ttft_timeout(Duration::from_secs(3)))
        .deployment(DeploymentConfig::new("b", "y"));
    let r = router(m, &f, defaults());
    let start = tokio::time::Instant::now();
    let routed = r
        .chat_stream_routed(&req("chat"), &RequestContext::new())
        .await
        .unwrap();
    assert_eq!(start.elapsed(), Duration::from_secs(3));
    assert_eq!(routed.attempts[0].outcome, "timeout");
    assert!(
        routed.attempts[0]
            .error
            .as_deref()
            .unwrap()
            .contains("first token")
    );
    assert_eq!(routed.value.meta().deployment.as_deref(), Some("b/y"));
}

#[tokio::test(start_paused = true)]
async fn cancellation_stops_the_attempt_and_the_queue() {
    let f = fakes(&["a"]);
    f[0].set_default(Step::Hang);
    let r = Arc::new(router(
        model("chat", Strategy::RoundRobin, &f),
        &f,
        defaults(),
    ));
    let ctx = RequestContext::new();
    let cancel = ctx.cancel.clone();
    let r2 = r.clone();
    let t = tokio::spawn(async move { r2.chat(&req("chat"), &ctx).await });
    tokio::time::sleep(Duration::from_millis(10)).await;
    cancel.cancel();
    assert!(matches!(t.await.unwrap(), Err(Error::Cancelled)));
    // A cancelled request is not a deployment failure.
    assert!(
        r.status("chat").await.unwrap()[0]
            .cooldown_remaining
            .is_none()
    );
    assert_eq!(r.status("chat").await.unwrap()[0].in_flight, 0);
}
