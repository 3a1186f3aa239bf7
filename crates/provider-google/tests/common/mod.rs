//! Shared by this crate's integration tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::panic,
    clippy::result_large_err
)]

use std::sync::Arc;
use std::time::Duration;

use provider_google::{GoogleProvider, GoogleSettings};
use runtime_core::{ChatRequest, ChatResponse, Error, Provider, Secret, http::HttpClient};
use serde_json::{Map, Value};

pub const DIR: &str = "gemini";

pub fn provider(base: &str, key: &str, timeout: Duration) -> GoogleProvider {
    let mut s = GoogleSettings::new("google", Secret::new(key));
    s.base_url = base.to_owned();
    s.timeout = timeout;
    s.stream_idle_timeout = timeout;
    s.build(HttpClient::new(&Default::default()).unwrap())
}

pub fn dyn_provider(
    base: &str,
    key: &Secret,
    timeout: Duration,
) -> runtime_core::Result<Arc<dyn Provider>> {
    Ok(Arc::new(provider(base, key.expose(), timeout)))
}

/// Feeds an SSE body in the given pieces through the shared SSE decoder and the Gemini
/// decoder, folding the events; an error ends the fold.
pub fn fold_pieces(pieces: &[Vec<u8>], model: &str) -> Result<ChatResponse, Error> {
    let mut dec = provider_google::wire::StreamDecoder::new("google", model);
    let events = runtime_testkit::stream::decode_sse(pieces, &mut dec).into_result()?;
    Ok(runtime_testkit::stream::fold(&events))
}

/// An SSE body from a `.chunks.jsonl` fixture, framed the way Gemini frames it (`\r\n\r\n`).
pub fn jsonl_as_gemini_sse(name: &str) -> Vec<u8> {
    let text = runtime_testkit::fixtures::text(DIR, name);
    runtime_testkit::fixtures::jsonl_to_sse(&text, false)
        .replace("\n\n", "\r\n\r\n")
        .into_bytes()
}

pub fn fixture_request(name: &str) -> Value {
    runtime_testkit::fixtures::json(DIR, name)
}

fn camel(k: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in k.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.push(c.to_ascii_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Normalizes a Gemini request body for comparison with a recorded one: keys in camelCase
/// (Google accepts both spellings; recorders used both), nulls, `thought: false` and empty
/// objects dropped, `parametersJsonSchema` and `parameters` compared alike, a single `tools`
/// object read as a list, and the optional `systemInstruction.role` dropped.
pub fn normalize(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(obj) = v.as_object_mut() {
        if let Some(t @ Value::Object(_)) = obj.get("tools").cloned() {
            obj.insert("tools".into(), Value::Array(vec![t]));
        }
        if let Some(Value::Object(si)) = obj.get_mut("systemInstruction") {
            si.remove("role");
        }
    }
    norm(&v, false)
}

fn norm(v: &Value, verbatim_keys: bool) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, val) in m {
                if val.is_null() || (k == "thought" && val == &Value::Bool(false)) {
                    continue;
                }
                let mut key = if verbatim_keys { k.clone() } else { camel(k) };
                if key == "parametersJsonSchema" {
                    key = "parameters".into();
                }
                if key == "systemInstruction" {
                    if let Some(si) = val.as_object() {
                        let mut si = si.clone();
                        si.remove("role");
                        out.insert(key, norm(&Value::Object(si), false));
                        continue;
                    }
                }
                let inner_verbatim = !verbatim_keys
                    && matches!(key.as_str(), "properties" | "args" | "response" | "$defs");
                let n = norm(val, inner_verbatim);
                if n.as_object().is_some_and(Map::is_empty) {
                    continue;
                }
                out.insert(key, n);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| norm(x, false)).collect()),
        // OpenAPI-subset type names are upper case; recorders sent them in lower case.
        Value::String(s)
            if !verbatim_keys
                && s.chars().all(|c| c.is_ascii_uppercase())
                && ["STRING", "OBJECT", "INTEGER", "NUMBER", "BOOLEAN", "ARRAY"]
                    .contains(&s.as_str()) =>
        {
            Value::String(s.to_ascii_lowercase())
        }
        other => other.clone(),
    }
}

pub fn body_of(req: &ChatRequest) -> Value {
    serde_json::to_value(
        provider_google::wire::generate_request(req, &req.model, "google").unwrap(),
    )
    .unwrap()
}

fn sys_user(model: &str, system: &str, user: &str) -> ChatRequest {
    ChatRequest::new(
        model,
        vec![
            runtime_core::Message::system(system),
            runtime_core::Message::user(user),
        ],
    )
}

fn text_only(req: &mut ChatRequest) {
    req.extra
        .insert("response_modalities".into(), serde_json::json!(["TEXT"]));
}

