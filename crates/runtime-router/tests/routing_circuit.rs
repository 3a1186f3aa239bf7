//! Passive and active health: the failure-rate breaker, cooldown, the half-open trial, health
//! probes and the typed error when every deployment is down.
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
use runtime_core::{ChatRequest, Error, Provider, RequestContext, ServiceExt, Usage};
use runtime_router::{DeploymentConfig, ModelConfig, Router, RouterDefaults, Strategy};
use runtime_testkit::fake::Step;

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
