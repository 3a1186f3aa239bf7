//! The pure mapping functions against the recorded fixtures.
#![allow(
    clippy::result_large_err,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod common;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{
    DIR, STREAM_FIXTURES, anthropic_to_core, fold_chunks, fold_chunks_with, fold_fixture,
};
use http::{HeaderMap, HeaderValue};
use provider_anthropic::wire::{
    self, EventDecoder, MessagesResponse, RequestOptions, map_error, messages_request,
    parse_response,
};
use runtime_core::http::ErrorContext;
use runtime_core::{
    AssistantMessage, ChatRequest, Content, ContentPart, Error, FinishReason, ImageUrl,
    JsonSchemaFormat, Message, ReasoningBlock, ResponseFormat, StreamEvent, ToolCall, ToolChoice,
    ToolDefinition, Usage,
};
use runtime_testkit::fixtures;
use serde_json::{Value, json};

const REQUEST_FIXTURES: &[&str] = &[
    "error-400-invalid-request.request.json",
    "error-401-authentication.request.json",
    "error-404-not-found.request.json",
    "messages-basic-system.request.json",
    "messages-parallel-tool-use.request.json",
    "messages-prompt-cache-read.request.json",
    "messages-tool-result-followup.request.json",
    "messages-tool-use.request.json",
    "stream-text-ping-padding.request.json",
    "stream-thinking.request.json",
];

fn opts() -> RequestOptions {
    RequestOptions::default()
}

fn build(req: &ChatRequest) -> Result<Value, Error> {
    body_json(req, opts(), false)
}

/// The typed body as the JSON it serialises to.
fn body_json(req: &ChatRequest, opts: RequestOptions, stream: bool) -> Result<Value, Error> {
    messages_request(req, "anthropic", opts, stream).map(|b| serde_json::to_value(b).unwrap())
}

/// Removes what the core cannot carry from a recorded body (`is_error: false` on tool results,
/// which is Anthropic's default).
fn normalize(mut v: Value) -> Value {
    if let Some(msgs) = v.get_mut("messages").and_then(Value::as_array_mut) {
        for m in msgs {
            if let Some(blocks) = m.get_mut("content").and_then(Value::as_array_mut) {
                for b in blocks {
                    if let Some(o) = b.as_object_mut() {
                        if o.get("is_error") == Some(&Value::Bool(false)) {
                            o.remove("is_error");
                        }
                    }
                }
            }
        }
    }
    v
}

#[test]
fn every_request_fixture_round_trips_and_is_snapshotted() {
    for name in REQUEST_FIXTURES {
        let recorded = fixtures::json(DIR, name);
        let core = anthropic_to_core(&recorded);
        let stream = recorded
            .get("stream")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let body = body_json(&core, opts(), stream).unwrap();
        let mut want = normalize(recorded.clone());
        want["stream"] = Value::Bool(stream);
        assert_eq!(
            body, want,
            "{name}: the built body differs from the recording"
        );
        let stem = name.trim_end_matches(".json").trim_end_matches(".request");
        insta::assert_json_snapshot!(format!("request__{stem}"), body);
    }
}

