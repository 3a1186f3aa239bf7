//! Routing behaviour with scripted fake providers and tokio's paused clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err
)]

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use runtime_core::{
    ChatRequest, EmbeddingRequest, Error, Message, ModelPricing, Provider, RequestContext,
    StreamEvent, TimeoutPhase, Usage,
};
use runtime_router::{
    DeploymentConfig, ModelConfig, ModelType, RequestKind, Router, RouterDefaults, Strategy,
};
use runtime_testkit::fake::{FakeProvider, Step};

fn req(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![runtime_core::Message::user("hello there")])
}

fn server_error() -> Error {
    Error::Api {
        provider: "p".into(),
        model: "m".into(),
        status: 500,
        error_type: None,
        code: None,
        message: "boom".into(),
        retry_after: None,
        should_retry: None,
    }
}

fn fakes(names: &[&str]) -> Vec<Arc<FakeProvider>> {
    names
        .iter()
        .map(|n| Arc::new(FakeProvider::new(n)))
        .collect()
}

fn defaults() -> RouterDefaults {
    RouterDefaults {
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(100),
        ..RouterDefaults::default()
    }
}

fn router(model: ModelConfig, fakes: &[Arc<FakeProvider>], d: RouterDefaults) -> Router {
    let mut b = Router::builder().defaults(d).model(model);
    for f in fakes {
        b = b.provider(f.name().to_owned(), f.clone());
    }
    b.build().unwrap()
}

fn model(name: &str, strategy: Strategy, fakes: &[Arc<FakeProvider>]) -> ModelConfig {
    let mut m = ModelConfig::new(name).strategy(strategy);
    for f in fakes {
        m = m.deployment(DeploymentConfig::new(
            f.name(),
            format!("{}-model", f.name()),
        ));
    }
    m
}

#[tokio::test(start_paused = true)]
async fn round_robin_spreads_evenly_and_rewrites_the_model() {
    let f = fakes(&["a", "b", "c"]);
    let r = router(model("chat", Strategy::RoundRobin, &f), &f, defaults());
    for _ in 0..300 {
        let resp = r.chat(&req("chat"), &RequestContext::new()).await.unwrap();
        assert_eq!(resp.meta.attempts, Some(1));
    }
    for x in &f {
        assert_eq!(x.calls(), 100);
        assert_eq!(x.requests()[0].model, format!("{}-model", x.name()));
    }
}

#[tokio::test(start_paused = true)]
async fn response_meta_names_the_deployment_and_attempts() {
    let f = fakes(&["a", "b"]);
    f[0].push(Step::fail(server_error()));
    let r = router(model("chat", Strategy::RoundRobin, &f), &f, defaults());
    let routed = r
        .chat_routed(&req("chat"), &RequestContext::new())
        .await
        .unwrap();
    let meta = &routed.value.meta;
    assert_eq!(meta.deployment.as_deref(), Some("b/b-model"));
    assert_eq!(meta.provider.as_deref(), Some("b"));
    assert_eq!(meta.attempts, Some(2));
    assert_eq!(routed.attempts.len(), 2);
    assert_eq!(routed.attempts[0].outcome, "api_error");
    assert_eq!(routed.attempts[1].outcome, "ok");
    let json = &meta.annotations["attempts"];
    assert_eq!(json[0]["deployment"], "a/a-model");
    assert_eq!(json[1]["strategy"], "round_robin");
}

#[tokio::test(start_paused = true)]
async fn random_covers_all_deployments() {
    let f = fakes(&["a", "b"]);
    let r = router(model("chat", Strategy::Random, &f), &f, defaults());
    for _ in 0..1000 {
        r.chat(&req("chat"), &RequestContext::new()).await.unwrap();
    }
    for x in &f {
        assert!((400..=600).contains(&x.calls()), "{}", x.calls());
    }
}

