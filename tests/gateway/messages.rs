//! `POST /v1/messages` (Anthropic's Messages API) served by the real `modelrt` binary over an
//! OpenAI-compatible upstream (wiremock): answers, Anthropic's exact stream grammar, tools,
//! images, usage, errors in Anthropic's envelope (key checks and governance refusals
//! included), `x-api-key`, count_tokens' estimate, and the agentgateway bug cases #2318
//! (translation applied for a vLLM-style `local` backend), #1089 (streamed token counts) and
//! the `cache_control` half of #3479 (ignored, not forwarded, to a non-Anthropic upstream).
//!
//! Request bodies are the real recordings of
//! `crates/runtime-dialects/tests/fixtures/anthropic_messages/` (sources in its `SOURCES.md`:
//! pydantic-ai cassettes, Anthropic's API reference, a recorded Claude Code request) and of
//! `/work/shared/fixtures/openai/` for the upstream's answers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!(
            "../../crates/runtime-dialects/tests/fixtures/anthropic_messages/",
            $name
        ))
    };
}

/// pydantic-ai's recording of OpenAI answering with a `get_user_country` tool call (the same
/// test as the `tool-use` Messages fixture); see `/work/shared/fixtures/SOURCES.md`.
const OPENAI_TOOL_CALL: &str = r#"{"choices":[{"finish_reason":"tool_calls","index":0,"logprobs":null,"message":{"annotations":[],"content":null,"refusal":null,"role":"assistant","tool_calls":[{"function":{"arguments":"{}","name":"get_user_country"},"id":"call_iXFttys57ap0o16JSlC8yhYo","type":"function"}]}}],"created":1746142584,"id":"chatcmpl-BSXk0dWkG4hfPt0lph4oFO35iT73I","model":"gpt-4o-2024-08-06","object":"chat.completion","service_tier":"default","system_fingerprint":"fp_f5bdcc3276","usage":{"completion_tokens":12,"prompt_tokens":68,"prompt_tokens_details":{"audio_tokens":0,"cached_tokens":0},"total_tokens":80}}"#;

/// A Messages fixture with its model replaced.
fn body(fixture: &str, model: &str) -> Value {
    let mut v: Value = serde_json::from_str(fixture).unwrap();
    v["model"] = json!(model);
    v
}

/// `(event, data)` pairs of an Anthropic SSE body.
fn events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|f| !f.trim().is_empty())
        .map(|f| {
            let mut name = String::new();
            let mut data = Value::Null;
            for line in f.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d).unwrap_or_else(|e| panic!("{e}: {d}"));
                }
            }
            assert_eq!(
                data["type"],
                json!(name),
                "event name and data type agree: {f}"
            );
            (name, data)
        })
        .collect()
}

/// The last request the upstream received on `p`, as JSON.
async fn last_body(up: &MockServer, p: &str) -> Value {
    let reqs = up.received_requests().await.unwrap();
    let r = reqs
        .iter()
        .rev()
        .find(|r| r.url.path() == p)
        .unwrap_or_else(|| panic!("nothing reached {p}"));
    serde_json::from_slice(&r.body).unwrap()
}

/// Asserts Anthropic's error envelope with `status` and `kind`; returns the message.
async fn anthropic_error(resp: reqwest::Response, status: u16, kind: &str) -> String {
    assert_eq!(resp.status().as_u16(), status);
    assert!(resp.headers().contains_key("x-request-id"));
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], kind, "{v}");
    assert!(v["request_id"].is_string(), "{v}");
    assert!(
        v.get("code").is_none() && v["error"].get("param").is_none(),
        "{v}"
    );
    v["error"]["message"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_message_over_an_openai_upstream_whole_and_streamed_with_usage_rows() {
    let up = openai_upstream().await;
    let gw = Gw::start(Some(&mock_config(&up.uri(), STORAGE))).await;
    let c = client();
    let req = body(fixture!("basic-system.request.json"), "mock/gpt-4o-mini");
    let resp = c
        .post(gw.at("/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-modelrt-provider"], "mock");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(
        v["content"],
        json!([{"type": "text", "text": "Hello there!"}])
    );
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["usage"]["input_tokens"], 9);
    assert_eq!(v["usage"]["output_tokens"], 3);
    let sent = last_body(&up, "/v1/chat/completions").await;
    insta::assert_json_snapshot!("basic-system.messages-openai_upstream", sent);

    // Streamed: Anthropic's grammar, with the upstream's usage in `message_delta` (#1089).
    let mut req = req;
    req["stream"] = json!(true);
    let resp = c.post(gw.at("/messages")).json(&req).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let evs = events(&resp.text().await.unwrap());
    let names: Vec<&str> = evs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let text: String = evs
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "Hello");
    let delta = &evs[6].1;
    assert_eq!(delta["delta"]["stop_reason"], "end_turn");
    assert_eq!(delta["usage"]["output_tokens"], 2);
    assert_eq!(delta["usage"]["input_tokens"], 5);
    assert!(
        evs[0].1["message"]["id"]
            .as_str()
            .unwrap()
            .starts_with("chatcmpl-up2")
            || evs[0].1["message"]["id"]
                .as_str()
                .unwrap()
                .starts_with("msg_")
    );

    // Both calls are usage rows, exactly as chat completions are.
    wait_usage(&gw, None, "since=1h&group_by=model", |v| {
        v["data"].as_array().is_some_and(|rows| {
            rows.iter()
                .any(|r| r["requests"] == 2 && r["prompt_tokens"] == 14)
        })
    })
    .await;
}