#[test]
fn system_messages_are_lifted_and_turns_merged() {
    let mut req = ChatRequest::new(
        "claude-sonnet-4-5",
        vec![
            Message::system("You are terse."),
            Message::user("What's the weather in Paris and Rome?"),
            Message::user("Use Celsius."),
            Message::Assistant(AssistantMessage {
                content: Some(Content::Text("Checking both.".into())),
                reasoning: vec![
                    ReasoningBlock {
                        signature: Some("sig-1".into()),
                        ..ReasoningBlock::text("Two cities, two calls.")
                    },
                    ReasoningBlock {
                        kind: "redacted_thinking".into(),
                        text: None,
                        signature: None,
                        data: Some("ENCRYPTED".into()),
                    },
                ],
                tool_calls: vec![
                    ToolCall::new("toolu_01A", "get_weather", r#"{"city":"Paris"}"#),
                    ToolCall::new("toolu_01B", "get_weather", r#"{"city":"Rome"}"#),
                ],
                ..AssistantMessage::default()
            }),
            Message::tool("toolu_01A", "18C"),
            Message::Tool {
                content: Content::Parts(vec![
                    ContentPart::Text {
                        text: "21C, radar:".into(),
                    },
                    ContentPart::image_base64("image/png", "iVBORw0KGgo="),
                ]),
                tool_call_id: "toolu_01B".into(),
                name: Some("get_weather".into()),
            },
            Message::user("Thanks. Which is warmer?"),
            Message::system("Answer in one word."),
        ],
    );
    req.tools = vec![ToolDefinition::function(
        "get_weather",
        "Current weather",
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    )];
    req.tool_choice = Some(ToolChoice::Function("get_weather".into()));
    req.parallel_tool_calls = Some(false);
    req.stop = vec!["STOP".into()];
    req.temperature = Some(0.2);
    req.top_p = Some(0.9);
    req.user = Some("user-42".into());
    req.extra.insert("top_k".into(), json!(5));
    req.extra.insert(
        "thinking".into(),
        json!({"type": "enabled", "budget_tokens": 2048}),
    );
    let body = build(&req).unwrap();
    insta::assert_json_snapshot!("request__synthetic_merge_tools_thinking", body);
    let msgs = body["messages"].as_array().unwrap();
    let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
    assert_eq!(
        body["system"],
        json!([{"type": "text", "text": "You are terse."}, {"type": "text", "text": "Answer in one word."}])
    );
    let last: Vec<&str> = msgs[2]["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["type"].as_str().unwrap())
        .collect();
    assert_eq!(last, ["tool_result", "tool_result", "text"]);
    assert_eq!(body["metadata"], json!({"user_id": "user-42"}));
    assert_eq!(
        body["tool_choice"],
        json!({"type": "tool", "name": "get_weather", "disable_parallel_tool_use": true})
    );
    assert_eq!(body["max_tokens"], json!(4096));
    assert_eq!(body["top_k"], json!(5));
    // And back: the recorded shape reads into the same core request.
    let back = anthropic_to_core(&body);
    assert_eq!(build(&back).unwrap(), body);
}

#[test]
fn images_by_url_and_base64() {
    let req = ChatRequest::new(
        "claude-sonnet-4-5",
        vec![Message::User {
            content: Content::Parts(vec![
                ContentPart::Text {
                    text: "Compare these.".into(),
                },
                ContentPart::image_url("https://example.com/cat.jpg"),
                ContentPart::image_base64("image/png", "iVBORw0KGgo="),
            ]),
            name: None,
        }],
    );
    let body = build(&req).unwrap();
    insta::assert_json_snapshot!("request__synthetic_images", body);
    assert_eq!(
        body["messages"][0]["content"][2]["source"],
        json!({"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="})
    );
    assert_eq!(
        body["messages"][0]["content"][1]["source"],
        json!({"type": "url", "url": "https://example.com/cat.jpg"})
    );
}

#[test]
fn tool_choice_forms() {
    let mut req = ChatRequest::new("claude-haiku-4-5", vec![Message::user("hi")]);
    req.tools = vec![ToolDefinition::function(
        "f",
        "d",
        json!({"type": "object"}),
    )];
    for (choice, want) in [
        (ToolChoice::Auto, json!({"type": "auto"})),
        (ToolChoice::None, json!({"type": "none"})),
        (ToolChoice::Required, json!({"type": "any"})),
        (
            ToolChoice::Function("f".into()),
            json!({"type": "tool", "name": "f"}),
        ),
    ] {
        req.tool_choice = Some(choice);
        assert_eq!(build(&req).unwrap()["tool_choice"], want);
    }
    let mut no_tools = req.clone();
    no_tools.tools.clear();
    for c in [ToolChoice::Auto, ToolChoice::None] {
        no_tools.tool_choice = Some(c);
        no_tools.parallel_tool_calls = Some(false);
        assert!(build(&no_tools).unwrap().get("tool_choice").is_none());
    }
    no_tools.tool_choice = Some(ToolChoice::Required);
    assert_eq!(
        build(&no_tools).unwrap()["tool_choice"],
        json!({"type": "any"}),
        "a forced tool without tools is the caller's error, reported upstream"
    );
    req.tool_choice = None;
    req.parallel_tool_calls = Some(false);
    assert_eq!(
        build(&req).unwrap()["tool_choice"],
        json!({"type": "auto", "disable_parallel_tool_use": true})
    );
}

#[test]
fn max_tokens_default_and_thinking_budget() {
    let mut req = ChatRequest::new("claude-sonnet-4-5", vec![Message::user("hi")]);
    let custom = RequestOptions {
        default_max_tokens: 1000,
    };
    assert_eq!(
        body_json(&req, custom, false).unwrap()["max_tokens"],
        json!(1000)
    );
    req.extra.insert(
        "thinking".into(),
        json!({"type": "enabled", "budget_tokens": 5000}),
    );
    let body = body_json(&req, custom, true).unwrap();
    assert_eq!(body["max_tokens"], json!(6000));
    assert_eq!(body["stream"], json!(true));
    assert_eq!(body["thinking"]["budget_tokens"], json!(5000));
    req.max_tokens = Some(7000);
    assert_eq!(
        body_json(&req, custom, false).unwrap()["max_tokens"],
        json!(7000)
    );
}

fn param_of(e: &Error) -> Option<&str> {
    e.param()
}

#[test]
fn what_anthropic_cannot_express_is_an_error_naming_it() {
    let base = || ChatRequest::new("claude-sonnet-4-5", vec![Message::user("hi")]);
    let mut r = base();
    r.seed = Some(1);
    assert_eq!(param_of(&build(&r).unwrap_err()), Some("seed"));
    let mut r = base();
    r.frequency_penalty = Some(0.5);
    assert_eq!(param_of(&build(&r).unwrap_err()), Some("frequency_penalty"));
    let mut r = base();
    r.presence_penalty = Some(0.0);
    assert!(build(&r).is_ok(), "a zero penalty is the default");
    let mut r = base();
    r.response_format = Some(ResponseFormat::JsonSchema {
        json_schema: JsonSchemaFormat {
            name: "x".into(),
            description: None,
            schema: Some(json!({"type": "object"})),
            strict: None,
        },
    });
    r.tools = vec![ToolDefinition::function(
        "f",
        "d",
        json!({"type": "object"}),
    )];
    assert_eq!(param_of(&build(&r).unwrap_err()), Some("response_format"));
    r.tools.clear();
    r.extra.insert(
        "thinking".into(),
        json!({"type": "enabled", "budget_tokens": 1024}),
    );
    assert_eq!(param_of(&build(&r).unwrap_err()), Some("response_format"));
    r.extra.clear();
    r.tool_choice = Some(ToolChoice::Required);
    assert_eq!(param_of(&build(&r).unwrap_err()), Some("response_format"));
    r.tool_choice = None;
    r.response_format = Some(ResponseFormat::JsonSchema {
        json_schema: JsonSchemaFormat {
            name: "x".into(),
            description: None,
            schema: Some(json!({"type": "array"})),
            strict: None,
        },
    });
    assert_eq!(param_of(&build(&r).unwrap_err()), Some("response_format"));
    let mut r = base();
    r.response_format = Some(ResponseFormat::Text);
    assert!(build(&r).is_ok());
    let mut r = base();
    r.extra.insert("n".into(), json!(2));
    assert!(matches!(build(&r), Err(Error::Unsupported { .. })));
    r.extra.insert("n".into(), json!(1));
    assert!(build(&r).unwrap().get("n").is_none());

    let mut r = base();
    r.messages = vec![Message::User {
        content: Content::Text("hi".into()),
        name: Some("bob".into()),
    }];
    assert_eq!(param_of(&build(&r).unwrap_err()), Some("messages[0].name"));

    let mut r = base();
    r.messages.push(Message::Assistant(AssistantMessage {
        tool_calls: vec![ToolCall::new("toolu_1", "f", "{not json")],
        ..AssistantMessage::default()
    }));
    assert_eq!(
        param_of(&build(&r).unwrap_err()),
        Some("messages[1].tool_calls[0].function.arguments")
    );
    let mut r = base();
    let mut call = ToolCall::new("toolu_1", "f", "{}");
    call.thought_signature = Some("gemini".into());
    r.messages.push(Message::Assistant(AssistantMessage {
        tool_calls: vec![call],
        ..AssistantMessage::default()
    }));
    assert_eq!(
        param_of(&build(&r).unwrap_err()),
        Some("messages[1].tool_calls[0].thought_signature")
    );

    let mut r = base();
    r.messages.push(Message::Assistant(AssistantMessage {
        refusal: Some("no".into()),
        ..AssistantMessage::default()
    }));
    assert_eq!(
        param_of(&build(&r).unwrap_err()),
        Some("messages[1].refusal")
    );

    let mut r = base();
    r.messages = vec![Message::User {
        content: Content::Parts(vec![ContentPart::ImageUrl {
            image_url: ImageUrl {
                url: "https://x/y.png".into(),
                detail: Some("high".into()),
            },
        }]),
        name: None,
    }];
    assert_eq!(
        param_of(&build(&r).unwrap_err()),
        Some("messages[0].content[0].image_url.detail")
    );

    let mut r = base();
    r.messages.insert(
        0,
        Message::System {
            content: Content::Parts(vec![ContentPart::image_url("https://x/y.png")]),
            name: None,
        },
    );
    r.messages.insert(0, Message::system("a"));
    assert_eq!(
        param_of(&build(&r).unwrap_err()),
        Some("messages[1].content[0]")
    );

    let mut r = base();
    r.extra.insert("max_tokens".into(), json!(5));
    assert_eq!(param_of(&build(&r).unwrap_err()), Some("max_tokens"));

    let mut r = base();
    r.user = Some("a".into());
    r.extra.insert("metadata".into(), json!({"user_id": "b"}));
    assert_eq!(param_of(&build(&r).unwrap_err()), Some("user"));
    r.extra.insert("metadata".into(), json!({"user_id": "a"}));
    assert_eq!(build(&r).unwrap()["metadata"], json!({"user_id": "a"}));
}

#[test]
fn empty_assistant_text_is_not_sent() {
    let req = ChatRequest::new(
        "claude-sonnet-4-5",
        vec![
            Message::user("hi"),
            Message::Assistant(AssistantMessage {
                content: Some(Content::Text(String::new())),
                tool_calls: vec![ToolCall::new("toolu_1", "f", "")],
                ..AssistantMessage::default()
            }),
            Message::tool("toolu_1", "ok"),
        ],
    );
    let body = build(&req).unwrap();
    assert_eq!(
        body["messages"][1]["content"],
        json!([{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}])
    );
}

fn response(name: &str) -> runtime_core::ChatResponse {
    let body: MessagesResponse = serde_json::from_value(fixtures::json(DIR, name)).unwrap();
    parse_response(body, "anthropic", "m", None)
}

#[test]
fn response_fixtures_map_text_tools_usage_and_finish() {
    let r = response("messages-basic-system.response.json");
    assert_eq!(r.id, "msg_01Fg1JVgvCYUHWsxrj9GkpEv");
    assert_eq!(r.model, "claude-3-opus-20240229");
    assert_eq!(
        r.message.text().as_deref(),
        Some("The capital of France is Paris.")
    );
    assert_eq!(r.finish_reason, FinishReason::Stop);
    assert_eq!(r.usage, Some(Usage::new(20, 10)));

    let r = response("messages-tool-use.response.json");
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    assert_eq!(r.message.content, None);
    assert_eq!(
        r.message.tool_calls,
        vec![ToolCall::new(
            "toolu_01X9wcHKKAZD9tBC711xipPa",
            "get_user_country",
            "{}"
        )]
    );

    let r = response("messages-tool-result-followup.response.json");
    let c = &r.message.tool_calls[0];
    assert_eq!(c.id, "toolu_01LZABsgreMefH2Go8D5PQbW");
    assert_eq!(
        serde_json::from_str::<Value>(&c.function.arguments).unwrap(),
        json!({"city": "Mexico City", "country": "Mexico"})
    );
    assert_eq!(r.usage.unwrap().total_tokens, 497 + 56);

    let r = response("messages-parallel-tool-use.response.json");
    let names: Vec<&str> = r
        .message
        .tool_calls
        .iter()
        .map(|c| c.function.arguments.as_str())
        .collect();
    assert_eq!(
        names,
        [
            r#"{"name":"Alice"}"#,
            r#"{"name":"Bob"}"#,
            r#"{"name":"Charlie"}"#,
            r#"{"name":"Daisy"}"#
        ]
    );
    assert!(r.message.text().unwrap().starts_with("I'll help you"));
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);

    let r = response("messages-prompt-cache-read.response.json");
    let u = r.usage.unwrap();
    assert_eq!(
        u,
        Usage {
            prompt_tokens: 3 + 418 + 1111,
            completion_tokens: 33,
            total_tokens: 3 + 418 + 1111 + 33,
            cached_prompt_tokens: 1111,
            cache_creation_tokens: 418,
            reasoning_tokens: 0,
        }
    );
}

#[test]
fn thinking_and_unknown_blocks_in_a_response() {
    let body: MessagesResponse = serde_json::from_value(json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "SIG"},
            {"type": "redacted_thinking", "data": "ENC"},
            {"type": "text", "text": "Hi"},
            {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
            {"type": "text", "text": " there"}
        ],
        "stop_reason": "stop_sequence", "stop_sequence": "END",
        "usage": {"input_tokens": 1, "output_tokens": 2, "cache_creation_input_tokens": null}
    }))
    .unwrap();
    let r = parse_response(body, "anthropic", "m", None);
    assert_eq!(r.message.text().as_deref(), Some("Hi there"));
    assert_eq!(r.message.reasoning.len(), 2);
    assert_eq!(r.message.reasoning[0].signature.as_deref(), Some("SIG"));
    assert_eq!(r.message.reasoning[1].data.as_deref(), Some("ENC"));
    assert_eq!(r.meta.annotations["stop_sequence"], json!("END"));
    assert_eq!(
        r.meta.annotations["content_blocks"][0]["type"],
        json!("web_search_tool_result")
    );
    assert_eq!(r.finish_reason, FinishReason::Stop);
    // Reasoning goes back out as signed blocks.
    let next = ChatRequest::new(
        "claude-sonnet-4-5",
        vec![Message::user("q"), Message::Assistant(r.message.clone())],
    );
    let out = build(&next).unwrap();
    assert_eq!(
        out["messages"][1]["content"],
        json!([
            {"type": "thinking", "thinking": "hmm", "signature": "SIG"},
            {"type": "redacted_thinking", "data": "ENC"},
            {"type": "text", "text": "Hi there"}
        ])
    );
}

