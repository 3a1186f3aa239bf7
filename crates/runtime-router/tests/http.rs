//! Routing against real HTTP deployments (wiremock and the testkit fault server).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err
)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use runtime_core::{ChatRequest, RequestContext, ServiceExt};
use runtime_router::{DeploymentConfig, ModelConfig, Router, RouterDefaults, Strategy};
use runtime_testkit::fault::{Action, FaultServer};
use support::{HttpTestProvider, chat_body, sse_body, user};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CHAT: &str = "/v1/chat/completions";

fn req() -> ChatRequest {
    ChatRequest::new("chat", user("hi"))
}

async fn answering(text: &str) -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CHAT))
        .respond_with(ResponseTemplate::new(200).set_body_json(chat_body(text)))
        .mount(&s)
        .await;
    s
}

async fn streaming(text: &str) -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CHAT))
        .respond_with(ResponseTemplate::new(200).set_body_raw(sse_body(text), "text/event-stream"))
        .mount(&s)
        .await;
    s
}

async fn hits(s: &MockServer) -> usize {
    s.received_requests().await.unwrap().len()
}

fn defaults() -> RouterDefaults {
    RouterDefaults {
        backoff_base: Duration::from_millis(5),
        backoff_max: Duration::from_millis(20),
        ..RouterDefaults::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_three_to_one_over_4000_calls() {
    let a = answering("a").await;
    let b = answering("b").await;
    let r = Router::builder()
        .defaults(defaults())
        .model(
            ModelConfig::new("chat")
                .strategy(Strategy::Weighted)
                .deployment(DeploymentConfig::new("a", "m").weight(3))
                .deployment(DeploymentConfig::new("b", "m").weight(1)),
        )
        .provider("a", HttpTestProvider::new("a", &a.uri()))
        .provider("b", HttpTestProvider::new("b", &b.uri()))
        .build()
        .unwrap();
    let r = Arc::new(r);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let r = r.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..500 {
                r.chat(&req(), &RequestContext::new()).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (ha, hb) = (hits(&a).await, hits(&b).await);
    assert_eq!(ha + hb, 4000);
    // Expect 3000 : 1000; the binomial sd is ~27: allow 5 sd.
    assert!((2860..=3140).contains(&ha), "a got {ha}, b got {hb}");
    // wiremock's `MockServer` drop blocks on an async reset, which never finishes if this
    // task's tokio coop budget is spent: drop the servers with the budget lifted.
    tokio::task::unconstrained(async move { drop((a, b)) }).await;
}

#[tokio::test]
async fn round_robin_counted_at_the_servers() {
    let servers = [
        answering("a").await,
        answering("b").await,
        answering("c").await,
    ];
    let mut b = Router::builder().defaults(defaults());
    let mut m = ModelConfig::new("chat").strategy(Strategy::RoundRobin);
    for (i, s) in servers.iter().enumerate() {
        let name = format!("p{i}");
        m = m.deployment(DeploymentConfig::new(&name, "m"));
        b = b.provider(&name, HttpTestProvider::new(&name, &s.uri()));
    }
    let r = b.model(m).build().unwrap();
    for _ in 0..30 {
        r.chat(&req(), &RequestContext::new()).await.unwrap();
    }
    for s in &servers {
        assert_eq!(hits(s).await, 10);
    }
}

#[tokio::test]
async fn retry_after_header_is_honoured() {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CHAT))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after-ms", "400")
                .set_body_json(
                    serde_json::json!({"error": {"message": "slow down", "type": "rate_limit"}}),
                ),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path(CHAT))
        .respond_with(ResponseTemplate::new(200).set_body_json(chat_body("ok")))
        .mount(&s)
        .await;
    let r = Router::builder()
        .defaults(defaults())
        .model(ModelConfig::new("chat").deployment(DeploymentConfig::new("p", "m")))
        .provider("p", HttpTestProvider::new("p", &s.uri()))
        .build()
        .unwrap();
    let start = std::time::Instant::now();
    let routed = r.chat_routed(&req(), &RequestContext::new()).await.unwrap();
    // The retry could not start before the upstream's Retry-After.
    assert!(start.elapsed() >= Duration::from_millis(400));
    assert_eq!(hits(&s).await, 2);
    assert_eq!(routed.attempts[0].outcome, "rate_limited");
    assert!(
        routed.attempts[0]
            .error
            .as_deref()
            .unwrap()
            .contains("retry after 0.400s")
    );
    assert_eq!(routed.value.message.text().as_deref(), Some("ok"));
}