#[tokio::test(start_paused = true)]
async fn least_connections_avoids_a_deployment_holding_slow_streams() {
    let f = fakes(&["slow", "fast"]);
    // The slow deployment's streams send one content event, then stay open for an hour.
    f[0].set_default(Step::Stream(
        vec![
            Ok(StreamEvent::TextDelta { text: "x".into() }),
            Ok(StreamEvent::TextDelta { text: "y".into() }),
        ],
        Duration::from_secs(3600),
    ));
    let r = router(
        model("chat", Strategy::LeastConnections, &f),
        &f,
        defaults(),
    );
    let mut held = Vec::new();
    for _ in 0..10 {
        let mut s = r
            .chat_stream(&req("chat"), &RequestContext::new())
            .await
            .unwrap();
        if s.meta().deployment.as_deref() == Some("slow/slow-model") {
            // Read the first event and keep the stream open.
            assert!(s.next().await.is_some());
            held.push(s);
        } else {
            while let Some(ev) = s.next().await {
                ev.unwrap();
            }
        }
    }
    assert_eq!(f[0].calls(), 1, "slow got only the first stream");
    assert_eq!(f[1].calls(), 9);
    let st = r.status("chat").await.unwrap();
    assert_eq!(st[0].in_flight, 1);
    assert_eq!(st[1].in_flight, 0);
    drop(held);
    let st = r.status("chat").await.unwrap();
    assert_eq!(st[0].in_flight, 0, "a dropped stream is no longer counted");
}

#[tokio::test(start_paused = true)]
async fn lowest_latency_prefers_fast_without_stampeding() {
    let f = fakes(&["slow", "fast1", "fast2"]);
    f[0].set_default(Step::Reply {
        text: "s".into(),
        usage: Usage::new(1, 1),
        delay: Duration::from_millis(500),
    });
    for x in &f[1..] {
        x.set_default(Step::Reply {
            text: "f".into(),
            usage: Usage::new(1, 1),
            delay: Duration::from_millis(20),
        });
    }
    let r = router(model("chat", Strategy::LowestLatency, &f), &f, defaults());
    for _ in 0..600 {
        r.chat(&req("chat"), &RequestContext::new()).await.unwrap();
    }
    assert!(f[0].calls() < 30, "slow got {}", f[0].calls());
    // P2C: the two fast deployments share the load.
    assert!(
        f[1].calls() > 200 && f[2].calls() > 200,
        "{} {}",
        f[1].calls(),
        f[2].calls()
    );
}

#[tokio::test(start_paused = true)]
async fn lowest_cost_picks_the_cheapest() {
    let f = fakes(&["pricey", "cheap", "unpriced"]);
    let price = |i, o| ModelPricing {
        input_per_mtok: i,
        output_per_mtok: o,
        ..ModelPricing::default()
    };
    let m = ModelConfig::new("chat")
        .strategy(Strategy::LowestCost)
        .deployment(DeploymentConfig::new("pricey", "x").pricing(price(5.0, 15.0)))
        .deployment(DeploymentConfig::new("cheap", "y").pricing(price(0.15, 0.6)))
        .deployment(DeploymentConfig::new("unpriced", "z"));
    let r = router(m, &f, defaults());
    for _ in 0..20 {
        r.chat(&req("chat"), &RequestContext::new()).await.unwrap();
    }
    assert_eq!(f[1].calls(), 20);
}

#[tokio::test(start_paused = true)]
async fn usage_based_balances_headroom() {
    let f = fakes(&["a", "b"]);
    let m = ModelConfig::new("chat")
        .strategy(Strategy::UsageBased)
        .deployment(DeploymentConfig::new("a", "x").rpm(100))
        .deployment(DeploymentConfig::new("b", "y").rpm(300));
    let r = router(m, &f, defaults());
    for _ in 0..200 {
        r.chat(&req("chat"), &RequestContext::new()).await.unwrap();
    }
    // Equal headroom fractions: a at 50/100, b at 150/300.
    assert!((48..=52).contains(&f[0].calls()), "{}", f[0].calls());
}

#[tokio::test(start_paused = true)]
async fn per_request_kind_strategy() {
    let f = fakes(&["a", "b"]);
    let m = ModelConfig::new("chat")
        .strategy(Strategy::RoundRobin)
        .strategy_for(RequestKind::Stream, Strategy::LowestCost)
        .deployment(DeploymentConfig::new("a", "x").pricing(ModelPricing {
            input_per_mtok: 9.0,
            output_per_mtok: 9.0,
            ..ModelPricing::default()
        }))
        .deployment(DeploymentConfig::new("b", "y").pricing(ModelPricing {
            input_per_mtok: 1.0,
            output_per_mtok: 1.0,
            ..ModelPricing::default()
        }));
    let r = router(m, &f, defaults());
    for _ in 0..4 {
        let s = r
            .chat_stream(&req("chat"), &RequestContext::new())
            .await
            .unwrap();
        assert_eq!(
            s.meta().annotations["attempts"][0]["strategy"],
            "lowest_cost"
        );
        s.collect_response().await.unwrap();
    }
    assert_eq!(f[1].calls(), 4);
    for _ in 0..4 {
        r.chat(&req("chat"), &RequestContext::new()).await.unwrap();
    }
    assert_eq!(f[0].calls(), 2);
}

