//! `POST /v1/messages` through the gateway to an Anthropic upstream (wiremock) loses nothing:
//! the upstream body equals the client's on every field that matters (system blocks,
//! `cache_control` wherever it was — agentgateway #3479 —, signed and redacted thinking,
//! `tool_use` / `tool_result` with `is_error`, tools, thinking budget, metadata), the client's
//! `anthropic-beta` features reach the upstream, and the answer (thinking signatures,
//! citations, cache read / write usage) and the stream come back as Anthropic sent them.
//! count_tokens is Anthropic's exact count. Bodies: the real recordings of
//! `crates/runtime-dialects/tests/fixtures/anthropic_messages/` (sources in its `SOURCES.md`).

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

fn config(base: &str) -> String {
    let claude = anthropic_provider("claude", base);
    format!(
        r#"
{claude}
[[models]]
name = "sonnet"

[[models.deployments]]
provider = "claude"
model = "claude-sonnet-4-5"
"#
    )
}

fn json_of(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

/// The fields of a Messages body that change what the model sees or how it is billed, with a
/// string `content` written as the one text block it stands for (the two forms are the same
/// request to Anthropic).
fn what_matters(v: &Value) -> Value {
    let mut out = serde_json::Map::new();
    for k in [
        "system",
        "messages",
        "tools",
        "tool_choice",
        "thinking",
        "metadata",
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "cache_control",
    ] {
        if let Some(x) = v.get(k) {
            out.insert(k.to_owned(), x.clone());
        }
    }
    // `1` and `1.0` are the same temperature (core keeps sampling settings as f64).
    for k in ["temperature", "top_p"] {
        if let Some(x) = out.get_mut(k) {
            *x = json!(x.as_f64());
        }
    }
    if let Some(Value::Array(msgs)) = out.get_mut("messages") {
        for m in msgs {
            if let Some(Value::String(s)) = m.get("content") {
                m["content"] = json!([{"type": "text", "text": s}]);
            }
        }
    }
    Value::Object(out)
}

/// `(event, data)` pairs of an Anthropic SSE body.
fn events(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|f| !f.trim().is_empty())
        .filter_map(|f| {
            let mut name = None;
            let mut data = None;
            for line in f.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = Some(n.trim().to_owned());
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = Some(serde_json::from_str::<Value>(d.trim()).unwrap());
                }
            }
            Some((name?, data?))
        })
        .collect()
}

/// What a client rebuilds from a stream: per block, its type and its accumulated text,
/// thinking, signature, redacted data, tool input and citations; and the final usage and stop
/// reason.
fn replay(evs: &[(String, Value)]) -> Value {
    let mut blocks: Vec<Value> = Vec::new();
    let mut usage = json!({});
    let mut stop = Value::Null;
    for (name, d) in evs {
        match name.as_str() {
            "message_start" => {
                for (k, v) in d["message"]["usage"].as_object().unwrap() {
                    // An absent count and a zero are the same to a client.
                    if k.ends_with("_tokens") && v != 0 {
                        usage[k] = v.clone();
                    }
                }
            }
            "content_block_start" => {
                let b = &d["content_block"];
                blocks.push(json!({"type": b["type"], "text": b["text"].as_str().unwrap_or(""),
                    "thinking": b["thinking"].as_str().unwrap_or(""), "signature": b["signature"].as_str().unwrap_or(""),
                    "data": b["data"].as_str().unwrap_or(""), "json": ""}));
            }
            "content_block_delta" => {
                let i = d["index"].as_u64().unwrap() as usize;
                if d["delta"]["type"] == "citations_delta" {
                    let b = blocks[i].as_object_mut().unwrap();
                    let list = b.entry("citations").or_insert_with(|| json!([]));
                    list.as_array_mut()
                        .unwrap()
                        .push(d["delta"]["citation"].clone());
                    continue;
                }
                let (field, key) = match d["delta"]["type"].as_str().unwrap() {
                    "text_delta" => ("text", "text"),
                    "thinking_delta" => ("thinking", "thinking"),
                    "signature_delta" => ("signature", "signature"),
                    "input_json_delta" => ("json", "partial_json"),
                    other => panic!("unknown delta {other}"),
                };
                let add = d["delta"][key].as_str().unwrap().to_owned();
                let cur = blocks[i][field].as_str().unwrap().to_owned();
                blocks[i][field] = json!(cur + &add);
            }
            "message_delta" => {
                stop = d["delta"]["stop_reason"].clone();
                for (k, v) in d["usage"].as_object().unwrap() {
                    if k.ends_with("_tokens") && !v.is_null() && v != 0 {
                        usage[k] = v.clone();
                    }
                }
            }
            _ => {}
        }
    }
    json!({"blocks": blocks, "usage": usage, "stop_reason": stop})
}

