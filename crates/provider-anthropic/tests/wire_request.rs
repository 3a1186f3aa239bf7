//! Request mapping (`messages_request`) against the recorded fixtures: round trips,
//! snapshots, and what Anthropic cannot express.
#![allow(
    clippy::result_large_err,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod common;

use common::{DIR, anthropic_to_core, body_json, build, opts};
use provider_anthropic::wire::{
    self, EventDecoder, MessagesResponse, RequestOptions, parse_response,
};
use runtime_core::{
    AssistantMessage, ChatRequest, Content, ContentPart, Error, FinishReason, ImageUrl,
    JsonSchemaFormat, Message, ReasoningBlock, ResponseFormat, ToolCall, ToolChoice,
    ToolDefinition,
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
