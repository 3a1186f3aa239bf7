//! Unit tests of the chat request mapping.

use super::*;
use runtime_core::{ReasoningBlock, ToolCall};

fn req(messages: Vec<Message>) -> ChatRequest {
    ChatRequest::new("gemini-2.5-flash", messages)
}

#[test]
fn synthetic_ids() {
    assert!(is_synthetic_call_id("call_0"));
    assert!(is_synthetic_call_id("call_12"));
    assert!(!is_synthetic_call_id("call_"));
    assert!(!is_synthetic_call_id("call_abc"));
    assert!(!is_synthetic_call_id("toolu_1"));
}

#[test]
fn tool_result_wrapping() {
    assert_eq!(tool_response_value(r#"{"a":1}"#), json!({"a": 1}));
    assert_eq!(tool_response_value("42"), json!({"result": 42}));
    assert_eq!(tool_response_value("[1,2]"), json!({"result": [1, 2]}));
    assert_eq!(tool_response_value("Paris"), json!({"result": "Paris"}));
}

#[test]
fn tool_name_from_nearest_call_and_results_share_a_turn() {
    let a1 = AssistantMessage {
        tool_calls: vec![ToolCall::new("call_0", "old", "{}")],
        ..AssistantMessage::default()
    };
    let a2 = AssistantMessage {
        tool_calls: vec![
            ToolCall::new("call_0", "first", "{\"x\":1}"),
            ToolCall::new("toolu_9", "second", ""),
        ],
        ..AssistantMessage::default()
    };
    let r = req(vec![
        Message::user("hi"),
        Message::Assistant(a1),
        Message::tool("call_0", "done"),
        Message::user("again"),
        Message::Assistant(a2),
        Message::tool("call_0", "1"),
        Message::tool("toolu_9", "{\"ok\":true}"),
    ]);
    let b = serde_json::to_value(generate_request(&r, &r.model, "google").unwrap()).unwrap();
    let last = &b["contents"][5];
    assert_eq!(last["role"], "user");
    assert_eq!(
        last["parts"],
        json!([
            {"functionResponse": {"name": "first", "response": {"result": 1}}},
            {"functionResponse": {"id": "toolu_9", "name": "second", "response": {"ok": true}}}
        ])
    );
    assert_eq!(
        b["contents"][2]["parts"][0]["functionResponse"]["name"],
        "old"
    );
    assert_eq!(
        b["contents"][4]["parts"][1]["functionCall"],
        json!({"id": "toolu_9", "name": "second", "args": {}})
    );
}

#[test]
fn unknown_tool_call_id_is_named() {
    let r = req(vec![Message::user("x"), Message::tool("nope", "1")]);
    let e = generate_request(&r, &r.model, "google").unwrap_err();
    assert_eq!(e.param(), Some("messages[1].tool_call_id"));
}

#[test]
fn signatures_go_back_where_they_came_from() {
    let mut a = AssistantMessage {
        content: Some(Content::Text("answer".into())),
        ..AssistantMessage::default()
    };
    a.reasoning = vec![ReasoningBlock {
        signature: Some("sig-text".into()),
        ..ReasoningBlock::text("thinking")
    }];
    let mut call = ToolCall::new("call_0", "f", "{}");
    call.thought_signature = Some("sig-call".into());
    a.tool_calls = vec![call];
    let r = req(vec![Message::user("q"), Message::Assistant(a)]);
    let b = serde_json::to_value(generate_request(&r, &r.model, "google").unwrap()).unwrap();
    assert_eq!(
        b["contents"][1]["parts"],
        json!([
            {"text": "thinking", "thought": true},
            {"text": "answer", "thoughtSignature": "sig-text"},
            {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "sig-call"}
        ])
    );
}

#[test]
fn inexpressible_fields_are_errors() {
    let mut r = req(vec![Message::user("x")]);
    r.user = Some("u1".into());
    assert_eq!(
        generate_request(&r, &r.model, "g").unwrap_err().param(),
        Some("user")
    );
    let mut r = req(vec![Message::user("x")]);
    r.extra.insert("logprobs".into(), json!(true));
    assert_eq!(
        generate_request(&r, &r.model, "g").unwrap_err().param(),
        Some("logprobs")
    );
    let mut r = req(vec![Message::user("x")]);
    r.extra.insert("n".into(), json!(2));
    assert_eq!(
        generate_request(&r, &r.model, "g").unwrap_err().param(),
        Some("n")
    );
    let mut r = req(vec![Message::User {
        content: Content::Text("x".into()),
        name: Some("bob".into()),
    }]);
    assert_eq!(
        generate_request(&r, &r.model, "g").unwrap_err().param(),
        Some("messages[0].name")
    );
    r.messages = vec![Message::user("x")];
    r.parallel_tool_calls = Some(false);
    assert!(generate_request(&r, &r.model, "g").is_err());
    r.parallel_tool_calls = None;
    r.seed = Some(1 << 40);
    assert_eq!(
        generate_request(&r, &r.model, "g").unwrap_err().param(),
        Some("seed")
    );
}

fn body(r: &ChatRequest) -> Value {
    serde_json::to_value(generate_request(r, &r.model, "google").unwrap()).unwrap()
}

#[test]
fn response_formats() {
    let mut r = req(vec![Message::user("x")]);
    r.response_format = Some(ResponseFormat::JsonObject);
    assert_eq!(
        body(&r)["generationConfig"],
        json!({"responseMimeType": "application/json"})
    );
    r.response_format = Some(ResponseFormat::JsonSchema {
        json_schema: runtime_core::JsonSchemaFormat {
            name: "pet".into(),
            description: None,
            schema: Some(json!({"type": "object", "properties": {"kind": {"const": "cat"}}})),
            strict: Some(true),
        },
    });
    assert_eq!(
        body(&r)["generationConfig"],
        json!({"responseMimeType": "application/json",
               "responseJsonSchema": {"type": "object", "properties": {"kind": {"enum": ["cat"]}}}})
    );
    r.response_format = Some(ResponseFormat::JsonSchema {
        json_schema: runtime_core::JsonSchemaFormat {
            name: "pet".into(),
            description: None,
            schema: Some(json!({"type": "object", "not": {"type": "null"}})),
            strict: None,
        },
    });
    let e = generate_request(&r, &r.model, "g").unwrap_err();
    assert_eq!(e.param(), Some("response_format.json_schema.schema"));
    assert!(e.to_string().contains("#/not"), "{e}");
    r.response_format = Some(ResponseFormat::Text);
    assert!(body(&r).get("generationConfig").is_none());
}

#[test]
fn tool_choices() {
    let mut r = req(vec![Message::user("x")]);
    r.tools = vec![runtime_core::ToolDefinition::function(
        "f",
        "d",
        json!({"type": "object"}),
    )];
    for (choice, want) in [
        (ToolChoice::Auto, json!({"mode": "AUTO"})),
        (ToolChoice::None, json!({"mode": "NONE"})),
        (ToolChoice::Required, json!({"mode": "ANY"})),
        (
            ToolChoice::Function("f".into()),
            json!({"mode": "ANY", "allowedFunctionNames": ["f"]}),
        ),
    ] {
        r.tool_choice = Some(choice);
        assert_eq!(body(&r)["toolConfig"]["functionCallingConfig"], want);
    }
    r.tool_choice = Some(ToolChoice::Function("g".into()));
    assert_eq!(
        generate_request(&r, &r.model, "g").unwrap_err().param(),
        Some("tool_choice")
    );
    r.tools[0].function.parameters = Some(json!({"type": "object", "patternProperties": {}}));
    r.tool_choice = None;
    assert_eq!(
        generate_request(&r, &r.model, "g").unwrap_err().param(),
        Some("tools[0].function.parameters")
    );
    r.tools.clear();
    r.tool_choice = Some(ToolChoice::Required);
    assert!(generate_request(&r, &r.model, "g").is_err());
    r.tool_choice = Some(ToolChoice::Auto);
    assert!(body(&r).get("toolConfig").is_none());
}

#[test]
fn sampling_and_extras() {
    let mut r = req(vec![
        Message::system("a"),
        Message::user("x"),
        Message::system("b"),
    ]);
    r.temperature = Some(0.5);
    r.top_p = Some(0.9);
    r.max_tokens = Some(100);
    r.stop = vec!["END".into()];
    r.seed = Some(7);
    r.presence_penalty = Some(0.1);
    r.frequency_penalty = Some(0.2);
    r.stream_options = Some(runtime_core::StreamOptions {
        include_usage: true,
    });
    r.extra.insert("top_k".into(), json!(40));
    r.extra.insert("n".into(), json!(1));
    r.extra.insert("reasoning_effort".into(), json!("low"));
    r.extra.insert("include_thoughts".into(), json!(true));
    r.extra
        .insert("cached_content".into(), json!("cachedContents/abc"));
    r.extra.insert(
        "generation_config".into(),
        json!({"mediaResolution": "MEDIA_RESOLUTION_LOW"}),
    );
    let b = body(&r);
    assert_eq!(
        b["generationConfig"],
        json!({"temperature": 0.5, "topP": 0.9, "topK": 40, "maxOutputTokens": 100,
               "stopSequences": ["END"], "seed": 7, "presencePenalty": 0.1, "frequencyPenalty": 0.2,
               "thinkingConfig": {"thinkingBudget": 1024, "includeThoughts": true},
               "mediaResolution": "MEDIA_RESOLUTION_LOW"})
    );
    assert_eq!(b["cachedContent"], "cachedContents/abc");
    assert_eq!(
        b["systemInstruction"],
        json!({"parts": [{"text": "a"}, {"text": "b"}]})
    );
    r.extra.insert("reasoning_effort".into(), json!("extreme"));
    assert_eq!(
        generate_request(&r, &r.model, "g").unwrap_err().param(),
        Some("reasoning_effort")
    );
}

#[test]
fn image_rules() {
    let img = |detail: Option<&str>| {
        let mut p = ContentPart::image_url("https://x.test/a.JPG?size=2");
        if let ContentPart::ImageUrl { image_url } = &mut p {
            image_url.detail = detail.map(str::to_owned);
        }
        p
    };
    let mut r = req(vec![Message::User {
        content: Content::Parts(vec![img(Some("auto")), img(None)]),
        name: None,
    }]);
    assert_eq!(
        body(&r)["contents"][0]["parts"][0],
        json!({"fileData": {"mimeType": "image/jpeg", "fileUri": "https://x.test/a.JPG?size=2"}})
    );
    r.messages = vec![Message::User {
        content: Content::Parts(vec![img(Some("high"))]),
        name: None,
    }];
    assert_eq!(
        generate_request(&r, &r.model, "g").unwrap_err().param(),
        Some("messages[0].content[0].image_url.detail")
    );
    r.messages = vec![Message::System {
        content: Content::Parts(vec![img(None)]),
        name: None,
    }];
    assert_eq!(
        generate_request(&r, &r.model, "g").unwrap_err().param(),
        Some("messages[0].content")
    );
    let a = AssistantMessage {
        reasoning: vec![ReasoningBlock {
            kind: "redacted_thinking".into(),
            text: None,
            signature: None,
            data: Some("enc".into()),
        }],
        ..AssistantMessage::default()
    };
    r.messages = vec![Message::user("q"), Message::Assistant(a)];
    assert_eq!(
        generate_request(&r, &r.model, "g").unwrap_err().param(),
        Some("messages[1].thinking_blocks[0]")
    );
}

#[test]
fn signature_without_text_gets_an_empty_text_part() {
    let mut call = ToolCall::new("call_0", "f", "{}");
    call.thought_signature = Some("sig-call".into());
    let a = AssistantMessage {
        reasoning: vec![ReasoningBlock {
            signature: Some("sig-alone".into()),
            ..ReasoningBlock::text("")
        }],
        tool_calls: vec![call],
        ..AssistantMessage::default()
    };
    let r = req(vec![Message::user("q"), Message::Assistant(a)]);
    assert_eq!(
        body(&r)["contents"][1]["parts"],
        json!([
            {"text": "", "thoughtSignature": "sig-alone"},
            {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "sig-call"}
        ])
    );
}