fn ctx() -> ErrorContext<'static> {
    ErrorContext {
        provider: "anthropic",
        model: "claude-x",
        secret: None,
    }
}

fn status_of(meta: &str) -> u16 {
    fixtures::json(DIR, meta)["status"].as_u64().unwrap() as u16
}

#[test]
fn error_fixtures_map_to_typed_errors() {
    let e = map_error(
        &ctx(),
        status_of("error-400-invalid-request.meta.json"),
        &HeaderMap::new(),
        &fixtures::bytes(DIR, "error-400-invalid-request.response.json"),
    );
    assert!(
        matches!(&e, Error::InvalidRequest { message, .. } if message.contains("xhigh")),
        "{e:?}"
    );
    assert!(!e.is_retryable());
    let e = map_error(
        &ctx(),
        status_of("error-401-authentication.meta.json"),
        &HeaderMap::new(),
        &fixtures::bytes(DIR, "error-401-authentication.response.json"),
    );
    assert!(
        matches!(&e, Error::Authentication { status: 401, .. }),
        "{e:?}"
    );
    let e = map_error(
        &ctx(),
        status_of("error-404-not-found.meta.json"),
        &HeaderMap::new(),
        &fixtures::bytes(DIR, "error-404-not-found.response.json"),
    );
    assert!(matches!(&e, Error::ModelNotFound { .. }), "{e:?}");
}