#[tokio::test]
async fn error_inside_a_200_stream_fails_over() {
    // Azure style: HTTP 200, then an error event before any content.
    let bad = MockServer::start().await;
    let body = "data: {\"error\":{\"message\":\"The server had an error while processing your request\",\"type\":\"server_error\"}}\n\n";
    Mock::given(method("POST"))
        .and(path(CHAT))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "text/event-stream"))
        .mount(&bad)
        .await;
    let good = streaming("hello world").await;
    let r = Router::builder()
        .defaults(defaults())
        .model(
            ModelConfig::new("chat")
                .deployment(DeploymentConfig::new("bad", "m"))
                .deployment(DeploymentConfig::new("good", "m")),
        )
        .provider("bad", HttpTestProvider::new("bad", &bad.uri()))
        .provider("good", HttpTestProvider::new("good", &good.uri()))
        .build()
        .unwrap();
    let routed = r
        .chat_stream_routed(&req(), &RequestContext::new())
        .await
        .unwrap();
    assert_eq!(routed.attempts.len(), 2);
    assert_eq!(routed.attempts[0].deployment, "bad/m");
    assert_eq!(routed.attempts[0].outcome, "stream");
    let resp = routed.value.collect_response().await.unwrap();
    assert_eq!(resp.message.text().as_deref(), Some("hello world"));
    assert_eq!(resp.meta.deployment.as_deref(), Some("good/m"));
    assert_eq!(hits(&bad).await, 1);
}

#[tokio::test]
async fn ttft_timeout_fails_over_to_the_next_deployment() {
    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CHAT))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(sse_body("late"), "text/event-stream")
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&slow)
        .await;
    let fast = streaming("on time").await;
    let r = Router::builder()
        .defaults(defaults())
        .model(
            ModelConfig::new("chat")
                .deployment(
                    DeploymentConfig::new("slow", "m").ttft_timeout(Duration::from_millis(200)),
                )
                .deployment(DeploymentConfig::new("fast", "m")),
        )
        .provider("slow", HttpTestProvider::new("slow", &slow.uri()))
        .provider("fast", HttpTestProvider::new("fast", &fast.uri()))
        .build()
        .unwrap();
    let routed = r
        .chat_stream_routed(&req(), &RequestContext::new())
        .await
        .unwrap();
    assert_eq!(routed.attempts[0].outcome, "timeout");
    assert!(
        routed.attempts[0]
            .error
            .as_deref()
            .unwrap()
            .contains("first token")
    );
    let resp = routed.value.collect_response().await.unwrap();
    assert_eq!(resp.message.text().as_deref(), Some("on time"));
}

#[tokio::test]
async fn a_stalled_stream_before_content_is_abandoned_and_closed() {
    // Role chunk (no content), then silence.
    let start_chunk = "data: {\"id\":\"c\",\"model\":\"m\",\"created\":1,\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n";
    let stall = FaultServer::start(vec![
        Action::head(200, "text/event-stream"),
        Action::body(start_chunk),
        Action::Stall,
    ])
    .await;
    let good = streaming("fine").await;
    let r = Router::builder()
        .defaults(defaults())
        .model(
            ModelConfig::new("chat")
                .deployment(
                    DeploymentConfig::new("stall", "m").ttft_timeout(Duration::from_millis(300)),
                )
                .deployment(DeploymentConfig::new("good", "m")),
        )
        .provider("stall", HttpTestProvider::new("stall", &stall.url()))
        .provider("good", HttpTestProvider::new("good", &good.uri()))
        .build()
        .unwrap();
    let s = r.chat_stream(&req(), &RequestContext::new()).await.unwrap();
    assert_eq!(s.meta().deployment.as_deref(), Some("good/m"));
    let resp = s.collect_response().await.unwrap();
    assert_eq!(resp.message.text().as_deref(), Some("fine"));
    assert!(
        stall.wait_client_closed(1, Duration::from_secs(5)).await,
        "the abandoned upstream request was closed"
    );
}