#[tokio::test]
async fn tools_images_and_a_claude_code_request_translate_to_openai_chat() {
    let up = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_string(OPENAI_TOOL_CALL),
        )
        .mount(&up)
        .await;
    let gw = Gw::start(Some(&mock_config(&up.uri(), ""))).await;
    let c = client();

    // Tools, and the answer's tool call as a `tool_use` block with its input parsed.
    let resp = c
        .post(gw.at("/v1/messages"))
        .json(&body(fixture!("tool-use.request.json"), "mock/gpt-4o"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["content"],
        json!([{"type": "tool_use", "id": "call_iXFttys57ap0o16JSlC8yhYo", "name": "get_user_country", "input": {}}])
    );
    assert_eq!(v["stop_reason"], "tool_use");
    assert_eq!(v["usage"]["input_tokens"], 68);
    insta::assert_json_snapshot!(
        "tool-use.messages-openai_upstream",
        last_body(&up, "/v1/chat/completions").await
    );

    // A tool_use / tool_result turn (with `is_error`), and an image by URL.
    for (name, fixture) in [
        (
            "tool-result-followup",
            fixture!("tool-result-followup.request.json"),
        ),
        ("image-url", fixture!("image-url.request.json")),
        ("thinking-replay", fixture!("thinking-replay.request.json")),
    ] {
        let resp = c
            .post(gw.at("/v1/messages"))
            .json(&body(fixture, "mock/gpt-4o"))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        assert_eq!(status, 200, "{name}: {text}");
        insta::assert_json_snapshot!(
            format!("{name}.messages-openai_upstream"),
            last_body(&up, "/v1/chat/completions").await
        );
    }

    // Claude Code: large system blocks with cache_control, tools, metadata, anthropic-beta.
    // A non-Anthropic upstream gets none of Anthropic's cache marks or headers (#3479's other
    // half: ignored where they mean nothing, never an error).
    let mut cc = body(fixture!("claude-code.request.json"), "mock/gpt-4o");
    cc["stream"] = json!(false);
    let resp = c
        .post(gw.at("/v1/messages"))
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "claude-code-20250219,oauth-2025-04-20")
        .header("x-app", "cli")
        .json(&cc)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    assert_eq!(status, 200, "{}", resp.text().await.unwrap());
    let reqs = up.received_requests().await.unwrap();
    let last = reqs.last().unwrap();
    assert!(!last.headers.contains_key("anthropic-beta"));
    let sent: Value = serde_json::from_slice(&last.body).unwrap();
    assert!(!sent.to_string().contains("cache_control"), "{sent}");
    insta::assert_json_snapshot!("claude-code.messages-openai_upstream", sent);
}

#[tokio::test]
async fn a_vllm_style_local_backend_gets_openai_chat_not_the_anthropic_body() {
    // agentgateway #2318: a Messages request routed to a vLLM backend was forwarded
    // untranslated. A `local` provider instance (vLLM's OpenAI-compatible server) here.
    let up = openai_upstream().await;
    let cfg = format!(
        r#"
[providers.vllm]
type = "local"
base_url = "{}/v1"

[[models]]
name = "llama"

[[models.deployments]]
provider = "vllm"
model = "meta-llama/Llama-3.1-8B-Instruct"
"#,
        up.uri()
    );
    let gw = Gw::start(Some(&cfg)).await;
    let resp = client()
        .post(gw.at("/v1/messages"))
        .json(&body(fixture!("basic-system.request.json"), "llama"))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["content"][0]["text"], "Hello there!");
    let sent = last_body(&up, "/v1/chat/completions").await;
    assert_eq!(sent["model"], "meta-llama/Llama-3.1-8B-Instruct");
    assert!(sent.get("system").is_none(), "{sent}");
    assert_eq!(sent["messages"][0]["role"], "system");
    assert_eq!(
        sent["messages"][0]["content"],
        "You are a helpful assistant.\n\n"
    );
    assert_eq!(sent["messages"][1]["role"], "user");
}