fn envelope(t: &str, msg: &str) -> Vec<u8> {
    json!({"type": "error", "error": {"type": t, "message": msg}, "request_id": "req_1"})
        .to_string()
        .into_bytes()
}

#[test]
fn status_table() {
    let h = HeaderMap::new();
    let e = map_error(&ctx(), 529, &h, &envelope("overloaded_error", "Overloaded"));
    assert!(
        matches!(&e, Error::Api { status: 529, error_type: Some(t), .. } if t == "overloaded_error")
    );
    assert!(e.is_retryable());
    let e = map_error(&ctx(), 500, &h, &envelope("api_error", "boom"));
    assert!(e.is_retryable());
    let e = map_error(&ctx(), 413, &h, &envelope("request_too_large", "too big"));
    assert!(matches!(&e, Error::Api { status: 413, .. }), "{e:?}");
    assert!(!e.is_retryable());
    let e = map_error(
        &ctx(),
        400,
        &h,
        &envelope(
            "invalid_request_error",
            "prompt is too long: 210000 tokens > 200000 maximum",
        ),
    );
    assert!(matches!(e, Error::ContextLengthExceeded { .. }), "{e:?}");
    let e = map_error(&ctx(), 403, &h, &envelope("permission_error", "no"));
    assert!(matches!(e, Error::Authentication { status: 403, .. }));
    let e = map_error(&ctx(), 400, &h, &envelope("billing_error", "credit"));
    assert!(matches!(e, Error::QuotaExhausted { .. }), "{e:?}");
}

