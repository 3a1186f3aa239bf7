//! The pure mapping: request bodies (insta snapshots), refusals by name, and the recorded
//! binary streams decoded at every split and folded.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err
)]

use provider_bedrock::wire::{self, EventStreamDecoder, StreamDecoder};
use runtime_core::{
    AssistantMessage, ChatRequest, Content, ContentPart, ElementRef, Error, FrameDecoder, Message,
    PromptCacheMark, ReasoningBlock, StreamAccumulator, ToolCall, ToolChoice, ToolDefinition,
};
use serde_json::json;

fn body(req: &ChatRequest) -> serde_json::Value {
    serde_json::to_value(wire::converse_request(req, &req.model, "bedrock").unwrap()).unwrap()
}

fn refused(req: &ChatRequest) -> String {
    match wire::converse_request(req, &req.model, "bedrock") {
        Err(Error::InvalidRequest { param, .. }) => param.unwrap_or_default(),
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn cache_points_documents_reasoning_and_tool_results() {
    let mut req = ChatRequest::new(
        "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        vec![
            Message::system("You are terse."),
            Message::User {
                content: Content::Parts(vec![
                    ContentPart::Text {
                        text: "Read this".into(),
                    },
                    ContentPart::image_base64("application/pdf", "JVBERi0xLjQ="),
                    ContentPart::image_url("s3://bucket/photo.jpeg"),
                ]),
                name: None,
            },
            Message::Assistant(AssistantMessage {
                content: Some(Content::Text("Calling.".into())),
                reasoning: vec![
                    ReasoningBlock {
                        signature: Some("sig-1".into()),
                        ..ReasoningBlock::text("Need the tool.")
                    },
                    ReasoningBlock {
                        kind: "redacted_thinking".into(),
                        text: None,
                        signature: None,
                        data: Some("cmVkYWN0ZWQ=".into()),
                    },
                ],
                tool_calls: vec![ToolCall::new("tooluse_1", "lookup", r#"{"q":"x"}"#)],
                ..AssistantMessage::default()
            }),
            Message::tool("tooluse_1", "not found"),
            Message::user("And now?"),
        ],
    );
    req.tools = vec![ToolDefinition::function(
        "lookup",
        "Looks up",
        json!({"type": "object", "properties": {"q": {"type": "string"}}}),
    )];
    req.tool_choice = Some(ToolChoice::Function("lookup".into()));
    req.max_tokens = Some(2048);
    req.stop = vec!["END".into()];
    req.extra.insert(
        "thinking".into(),
        json!({"type": "enabled", "budget_tokens": 1024}),
    );
    req.extra
        .insert("additionalModelRequestFields".into(), json!({"top_k": 5}));
    req.extra.insert(
        "guardrailConfig".into(),
        json!({"guardrailIdentifier": "gr", "guardrailVersion": "1"}),
    );
    req.extra
        .insert("performanceConfig".into(), json!({"latency": "optimized"}));
    req.element_extra_mut(ElementRef::Message { message: 0 })
        .cache_control = Some(PromptCacheMark::ephemeral());
    req.element_extra_mut(ElementRef::Part {
        message: 1,
        part: 1,
    })
    .cache_control = Some(PromptCacheMark::ephemeral());
    req.element_extra_mut(ElementRef::Tool { tool: 0 })
        .cache_control = Some(PromptCacheMark::ephemeral());
    req.element_extra_mut(ElementRef::Message { message: 3 })
        .is_error = Some(true);
    insta::assert_json_snapshot!("request__everything", body(&req));
}

#[test]
fn what_converse_cannot_express_is_refused_by_name() {
    let base = ChatRequest::new("amazon.nova-micro-v1:0", vec![Message::user("hi")]);
    let mut r = base.clone();
    r.seed = Some(1);
    assert_eq!(refused(&r), "seed");
    let mut r = base.clone();
    r.extra.insert("logprobs".into(), json!(true));
    assert_eq!(refused(&r), "logprobs");
    let mut r = base.clone();
    r.messages = vec![Message::User {
        content: Content::Parts(vec![ContentPart::image_url("https://example.com/a.png")]),
        name: None,
    }];
    assert_eq!(refused(&r), "messages[0].content[0].image_url.url");
    let mut r = base.clone();
    r.tools = vec![ToolDefinition::function("f", "", json!({"type": "object"}))];
    r.tool_choice = Some(ToolChoice::None);
    assert_eq!(refused(&r), "tool_choice");
    let mut r = base.clone();
    r.element_extra_mut(ElementRef::Message { message: 0 })
        .cache_control = Some(PromptCacheMark {
        ttl: Some("1h".into()),
        ..PromptCacheMark::ephemeral()
    });
    assert_eq!(refused(&r), "messages[0].cache_control.ttl");
    let mut r = base.clone();
    r.messages.push(Message::Assistant(AssistantMessage {
        tool_calls: vec![ToolCall::new("t", "f", "not json")],
        ..AssistantMessage::default()
    }));
    assert_eq!(refused(&r), "messages[1].tool_calls[0].function.arguments");
    let mut r = base;
    r.messages = vec![Message::system("only a system prompt")];
    assert_eq!(refused(&r), "messages");
}

#[test]
fn tool_choices_map_to_converse() {
    let mut r = ChatRequest::new("m", vec![Message::user("hi")]);
    r.tools = vec![ToolDefinition::function("f", "", json!({"type": "object"}))];
    for (choice, want) in [
        (ToolChoice::Auto, json!({"auto": {}})),
        (ToolChoice::Required, json!({"any": {}})),
        (
            ToolChoice::Function("f".into()),
            json!({"tool": {"name": "f"}}),
        ),
    ] {
        r.tool_choice = Some(choice);
        assert_eq!(body(&r)["toolConfig"]["toolChoice"], want);
    }
    // No description: the field is left out, not sent empty.
    assert!(
        body(&r)["toolConfig"]["tools"][0]["toolSpec"]
            .get("description")
            .is_none()
    );
}

/// Decodes a recorded body split in two at `at`, folding the events.
fn fold(bytes: &[u8], at: usize) -> runtime_core::ChatResponse {
    let mut framing = EventStreamDecoder::new();
    let mut frames = Vec::new();
    framing.push(&bytes[..at], &mut frames).unwrap();
    framing.push(&bytes[at..], &mut frames).unwrap();
    framing.finish().unwrap();
    let mut dec = StreamDecoder::new("bedrock", "amazon.nova-micro-v1:0");
    let mut events = Vec::new();
    for f in &frames {
        dec.decode(&f.encode(), &mut events).unwrap();
    }
    dec.end(&mut events).unwrap();
    assert!(dec.is_done());
    let mut acc = StreamAccumulator::default();
    for e in events {
        acc.push(e);
    }
    acc.finish()
}

#[test]
fn recorded_streams_decode_the_same_at_every_split() {
    for name in [
        "converse-stream-text.response.eventstream",
        "converse-stream-tool-use.response.eventstream",
    ] {
        let bytes = runtime_testkit::fixtures::bytes("bedrock", name);
        let whole = wire::decode_all(&bytes).unwrap();
        assert_eq!(whole.last().unwrap().name, "metadata", "{name}");
        for at in 0..=bytes.len() {
            let mut framing = EventStreamDecoder::new();
            let mut frames = Vec::new();
            framing.push(&bytes[..at], &mut frames).unwrap();
            framing.push(&bytes[at..], &mut frames).unwrap();
            framing.finish().unwrap();
            assert_eq!(frames, whole, "{name} split at {at}");
        }
        // Byte by byte, too.
        let mut framing = EventStreamDecoder::new();
        let mut frames = Vec::new();
        for b in &bytes {
            framing.push(std::slice::from_ref(b), &mut frames).unwrap();
        }
        framing.finish().unwrap();
        assert_eq!(frames, whole, "{name} byte by byte");
    }
    let tool = fold(
        &runtime_testkit::fixtures::bytes(
            "bedrock",
            "converse-stream-tool-use.response.eventstream",
        ),
        0,
    );
    assert_eq!(
        tool.message.tool_calls[0].function.arguments,
        r#"{"country":"France"}"#
    );
    assert_eq!(tool.usage.unwrap().total_tokens, 548);
}

#[test]
fn reasoning_deltas_and_signatures_fold_like_the_whole_answer() {
    // ConverseStream's reasoning deltas (shape of the API reference's
    // ReasoningContentBlockDelta: text, then signature), for a Claude thinking answer.
    let frames = [
        ("messageStart", json!({"role": "assistant"})),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Think"}}}),
        ),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "ing."}}}),
        ),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "sig=="}}}),
        ),
        ("contentBlockStop", json!({"contentBlockIndex": 0})),
        (
            "contentBlockDelta",
            json!({"contentBlockIndex": 1, "delta": {"text": "Answer"}}),
        ),
        ("contentBlockStop", json!({"contentBlockIndex": 1})),
        ("messageStop", json!({"stopReason": "end_turn"})),
        (
            "metadata",
            json!({"usage": {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7, "cacheReadInputTokens": 0, "cacheWriteInputTokens": 0}}),
        ),
    ];
    let mut dec = StreamDecoder::new("bedrock", "m");
    let mut events = Vec::new();
    for (name, payload) in frames {
        let f = wire::Frame {
            kind: wire::FrameKind::Event,
            name: name.into(),
            payload: payload.to_string(),
        };
        dec.decode(&f.encode(), &mut events).unwrap();
    }
    let mut acc = StreamAccumulator::default();
    for e in events {
        acc.push(e);
    }
    let folded = acc.finish();
    let whole = wire::parse_converse(
        serde_json::from_value(json!({
            "output": {"message": {"role": "assistant", "content": [
                {"reasoningContent": {"reasoningText": {"text": "Thinking.", "signature": "sig=="}}},
                {"text": "Answer"}
            ]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7, "cacheReadInputTokens": 0, "cacheWriteInputTokens": 0}
        }))
        .unwrap(),
        "bedrock",
        "m",
    )
    .unwrap();
    let (mut a, mut b) = (whole, folded);
    a.meta = Default::default();
    b.meta = Default::default();
    assert_eq!(a, b);
    assert_eq!(a.message.reasoning[0].signature.as_deref(), Some("sig=="));
}