#[tokio::test]
async fn key_rotation_skips_a_dead_key() {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(CHAT))
        .and(header("authorization", "Bearer sk-dead"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(serde_json::json!({"error": {"message": "Incorrect API key", "type": "invalid_request_error", "code": "invalid_api_key"}})),
        )
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path(CHAT))
        .and(header("authorization", "Bearer sk-live"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chat_body("ok")))
        .mount(&s)
        .await;
    let r = Router::builder()
        .defaults(defaults())
        .model(
            ModelConfig::new("chat")
                .deployment(DeploymentConfig::new("p", "m").api_keys(["sk-dead", "sk-live"])),
        )
        .provider("p", HttpTestProvider::new("p", &s.uri()))
        .build()
        .unwrap();
    for _ in 0..10 {
        r.chat(&req(), &RequestContext::new()).await.unwrap();
    }
    let reqs = s.received_requests().await.unwrap();
    let dead = reqs
        .iter()
        .filter(|q| q.headers.get("authorization").unwrap() == "Bearer sk-dead")
        .count();
    assert_eq!(dead, 1, "the dead key was tried once");
    assert_eq!(reqs.len(), 11);
    assert_eq!(r.status("chat").await.unwrap()[0].dead_keys, vec![0]);
}

async fn wait_for(r: &Router, what: impl Fn(&runtime_router::DeploymentStatus) -> bool) {
    let ok = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if what(&r.status("chat").await.unwrap()[0]) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(ok.is_ok(), "condition not reached");
}

#[tokio::test]
async fn active_health_check_marks_down_and_up() {
    let a = answering("a").await;
    let b = answering("b").await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&a)
        .await;
    let r = Router::builder()
        .defaults(RouterDefaults {
            health_check_interval: Duration::from_millis(50),
            ..defaults()
        })
        .model(
            ModelConfig::new("chat")
                .deployment(
                    DeploymentConfig::new("a", "m")
                        .health_check(Some(format!("{}/health", a.uri()))),
                )
                .deployment(DeploymentConfig::new("b", "m")),
        )
        .provider("a", HttpTestProvider::new("a", &a.uri()))
        .provider("b", HttpTestProvider::new("b", &b.uri()))
        .build()
        .unwrap();
    assert_eq!(r.health_tasks_running(), 1);
    wait_for(&r, |s| !s.healthy).await;
    for _ in 0..6 {
        let resp = r.chat(&req(), &RequestContext::new()).await.unwrap();
        assert_eq!(resp.meta.deployment.as_deref(), Some("b/m"));
    }
    a.reset().await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&a)
        .await;
    Mock::given(method("POST"))
        .and(path(CHAT))
        .respond_with(ResponseTemplate::new(200).set_body_json(chat_body("a")))
        .mount(&a)
        .await;
    wait_for(&r, |s| s.healthy).await;
    let mut served_by_a = 0;
    for _ in 0..6 {
        let resp = r.chat(&req(), &RequestContext::new()).await.unwrap();
        served_by_a += usize::from(resp.meta.deployment.as_deref() == Some("a/m"));
    }
    assert_eq!(served_by_a, 3);
    r.shutdown().await;
    assert_eq!(r.health_tasks_running(), 0);
}

#[tokio::test]
async fn provider_probe_lists_models_and_spends_no_tokens() {
    let a = answering("a").await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"data": []})))
        .mount(&a)
        .await;
    let r = Router::builder()
        .defaults(RouterDefaults {
            health_check_interval: Duration::from_millis(20),
            ..defaults()
        })
        .model(
            ModelConfig::new("chat").deployment(DeploymentConfig::new("a", "m").health_check(None)),
        )
        .provider("a", HttpTestProvider::new("a", &a.uri()))
        .build()
        .unwrap();
    let ok = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let n = a
                .received_requests()
                .await
                .unwrap()
                .iter()
                .filter(|q| q.url.path() == "/v1/models")
                .count();
            if n >= 3 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(ok.is_ok());
    r.shutdown().await;
    let chats = a
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|q| q.url.path() == CHAT)
        .count();
    assert_eq!(chats, 0, "the default probe never calls chat");
    assert!(r.status("chat").await.unwrap()[0].healthy);
}