fn rfc3339(unix: u64) -> String {
    // Civil date from days (Howard Hinnant), for test headers.
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[test]
fn rate_limit_reset_headers_feed_retry_after() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut h = HeaderMap::new();
    h.insert(
        "anthropic-ratelimit-requests-remaining",
        HeaderValue::from_static("10"),
    );
    h.insert(
        "anthropic-ratelimit-requests-reset",
        HeaderValue::from_str(&rfc3339(now + 5)).unwrap(),
    );
    h.insert(
        "anthropic-ratelimit-input-tokens-remaining",
        HeaderValue::from_static("0"),
    );
    h.insert(
        "anthropic-ratelimit-input-tokens-reset",
        HeaderValue::from_str(&rfc3339(now + 40)).unwrap(),
    );
    let e = map_error(&ctx(), 429, &h, &envelope("rate_limit_error", "slow down"));
    let after = e.retry_after().unwrap();
    assert!(
        after > Duration::from_secs(30) && after <= Duration::from_secs(40),
        "{after:?}"
    );
    assert!(matches!(e, Error::RateLimited { .. }));
    // `retry-after` wins when present.
    h.insert("retry-after", HeaderValue::from_static("3"));
    let e = map_error(&ctx(), 429, &h, &envelope("rate_limit_error", "slow down"));
    assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
    // Pure function with a fixed clock.
    let at = UNIX_EPOCH + Duration::from_secs(now);
    h.remove("retry-after");
    assert_eq!(
        wire::ratelimit_retry_after(&h, at),
        Some(Duration::from_secs(40))
    );
}

#[test]
fn every_stream_fixture_folds_the_same_at_every_byte_boundary() {
    std::thread::scope(|scope| {
        for half in STREAM_FIXTURES.chunks(STREAM_FIXTURES.len().div_ceil(2)) {
            scope.spawn(move || {
                for name in half {
                    let bytes = common::sse_bytes(name);
                    let (whole, whole_err) = fold_fixture(name);
                    let whole_err = whole_err.map(|e| e.to_string());
                    let mut parsed = HashMap::new();
                    for pieces in fixtures::rechunkings(&bytes, 20) {
                        let (got, err) = fold_chunks_with(&pieces, &mut parsed);
                        assert_eq!(got, whole, "{name}");
                        assert_eq!(err.map(|e| e.to_string()), whole_err, "{name}");
                    }
                }
            });
        }
    });
}

#[test]
fn stream_basic_and_ping_padding() {
    let (r, e) = fold_fixture("stream-basic.sse");
    assert!(e.is_none());
    assert_eq!(r.message.text().as_deref(), Some("Hello there!"));
    assert_eq!(r.id, "msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK");
    assert_eq!(r.model, "claude-3-opus-latest");
    assert_eq!(r.usage, Some(Usage::new(11, 6)));
    assert_eq!(r.finish_reason, FinishReason::Stop);

    let (r, e) = fold_fixture("stream-text-ping-padding.response.sse");
    assert!(e.is_none());
    assert_eq!(r.message.text().as_deref(), Some("2"));
    assert_eq!(r.usage, Some(Usage::new(20, 5)));
    assert_eq!(r.model, "claude-sonnet-4-5-20250929");
}

