use super::*;
use model_runtime::{Content, ToolCall};
use serde_json::{Value, json};

fn frames(bytes: &[u8]) -> Vec<Value> {
    let s = std::str::from_utf8(bytes).unwrap();
    s.split("\n\n")
        .filter(|f| !f.is_empty())
        .map(|f| {
            let d = f.strip_prefix("data: ").unwrap();
            if d == "[DONE]" {
                json!("[DONE]")
            } else {
                serde_json::from_str(d).unwrap()
            }
        })
        .collect()
}

#[test]
fn the_text_fast_path_writes_what_the_generic_path_writes() {
    let texts = [
        "tok0 ",
        "",
        "quote \" backslash \\ newline \n tab \t bell \u{7}",
        "🌍こんにちは é </script>",
    ];
    for text in texts {
        let mut enc = ChunkEncoder::new(ChunkKind::Chat, "id\"1".into(), "m/ü".into(), false);
        let mut out = Vec::new();
        enc.event(
            StreamEvent::TextDelta {
                text: "first".into(),
            },
            &mut out,
        );
        let mut fast = Vec::new();
        enc.event(StreamEvent::TextDelta { text: text.into() }, &mut fast);
        let mut generic = Vec::new();
        let d = DeltaOut {
            content: Some(text),
            ..DeltaOut::default()
        };
        enc.delta(d, text, &mut generic);
        assert_eq!(
            String::from_utf8(fast.clone()).unwrap(),
            String::from_utf8(generic).unwrap()
        );
        assert_eq!(frames(&fast)[0]["choices"][0]["delta"]["content"], text);
    }
}

#[test]
fn chat_stream_shape() {
    let mut enc = ChunkEncoder::new(ChunkKind::Chat, "fallback".into(), "m0".into(), true);
    let mut out = Vec::new();
    for ev in [
        StreamEvent::Start {
            id: "chatcmpl-1".into(),
            model: "gpt-x".into(),
            created: 7,
        },
        StreamEvent::ReasoningDelta { text: "hm".into() },
        StreamEvent::TextDelta { text: "Hi".into() },
        StreamEvent::ToolCallStart {
            index: 0,
            id: "call_1".into(),
            name: "f".into(),
            thought_signature: None,
        },
        StreamEvent::ToolCallDelta {
            index: 0,
            arguments: "{}".into(),
        },
        StreamEvent::ToolCallEnd { index: 0 },
        StreamEvent::Finish {
            reason: FinishReason::ToolCalls,
        },
        StreamEvent::Usage(Usage::new(3, 4)),
    ] {
        enc.event(ev, &mut out);
    }
    enc.finish(&mut out);
    let f = frames(&out);
    assert_eq!(f.len(), 8, "{f:#?}");
    for c in &f[..7] {
        assert_eq!(c["id"], "chatcmpl-1");
        assert_eq!(c["model"], "gpt-x");
        assert_eq!(c["created"], 7);
        assert_eq!(c["object"], "chat.completion.chunk");
    }
    assert_eq!(
        f[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": ""})
    );
    assert_eq!(
        f[1]["choices"][0]["delta"],
        json!({"reasoning_content": "hm"})
    );
    assert_eq!(f[2]["choices"][0]["delta"], json!({"content": "Hi"}));
    assert_eq!(
        f[3]["choices"][0]["delta"]["tool_calls"][0],
        json!({"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}})
    );
    assert_eq!(
        f[4]["choices"][0]["delta"]["tool_calls"][0],
        json!({"index": 0, "function": {"arguments": "{}"}})
    );
    assert_eq!(f[5]["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(f[6]["choices"], json!([]));
    assert_eq!(f[6]["usage"]["prompt_tokens"], 3);
    assert_eq!(f[6]["usage"]["total_tokens"], 7);
    assert_eq!(f[7], json!("[DONE]"));
}

#[test]
fn no_usage_chunk_unless_asked_and_role_without_start() {
    let mut enc = ChunkEncoder::new(ChunkKind::Chat, "id1".into(), "m".into(), false);
    let mut out = Vec::new();
    enc.event(StreamEvent::TextDelta { text: "a".into() }, &mut out);
    enc.event(StreamEvent::Usage(Usage::new(1, 1)), &mut out);
    enc.event(
        StreamEvent::Finish {
            reason: FinishReason::Stop,
        },
        &mut out,
    );
    enc.finish(&mut out);
    let f = frames(&out);
    assert_eq!(f.len(), 3);
    assert_eq!(
        f[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": "a"})
    );
    assert_eq!(f[0]["id"], "id1");
    assert!(f[1].get("usage").is_none());
}

#[test]
fn completion_chunks() {
    let mut enc = ChunkEncoder::new(ChunkKind::Completion, "cmpl".into(), "m".into(), true);
    let mut out = Vec::new();
    enc.event(
        StreamEvent::Start {
            id: String::new(),
            model: String::new(),
            created: 0,
        },
        &mut out,
    );
    enc.event(StreamEvent::TextDelta { text: "x".into() }, &mut out);
    enc.event(
        StreamEvent::Finish {
            reason: FinishReason::Length,
        },
        &mut out,
    );
    enc.finish(&mut out);
    let f = frames(&out);
    assert_eq!(f[0]["object"], "text_completion");
    assert_eq!(f[0]["choices"][0]["text"], "x");
    assert_eq!(f[1]["choices"][0]["finish_reason"], "length");
    assert_eq!(f[2]["choices"], json!([]));
}

#[test]
fn chat_completion_has_reasoning_content_and_thinking_blocks() {
    let resp = ChatResponse {
        id: "r".into(),
        model: "m".into(),
        created: 1,
        message: AssistantMessage {
            content: Some(Content::Text("ok".into())),
            reasoning: vec![ReasoningBlock::text("because")],
            tool_calls: vec![ToolCall::new("c", "f", "{}")],
            ..AssistantMessage::default()
        },
        finish_reason: FinishReason::ToolCalls,
        usage: Some(Usage::new(1, 2)),
        ..ChatResponse::default()
    };
    let v: Value = serde_json::from_slice(&chat_completion(&resp, "x", "y")).unwrap();
    let m = &v["choices"][0]["message"];
    assert_eq!(m["role"], "assistant");
    assert_eq!(m["content"], "ok");
    assert_eq!(m["reasoning_content"], "because");
    assert_eq!(m["thinking_blocks"][0]["thinking"], "because");
    assert_eq!(m["tool_calls"][0]["function"]["name"], "f");
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(v["usage"]["completion_tokens"], 2);
    assert_eq!(v["object"], "chat.completion");
}

#[test]
fn embeddings_base64_round_trip() {
    let resp = EmbeddingResponse {
        model: "e".into(),
        data: vec![model_runtime::Embedding {
            index: 0,
            embedding: vec![0.5, -1.0],
        }],
        usage: Some(Usage::new(2, 0)),
        ..EmbeddingResponse::default()
    };
    let v: Value = serde_json::from_slice(&embeddings(&resp, EncodingFormat::Base64, "x")).unwrap();
    let b = v["data"][0]["embedding"].as_str().unwrap();
    assert_eq!(
        model_runtime::provider_openai::wire::decode_base64_f32(b).unwrap(),
        vec![0.5, -1.0]
    );
    let v: Value = serde_json::from_slice(&embeddings(&resp, EncodingFormat::Float, "x")).unwrap();
    assert_eq!(v["data"][0]["embedding"], json!([0.5, -1.0]));
    assert_eq!(v["usage"], json!({"prompt_tokens": 2, "total_tokens": 2}));
}
