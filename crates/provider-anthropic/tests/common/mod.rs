//! Shared by this crate's integration tests.
#![allow(
    dead_code,
    clippy::result_large_err,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use provider_anthropic::wire::{EventDecoder, RequestOptions, StreamWireEvent, messages_request};
use provider_anthropic::{AnthropicProvider, AnthropicSettings};
use runtime_core::http::{HttpClient, HttpClientConfig, SseDecoder};
use runtime_core::{
    AssistantMessage, ChatRequest, ChatResponse, Content, ContentPart, Error, FunctionDefinition,
    Message, Provider, ReasoningBlock, Secret, StreamAccumulator, ToolCall, ToolChoice,
    ToolDefinition,
};
use runtime_testkit::fixtures;
use serde_json::{Map, Value};

pub const DIR: &str = "anthropic";

/// A client of its own per test: wiremock reuses server ports across tests, and a pooled
/// connection of the process-wide client would belong to a finished test's runtime.
pub fn http() -> HttpClient {
    HttpClient::new(&HttpClientConfig::default()).unwrap()
}

pub fn provider(base: &str, key: &str, timeout: Duration) -> AnthropicProvider {
    let mut s = AnthropicSettings::new("anthropic", Secret::new(key));
    s.base_url = base.to_owned();
    s.timeout = timeout;
    s.stream_idle_timeout = timeout;
    s.build(http())
}

pub fn dyn_provider(
    base: &str,
    key: &Secret,
    timeout: Duration,
) -> runtime_core::Result<Arc<dyn Provider>> {
    Ok(Arc::new(provider(base, key.expose(), timeout)))
}

/// A recorded Anthropic request body, read back into the core request it expresses (the reverse
/// of `wire::messages_request`, for tests). `is_error` on tool results has no core equivalent.
pub fn anthropic_to_core(v: &Value) -> ChatRequest {
    let obj = v.as_object().expect("request object");
    let mut req = ChatRequest::new(obj["model"].as_str().unwrap(), Vec::new());
    let mut system = Vec::new();
    for (k, val) in obj {
        match k.as_str() {
            "model" | "messages" => {}
            "stream" => req.stream = val.as_bool(),
            "max_tokens" => req.max_tokens = Some(val.as_u64().unwrap() as u32),
            "temperature" => req.temperature = val.as_f64(),
            "top_p" => req.top_p = val.as_f64(),
            "stop_sequences" => {
                req.stop = serde_json::from_value(val.clone()).unwrap();
            }
            "system" => match val {
                Value::String(s) => system.push(Message::system(s.clone())),
                Value::Array(blocks) => {
                    for b in blocks {
                        system.push(Message::system(b["text"].as_str().unwrap()));
                    }
                }
                other => panic!("system {other}"),
            },
            "tools" => {
                for t in val.as_array().unwrap() {
                    req.tools.push(ToolDefinition {
                        kind: "function".into(),
                        function: FunctionDefinition {
                            name: t["name"].as_str().unwrap().into(),
                            description: t
                                .get("description")
                                .and_then(Value::as_str)
                                .map(str::to_owned),
                            parameters: t.get("input_schema").cloned(),
                            strict: t.get("strict").and_then(Value::as_bool),
                        },
                    });
                }
            }
            "tool_choice" => {
                req.tool_choice = Some(match val["type"].as_str().unwrap() {
                    "auto" => ToolChoice::Auto,
                    "any" => ToolChoice::Required,
                    "none" => ToolChoice::None,
                    "tool" => ToolChoice::Function(val["name"].as_str().unwrap().into()),
                    other => panic!("tool_choice {other}"),
                });
                if val.get("disable_parallel_tool_use") == Some(&Value::Bool(true)) {
                    req.parallel_tool_calls = Some(false);
                }
            }
            "metadata" => {
                let mut m = val.as_object().unwrap().clone();
                if let Some(Value::String(u)) = m.remove("user_id") {
                    req.user = Some(u);
                }
                if !m.is_empty() {
                    req.extra.insert(k.clone(), Value::Object(m));
                }
            }
            _ => {
                req.extra.insert(k.clone(), val.clone());
            }
        }
    }
    req.messages = system;
    for m in obj["messages"].as_array().unwrap() {
        let blocks: Vec<Value> = match &m["content"] {
            Value::String(s) => vec![serde_json::json!({"type": "text", "text": s})],
            Value::Array(b) => b.clone(),
            other => panic!("content {other}"),
        };
        match m["role"].as_str().unwrap() {
            "user" => {
                let mut parts = Vec::new();
                for b in &blocks {
                    match b["type"].as_str().unwrap() {
                        "text" => parts.push(ContentPart::Text {
                            text: b["text"].as_str().unwrap().into(),
                        }),
                        "image" => parts.push(image_part(&b["source"])),
                        "tool_result" => req.messages.push(Message::Tool {
                            content: match &b["content"] {
                                Value::String(s) => Content::Text(s.clone()),
                                Value::Array(inner) => Content::Parts(
                                    inner
                                        .iter()
                                        .map(|p| match p["type"].as_str().unwrap() {
                                            "text" => ContentPart::Text {
                                                text: p["text"].as_str().unwrap().into(),
                                            },
                                            _ => image_part(&p["source"]),
                                        })
                                        .collect(),
                                ),
                                other => panic!("tool_result content {other}"),
                            },
                            tool_call_id: b["tool_use_id"].as_str().unwrap().into(),
                            name: None,
                        }),
                        other => panic!("user block {other}"),
                    }
                }
                match parts.len() {
                    0 => {}
                    1 if matches!(parts[0], ContentPart::Text { .. }) => req
                        .messages
                        .push(Message::user(Content::Parts(parts).to_text())),
                    _ => req.messages.push(Message::User {
                        content: Content::Parts(parts),
                        name: None,
                    }),
                }
            }
            "assistant" => {
                let mut a = AssistantMessage::default();
                let mut text = String::new();
                for b in &blocks {
                    match b["type"].as_str().unwrap() {
                        "text" => text.push_str(b["text"].as_str().unwrap()),
                        "tool_use" => a.tool_calls.push(ToolCall::new(
                            b["id"].as_str().unwrap(),
                            b["name"].as_str().unwrap(),
                            b["input"].to_string(),
                        )),
                        "thinking" => a.reasoning.push(ReasoningBlock {
                            signature: b["signature"].as_str().map(str::to_owned),
                            ..ReasoningBlock::text(b["thinking"].as_str().unwrap())
                        }),
                        "redacted_thinking" => a.reasoning.push(ReasoningBlock {
                            kind: "redacted_thinking".into(),
                            text: None,
                            signature: None,
                            data: b["data"].as_str().map(str::to_owned),
                        }),
                        other => panic!("assistant block {other}"),
                    }
                }
                if !text.is_empty() {
                    a.content = Some(Content::Text(text));
                }
                req.messages.push(Message::Assistant(a));
            }
            other => panic!("role {other}"),
        }
    }
    req
}