#[test]
fn stream_tool_use_and_no_args() {
    let (r, e) = fold_fixture("stream-tool-use.sse");
    assert!(e.is_none());
    assert_eq!(
        r.message.text().as_deref(),
        Some("I'll check the current weather in Paris for you.")
    );
    let c = &r.message.tool_calls[0];
    assert_eq!(
        (c.id.as_str(), c.function.name.as_str()),
        ("toolu_01NRLabsLyVHZPKxbKvkfSMn", "get_weather")
    );
    assert_eq!(c.function.arguments, r#"{"location": "Paris"}"#);
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    assert_eq!(r.usage, Some(Usage::new(377, 65)));

    let (r, e) = fold_fixture("stream-tool-no-args.chunks.jsonl");
    assert!(e.is_none());
    let c = &r.message.tool_calls[0];
    assert_eq!(c.function.name, "updateIssueList");
    assert_eq!(c.function.arguments, "{}");
    assert_eq!(
        r.message.text().as_deref(),
        Some("I'll update the issue list for you.")
    );

    let (r, e) = fold_fixture("stream-json-tool-ping-between-deltas.chunks.jsonl");
    assert!(e.is_none());
    let args: Value = serde_json::from_str(&r.message.tool_calls[0].function.arguments).unwrap();
    assert_eq!(args["elements"][0]["temperature"], json!(58));
    assert_eq!(r.usage, Some(Usage::new(849, 47)));
}

#[test]
fn stream_incomplete_tool_input_is_kept_with_finish_length() {
    let (r, e) = fold_fixture("stream-incomplete-partial-json.sse");
    assert!(e.is_none());
    assert_eq!(r.finish_reason, FinishReason::Length);
    let c = &r.message.tool_calls[0];
    assert_eq!(c.function.name, "make_file");
    assert!(
        c.function
            .arguments
            .starts_with(r#"{"filename": "taxes.txt""#)
    );
    assert!(c.function.arguments.ends_with("\n\"Filing taxes"));
    assert!(serde_json::from_str::<Value>(&c.function.arguments).is_err());
}

#[test]
fn stream_thinking_signature_and_usage() {
    let (r, e) = fold_fixture("stream-thinking.response.sse");
    assert!(e.is_none());
    assert_eq!(r.message.reasoning.len(), 1);
    let b = &r.message.reasoning[0];
    assert!(
        b.text
            .as_deref()
            .unwrap()
            .starts_with("This is a straightforward")
    );
    assert!(
        b.signature
            .as_deref()
            .unwrap()
            .starts_with("EvMCCkYICxgCKkCHP2cS")
    );
    assert!(
        r.message
            .text()
            .unwrap()
            .ends_with("when crossing streets.")
    );
    assert_eq!(r.usage, Some(Usage::new(43, 282)));
    // The thinking block goes back signed in the next turn.
    let next = ChatRequest::new(
        "claude-sonnet-4-0",
        vec![Message::user("q"), Message::Assistant(r.message.clone())],
    );
    let body = build(&next).unwrap();
    assert_eq!(body["messages"][1]["content"][0]["type"], json!("thinking"));
    assert_eq!(
        body["messages"][1]["content"][0]["signature"].as_str(),
        b.signature.as_deref()
    );
}

#[test]
fn stream_refusal_and_message_delta_usage_overwrite() {
    let (r, e) = fold_fixture("stream-refusal.chunks.jsonl");
    assert!(e.is_none());
    assert_eq!(r.finish_reason, FinishReason::ContentFilter);
    assert!(
        r.message
            .refusal
            .as_deref()
            .unwrap()
            .contains("Usage Policy")
    );
    assert_eq!(r.message.content, None);
    assert_eq!(r.usage, Some(Usage::new(18, 5)));

    let (r, e) = fold_fixture("stream-message-delta-input-tokens.chunks.jsonl");
    assert!(e.is_none());
    assert_eq!(r.message.text().as_deref(), Some("pong"));
    // message_delta's input_tokens (61) replaces message_start's (43); nothing is added.
    assert_eq!(r.usage, Some(Usage::new(61, 2)));
}

#[test]
fn error_event_mid_stream_is_a_typed_stream_error() {
    let mut d = EventDecoder::new("anthropic", "m");
    let mut out = Vec::new();
    d.decode(
        r#"{"type":"message_start","message":{"id":"msg_1","model":"m","usage":{"input_tokens":5,"output_tokens":1}}}"#,
        &mut out,
    )
    .unwrap();
    let e = d
        .decode(
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_9"}"#,
            &mut out,
        )
        .unwrap_err();
    assert!(
        matches!(&e, Error::Stream { transient: true, content_sent: false, error_type: Some(t), .. } if t == "overloaded_error"),
        "{e:?}"
    );
    assert!(e.is_retryable());

    let mut d = EventDecoder::new("anthropic", "m");
    let mut out = Vec::new();
    for data in [
        r#"{"type":"message_start","message":{"id":"msg_1","model":"m"}}"#,
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}"#,
    ] {
        d.decode(data, &mut out).unwrap();
    }
    let e = d
        .decode(
            r#"{"type":"error","error":{"type":"api_error","message":"Internal"}}"#,
            &mut out,
        )
        .unwrap_err();
    assert!(matches!(
        e,
        Error::Stream {
            transient: true,
            content_sent: true,
            ..
        }
    ));
    assert!(!e.is_retryable(), "content already reached the caller");
    let e = EventDecoder::new("anthropic", "m")
        .decode(
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}"#,
            &mut out,
        )
        .unwrap_err();
    assert!(matches!(
        e,
        Error::Stream {
            transient: false,
            ..
        }
    ));
}

#[test]
fn truncated_stream_is_an_error_and_events_are_typed() {
    let bytes = common::sse_bytes("stream-basic.sse");
    let cut = String::from_utf8_lossy(&bytes).find("\" there\"").unwrap();
    let (r, e) = fold_chunks(&[bytes[..cut].to_vec()]);
    assert_eq!(r.message.text().as_deref(), Some("Hello"));
    assert!(
        matches!(
            e,
            Some(Error::Stream {
                transient: true,
                content_sent: true,
                ..
            })
        ),
        "{e:?}"
    );
    assert_eq!(r.finish_reason, FinishReason::Other("incomplete".into()));

    let mut d = EventDecoder::new("anthropic", "m");
    let mut out = Vec::new();
    d.decode(
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"redacted_thinking","data":"ENC"}}"#,
        &mut out,
    )
    .unwrap();
    d.decode(
        r#"{"type":"content_block_start","index":1,"content_block":{"type":"thinking","thinking":"","signature":""}}"#,
        &mut out,
    )
    .unwrap();
    d.decode(
        r#"{"type":"content_block_delta","index":1,"delta":{"type":"citations_delta","citation":{}}}"#,
        &mut out,
    )
    .unwrap();
    d.decode(r#"{"type":"some_future_event"}"#, &mut out)
        .unwrap();
    d.decode(
        r#"{"type":"content_block_start","index":2,"content_block":{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}}"#,
        &mut out,
    )
    .unwrap();
    d.decode(
        r#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"query\": \"x\"}"}}"#,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        out,
        vec![StreamEvent::RedactedReasoning { data: "ENC".into() }]
    );
    assert!(matches!(
        d.decode("{\"type\":", &mut out),
        Err(Error::Decode { .. })
    ));
    assert!(matches!(
        d.decode(
            r#"{"type":"content_block_delta","index":7,"delta":{"type":"input_json_delta","partial_json":"{"}}"#,
            &mut out
        ),
        Err(Error::Decode { .. })
    ));
}