#[tokio::test]
async fn errors_are_anthropics_envelope_with_its_statuses() {
    let up = openai_upstream().await;
    let flaky = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(wiremock::matchers::body_partial_json(json!({"model": "limited"})))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "7")
                .set_body_json(json!({"error": {"message": "Rate limit reached", "type": "requests", "param": null, "code": "rate_limit_exceeded"}})),
        )
        .mount(&flaky)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(wiremock::matchers::body_partial_json(json!({"model": "busy"})))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_json(json!({"error": {"message": "The server is overloaded", "type": "server_error", "param": null, "code": null}})),
        )
        .mount(&flaky)
        .await;
    // A stream that fails after its first token: Anthropic's in-band `error` event.
    let broken = format!(
        "data: {}\n\ndata: {}\n\n",
        json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "broken",
               "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Hi"}, "finish_reason": null}]}),
        json!({"error": {"message": "upstream overloaded mid-stream", "type": "overloaded_error"}})
    );
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(wiremock::matchers::body_partial_json(
            json!({"model": "broken"}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(broken),
        )
        .mount(&flaky)
        .await;
    let extra = openai_provider("flaky", &flaky.uri());
    let gw = Gw::start(Some(&mock_config(&up.uri(), &extra))).await;
    let c = client();
    let post = |v: Value| c.post(gw.at("/v1/messages")).json(&v).send();
    let ok = body(fixture!("basic-system.request.json"), "mock/gpt-4o-mini");

    // Bad bodies: 400 naming the field.
    let mut v = ok.clone();
    v.as_object_mut().unwrap().remove("max_tokens");
    let m = anthropic_error(post(v).await.unwrap(), 400, "invalid_request_error").await;
    assert!(m.contains("max_tokens"), "{m}");
    let mut v = ok.clone();
    v["max_tokens"] = json!("many");
    let m = anthropic_error(post(v).await.unwrap(), 400, "invalid_request_error").await;
    assert!(m.contains("max_tokens"), "{m}");
    let mut v = ok.clone();
    v["messages"][0]["content"][0] =
        json!({"type": "image", "source": {"type": "file", "file_id": "file_1"}});
    let m = anthropic_error(post(v).await.unwrap(), 400, "invalid_request_error").await;
    assert!(m.contains("messages[0].content[0].source"), "{m}");
    let resp = c
        .post(gw.at("/v1/messages"))
        .header("content-type", "application/json")
        .body("{\"model\": ")
        .send()
        .await
        .unwrap();
    anthropic_error(resp, 400, "invalid_request_error").await;
    // Unknown model.
    anthropic_error(
        post(body(fixture!("basic-system.request.json"), "nope/x"))
            .await
            .unwrap(),
        404,
        "not_found_error",
    )
    .await;
    // Upstream rate limit: 429 with the upstream's wait.
    let resp = post(body(fixture!("basic-system.request.json"), "flaky/limited"))
        .await
        .unwrap();
    assert_eq!(resp.headers()["retry-after"], "7");
    anthropic_error(resp, 429, "rate_limit_error").await;
    // An overloaded upstream: Anthropic's 529.
    let resp = post(body(fixture!("basic-system.request.json"), "flaky/busy"))
        .await
        .unwrap();
    assert!(resp.headers().contains_key("retry-after"));
    anthropic_error(resp, 529, "overloaded_error").await;
    // Mid-stream failure: `error` after the text already sent, and nothing after it.
    let mut v = body(fixture!("basic-system.request.json"), "flaky/broken");
    v["stream"] = json!(true);
    let resp = post(v).await.unwrap();
    assert_eq!(resp.status(), 200);
    let evs = events(&resp.text().await.unwrap());
    let (last, data) = evs.last().unwrap();
    assert_eq!(last, "error", "{evs:?}");
    assert_eq!(data["error"]["type"], "overloaded_error", "{data}");
    assert!(evs.iter().any(|(_, d)| d["delta"]["text"] == "Hi"));
    assert!(!evs.iter().any(|(n, _)| n == "message_stop"));
    // Still serving.
    assert_eq!(post(ok).await.unwrap().status(), 200);
}

#[tokio::test]
async fn keys_from_x_api_key_and_rejections_in_anthropics_envelope() {
    let up = openai_upstream().await;
    let extra = r#"
[[gateway.keys]]
id = "app"
key = "${TEST_APP_KEY}"
models = ["mock/gpt-4o-mini"]

[[gateway.keys]]
id = "slow"
key = "${TEST_SLOW_KEY}"
rpm = 1
"#;
    let gw = Gw::start_with(
        Some(&mock_config(&up.uri(), extra)),
        &[("TEST_APP_KEY", "sk-app-1"), ("TEST_SLOW_KEY", "sk-slow-1")],
    )
    .await;
    let c = client();
    let req = body(fixture!("basic-system.request.json"), "mock/gpt-4o-mini");
    let send = |key: Option<(&'static str, &'static str)>, req: &Value| {
        let mut r = c
            .post(gw.at("/v1/messages"))
            .header("anthropic-version", "2023-06-01")
            .json(req);
        if let Some((h, v)) = key {
            r = r.header(h, v);
        }
        r.send()
    };
    // The anthropic SDK sends `x-api-key`; `Authorization: Bearer` works too.
    assert_eq!(
        send(Some(("x-api-key", "sk-app-1")), &req)
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        send(Some(("authorization", "Bearer sk-app-1")), &req)
            .await
            .unwrap()
            .status(),
        200
    );
    anthropic_error(send(None, &req).await.unwrap(), 401, "authentication_error").await;
    anthropic_error(
        send(Some(("x-api-key", "sk-wrong")), &req).await.unwrap(),
        401,
        "authentication_error",
    )
    .await;
    let count = c
        .post(gw.at("/v1/messages/count_tokens"))
        .json(
            &json!({"model": "mock/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}),
        )
        .send()
        .await
        .unwrap();
    anthropic_error(count, 401, "authentication_error").await;
    // A model the key may not use.
    let other = body(fixture!("basic-system.request.json"), "mock/gpt-4o");
    anthropic_error(
        send(Some(("x-api-key", "sk-app-1")), &other).await.unwrap(),
        403,
        "permission_error",
    )
    .await;
    // Over the key's rpm: rate_limit_error with Retry-After.
    assert_eq!(
        send(Some(("x-api-key", "sk-slow-1")), &req)
            .await
            .unwrap()
            .status(),
        200
    );
    let resp = send(Some(("x-api-key", "sk-slow-1")), &req).await.unwrap();
    assert!(resp.headers().contains_key("retry-after"));
    anthropic_error(resp, 429, "rate_limit_error").await;
}

#[tokio::test]
async fn a_budget_refusal_is_a_rate_limit_error_in_anthropics_envelope() {
    let up = openai_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = mock_config(
        &up.uri(),
        &format!(
            r#"
[storage]
database_url = "sqlite://{d}/usage.sqlite"
spill_path = "{d}/usage.spill.jsonl"
flush_interval = "50ms"

[pricing.overrides."mock/gpt-4o-mini"]
input_per_mtok = 1000.0
output_per_mtok = 1000.0

[gateway]
master_key = "sk-master-messages"

[gateway.governance]
enabled = true
sync_interval = "100ms"
"#,
            d = dir.path().display()
        ),
    );
    let gw = Gw::start(Some(&cfg)).await;
    let c = client();
    let resp = c
        .post(gw.at("/admin/keys"))
        .bearer_auth("sk-master-messages")
        .json(&json!({"id": "tiny", "budget": {"max_usd": 0.0001, "period": "daily"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let resp = c
        .post(gw.at("/v1/messages"))
        .header("x-api-key", &secret)
        .json(&body(
            fixture!("basic-system.request.json"),
            "mock/gpt-4o-mini",
        ))
        .send()
        .await
        .unwrap();
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=86_400).contains(&retry), "{retry}");
    let m = anthropic_error(resp, 429, "rate_limit_error").await;
    assert!(m.contains("budget"), "{m}");
    assert!(up.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn count_tokens_estimates_for_an_upstream_that_cannot_count() {
    let up = openai_upstream().await;
    let gw = Gw::start(Some(&mock_config(&up.uri(), ""))).await;
    let mut req = body(fixture!("count-tokens.request.json"), "mock/gpt-4o-mini");
    req.as_object_mut().unwrap().remove("max_tokens");
    let resp = client()
        .post(gw.at("/v1/messages/count_tokens"))
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["x-modelrt-token-count"], "estimate");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["estimated"], true);
    // The recording's exact count is 1 114; the estimate is within a quarter of it.
    let n = v["input_tokens"].as_u64().unwrap();
    assert!((835..=1393).contains(&n), "{n}");
    assert!(up.received_requests().await.unwrap().is_empty());
    // Bad input: 400 naming the field.
    let resp = client()
        .post(gw.at("/messages/count_tokens"))
        .json(&json!({"model": "mock/gpt-4o-mini", "messages": 5}))
        .send()
        .await
        .unwrap();
    let m = anthropic_error(resp, 400, "invalid_request_error").await;
    assert!(m.contains("messages"), "{m}");
}

#[tokio::test]
async fn unknown_routes_wrong_methods_and_big_bodies_answer_in_each_dialects_envelope() {
    let up = openai_upstream().await;
    let gw = Gw::start(Some(&mock_config(
        &up.uri(),
        "[gateway]\nmax_body_bytes = 65536\n",
    )))
    .await;
    let c = client();
    // Anthropic's envelope on the Messages routes, with and without /v1.
    for p in ["/v1/messages", "/messages", "/v1/messages/count_tokens"] {
        let m = anthropic_error(
            c.get(gw.at(p)).send().await.unwrap(),
            405,
            "invalid_request_error",
        )
        .await;
        assert!(m.contains("GET"), "{m}");
    }
    for p in ["/v1/messages/batches", "/messages/nope/deeper"] {
        let m = anthropic_error(
            c.post(gw.at(p)).json(&json!({})).send().await.unwrap(),
            404,
            "not_found_error",
        )
        .await;
        assert!(m.contains("unknown route"), "{m}");
    }
    let mut big = body(fixture!("basic-system.request.json"), "mock/gpt-4o-mini");
    big["messages"][0]["content"] = json!("x".repeat(70_000));
    // A fresh connection per oversized body: the gateway answers 413 without reading the
    // body, and a pooled connection could race that answer.
    for p in ["/v1/messages", "/v1/messages/count_tokens"] {
        let m = anthropic_error(
            client().post(gw.at(p)).json(&big).send().await.unwrap(),
            413,
            "request_too_large",
        )
        .await;
        assert!(m.contains("65536"), "{m}");
    }
    // OpenAI's envelope on /v1/responses (and every other route).
    let v = error_envelope(c.put(gw.at("/v1/responses")).send().await.unwrap(), 405).await;
    assert_eq!(v["error"]["code"], "method_not_allowed");
    let v = error_envelope(
        c.post(gw.at("/v1/responses/x/y")).send().await.unwrap(),
        404,
    )
    .await;
    assert_eq!(v["error"]["code"], "not_found", "{v}");
    let v = error_envelope(
        client()
            .post(gw.at("/v1/responses"))
            .json(&json!({"model": "mock/gpt-4o-mini", "input": "x".repeat(70_000)}))
            .send()
            .await
            .unwrap(),
        413,
    )
    .await;
    assert_eq!(v["error"]["code"], "request_too_large");
    assert!(up.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn thinking_and_top_k_never_reach_an_openai_style_upstream_raw() {
    // Anthropic's `thinking` budget becomes `reasoning_effort` (LiteLLM's buckets: >= 4096
    // high, >= 2048 medium, else low) on an OpenAI-compatible server, which also takes
    // `top_k`; OpenAI's own API drops what it cannot take and says so in
    // `x-modelrt-dropped-params` (provider-openai's tests/foreign_fields.rs).
    let up = openai_upstream().await;
    let gw = Gw::start(Some(&mock_config(&up.uri(), ""))).await;
    for stream in [false, true] {
        let mut v = body(fixture!("basic-system.request.json"), "mock/gpt-4o-mini");
        v["thinking"] = json!({"type": "enabled", "budget_tokens": 2048});
        v["top_k"] = json!(40);
        v["stream"] = json!(stream);
        let resp = client()
            .post(gw.at("/v1/messages"))
            .json(&v)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert!(!resp.headers().contains_key("x-modelrt-dropped-params"));
        resp.bytes().await.unwrap();
        let sent = last_body(&up, "/v1/chat/completions").await;
        assert!(sent.get("thinking").is_none(), "{sent}");
        assert_eq!(sent["reasoning_effort"], "medium", "{sent}");
        assert_eq!(sent["top_k"], 40, "{sent}");
        assert_eq!(sent["stream"].as_bool().unwrap_or(false), stream, "{sent}");
    }
}
