//! Anthropic's `thinking` and `top_k` (put in a core request's `extra` by the gateway's
//! `/v1/messages`) never reach an OpenAI-style upstream raw (issue 15): what the upstream
//! receives, on OpenAI's own API and on another OpenAI-compatible server, and the dropped
//! fields named in the response metadata (the gateway's `x-modelrt-dropped-params`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use provider_openai::{CompatConfig, CompatProvider};
use runtime_core::http::HttpClient;
use runtime_core::{ChatRequest, Message, Provider, RequestContext, Secret};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ANSWER: &str =
    include_str!("../../runtime-testkit/fixtures/openai/chat-basic-system.response.json");
const STREAM: &str = include_str!(
    "../../runtime-testkit/fixtures/openai/chat-stream-text-include-usage.response.sse"
);

async fn upstream() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(wiremock::matchers::body_partial_json(
            json!({"stream": true}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(STREAM),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_string(ANSWER),
        )
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

/// A provider at `server`, taken for OpenAI's own API when `official`.
fn provider(server: &MockServer, official: bool) -> CompatProvider {
    let mut c = CompatConfig::new(
        "openai",
        &format!("{}/v1", server.uri()),
        Some(Secret::new("sk-test")),
    );
    c.official_openai = official;
    CompatProvider::new(c, HttpClient::new(&Default::default()).unwrap())
}

/// What `/v1/messages` makes of `thinking: {enabled, budget}` and `top_k: 40`.
fn request(model: &str, budget: u64) -> ChatRequest {
    let mut r = ChatRequest::new(model, vec![Message::user("hi")]);
    r.extra.insert(
        "thinking".into(),
        json!({"type": "enabled", "budget_tokens": budget}),
    );
    r.extra.insert("top_k".into(), json!(40));
    r
}

async fn last_body(server: &MockServer) -> Value {
    let reqs = server.received_requests().await.unwrap();
    serde_json::from_slice(&reqs.last().unwrap().body).unwrap()
}

#[tokio::test]
async fn openai_itself_gets_reasoning_effort_or_nothing_and_never_top_k() {
    let server = upstream().await;
    let p = provider(&server, true);
    let ctx = RequestContext::new();
    // A reasoning model: the budget becomes reasoning_effort; top_k is dropped and said so.
    let resp = p.chat(&request("o3", 4096), &ctx).await.unwrap();
    let sent = last_body(&server).await;
    assert_eq!(sent["reasoning_effort"], "high", "{sent}");
    assert!(
        sent.get("thinking").is_none() && sent.get("top_k").is_none(),
        "{sent}"
    );
    assert_eq!(resp.meta.annotations["dropped_params"], json!(["top_k"]));
    // A model without reasoning_effort: both dropped, streamed too.
    let stream = p.chat_stream(&request("gpt-4o", 1024), &ctx).await.unwrap();
    assert_eq!(
        stream.meta().annotations["dropped_params"],
        json!(["thinking", "top_k"])
    );
    stream.collect_response().await.unwrap();
    let sent = last_body(&server).await;
    assert_eq!(sent["stream"], true);
    for k in ["thinking", "top_k", "reasoning_effort"] {
        assert!(sent.get(k).is_none(), "{k}: {sent}");
    }
}

#[tokio::test]
async fn another_openai_compatible_server_gets_reasoning_effort_and_top_k() {
    let server = upstream().await;
    let p = provider(&server, false);
    let resp = p
        .chat(&request("Qwen/Qwen3-8B", 2048), &RequestContext::new())
        .await
        .unwrap();
    let sent = last_body(&server).await;
    assert_eq!(sent["reasoning_effort"], "medium", "{sent}");
    assert_eq!(sent["top_k"], 40, "{sent}");
    assert!(sent.get("thinking").is_none(), "{sent}");
    assert!(!resp.meta.annotations.contains_key("dropped_params"));
}