#[test]
fn model_page_maps_to_catalog_entries() {
    let page: wire::ModelPage = serde_json::from_value(json!({
        "data": [
            {"type": "model", "id": "claude-sonnet-4-5-20250929", "display_name": "Claude Sonnet 4.5", "created_at": "2025-09-29T00:00:00Z"},
            {"type": "model", "id": "claude-opus-4-20250514", "display_name": "Claude Opus 4", "created_at": "2025-05-22T00:00:00Z"},
            {"type": "model", "id": "claude-3-5-haiku-20241022", "display_name": "Claude Haiku 3.5", "created_at": "2024-10-22T00:00:00Z"},
            {"type": "model", "id": "claude-new-9", "display_name": "New", "created_at": "2026-10-01T00:00:00Z"}
        ],
        "has_more": false, "first_id": "claude-sonnet-4-5-20250929", "last_id": "claude-new-9"
    }))
    .unwrap();
    let catalog = provider_anthropic::catalog("anthropic");
    let models = wire::parse_models(page.data, "anthropic", &catalog);
    assert_eq!(models[0].max_output_tokens, Some(64_000));
    assert_eq!(models[0].created, Some(1_759_104_000));
    assert_eq!(models[1].max_output_tokens, Some(32_000));
    assert_eq!(models[2].max_output_tokens, Some(8_192));
    assert_eq!(models[3].context_window, None);
    assert!(
        models
            .iter()
            .all(|m| m.provider == "anthropic" && m.supports_streaming)
    );
}

#[test]
fn catalog_has_current_models() {
    let c = provider_anthropic::catalog("anthropic");
    for id in [
        "claude-opus-4-1",
        "claude-sonnet-4-5",
        "claude-haiku-4-5",
        "claude-3-5-haiku-latest",
    ] {
        let m = c.iter().find(|m| m.id == id).unwrap();
        assert_eq!(m.context_window, Some(200_000));
        assert!(m.supports_vision && m.supports_tools && m.supports_json_schema);
    }
}

#[test]
fn tool_input_text() {
    assert_eq!(wire::tool_input_text(&Value::Null), "{}");
    assert_eq!(wire::tool_input_text(&json!({"a": 1})), r#"{"a":1}"#);
}

fn city_schema() -> ChatRequest {
    let mut req = ChatRequest::new(
        "claude-sonnet-4-5",
        vec![Message::user("Largest city of Mexico?")],
    );
    req.response_format = Some(ResponseFormat::JsonSchema {
        json_schema: JsonSchemaFormat {
            name: "city_location".into(),
            description: Some("A city and its country".into()),
            schema: Some(json!({
                "type": "object",
                "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
                "required": ["city", "country"]
            })),
            strict: None,
        },
    });
    req
}

#[test]
fn json_schema_is_a_forced_tool_both_ways() {
    let req = city_schema();
    let body = build(&req).unwrap();
    insta::assert_json_snapshot!("request__synthetic_json_schema", body);
    assert_eq!(
        body["tool_choice"],
        json!({"type": "tool", "name": "city_location", "disable_parallel_tool_use": true})
    );
    assert_eq!(
        body["tools"][0]["input_schema"]["required"],
        json!(["city", "country"])
    );
    assert_eq!(wire::structured_output_tool(&req), Some("city_location"));

    // The recorded answer of a forced tool, read with the structured tool's name.
    let recorded: MessagesResponse = serde_json::from_value(fixtures::json(
        DIR,
        "messages-tool-result-followup.response.json",
    ))
    .unwrap();
    let r = parse_response(recorded.clone(), "anthropic", "m", Some("final_result"));
    assert_eq!(r.finish_reason, FinishReason::Stop);
    assert!(r.message.tool_calls.is_empty());
    let answer: Value = serde_json::from_str(&r.message.text().unwrap()).unwrap();
    assert_eq!(answer, json!({"city": "Mexico City", "country": "Mexico"}));
    // Without the name it stays a tool call.
    let r = parse_response(recorded, "anthropic", "m", None);
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);

    // Streamed: the forced tool's input deltas are the answer text.
    let sse = fixtures::text(DIR, "stream-tool-use.sse");
    let mut dec = EventDecoder::new("anthropic", "m").with_structured_output(Some("get_weather"));
    let mut sse_dec = runtime_core::http::SseDecoder::new();
    let mut events = Vec::new();
    sse_dec.push(sse.as_bytes(), &mut events);
    sse_dec.finish(&mut events);
    let mut acc = runtime_core::StreamAccumulator::default();
    let mut out = Vec::new();
    for e in &events {
        dec.decode(&e.data, &mut out).unwrap();
    }
    for ev in out {
        acc.push(ev);
    }
    let r = acc.finish();
    assert_eq!(r.finish_reason, FinishReason::Stop);
    assert!(r.message.tool_calls.is_empty());
    assert!(
        r.message
            .text()
            .unwrap()
            .ends_with(r#"{"location": "Paris"}"#)
    );

    // JSON mode: any object.
    let mut req = ChatRequest::new("claude-haiku-4-5", vec![Message::user("json please")]);
    req.response_format = Some(ResponseFormat::JsonObject);
    let body = build(&req).unwrap();
    assert_eq!(body["tools"][0]["name"], json!(wire::JSON_OBJECT_TOOL));
    assert_eq!(body["tools"][0]["input_schema"], json!({"type": "object"}));

    // A no-argument structured answer streams as `{}`.
    let mut dec =
        EventDecoder::new("anthropic", "m").with_structured_output(Some("updateIssueList"));
    let mut out = Vec::new();
    for line in fixtures::text(DIR, "stream-tool-no-args.chunks.jsonl").lines() {
        dec.decode(line, &mut out).unwrap();
    }
    let mut acc = runtime_core::StreamAccumulator::default();
    for ev in out {
        acc.push(ev);
    }
    let r = acc.finish();
    assert!(r.message.text().unwrap().ends_with("for you.{}"));
    assert_eq!(r.finish_reason, FinishReason::Stop);
}

#[test]
fn a_matched_stop_sequence_is_kept_in_streams_as_in_whole_answers() {
    let events = [
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
            "model": "claude-test", "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 5, "output_tokens": 1}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "one two"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "message_delta", "delta": {"stop_reason": "stop_sequence", "stop_sequence": "three"},
            "usage": {"output_tokens": 3}}),
        json!({"type": "message_stop"}),
    ];
    let sse: String = events
        .iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
        .collect();
    let (streamed, err) = fold_chunks(&[sse.into_bytes()]);
    assert!(err.is_none(), "{err:?}");
    let whole: MessagesResponse = serde_json::from_value(json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
        "content": [{"type": "text", "text": "one two"}],
        "stop_reason": "stop_sequence", "stop_sequence": "three",
        "usage": {"input_tokens": 5, "output_tokens": 3}
    }))
    .unwrap();
    let whole = parse_response(whole, "anthropic", "m", None);
    assert_eq!(streamed.meta.annotations["stop_sequence"], "three");
    assert_eq!(streamed.meta.annotations, whole.meta.annotations);
    assert_eq!(streamed.finish_reason, whole.finish_reason);
}