#[tokio::test(start_paused = true)]
async fn priority_tiers_are_used_in_order() {
    let f = fakes(&["primary", "backup"]);
    let m = ModelConfig::new("chat")
        .deployment(DeploymentConfig::new("primary", "x").priority(0))
        .deployment(DeploymentConfig::new("backup", "y").priority(1));
    let d = RouterDefaults {
        cooldown_failures: 1,
        ..defaults()
    };
    let r = router(m, &f, d);
    for _ in 0..10 {
        r.chat(&req("chat"), &RequestContext::new()).await.unwrap();
    }
    assert_eq!((f[0].calls(), f[1].calls()), (10, 0));
    f[0].set_default(Step::fail(server_error()));
    let resp = r.chat(&req("chat"), &RequestContext::new()).await.unwrap();
    assert_eq!(resp.meta.deployment.as_deref(), Some("backup/y"));
    // primary is cooling down now: the lower tier serves without trying it.
    let before = f[0].calls();
    for _ in 0..5 {
        r.chat(&req("chat"), &RequestContext::new()).await.unwrap();
    }
    assert_eq!(f[0].calls(), before);
}

/// With the default `cooldown_failures = 3`, a busy deployment with a 1 % error rate (and
/// the odd streak of three failures) stays in service; when it then fails every request, the
/// failure rate opens its circuit within about half the rate window.
#[tokio::test(start_paused = true)]
async fn busy_deployment_trips_on_its_failure_rate_not_on_a_count() {
    let f = fakes(&["busy"]);
    let d = RouterDefaults {
        max_attempts: 1,
        ..defaults()
    };
    assert_eq!(d.cooldown_failures, 3);
    let r = router(model("chat", Strategy::RoundRobin, &f), &f, d);
    let mut failed = 0;
    for i in 0..3000u32 {
        let streak = i % 1000 < 3 && i >= 1000;
        if i % 100 == 50 || streak {
            f[0].push(Step::fail(server_error()));
        } else {
            f[0].push(Step::text("ok"));
        }
        match r.chat(&req("chat"), &RequestContext::new()).await {
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.kind(), "api_error", "request {i}: {e:?}");
                failed += 1;
            }
        }
        tokio::time::advance(Duration::from_millis(10)).await;
    }
    assert_eq!(failed, 36);
    assert_eq!(f[0].calls(), 3000);
    assert!(
        r.status("chat").await.unwrap()[0]
            .cooldown_remaining
            .is_none()
    );

    // Now it fails everything: the circuit opens on the rate, after 4–6 s of failures.
    f[0].set_default(Step::fail(server_error()));
    let start = tokio::time::Instant::now();
    let opened = loop {
        match r.chat(&req("chat"), &RequestContext::new()).await {
            Err(Error::NoHealthyDeployment { .. }) => break start.elapsed(),
            Err(e) => assert_eq!(e.kind(), "api_error", "{e:?}"),
            Ok(_) => panic!("the fake fails every request"),
        }
        tokio::time::advance(Duration::from_millis(10)).await;
        assert!(start.elapsed() < Duration::from_secs(8), "never opened");
    };
    assert!(opened >= Duration::from_secs(4), "{opened:?}");
}

