//! Selection strategies, priority tiers and per-kind strategies, with scripted fake providers
//! and tokio's paused clock.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err
)]

mod common;

use std::time::Duration;

use common::{defaults, fakes, model, req, router, server_error};
use futures::StreamExt;
use runtime_core::{
    Call, ModelPricing, Provider, RequestContext, Service, ServiceExt, StreamEvent, Usage,
};
use runtime_router::{DeploymentConfig, ModelConfig, RequestKind, RouterDefaults, Strategy};
use runtime_testkit::fake::Step;

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
    assert_eq!(routed.attempts[0].deployment, "a/a-model");
    assert_eq!(routed.attempts[1].strategy, "round_robin");
    // The route is in the typed fields only, once.
    assert!(!meta.annotations.contains_key("attempts"));
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
            .chat_stream_routed(&req("chat"), &RequestContext::new())
            .await
            .unwrap();
        assert_eq!(s.attempts[0].strategy, "lowest_cost");
        s.value.collect_response().await.unwrap();
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

#[tokio::test(start_paused = true)]
async fn a_retargeted_call_is_routed_by_its_model_and_reaches_the_deployments_model() {
    let f = fakes(&["a"]);
    let r = router(model("chat", Strategy::RoundRobin, &f), &f, defaults());
    // The body names another model (as a client's alias would); the call targets `chat`.
    let body = req("some-alias");
    let reply = r
        .call(Call::chat(&body).with_model("chat"), &RequestContext::new())
        .await
        .unwrap();
    let meta = reply.meta().unwrap();
    assert_eq!(meta.deployment.as_deref(), Some("a/a-model"));
    assert_eq!(meta.attempts, Some(1));
    assert_eq!(f[0].requests()[0].model, "a-model");
    assert_eq!(body.model, "some-alias");
}