#[test]
fn reasoning_anthropic_cannot_replay_is_left_out() {
    // Unsigned reasoning text (an OpenAI-compatible `reasoning_content`) and OpenAI's
    // `reasoning` items: Anthropic rejects them and lets earlier turns omit thinking.
    let mut openai = ReasoningBlock::text("");
    openai.kind = "reasoning".into();
    openai.text = None;
    openai.data = Some("gAAAA-encrypted".into());
    let mut signed = ReasoningBlock::text("kept");
    signed.signature = Some("SIG".into());
    let r = ChatRequest::new(
        "claude-sonnet-4-5",
        vec![
            Message::user("hi"),
            Message::Assistant(AssistantMessage {
                reasoning: vec![ReasoningBlock::text("unsigned"), openai, signed],
                content: Some(Content::Text("x".into())),
                ..AssistantMessage::default()
            }),
            Message::user("more"),
        ],
    );
    let v = build(&r).unwrap();
    assert_eq!(
        v["messages"][1]["content"],
        json!([
            {"type": "thinking", "thinking": "kept", "signature": "SIG"},
            {"type": "text", "text": "x"}
        ])
    );
}

#[test]
fn element_extras_are_written_on_their_blocks() {
    use runtime_core::{ElementRef, PromptCacheMark};
    let mut r = ChatRequest::new(
        "claude-sonnet-4-5",
        vec![
            Message::System {
                content: Content::Parts(vec![
                    ContentPart::Text { text: "a".into() },
                    ContentPart::Text { text: "b".into() },
                ]),
                name: None,
            },
            Message::user("q"),
            Message::Assistant(AssistantMessage {
                content: Some(Content::Parts(vec![ContentPart::Text {
                    text: "cited".into(),
                }])),
                tool_calls: vec![ToolCall::new("toolu_1", "f", "{}")],
                ..AssistantMessage::default()
            }),
            Message::Tool {
                content: Content::Text("boom".into()),
                tool_call_id: "toolu_1".into(),
                name: None,
            },
        ],
    );
    r.tools.push(ToolDefinition::function(
        "f",
        "F",
        json!({"type": "object"}),
    ));
    let mark = PromptCacheMark::ephemeral();
    r.element_extra_mut(ElementRef::Part {
        message: 0,
        part: 1,
    })
    .cache_control = Some(mark.clone());
    r.element_extra_mut(ElementRef::Message { message: 1 })
        .cache_control = Some(mark.clone());
    r.element_extra_mut(ElementRef::Part {
        message: 2,
        part: 0,
    })
    .citations = Some(vec![json!({"type": "char_location", "cited_text": "c"})]);
    r.element_extra_mut(ElementRef::ToolCall {
        message: 2,
        call: 0,
    })
    .cache_control = Some(mark.clone());
    let at = ElementRef::Message { message: 3 };
    r.element_extra_mut(at).is_error = Some(true);
    r.element_extra_mut(at).cache_control = Some(mark.clone());
    r.element_extra_mut(ElementRef::Tool { tool: 0 })
        .cache_control = Some(mark.clone());
    r.element_extra_mut(ElementRef::Request).cache_control = Some(mark);
    let v = build(&r).unwrap();
    let e = json!({"type": "ephemeral"});
    assert_eq!(
        v["system"],
        json!([{"type": "text", "text": "a"}, {"type": "text", "text": "b", "cache_control": e}])
    );
    assert_eq!(
        v["messages"][0]["content"],
        json!([{"type": "text", "text": "q", "cache_control": e}])
    );
    assert_eq!(
        v["messages"][1]["content"],
        json!([
            {"type": "text", "text": "cited", "citations": [{"type": "char_location", "cited_text": "c"}]},
            {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}, "cache_control": e}
        ])
    );
    assert_eq!(
        v["messages"][2]["content"],
        json!([{"type": "tool_result", "tool_use_id": "toolu_1", "content": "boom", "is_error": true, "cache_control": e}])
    );
    assert_eq!(v["tools"][0]["cache_control"], e);
    assert_eq!(v["cache_control"], e);
}