async fn anthropic_upstream(answer: &str) -> MockServer {
    let up = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .insert_header("request-id", "req_upstream_1")
                .set_body_string(answer.to_owned()),
        )
        .mount(&up)
        .await;
    up
}

#[tokio::test]
async fn requests_reach_anthropic_unchanged_and_answers_come_back_unchanged() {
    let answer = fixture!("thinking-tool-use.response.json");
    let up = anthropic_upstream(answer).await;
    let gw = Gw::start(Some(&config(&up.uri()))).await;
    let c = client();
    for (name, fixture, model) in [
        (
            "thinking-tool-use",
            fixture!("thinking-tool-use.request.json"),
            "claude/claude-sonnet-4-0",
        ),
        (
            "thinking-replay",
            fixture!("thinking-replay.request.json"),
            "claude/claude-sonnet-4-0",
        ),
        (
            "tool-result-followup",
            fixture!("tool-result-followup.request.json"),
            "sonnet",
        ),
        (
            "prompt-cache",
            fixture!("prompt-cache.request.json"),
            "sonnet",
        ),
        (
            "image-url",
            fixture!("image-url.request.json"),
            "claude/claude-haiku-4-5",
        ),
        (
            "claude-code",
            fixture!("claude-code.request.json"),
            "claude/claude-3-7-sonnet-20250219",
        ),
    ] {
        let mut req = json_of(fixture);
        req["model"] = json!(model);
        req["stream"] = json!(false);
        let resp = c
            .post(gw.at("/v1/messages"))
            .header("x-api-key", "client-key-not-forwarded")
            .header("anthropic-version", "2023-06-01")
            .header(
                "anthropic-beta",
                "claude-code-20250219,interleaved-thinking-2025-05-14",
            )
            .json(&req)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let got: Value = resp.json().await.unwrap();
        assert_eq!(status, 200, "{name}: {got}");
        let reqs = up.received_requests().await.unwrap();
        let sent = reqs.last().unwrap();
        assert_eq!(sent.headers["x-api-key"], UPSTREAM_KEY, "{name}");
        assert_eq!(
            sent.headers["anthropic-beta"], "claude-code-20250219,interleaved-thinking-2025-05-14",
            "{name}"
        );
        assert_eq!(sent.headers["anthropic-version"], "2023-06-01");
        let sent: Value = serde_json::from_slice(&sent.body).unwrap();
        assert_eq!(what_matters(&sent), what_matters(&req), "{name}: {sent}");
        // The answer: every block (signed thinking, text, tool_use) and the usage as sent.
        let want = json_of(answer);
        assert_eq!(got["content"], want["content"], "{name}");
        assert_eq!(got["id"], want["id"]);
        assert_eq!(got["stop_reason"], want["stop_reason"]);
        for k in [
            "input_tokens",
            "output_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        ] {
            assert_eq!(got["usage"][k], want["usage"][k], "{name}: {k}");
        }
    }
    // The bytes that matter of the Claude Code body, as Anthropic received them.
    let reqs = up.received_requests().await.unwrap();
    let sent: Value = serde_json::from_slice(&reqs.last().unwrap().body).unwrap();
    insta::assert_json_snapshot!("claude-code.messages-anthropic_upstream", sent);
}