fn capital_tool() -> runtime_core::ToolDefinition {
    runtime_core::ToolDefinition::function(
        "get_capital",
        "Get the capital of a country.",
        serde_json::json!({
            "properties": {"country": {"description": "The country name.", "type": "string"}},
            "required": ["country"],
            "type": "object"
        }),
    )
}

fn empty_tool(name: &str) -> runtime_core::ToolDefinition {
    runtime_core::ToolDefinition::function(
        name,
        "",
        serde_json::json!({"additionalProperties": false, "properties": {}, "type": "object"}),
    )
}

/// The core chat request equivalent to each recorded Gemini request fixture.
pub fn core_request(fixture: &str) -> ChatRequest {
    use runtime_core::{AssistantMessage, Message, ToolCall};
    match fixture {
        "generate-basic.request.json" => {
            let mut r = sys_user("gemini-2.5-flash", "You are a chatbot.", "Hello!");
            text_only(&mut r);
            r
        }
        "generate-system-instruction.request.json" => sys_user(
            "gemini-2.0-flash",
            "You are a helpful assistant.",
            "What is the capital of France?",
        ),
        "generate-max-tokens.request.json" => {
            let mut r = sys_user(
                "gemini-2.5-flash",
                "You are a helpful chatbot.",
                "What is the capital of France?",
            );
            r.max_tokens = Some(5);
            text_only(&mut r);
            r.extra
                .insert("thinking_budget".into(), serde_json::json!(0));
            r
        }
        "max-tokens-thinking-empty.request.json" => {
            let mut r = sys_user(
                "gemini-2.5-pro",
                "You are a helpful chatbot.",
                "What is the capital of France?",
            );
            r.max_tokens = Some(5);
            text_only(&mut r);
            r
        }
        "generate-thinking-usage.request.json" => {
            let mut r = sys_user(
                "gemini-3-pro-preview",
                "You are a helpful assistant.",
                "How do I cross the street?",
            );
            text_only(&mut r);
            r.extra
                .insert("include_thoughts".into(), serde_json::json!(true));
            r.tools = vec![empty_tool("dummy")];
            r
        }
        "safety-block-empty-content.request.json" => {
            let mut r = sys_user(
                "gemini-1.5-flash",
                "You hate the world!",
                "Tell me a joke about a Brazilians.",
            );
            r.extra.insert(
                "safety_settings".into(),
                serde_json::json!([{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_LOW_AND_ABOVE"}]),
            );
            r
        }
        "function-call.request.json" => {
            let mut r = ChatRequest::new(
                "gemini-2.0-flash-exp",
                vec![Message::user("What is the capital of France?")],
            );
            r.tools = vec![capital_tool()];
            r
        }
        "function-response-followup.request.json" => {
            let mut r = core_request("function-call.request.json");
            r.messages.push(Message::Assistant(AssistantMessage {
                tool_calls: vec![ToolCall::new(
                    "call_0",
                    "get_capital",
                    r#"{"country":"France"}"#,
                )],
                ..AssistantMessage::default()
            }));
            // No `name`: it comes from the assistant call with the same id.
            r.messages
                .push(Message::tool("call_0", r#"{"return_value":"Paris"}"#));
            r
        }
        "error-404-model-not-found.request.json" => {
            let mut r = ChatRequest::new("gemini-3.6-flahs", vec![Message::user("hello")]);
            text_only(&mut r);
            r
        }
        "stream-error-404-event-stream-content-type.request.json" => {
            let mut r = ChatRequest::new(
                "gemini-nonexistent-rig-test",
                vec![Message::user("Say hi.")],
            );
            r.max_tokens = Some(16);
            r
        }
        "stream-function-call-thought-signature.request.json" => {
            let mut r = ChatRequest::new(
                "gemini-3-pro-preview",
                vec![Message::user(
                    "What is the capital of the user country? Call the tool",
                )],
            );
            text_only(&mut r);
            r.tools = vec![empty_tool("get_country")];
            r
        }
        "stream-sse-crlf.request.json" => {
            let mut r = sys_user(
                "gemini-2.0-flash-exp",
                "You are a helpful chatbot.",
                "What is the capital of France?",
            );
            r.temperature = Some(0.0);
            r
        }
        other => panic!("no core request for {other}"),
    }
}

/// The embedding request equivalent to `batch-embed-contents.request.json`.
pub fn core_embed_request() -> runtime_core::EmbeddingRequest {
    let mut r = runtime_core::EmbeddingRequest::new(
        "gemini-embedding-2-preview",
        vec!["hello".into(), "world".into()],
    );
    r.extra
        .insert("task_type".into(), serde_json::json!("RETRIEVAL_DOCUMENT"));
    r
}
