//! provider-google against the shared conformance suite, with the recorded Gemini fixtures.
#![allow(clippy::unwrap_used, clippy::panic, clippy::result_large_err)]

mod common;

use std::sync::Arc;

use common::{DIR, core_embed_request, core_request, jsonl_as_gemini_sse};
use runtime_conformance::{Call, Category, MockReply, Scenario, TEST_KEY, Target};
use runtime_core::{
    ChatRequest, CompletionRequest, Content, ContentPart, EmbeddingRequest, Error, FinishReason,
    Message,
};
use runtime_testkit::fixtures;
use serde_json::{Value, json};

fn body(name: &str) -> Vec<u8> {
    fixtures::bytes(DIR, name)
}

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn status(code: u16, reply: MockReply) -> MockReply {
    MockReply {
        status: code,
        ..reply
    }
}

fn usage_is(r: &runtime_core::ChatResponse, want: (u64, u64, u64, u64, u64)) -> Result<(), String> {
    let u = r.usage.ok_or("no usage")?;
    let got = (
        u.prompt_tokens,
        u.completion_tokens,
        u.total_tokens,
        u.cached_prompt_tokens,
        u.reasoning_tokens,
    );
    if got != want {
        return Err(format!("usage {got:?}, want {want:?}"));
    }
    Ok(())
}