#[tokio::test]
async fn citations_and_cache_usage_come_back() {
    let answer = fixture!("citations.response.json");
    let up = anthropic_upstream(answer).await;
    let gw = Gw::start(Some(&config(&up.uri()))).await;
    let mut req = json_of(fixture!("basic-system.request.json"));
    req["model"] = json!("sonnet");
    let got: Value = client()
        .post(gw.at("/v1/messages"))
        .json(&req)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let want = json_of(answer);
    // The cited text block comes back with its citations, byte for byte.
    assert_eq!(got["content"], want["content"], "{got}");
    assert_eq!(got["usage"]["cache_creation_input_tokens"], 2051);
    assert_eq!(got["usage"]["cache_read_input_tokens"], 2051);
    assert_eq!(got["usage"]["input_tokens"], 2095);

    // Replayed (as the client kept it): the citations go back on the assistant's text block.
    let mut turn2 = req.clone();
    turn2["messages"]
        .as_array_mut()
        .unwrap()
        .push(json!({"role": "assistant", "content": want["content"]}));
    turn2["messages"]
        .as_array_mut()
        .unwrap()
        .push(json!({"role": "user", "content": "Thanks."}));
    let resp = client()
        .post(gw.at("/v1/messages"))
        .json(&turn2)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let reqs = up.received_requests().await.unwrap();
    let sent: Value = serde_json::from_slice(&reqs.last().unwrap().body).unwrap();
    assert_eq!(what_matters(&sent), what_matters(&turn2), "{sent}");
}

#[tokio::test]
async fn streams_come_back_event_for_event() {
    for (name, request, sse) in [
        (
            "thinking",
            fixture!("stream-thinking.request.json"),
            fixture!("stream-thinking.sse"),
        ),
        (
            "redacted-thinking",
            fixture!("stream-redacted-thinking.request.json"),
            fixture!("stream-redacted-thinking.sse"),
        ),
        (
            "tool-use",
            fixture!("tool-use.request.json"),
            fixture!("stream-tool-use.sse"),
        ),
        (
            "basic",
            fixture!("basic-system.request.json"),
            fixture!("stream-basic.sse"),
        ),
    ] {
        let up = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/messages"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("content-type", "text/event-stream")
                    .set_body_string(sse.to_owned()),
            )
            .mount(&up)
            .await;
        let gw = Gw::start(Some(&config(&up.uri()))).await;
        let mut req = json_of(request);
        req["model"] = json!("sonnet");
        req["stream"] = json!(true);
        let resp = client()
            .post(gw.at("/v1/messages"))
            .json(&req)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{name}");
        let got = events(&resp.text().await.unwrap());
        let want = events(sse);
        // What a client rebuilds is identical: blocks, signatures, usage (#1089), stop reason.
        assert_eq!(replay(&got), replay(&want), "{name}");
        let names: Vec<&str> = got.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.first(), Some(&"message_start"), "{name}");
        assert_eq!(names.last(), Some(&"message_stop"), "{name}");
        assert!(names.contains(&"ping"), "{name}");
        let sent: Value =
            serde_json::from_slice(&up.received_requests().await.unwrap()[0].body).unwrap();
        assert_eq!(sent["stream"], true);
        assert_eq!(what_matters(&sent), what_matters(&req), "{name}: {sent}");
    }
}