fn image_part(source: &Value) -> ContentPart {
    match source["type"].as_str().unwrap() {
        "base64" => ContentPart::image_base64(
            source["media_type"].as_str().unwrap(),
            source["data"].as_str().unwrap(),
        ),
        _ => ContentPart::image_url(source["url"].as_str().unwrap()),
    }
}

/// The core request of a request fixture.
pub fn fixture_request(name: &str) -> ChatRequest {
    anthropic_to_core(&fixtures::json(DIR, name))
}

/// A stream fixture as SSE bytes (`.chunks.jsonl` payloads get SSE framing).
pub fn sse_bytes(name: &str) -> Vec<u8> {
    if name.ends_with(".jsonl") {
        fixtures::jsonl_to_sse(&fixtures::text(DIR, name), false).into_bytes()
    } else {
        fixtures::bytes(DIR, name)
    }
}

/// Every stream fixture.
pub const STREAM_FIXTURES: &[&str] = &[
    "stream-basic.sse",
    "stream-incomplete-partial-json.sse",
    "stream-json-tool-ping-between-deltas.chunks.jsonl",
    "stream-message-delta-input-tokens.chunks.jsonl",
    "stream-refusal.chunks.jsonl",
    "stream-text-ping-padding.response.sse",
    "stream-thinking.response.sse",
    "stream-tool-no-args.chunks.jsonl",
    "stream-tool-use.sse",
];

/// Feeds `chunks` through the real SSE decoder and the event decoder and folds the events, the
/// way `decode_sse` does (events before an error are kept; the error is returned with them; an
/// unparsable last event is a cut connection).
pub fn fold_chunks(chunks: &[Vec<u8>]) -> (ChatResponse, Option<Error>) {
    fold_chunks_with(chunks, &mut HashMap::new())
}

/// [`fold_chunks`] with a cache of parsed payloads: each distinct `data` string is parsed by
/// serde once, while the SSE framing and the decoder's state machine run in full every time.
pub fn fold_chunks_with(
    chunks: &[Vec<u8>],
    parsed: &mut HashMap<String, Option<StreamWireEvent>>,
) -> (ChatResponse, Option<Error>) {
    let mut sse = SseDecoder::new();
    let mut events = Vec::new();
    for c in chunks {
        sse.push(c, &mut events);
    }
    sse.finish(&mut events);
    let mut dec = EventDecoder::new("anthropic", "claude-test");
    let mut acc = StreamAccumulator::default();
    let mut out = Vec::new();
    let mut error = None;
    let last = events.len().saturating_sub(1);
    for (i, e) in events.iter().enumerate() {
        if dec.is_done() {
            break;
        }
        let data = e.data.trim();
        if data.is_empty() {
            continue;
        }
        let ev = parsed
            .entry(data.to_owned())
            .or_insert_with(|| serde_json::from_str::<StreamWireEvent>(data).ok())
            .clone();
        let r = match ev {
            Some(ev) => dec.decode_event(ev, &mut out),
            None => dec.decode(&e.data, &mut out),
        };
        for ev in out.drain(..) {
            acc.push(ev);
        }
        match r {
            Ok(()) => {}
            Err(Error::Decode { .. }) if i == last => {
                error = Some(dec.truncated());
                break;
            }
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    if error.is_none() && !dec.is_done() {
        if let Err(e) = dec.end(&mut out) {
            error = Some(e);
        }
        for ev in out.drain(..) {
            acc.push(ev);
        }
    }
    (acc.finish(), error)
}

/// Folds a whole stream fixture.
pub fn fold_fixture(name: &str) -> (ChatResponse, Option<Error>) {
    fold_chunks(&[sse_bytes(name)])
}

/// A JSON object from `pairs`.
pub fn obj(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

/// Default request options.
pub fn opts() -> RequestOptions {
    RequestOptions::default()
}

/// The JSON body of a non-streaming request.
pub fn build(req: &ChatRequest) -> Result<Value, Error> {
    body_json(req, opts(), false)
}

/// The typed body as the JSON it serialises to.
pub fn body_json(req: &ChatRequest, opts: RequestOptions, stream: bool) -> Result<Value, Error> {
    messages_request(req, &req.model, "anthropic", opts, stream)
        .map(|b| serde_json::to_value(b).unwrap())
}
