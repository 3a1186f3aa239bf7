//! provider-openai against the shared conformance suite, with the recorded OpenAI fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use runtime_conformance::{Call, Category, MockReply, Scenario, TEST_KEY, Target};
use runtime_core::{
    ChatRequest, CompletionRequest, Content, ContentPart, EmbeddingRequest, FinishReason, Message,
};
use runtime_testkit::fixtures;
use serde_json::json;

fn req(name: &str) -> ChatRequest {
    serde_json::from_value(fixtures::json("openai", name)).unwrap()
}

fn body(name: &str) -> Vec<u8> {
    fixtures::bytes("openai", name)
}

fn scenarios() -> Vec<Scenario> {
    let mut v = Vec::new();
    v.push(
        Scenario::new(
            "chat-basic-system",
            vec![
                Category::PlainChat,
                Category::SystemPrompt,
                Category::Usage,
                Category::Finish(FinishReason::Stop),
            ],
            Call::Chat(req("chat-basic-system.request.json")),
            MockReply::json(body("chat-basic-system.response.json")),
        )
        .expect_body(json!({"messages": [{"role": "system"}, {"role": "user"}]}))
        .expect_chat(|r| {
            if r.message.text().as_deref() != Some("The capital of France is Paris.") {
                return Err(format!("text {:?}", r.message.text()));
            }
            let u = r.usage.ok_or("no usage")?;
            if (u.prompt_tokens, u.completion_tokens, u.total_tokens) != (24, 8, 32) {
                return Err(format!("usage {u:?}"));
            }
            if r.finish_reason != FinishReason::Stop || r.model != "gpt-4o-2024-08-06" {
                return Err(format!("{:?} {}", r.finish_reason, r.model));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "chat-tool-call",
            vec![Category::ToolCall, Category::Finish(FinishReason::ToolCalls)],
            Call::Chat(req("chat-tool-call.request.json")),
            MockReply::json(body("chat-tool-call.response.json")),
        )
        .expect_body(json!({"tool_choice": "required", "tools": [{"type": "function", "function": {"name": "get_user_country"}}, {"type": "function"}]}))
        .expect_chat(|r| {
            let c = r.message.tool_calls.first().ok_or("no tool call")?;
            if c.function.name != "get_user_country" || c.function.arguments != "{}" || c.id != "call_iXFttys57ap0o16JSlC8yhYo" {
                return Err(format!("{c:?}"));
            }
            if r.finish_reason != FinishReason::ToolCalls || r.message.content.is_some() {
                return Err(format!("{:?} {:?}", r.finish_reason, r.message.content));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "chat-tool-result-followup",
            vec![Category::ToolResult],
            Call::Chat(req("chat-tool-result-followup.request.json")),
            MockReply::json(body("chat-tool-result-followup.response.json")),
        )
        .expect_body(json!({"messages": [
            {"role": "user"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_iXFttys57ap0o16JSlC8yhYo", "type": "function", "function": {"name": "get_user_country", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_iXFttys57ap0o16JSlC8yhYo"}
        ]})),
    );
    // Synthetic: no recorded image request exists among the fixtures.
    let mut image = ChatRequest::new(
        "gpt-4o",
        vec![Message::User {
            content: Content::Parts(vec![
                ContentPart::Text {
                    text: "What is in this image?".into(),
                },
                ContentPart::image_url("https://example.com/cat.png"),
                ContentPart::image_base64("image/png", "iVBORw0KGgo="),
            ]),
            name: None,
        }],
    );
    image.max_tokens = Some(50);
    v.push(
        Scenario::new(
            "image-input (synthetic request)",
            vec![Category::ImageInput],
            Call::Chat(image),
            MockReply::json(body("chat-basic-system.response.json")),
        )
        .expect_body(
            json!({"max_completion_tokens": 50, "messages": [{"role": "user", "content": [
                {"type": "text", "text": "What is in this image?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
            ]}]}),
        ),
    );
    v.push(
        Scenario::new(
            "chat-stream-parallel-tool-calls",
            vec![Category::Streaming],
            Call::Stream(req("chat-stream-parallel-tool-calls.request.json")),
            MockReply::sse(body("chat-stream-parallel-tool-calls.response.sse")),
        )
        .expect_body(json!({"stream": true, "stream_options": {"include_usage": true}}))
        .expect_chat(|r| {
            let names: Vec<&str> = r
                .message
                .tool_calls
                .iter()
                .map(|c| c.function.name.as_str())
                .collect();
            if names.len() != 2 || r.finish_reason != FinishReason::ToolCalls {
                return Err(format!("{names:?} {:?}", r.finish_reason));
            }
            Ok(())
        }),
    );
    let equivalent = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/stream-text-include-usage.equivalent.json"
    ))
    .unwrap();
    v.push(
        Scenario::new(
            "stream-text-include-usage folds to the chat answer",
            vec![Category::StreamEqualsChat, Category::Usage],
            Call::StreamEqualsChat(
                req("chat-stream-text-include-usage.request.json"),
                MockReply::sse(body("chat-stream-text-include-usage.response.sse")),
            ),
            MockReply::json(equivalent),
        )
        .expect_chat(|r| {
            if r.usage.map(|u| u.total_tokens) != Some(87) {
                return Err(format!("usage {:?}", r.usage));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "stream-tool-call-split-args-usage",
            vec![Category::Extra],
            Call::Stream(req("stream-tool-call-split-args-usage.request.json")),
            MockReply::sse(body("stream-tool-call-split-args-usage.response.sse")),
        )
        .expect_chat(|r| {
            let c = r.message.tool_calls.first().ok_or("no call")?;
            serde_json::from_str::<serde_json::Value>(&c.function.arguments)
                .map_err(|e| format!("args {e}"))?;
            r.usage.ok_or("no usage")?;
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "stream-moderation-extra-chunk",
            vec![Category::Extra],
            Call::Stream(req("stream-moderation-extra-chunk.request.json")),
            MockReply::sse(body("stream-moderation-extra-chunk.response.sse")),
        )
        .expect_body(json!({"moderation": {"model": "omni-moderation-latest"}}))
        .expect_chat(|r| {
            if r.message.text().unwrap_or_default().is_empty() || r.usage.is_none() {
                return Err(format!("{r:?}"));
            }
            Ok(())
        }),
    );
    // Synthetic bodies for finish reasons no recording shows on chat.
    let synthetic = |reason: &str| {
        json!({"id": "chatcmpl-x", "object": "chat.completion", "created": 1, "model": "gpt-4o",
               "choices": [{"index": 0, "message": {"role": "assistant", "content": "partial"}, "finish_reason": reason}],
               "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7,
                         "prompt_tokens_details": {"cached_tokens": 3}, "completion_tokens_details": {"reasoning_tokens": 1}}})
        .to_string()
    };
    for (reason, fr) in [
        ("length", FinishReason::Length),
        ("content_filter", FinishReason::ContentFilter),
    ] {
        let want = fr.clone();
        v.push(
            Scenario::new(
                &format!("finish {reason} (synthetic body)"),
                vec![Category::Finish(fr), Category::Usage],
                Call::Chat(ChatRequest::new("gpt-4o", vec![Message::user("hi")])),
                MockReply::json(synthetic(reason)),
            )
            .expect_chat(move |r| {
                let u = r.usage.ok_or("no usage")?;
                if r.finish_reason != want || u.cached_prompt_tokens != 3 || u.reasoning_tokens != 1
                {
                    return Err(format!("{:?} {u:?}", r.finish_reason));
                }
                Ok(())
            }),
        );
    }
    v.push(
        Scenario::new(
            "embeddings-base64",
            vec![Category::Embeddings],
            Call::Embed(
                serde_json::from_value::<EmbeddingRequest>(fixtures::json(
                    "openai",
                    "embeddings-base64.request.json",
                ))
                .unwrap(),
            ),
            MockReply::json(body("embeddings-base64.response.json")),
        )
        .expect_body(json!({"encoding_format": "base64", "input": ["Hello, world!"]}))
        .expect_embed(|e| {
            if e.data.len() != 1
                || e.data[0].embedding.len() < 100
                || e.usage.map(|u| u.prompt_tokens) != Some(4)
            {
                return Err(format!("{} vectors", e.data.len()));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "embeddings-float (two inputs)",
            vec![Category::Embeddings],
            Call::Embed(EmbeddingRequest::new(
                "text-embedding-3-small",
                vec!["a".into(), "b".into()],
            )),
            MockReply::json(body("embeddings-float.response.json")),
        )
        .expect_embed(|e| {
            if e.data.len() != 2 || (e.data[0].embedding[0] - 0.005_729_32).abs() > 1e-6 {
                return Err(format!("{:?}", e.data.first().map(|d| &d.embedding[..3])));
            }
            Ok(())
        }),
    );
    let mut creq = CompletionRequest {
        model: "gpt-3.5-turbo-instruct".into(),
        prompt: "Invent a new holiday".into(),
        ..Default::default()
    };
    creq.max_tokens = Some(16);
    v.push(
        Scenario::new(
            "completions-legacy",
            vec![Category::Completion, Category::Finish(FinishReason::Length)],
            Call::Complete(creq),
            MockReply::json(body("completions-legacy.response.json")),
        )
        .expect_body(json!({"prompt": "Invent a new holiday", "max_tokens": 16}))
        .expect_completion(|c| {
            if !c.text.starts_with("The new holiday") || c.finish_reason != FinishReason::Length {
                return Err(format!("{c:?}"));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "error-400-unsupported-value",
            vec![Category::Extra],
            Call::Chat(req("error-400-unsupported-value.request.json")),
            MockReply {
                status: 400,
                ..MockReply::json(body("error-400-unsupported-value.response.json"))
            },
        )
        .expect_error(|e| match e {
            runtime_core::Error::InvalidRequest { param: Some(p), .. }
                if p == "messages[0].role" =>
            {
                Ok(())
            }
            other => Err(format!("{other:?}")),
        }),
    );
    v.push(
        Scenario::new(
            "error-404-embeddings-model",
            vec![Category::Extra],
            Call::Embed(
                serde_json::from_value::<EmbeddingRequest>(fixtures::json(
                    "openai",
                    "error-404-embeddings-model.request.json",
                ))
                .unwrap(),
            ),
            MockReply {
                status: 404,
                ..MockReply::json(body("error-404-embeddings-model.response.json"))
            },
        )
        .expect_error(|e| match e {
            runtime_core::Error::ModelNotFound { .. } if !e.is_retryable() => Ok(()),
            other => Err(format!("{other:?}")),
        }),
    );
    v
}

fn target() -> Target {
    let event = "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\n";
    Target {
        name: "openai".into(),
        build: Arc::new(common::dyn_provider),
        model: "gpt-4o-mini".into(),
        chat_path: "/chat/completions$".into(),
        stream_path: "/chat/completions$".into(),
        embed_path: "/embeddings$".into(),
        completion_path: "/completions$".into(),
        error_body: Arc::new(|status, msg| {
            let (t, code) = match status {
                401 => ("invalid_request_error", "invalid_api_key"),
                404 => ("invalid_request_error", "model_not_found"),
                429 => ("requests", "rate_limit_exceeded"),
                400 => ("invalid_request_error", "invalid_value"),
                _ => ("server_error", "server_error"),
            };
            json!({"error": {"message": msg, "type": t, "param": null, "code": code}}).to_string()
        }),
        auth_header: ("authorization".into(), format!("Bearer {TEST_KEY}")),
        stream_event: event.as_bytes().to_vec(),
        stream_content_type: "text/event-stream".into(),
        scenarios: scenarios(),
        not_applicable: Vec::new(),
    }
}

#[tokio::test]
async fn conformance() {
    runtime_conformance::run(target()).await.finish();
}