#[tokio::test]
async fn count_tokens_is_anthropics_exact_count() {
    let up = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages/count_tokens"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_string(fixture!("count-tokens.response.json")),
        )
        .mount(&up)
        .await;
    let gw = Gw::start(Some(&config(&up.uri()))).await;
    for model in ["claude/claude-sonnet-4-5", "sonnet"] {
        let mut req = json_of(fixture!("count-tokens.request.json"));
        req["model"] = json!(model);
        let resp = client()
            .post(gw.at("/v1/messages/count_tokens"))
            .header("anthropic-beta", "token-counting-2024-11-01")
            .json(&req)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{model}");
        assert_eq!(resp.headers()["x-modelrt-token-count"], "exact");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v, json!({"input_tokens": 1114}));
        let reqs = up.received_requests().await.unwrap();
        let last = reqs.last().unwrap();
        assert_eq!(last.headers["anthropic-beta"], "token-counting-2024-11-01");
        let sent: Value = serde_json::from_slice(&last.body).unwrap();
        assert!(
            sent.get("max_tokens").is_none() && sent.get("stream").is_none(),
            "{sent}"
        );
        let mut want = req.clone();
        want["model"] = json!("claude-sonnet-4-5");
        assert_eq!(what_matters(&sent), what_matters(&want), "{sent}");
        assert_eq!(sent["model"], "claude-sonnet-4-5");
    }
}

#[tokio::test]
async fn an_overloaded_anthropic_is_529_overloaded_error() {
    let up = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(ResponseTemplate::new(529).set_body_json(
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ))
        .mount(&up)
        .await;
    let gw = Gw::start(Some(&config(&up.uri()))).await;
    let mut req = json_of(fixture!("basic-system.request.json"));
    req["model"] = json!("claude/claude-sonnet-4-5");
    let resp = client()
        .post(gw.at("/v1/messages"))
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 529);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["type"], "error");
    assert_eq!(v["error"]["type"], "overloaded_error", "{v}");
}

/// A stream whose second text block is cited: the event sequence of the Anthropic C# SDK's
/// streaming-aggregation test (anthropics/anthropic-sdk-csharp, src/Anthropic.Tests,
/// `CreateStreamingAggregation_TextBlockAccumulatesCitationDeltasInOrder`), after an uncited
/// block; the same sequence as provider-anthropic's `tests/citations.rs`.
fn cited_stream() -> String {
    let events = [
        r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":1}}}"#,
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":"","citations":[]}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{"type":"char_location","cited_text":"The grass is green. ","document_index":0,"document_title":"Nature Facts","file_id":null,"start_char_index":0,"end_char_index":20}}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{"type":"web_search_result_location","cited_text":"Mild summers.","encrypted_index":"Eo8B","title":"Paris climate","url":"https://example.com/paris"}}}"#,
        r#"{"type":"content_block_stop","index":0}"#,
        r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":5}}"#,
        r#"{"type":"message_stop"}"#,
    ];
    events
        .iter()
        .map(|e| {
            let v: Value = serde_json::from_str(e).unwrap();
            format!("event: {}\ndata: {e}\n\n", v["type"].as_str().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn streamed_citations_come_back_on_their_text_block() {
    let up = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(cited_stream()),
        )
        .mount(&up)
        .await;
    let gw = Gw::start(Some(&config(&up.uri()))).await;
    let mut req = json_of(fixture!("basic-system.request.json"));
    req["model"] = json!("sonnet");
    req["stream"] = json!(true);
    let resp = client()
        .post(gw.at("/v1/messages"))
        .json(&req)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let got = events(&resp.text().await.unwrap());
    let want = events(&cited_stream());
    // What an SDK accumulates: one text block "Hello" with both citations, in order.
    assert_eq!(replay(&got)["blocks"], replay(&want)["blocks"]);
    assert_eq!(
        replay(&got)["blocks"][0]["citations"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let cites: Vec<&Value> = got
        .iter()
        .filter(|(_, d)| d["delta"]["type"] == "citations_delta")
        .map(|(_, d)| &d["delta"]["citation"])
        .collect();
    assert_eq!(cites.len(), 2, "{got:?}");
    assert_eq!(cites[0]["type"], "char_location");
    assert_eq!(cites[1]["url"], "https://example.com/paris");
}