#[tokio::test(start_paused = true)]
async fn cooldown_then_half_open_trial_recovers() {
    let f = fakes(&["only"]);
    f[0].set_default(Step::fail(server_error()));
    let d = RouterDefaults {
        cooldown_failures: 3,
        cooldown: Duration::from_secs(30),
        max_attempts: 1,
        ..defaults()
    };
    let r = router(model("chat", Strategy::RoundRobin, &f), &f, d);
    for _ in 0..3 {
        let e = r
            .chat(&req("chat"), &RequestContext::new())
            .await
            .unwrap_err();
        assert_eq!(e.kind(), "api_error");
    }
    // Open: a single deployment is cooled down too, and the error names the model.
    let e = r
        .chat(&req("chat"), &RequestContext::new())
        .await
        .unwrap_err();
    match &e {
        Error::NoHealthyDeployment {
            model,
            reason,
            retry_after,
        } => {
            assert_eq!(model, "chat");
            assert!(reason.contains("1 cooling down"), "{reason}");
            // The client is told when the cooldown ends.
            assert_eq!(*retry_after, Some(Duration::from_secs(30)));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(f[0].calls(), 3);
    assert!(
        r.status("chat").await.unwrap()[0]
            .cooldown_remaining
            .is_some()
    );

    // After the cooldown: half-open, one trial. It fails: open again.
    tokio::time::advance(Duration::from_secs(30)).await;
    assert!(r.status("chat").await.unwrap()[0].half_open);
    let routed = r
        .chat_routed(&req("chat"), &RequestContext::new())
        .await
        .unwrap_err();
    assert!(routed.attempts[0].trial);
    assert_eq!(f[0].calls(), 4);
    assert!(matches!(
        r.chat(&req("chat"), &RequestContext::new()).await,
        Err(Error::NoHealthyDeployment { .. })
    ));

    // Next trial succeeds: closed.
    tokio::time::advance(Duration::from_secs(30)).await;
    f[0].set_default(Step::text("back"));
    r.chat(&req("chat"), &RequestContext::new()).await.unwrap();
    let st = &r.status("chat").await.unwrap()[0];
    assert!(!st.half_open && st.cooldown_remaining.is_none());
    for _ in 0..3 {
        r.chat(&req("chat"), &RequestContext::new()).await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn half_open_admits_one_trial_at_a_time() {
    let f = fakes(&["only"]);
    f[0].set_default(Step::fail(server_error()));
    let d = RouterDefaults {
        cooldown_failures: 1,
        max_attempts: 1,
        ..defaults()
    };
    let r = Arc::new(router(model("chat", Strategy::RoundRobin, &f), &f, d));
    r.chat(&req("chat"), &RequestContext::new())
        .await
        .unwrap_err();
    tokio::time::advance(Duration::from_secs(30)).await;
    f[0].set_default(Step::Reply {
        text: "slow".into(),
        usage: Usage::new(1, 1),
        delay: Duration::from_secs(5),
    });
    let r2 = r.clone();
    let trial = tokio::spawn(async move { r2.chat(&req("chat"), &RequestContext::new()).await });
    tokio::time::sleep(Duration::from_millis(1)).await;
    // While the trial runs, others are turned away.
    assert!(matches!(
        r.chat(&req("chat"), &RequestContext::new()).await,
        Err(Error::NoHealthyDeployment { .. })
    ));
    trial.await.unwrap().unwrap();
    r.chat(&req("chat"), &RequestContext::new()).await.unwrap();
}

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

    // Through the `Provider` trait the attempts are gone from the error, so the router leaves
    // the route in the context for the layers above it.
    let ctx = RequestContext::new();
    assert_eq!(ctx.route.get(), None);
    r.chat(&req("chat"), &ctx).await.unwrap_err();
    let route = ctx.route.get().unwrap();
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
async fn embeddings_route_to_embedding_deployments() {
    let chat_only = Arc::new(
        FakeProvider::new("chat-only")
            .with_capabilities(runtime_core::Capabilities::default().embeddings(false)),
    );
    let emb = Arc::new(FakeProvider::new("emb"));
    let r = Router::builder()
        .model(
            ModelConfig::new("embed")
                .model_type(ModelType::Embedding)
                .deployment(DeploymentConfig::new("chat-only", "c"))
                .deployment(DeploymentConfig::new("emb", "text-embedding-3-small")),
        )
        .provider("chat-only", chat_only.clone())
        .provider("emb", emb.clone())
        .build()
        .unwrap();
    for _ in 0..4 {
        let e = r
            .embed(
                &EmbeddingRequest::new("embed", vec!["a".into(), "bb".into()]),
                &RequestContext::new(),
            )
            .await
            .unwrap();
        assert_eq!(e.data.len(), 2);
        assert_eq!(
            e.meta.deployment.as_deref(),
            Some("emb/text-embedding-3-small")
        );
    }
    assert_eq!(chat_only.calls(), 0);
    assert_eq!(emb.embed_requests()[0].model, "text-embedding-3-small");
    let models = r.list_models(&RequestContext::new()).await.unwrap();
    assert_eq!(models[0].id, "embed");
    assert_eq!(models[0].kind, runtime_core::ModelKind::Embedding);
    assert!(r.capabilities().embeddings);
}

#[tokio::test(start_paused = true)]
async fn complete_and_unknown_models() {
    let f = fakes(&["a"]);
    let r = router(model("chat", Strategy::RoundRobin, &f), &f, defaults());
    let c = r
        .complete(
            &runtime_core::CompletionRequest {
                model: "chat".into(),
                prompt: "say ok".into(),
                ..Default::default()
            },
            &RequestContext::new(),
        )
        .await
        .unwrap();
    assert_eq!(c.text, "ok");
    assert_eq!(c.meta.deployment.as_deref(), Some("a/a-model"));
    let e = r
        .chat(&req("nope"), &RequestContext::new())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::ModelNotFound { .. }), "{e:?}");
    assert!(e.to_string().contains("chat"));
    let h = r.health(&RequestContext::new()).await.unwrap();
    assert!(h.healthy);
    assert_eq!(
        r.health_tasks_running(),
        0,
        "no health task when none is asked for"
    );
}

#[tokio::test]
async fn config_errors_are_reported() {
    let f = fakes(&["a"]);
    let bad_fallback = Router::builder()
        .model(
            ModelConfig::new("m")
                .fallbacks(["missing"])
                .deployment(DeploymentConfig::new("a", "x")),
        )
        .provider("a", f[0].clone())
        .build()
        .unwrap_err();
    assert!(bad_fallback.to_string().contains("missing"));
    let unresolved = Router::builder()
        .model(ModelConfig::new("m").deployment(DeploymentConfig::new("zzz", "x")))
        .build()
        .unwrap_err();
    assert!(unresolved.to_string().contains("zzz"));
    let resolved = Router::builder()
        .model(ModelConfig::new("m").deployment(DeploymentConfig::new("zzz", "x")))
        .resolver(|name| {
            Err(Error::ProviderNotFound {
                name: name.to_owned(),
                known: "openai".into(),
            })
        })
        .build()
        .unwrap_err();
    assert!(matches!(resolved, Error::ProviderNotFound { .. }));
}

#[tokio::test(start_paused = true)]
async fn paid_probe_marks_down_then_up_and_stops_on_shutdown() {
    let f = fakes(&["a", "b"]);
    f[0].set_default(Step::fail(server_error()));
    let m = ModelConfig::new("chat")
        .deployment(
            DeploymentConfig::new("a", "x")
                .health_check(None)
                .health_check_paid(true),
        )
        .deployment(DeploymentConfig::new("b", "y"));
    let r = router(
        m,
        &f,
        RouterDefaults {
            health_check_interval: Duration::from_secs(10),
            ..defaults()
        },
    );
    assert_eq!(r.health_tasks_running(), 1);
    // The first probe runs at once.
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert!(!r.status("chat").await.unwrap()[0].healthy);
    let probe = &f[0].requests()[0];
    assert_eq!(
        probe.max_tokens,
        Some(1),
        "the paid probe asks for one token"
    );
    for _ in 0..4 {
        let resp = r.chat(&req("chat"), &RequestContext::new()).await.unwrap();
        assert_eq!(resp.meta.deployment.as_deref(), Some("b/y"));
    }
    assert_eq!(f[0].calls(), 1, "a deployment that is down gets no traffic");
    f[0].set_default(Step::text("fine"));
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(r.status("chat").await.unwrap()[0].healthy);
    r.shutdown().await;
    assert_eq!(r.health_tasks_running(), 0);
    let calls = f[0].calls();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(f[0].calls(), calls, "no probe after shutdown");
}

#[tokio::test(start_paused = true)]
async fn all_deployments_down_is_a_typed_error_naming_the_model() {
    struct Down;
    #[async_trait::async_trait]
    impl Provider for Down {
        fn name(&self) -> &str {
            "down"
        }
        fn capabilities(&self) -> runtime_core::Capabilities {
            runtime_core::Capabilities::default()
        }
        async fn chat(
            &self,
            _r: &ChatRequest,
            _c: &RequestContext,
        ) -> runtime_core::Result<runtime_core::ChatResponse> {
            Err(server_error())
        }
        async fn chat_stream(
            &self,
            _r: &ChatRequest,
            _c: &RequestContext,
        ) -> runtime_core::Result<runtime_core::ChatStream> {
            Err(server_error())
        }
        async fn list_models(
            &self,
            _c: &RequestContext,
        ) -> runtime_core::Result<Vec<runtime_core::ModelInfo>> {
            Err(Error::Connect {
                provider: "down".into(),
                model: String::new(),
                message: "refused".into(),
            })
        }
    }
    let r = Router::builder()
        .defaults(RouterDefaults {
            health_check_interval: Duration::from_secs(10),
            ..defaults()
        })
        .model(
            ModelConfig::new("chat")
                .deployment(DeploymentConfig::new("down", "x").health_check(None)),
        )
        .provider("down", Arc::new(Down))
        .build()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1)).await;
    let e = r
        .chat(&req("chat"), &RequestContext::new())
        .await
        .unwrap_err();
    match e {
        Error::NoHealthyDeployment {
            model,
            reason,
            retry_after,
        } => {
            assert_eq!(model, "chat");
            assert!(reason.contains("1 unhealthy"), "{reason}");
            // Down by the health check: come back at the next probe.
            assert_eq!(retry_after, Some(Duration::from_secs(10)));
        }
        other => panic!("{other:?}"),
    }
    assert!(!r.health(&RequestContext::new()).await.unwrap().healthy);
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
async fn complete_stream_routes_and_holds_back() {
    let f = fakes(&["a"]);
    let r = router(model("chat", Strategy::RoundRobin, &f), &f, defaults());
    let s = r
        .complete_stream(
            &runtime_core::CompletionRequest {
                model: "chat".into(),
                prompt: "x".into(),
                ..Default::default()
            },
            &RequestContext::new(),
        )
        .await
        .unwrap();
    assert_eq!(s.meta().deployment.as_deref(), Some("a/a-model"));
    let resp = s.collect_response().await.unwrap();
    assert_eq!(resp.message.text().as_deref(), Some("ok"));
}

#[tokio::test]
async fn a_router_with_an_unreachable_redis_url_builds_at_once_and_routes_on_local_state() {
    // Nothing listens on port 1. Before the breaker, `build` refused a redis_url and
    // `build_async` failed after ~9.6 s of connection retries.
    let f = fakes(&["a"]);
    let start = std::time::Instant::now();
    let r = Router::builder()
        .defaults(RouterDefaults {
            redis_url: Some("redis://127.0.0.1:1/".into()),
            queue_max_len: 0,
            ..RouterDefaults::default()
        })
        .model(ModelConfig::new("m").deployment(DeploymentConfig::new("a", "x").rpm(2)))
        .provider("a", f[0].clone())
        .build()
        .unwrap();
    let req = ChatRequest::new("m", vec![Message::user("hi")]);
    r.chat(&req, &RequestContext::new()).await.unwrap();
    r.chat(&req, &RequestContext::new()).await.unwrap();
    // The rpm limit still holds, counted in this process.
    let e = r.chat(&req, &RequestContext::new()).await.unwrap_err();
    assert!(matches!(e, Error::RateLimited { .. }), "{e:?}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
    let e = Router::builder()
        .defaults(RouterDefaults {
            redis_url: Some("http://not-redis/".into()),
            ..RouterDefaults::default()
        })
        .model(ModelConfig::new("m").deployment(DeploymentConfig::new("a", "x")))
        .provider("a", f[0].clone())
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("router.redis_url"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn requests_needing_tools_or_images_skip_deployments_without_them() {
    let plain = Arc::new(
        FakeProvider::new("plain").with_capabilities(
            runtime_core::Capabilities::default()
                .tools(false)
                .vision(false),
        ),
    );
    let rich = Arc::new(
        FakeProvider::new("rich").with_capabilities(
            runtime_core::Capabilities::default()
                .tools(true)
                .vision(true),
        ),
    );
    let r = Router::builder()
        .model(
            ModelConfig::new("chat")
                .deployment(DeploymentConfig::new("plain", "p"))
                .deployment(DeploymentConfig::new("rich", "r")),
        )
        .provider("plain", plain.clone())
        .provider("rich", rich.clone())
        .build()
        .unwrap();
    let mut with_image = req("chat");
    with_image.messages = vec![runtime_core::Message::User {
        content: runtime_core::Content::Parts(vec![runtime_core::ContentPart::image_url(
            "https://example.invalid/cat.png",
        )]),
        name: None,
    }];
    for _ in 0..4 {
        let resp = r.chat(&with_image, &RequestContext::new()).await.unwrap();
        assert_eq!(resp.meta.deployment.as_deref(), Some("rich/r"));
    }
    for _ in 0..4 {
        r.chat(&req("chat"), &RequestContext::new()).await.unwrap();
    }
    assert_eq!(plain.calls(), 2, "plain requests still use both");
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

/// A store that always fails: the router routes on without shared state (fail open).
struct BrokenStore;

#[async_trait::async_trait]
impl runtime_router::StateStore for BrokenStore {
    async fn set_flag(&self, _k: &str, _t: Duration) -> runtime_core::Result<()> {
        Err(broken())
    }
    async fn clear_flags(&self, _k: &[&str]) -> runtime_core::Result<()> {
        Err(broken())
    }
    async fn flags(&self, _k: &[&str]) -> runtime_core::Result<Vec<Option<Duration>>> {
        Err(broken())
    }
    async fn try_lock(&self, _k: &str, _t: Duration) -> runtime_core::Result<bool> {
        Err(broken())
    }
    async fn record_failure(&self, _k: &str, _w: Duration) -> runtime_core::Result<u64> {
        Err(broken())
    }
    async fn acquire(
        &self,
        _k: &str,
        _l: runtime_router::RateLimits,
        _t: u64,
    ) -> runtime_core::Result<runtime_router::Acquire> {
        Err(broken())
    }
    async fn adjust_tokens(&self, _k: &str, _w: u64, _d: i64) -> runtime_core::Result<()> {
        Err(broken())
    }
    async fn usage(&self, _k: &str) -> runtime_core::Result<runtime_router::WindowUsage> {
        Err(broken())
    }
}

fn broken() -> Error {
    Error::Connect {
        provider: "redis".into(),
        model: String::new(),
        message: "connection refused".into(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_failing_store_does_not_stop_routing() {
    let f = fakes(&["a", "b"]);
    f[0].push(Step::fail(server_error()));
    let r = Router::builder()
        .defaults(defaults())
        .model(
            ModelConfig::new("chat")
                .strategy(Strategy::UsageBased)
                .deployment(DeploymentConfig::new("a", "x").rpm(1).api_keys(["k"]))
                .deployment(DeploymentConfig::new("b", "y").rpm(1)),
        )
        .provider("a", f[0].clone())
        .provider("b", f[1].clone())
        .store(Arc::new(BrokenStore))
        .build()
        .unwrap();
    for _ in 0..4 {
        r.chat(&req("chat"), &RequestContext::new()).await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn a_trial_that_hangs_to_the_deadline_reopens_the_circuit() {
    let f = fakes(&["only"]);
    f[0].set_default(Step::fail(server_error()));
    let d = RouterDefaults {
        cooldown_failures: 1,
        max_attempts: 1,
        ..defaults()
    };
    let m = model("chat", Strategy::RoundRobin, &f).timeout(Duration::from_secs(5));
    let r = router(m, &f, d);
    r.chat(&req("chat"), &RequestContext::new())
        .await
        .unwrap_err();
    tokio::time::advance(Duration::from_secs(30)).await;
    f[0].set_default(Step::Hang);
    let e = r
        .chat(&req("chat"), &RequestContext::new())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
    let st = &r.status("chat").await.unwrap()[0];
    assert!(st.cooldown_remaining.is_some(), "{st:?}");
}

#[tokio::test(start_paused = true)]
async fn streams_are_ranked_by_time_to_first_token() {
    // "long" answers slowly but starts streaming at once; "laggy" is the reverse.
    let f = fakes(&["long", "laggy"]);
    let m = model("chat", Strategy::LowestLatency, &f);
    let r = router(m, &f, defaults());
    f[0].set_default(Step::Stream(
        vec![
            Ok(StreamEvent::TextDelta { text: "a".into() }),
            Ok(StreamEvent::TextDelta { text: "b".into() }),
        ],
        Duration::from_secs(2),
    ));
    f[1].set_default(Step::Reply {
        text: "x".into(),
        usage: Usage::new(1, 1),
        delay: Duration::from_millis(800),
    });
    for _ in 0..40 {
        let s = r
            .chat_stream(&req("chat"), &RequestContext::new())
            .await
            .unwrap();
        s.collect_response().await.unwrap();
    }
    assert!(
        f[0].calls() >= 36,
        "long {} laggy {}",
        f[0].calls(),
        f[1].calls()
    );
    let st = r.status("chat").await.unwrap();
    assert!(st[0].ttft_ewma.unwrap() < 0.01);
    assert_eq!(st[0].latency_ewma, None);
}