fn scenarios() -> Vec<Scenario> {
    let mut v = Vec::new();
    v.push(
        Scenario::new(
            "generate-basic",
            vec![
                Category::PlainChat,
                Category::SystemPrompt,
                Category::Usage,
                Category::Finish(FinishReason::Stop),
            ],
            Call::Chat(core_request("generate-basic.request.json")),
            MockReply::json(body("generate-basic.response.json")),
        )
        .expect_body(json!({
            "systemInstruction": {"parts": [{"text": "You are a chatbot."}]},
            "contents": [{"role": "user", "parts": [{"text": "Hello!"}]}],
            "generationConfig": {"responseModalities": ["TEXT"]}
        }))
        .expect_chat(|r| {
            if r.message.text().as_deref() != Some("Hello! How can I help you today?") {
                return Err(format!("text {:?}", r.message.text()));
            }
            if r.finish_reason != FinishReason::Stop || r.model != "gemini-2.5-flash" {
                return Err(format!("{:?} {}", r.finish_reason, r.model));
            }
            usage_is(r, (9, 43, 52, 0, 34))
        }),
    );
    v.push(
        Scenario::new(
            "generate-system-instruction",
            vec![Category::SystemPrompt],
            Call::Chat(core_request("generate-system-instruction.request.json")),
            MockReply::json(body("generate-system-instruction.response.json")),
        )
        .expect_body(
            json!({"systemInstruction": {"parts": [{"text": "You are a helpful assistant."}]}}),
        )
        .expect_chat(|r| {
            if r.message.text().as_deref() != Some("The capital of France is Paris.\n") {
                return Err(format!("text {:?}", r.message.text()));
            }
            usage_is(r, (13, 8, 21, 0, 0))
        }),
    );
    v.push(
        Scenario::new(
            "function-call",
            vec![Category::ToolCall, Category::Finish(FinishReason::ToolCalls)],
            Call::Chat(core_request("function-call.request.json")),
            MockReply::json(body("function-call.response.json")),
        )
        .expect_body(json!({"tools": [{"functionDeclarations": [{"name": "get_capital", "description": "Get the capital of a country."}]}]}))
        .expect_chat(|r| {
            let c = r.message.tool_calls.first().ok_or("no tool call")?;
            let args: Value = serde_json::from_str(&c.function.arguments).map_err(|e| e.to_string())?;
            if c.id != "call_0" || c.function.name != "get_capital" || args != json!({"country": "France"}) {
                return Err(format!("{c:?}"));
            }
            if r.finish_reason != FinishReason::ToolCalls || r.message.content.is_some() {
                return Err(format!("{:?} {:?}", r.finish_reason, r.message.content));
            }
            usage_is(r, (23, 5, 28, 0, 0))
        }),
    );
    v.push(
        Scenario::new(
            "function-response-followup",
            vec![Category::ToolResult],
            Call::Chat(core_request("function-response-followup.request.json")),
            MockReply::json(body("function-response-followup.response.json")),
        )
        .expect_body(json!({"contents": [
            {"role": "user"},
            {"role": "model", "parts": [{"functionCall": {"name": "get_capital", "args": {"country": "France"}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "get_capital", "response": {"return_value": "Paris"}}}]}
        ]}))
        .expect_chat(|r| {
            match r.message.text().as_deref() {
                Some("The capital of France is Paris.\n") => Ok(()),
                other => Err(format!("text {other:?}")),
            }
        }),
    );
    // Synthetic: no recorded image request exists among the Gemini fixtures.
    let image = ChatRequest::new(
        "gemini-2.5-flash",
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
    v.push(
        Scenario::new(
            "image-input (synthetic request)",
            vec![Category::ImageInput],
            Call::Chat(image),
            MockReply::json(body("generate-basic.response.json")),
        )
        .expect_body(json!({"contents": [{"role": "user", "parts": [
            {"text": "What is in this image?"},
            {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/cat.png"}},
            {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}}
        ]}]})),
    );
    v.push(
        Scenario::new(
            "stream-sse-crlf",
            vec![Category::Streaming, Category::Usage],
            Call::Stream(core_request("stream-sse-crlf.request.json")),
            MockReply::sse(body("stream-sse-crlf.response.sse")),
        )
        .expect_body(json!({"generationConfig": {"temperature": 0.0}}))
        .expect_chat(|r| {
            if r.message.text().as_deref() != Some("The capital of France is Paris.\n") {
                return Err(format!("text {:?}", r.message.text()));
            }
            usage_is(r, (13, 8, 21, 0, 0))
        }),
    );
    v.push(Scenario::new(
        "stream-sse-crlf folds to the generateContent answer",
        vec![Category::StreamEqualsChat],
        Call::StreamEqualsChat(
            core_request("stream-sse-crlf.request.json"),
            MockReply::sse(body("stream-sse-crlf.response.sse")),
        ),
        MockReply::json(data("stream-sse-crlf.equivalent.json")),
    ));
    v.push(
        Scenario::new(
            "stream-function-call-thought-signature folds to the generateContent answer",
            vec![
                Category::StreamEqualsChat,
                Category::Finish(FinishReason::ToolCalls),
            ],
            Call::StreamEqualsChat(
                core_request("stream-function-call-thought-signature.request.json"),
                MockReply::sse(body("stream-function-call-thought-signature.response.sse")),
            ),
            MockReply::json(data(
                "stream-function-call-thought-signature.equivalent.json",
            )),
        )
        .expect_chat(|r| {
            let c = r.message.tool_calls.first().ok_or("no call")?;
            if c.thought_signature
                .as_deref()
                .is_none_or(|s| !s.starts_with("EpwICpkI"))
            {
                return Err(format!("signature {:?}", c.thought_signature));
            }
            usage_is(r, (29, 212, 241, 0, 202))
        }),
    );
    v.push(
        Scenario::new(
            "stream-tool-call (jsonl as SSE)",
            vec![Category::Streaming, Category::Extra],
            Call::Stream(core_request(
                "stream-function-call-thought-signature.request.json",
            )),
            MockReply::sse(jsonl_as_gemini_sse("stream-tool-call.chunks.jsonl")),
        )
        .expect_chat(|r| {
            let c = r.message.tool_calls.first().ok_or("no call")?;
            if c.function.name != "weather" || c.thought_signature.is_none() {
                return Err(format!("{c:?}"));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "stream-tool-call-array-args-missing-terminal (streamed arguments)",
            vec![Category::Streaming, Category::Extra],
            Call::Stream(core_request(
                "stream-function-call-thought-signature.request.json",
            )),
            MockReply::sse(jsonl_as_gemini_sse(
                "stream-tool-call-array-args-missing-terminal.chunks.jsonl",
            )),
        )
        .expect_chat(|r| {
            let c = r.message.tool_calls.first().ok_or("no call")?;
            let args: Value =
                serde_json::from_str(&c.function.arguments).map_err(|e| e.to_string())?;
            if args["operations"][1]["itemid"] != "banana_001" || r.message.tool_calls.len() != 1 {
                return Err(format!("{c:?}"));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "generate-max-tokens",
            vec![Category::Finish(FinishReason::Length)],
            Call::Chat(core_request("generate-max-tokens.request.json")),
            MockReply::json(body("generate-max-tokens.response.json")),
        )
        .expect_body(json!({"generationConfig": {"maxOutputTokens": 5, "thinkingConfig": {"thinkingBudget": 0}}}))
        .expect_chat(|r| {
            if r.finish_reason != FinishReason::Length {
                return Err(format!("{:?}", r.finish_reason));
            }
            usage_is(r, (15, 5, 20, 0, 0))
        }),
    );
    v.push(
        Scenario::new(
            "max-tokens-thinking-empty (no parts)",
            vec![Category::Finish(FinishReason::Length), Category::Usage],
            Call::Chat(core_request("max-tokens-thinking-empty.request.json")),
            MockReply::json(body("max-tokens-thinking-empty.response.json")),
        )
        .expect_chat(|r| {
            if r.finish_reason != FinishReason::Length || r.message.content.is_some() {
                return Err(format!("{:?} {:?}", r.finish_reason, r.message.content));
            }
            usage_is(r, (15, 2, 17, 0, 2))
        }),
    );
    v.push(
        Scenario::new(
            "safety-block-empty-content",
            vec![Category::Finish(FinishReason::ContentFilter)],
            Call::Chat(core_request("safety-block-empty-content.request.json")),
            MockReply::json(body("safety-block-empty-content.response.json")),
        )
        .expect_body(json!({"safetySettings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_LOW_AND_ABOVE"}]}))
        .expect_chat(|r| {
            if r.finish_reason != FinishReason::ContentFilter || r.message.content.is_some() {
                return Err(format!("{:?} {:?}", r.finish_reason, r.message.content));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "generate-thinking-usage (thoughts, signature)",
            vec![Category::Usage, Category::Extra],
            Call::Chat(core_request("generate-thinking-usage.request.json")),
            MockReply::json(body("generate-thinking-usage.response.json")),
        )
        .expect_body(json!({"generationConfig": {"thinkingConfig": {"includeThoughts": true}}}))
        .expect_chat(|r| {
            let b = r.message.reasoning.first().ok_or("no reasoning")?;
            if b.signature.is_none() || b.text.as_deref().is_none_or(|t| !t.starts_with("**A Safe"))
            {
                return Err(format!("{b:?}"));
            }
            usage_is(r, (29, 1737, 1766, 0, 1001))
        }),
    );
    // Synthetic bodies: no recording shows cached tokens, tool-use prompt tokens, a blocked
    // prompt or a malformed function call.
    v.push(
        Scenario::new(
            "cached and tool-use prompt tokens (synthetic body)",
            vec![Category::Usage],
            Call::Chat(ChatRequest::new("gemini-2.5-flash", vec![Message::user("hi")])),
            MockReply::json(json!({
                "candidates": [{"content": {"parts": [{"text": "hello"}], "role": "model"}, "finishReason": "STOP"}],
                "usageMetadata": {"promptTokenCount": 100, "cachedContentTokenCount": 64, "toolUsePromptTokenCount": 7,
                                  "candidatesTokenCount": 2, "thoughtsTokenCount": 5, "totalTokenCount": 114}
            }).to_string()),
        )
        .expect_chat(|r| usage_is(r, (107, 7, 114, 64, 5))),
    );
    v.push(
        Scenario::new(
            "prompt blocked (synthetic body)",
            vec![Category::Extra],
            Call::Chat(ChatRequest::new("gemini-2.5-flash", vec![Message::user("hi")])),
            MockReply::json(json!({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 5, "totalTokenCount": 5}}).to_string()),
        )
        .expect_error(|e| match e {
            Error::ContentFiltered { .. } => Ok(()),
            other => Err(format!("{other:?}")),
        }),
    );
    v.push(
        Scenario::new(
            "prompt blocked in a stream (synthetic body)",
            vec![Category::Extra],
            Call::Stream(ChatRequest::new(
                "gemini-2.5-flash",
                vec![Message::user("hi")],
            )),
            MockReply::sse(format!(
                "data: {}\r\n\r\n",
                json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}})
            )),
        )
        .expect_error(|e| match e {
            Error::ContentFiltered { .. } => Ok(()),
            other => Err(format!("{other:?}")),
        }),
    );
    v.push(
        Scenario::new(
            "MALFORMED_FUNCTION_CALL (synthetic body)",
            vec![Category::Extra],
            Call::Chat(core_request("function-call.request.json")),
            MockReply::json(
                json!({"candidates": [{"content": {}, "finishReason": "MALFORMED_FUNCTION_CALL"}]})
                    .to_string(),
            ),
        )
        .expect_error(|e| match e {
            Error::Stream {
                error_type: Some(t),
                ..
            } if t == "MALFORMED_FUNCTION_CALL" && !e.is_retryable() => Ok(()),
            other => Err(format!("{other:?}")),
        }),
    );
    v.push(
        Scenario::new(
            "batch-embed-contents",
            vec![Category::Embeddings],
            Call::Embed(core_embed_request()),
            MockReply::json(body("batch-embed-contents.response.json")),
        )
        .expect_body(fixtures::json(DIR, "batch-embed-contents.request.json"))
        .expect_embed(|e| {
            if e.data.len() != 2 || e.data[0].embedding.len() < 100 || e.data[1].index != 1 {
                return Err(format!("{} vectors", e.data.len()));
            }
            Ok(())
        }),
    );
    let mut one = EmbeddingRequest::new("gemini-embedding-001", vec!["hello".into()]);
    one.dimensions = Some(3);
    one.extra
        .insert("task_type".into(), json!("RETRIEVAL_QUERY"));
    v.push(
        Scenario::new(
            "embedContent, one text (synthetic body)",
            vec![Category::Embeddings],
            Call::Embed(one),
            MockReply::json(json!({"embedding": {"values": [0.25, -0.5, 1.0]}}).to_string()),
        )
        .expect_body(json!({"content": {"parts": [{"text": "hello"}]}, "taskType": "RETRIEVAL_QUERY", "outputDimensionality": 3}))
        .expect_embed(|e| {
            if e.data.len() != 1 || e.data[0].embedding != vec![0.25, -0.5, 1.0] {
                return Err(format!("{:?}", e.data));
            }
            Ok(())
        }),
    );
    let mut creq = CompletionRequest {
        model: "gemini-2.5-flash".into(),
        prompt: "Hello!".into(),
        ..Default::default()
    };
    creq.max_tokens = Some(5);
    v.push(
        Scenario::new(
            "completion over generateContent",
            vec![Category::Completion],
            Call::Complete(creq),
            MockReply::json(body("generate-max-tokens.response.json")),
        )
        .expect_body(json!({"contents": [{"role": "user", "parts": [{"text": "Hello!"}]}], "generationConfig": {"maxOutputTokens": 5}}))
        .expect_completion(|c| {
            if c.text != "The capital of France is" || c.finish_reason != FinishReason::Length {
                return Err(format!("{c:?}"));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "error-404-model-not-found",
            vec![Category::Extra],
            Call::Chat(core_request("error-404-model-not-found.request.json")),
            status(
                404,
                MockReply::json(body("error-404-model-not-found.response.json")),
            ),
        )
        .expect_error(|e| match e {
            Error::ModelNotFound { .. } if !e.is_retryable() => Ok(()),
            other => Err(format!("{other:?}")),
        }),
    );
    v.push(
        Scenario::new(
            "stream-error-404-event-stream-content-type",
            vec![Category::Extra],
            Call::Stream(core_request(
                "stream-error-404-event-stream-content-type.request.json",
            )),
            status(
                404,
                MockReply::sse(body(
                    "stream-error-404-event-stream-content-type.response.json",
                )),
            ),
        )
        .expect_error(|e| match e {
            Error::ModelNotFound { message, .. }
                if message.contains("gemini-nonexistent-rig-test") =>
            {
                Ok(())
            }
            other => Err(format!("{other:?}")),
        }),
    );
    v.push(
        Scenario::new(
            "error-429-retry-info",
            vec![Category::Extra],
            Call::Chat(ChatRequest::new(
                "gemini-2.5-flash",
                vec![Message::user("hi")],
            )),
            status(
                429,
                MockReply::json(body("error-429-retry-info.response.json")),
            ),
        )
        .expect_error(|e| match e {
            Error::RateLimited {
                retry_after: Some(d),
                ..
            } if *d == std::time::Duration::from_millis(34_400) => Ok(()),
            other => Err(format!("{other:?}")),
        }),
    );
    v.push(
        Scenario::new(
            "error-400-invalid-api-key",
            vec![Category::Extra],
            Call::Chat(ChatRequest::new(
                "gemini-2.5-flash",
                vec![Message::user("hi")],
            )),
            status(
                400,
                MockReply::json(body("error-400-invalid-api-key.response.json")),
            ),
        )
        .expect_error(|e| match e {
            Error::Authentication { .. } if !e.is_retryable() => Ok(()),
            other => Err(format!("{other:?}")),
        }),
    );
    v
}

fn target() -> Target {
    let event = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"hi\"}],\"role\": \"model\"}}],\"modelVersion\": \"m\"}\r\n\r\n";
    Target {
        name: "google".into(),
        build: Arc::new(common::dyn_provider),
        model: "gemini-2.5-flash".into(),
        chat_path: ":generateContent$".into(),
        stream_path: ":streamGenerateContent$".into(),
        embed_path: ":(batchEmbedContents|embedContent)$".into(),
        completion_path: ":generateContent$".into(),
        error_body: Arc::new(|status, msg| {
            let s = match status {
                400 => "INVALID_ARGUMENT",
                401 => "UNAUTHENTICATED",
                403 => "PERMISSION_DENIED",
                404 => "NOT_FOUND",
                429 => "RESOURCE_EXHAUSTED",
                500 => "INTERNAL",
                504 => "DEADLINE_EXCEEDED",
                _ => "UNAVAILABLE",
            };
            json!({"error": {"code": status, "message": msg, "status": s}}).to_string()
        }),
        auth_header: ("x-goog-api-key".into(), TEST_KEY.into()),
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
