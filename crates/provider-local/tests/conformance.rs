//! provider-local against the shared conformance suite, in both modes: `local` (an
//! OpenAI-compatible server: llama.cpp, vLLM, Ollama `/v1` recordings) and `local-ollama`
//! (Ollama's native API recordings).
#![allow(clippy::unwrap_used, clippy::panic, clippy::result_large_err)]

use std::sync::Arc;
use std::time::Duration;

use provider_local::{LocalApi, LocalSettings};
use runtime_conformance::{Call, Category, MockReply, Scenario, TEST_KEY, Target};
use runtime_core::http::HttpClient;
use runtime_core::{
    AssistantMessage, ChatRequest, CompletionRequest, Content, ContentPart, EmbeddingRequest,
    Error, FinishReason, Message, Provider, Secret, ToolCall,
};
use runtime_testkit::fixtures;
use serde_json::json;

const COMPAT: &str = "openai-compatible";
const OLLAMA: &str = "ollama";

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn req(dir: &str, name: &str) -> ChatRequest {
    serde_json::from_value(fixtures::json(dir, name)).unwrap()
}

fn status(status: u16, reply: MockReply) -> MockReply {
    MockReply { status, ..reply }
}

fn error_fixture(name: &str) -> MockReply {
    let meta = fixtures::json(COMPAT, &name.replace(".response.json", ".meta.json"));
    let code = u16::try_from(meta["status"].as_u64().unwrap()).unwrap();
    status(code, MockReply::json(fixtures::bytes(COMPAT, name)))
}

fn image_request(url: &str) -> ChatRequest {
    ChatRequest::new(
        "llava",
        vec![Message::User {
            content: Content::Parts(vec![
                ContentPart::Text {
                    text: "What is in this image?".into(),
                },
                ContentPart::image_url(url),
            ]),
            name: None,
        }],
    )
}

const NO_CONTENT_FILTER: &str = "local servers have no content filter: no answer of theirs \
                                 ends with content_filter (an OpenAI/Azure-only category)";

// ---------------------------------------------------------------- local (OpenAI-compatible)

fn build_openai(
    base: &str,
    key: &Secret,
    timeout: Duration,
) -> runtime_core::Result<Arc<dyn Provider>> {
    let mut s = LocalSettings::new("local", &format!("{base}/v1"));
    s.api_key = Some(key.clone());
    s.timeout = timeout;
    s.stream_idle_timeout = timeout;
    s.build(HttpClient::new(&Default::default())?)
}

fn openai_scenarios() -> Vec<Scenario> {
    let mut v = Vec::new();
    v.push(
        Scenario::new(
            "v1-chat-completions-json-schema (Ollama /v1)",
            vec![
                Category::PlainChat,
                Category::Usage,
                Category::Finish(FinishReason::Stop),
            ],
            Call::Chat(req(OLLAMA, "v1-chat-completions-json-schema.request.json")),
            MockReply::json(fixtures::bytes(
                OLLAMA,
                "v1-chat-completions-json-schema.response.json",
            )),
        )
        .expect_body(json!({"response_format": {"type": "json_schema"}}))
        .expect_chat(|r| {
            let u = r.usage.ok_or("no usage")?;
            if (u.prompt_tokens, u.completion_tokens, u.total_tokens) != (136, 15, 151) {
                return Err(format!("usage {u:?}"));
            }
            if r.message.reasoning_text().is_none() || r.finish_reason != FinishReason::Stop {
                return Err(format!("{r:?}"));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "llamacpp-stream-unicode-across-chunks",
            vec![Category::Streaming, Category::SystemPrompt],
            Call::Stream(req(
                COMPAT,
                "llamacpp-stream-unicode-across-chunks.request.json",
            )),
            MockReply::sse(fixtures::bytes(
                COMPAT,
                "llamacpp-stream-unicode-across-chunks.response.sse",
            )),
        )
        .expect_body(json!({
            "stream": true, "stream_options": {"include_usage": true}, "max_tokens": 256,
            "messages": [{"role": "system", "content": [{"type": "text"}]}, {"role": "user"}]
        }))
        .expect_chat(|r| {
            if r.message.text().as_deref() != Some("🌍こんにちは世界🎉안녕하세요🚀Здравствуйте🌸")
            {
                return Err(format!("{:?}", r.message.text()));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "llamacpp-stream-two-tool-calls",
            vec![
                Category::ToolCall,
                Category::Finish(FinishReason::ToolCalls),
            ],
            Call::Stream(req(COMPAT, "llamacpp-stream-two-tool-calls.request.json")),
            MockReply::sse(fixtures::bytes(
                COMPAT,
                "llamacpp-stream-two-tool-calls.response.sse",
            )),
        )
        .expect_chat(|r| {
            if r.message.tool_calls.len() != 2 || r.finish_reason != FinishReason::ToolCalls {
                return Err(format!("{r:?}"));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "chat-tool-result-followup (OpenAI recording; same wire)",
            vec![Category::ToolResult],
            Call::Chat(req("openai", "chat-tool-result-followup.request.json")),
            MockReply::json(fixtures::bytes(
                "openai",
                "chat-tool-result-followup.response.json",
            )),
        )
        .expect_body(json!({"messages": [
            {"role": "user"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_iXFttys57ap0o16JSlC8yhYo", "type": "function", "function": {"name": "get_user_country", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_iXFttys57ap0o16JSlC8yhYo"}
        ]})),
    );
    v.push(
        Scenario::new(
            "image-input (synthetic request)",
            vec![Category::ImageInput],
            Call::Chat(image_request("data:image/png;base64,iVBORw0KGgo=")),
            MockReply::json(fixtures::bytes(
                OLLAMA,
                "v1-chat-completions-json-schema.response.json",
            )),
        )
        .expect_body(json!({"messages": [{"role": "user", "content": [
            {"type": "text"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
        ]}]})),
    );
    v.push(Scenario::new(
        "llamacpp-stream-unicode-across-chunks folds to the chat answer",
        vec![Category::StreamEqualsChat],
        Call::StreamEqualsChat(
            req(COMPAT, "llamacpp-stream-unicode-across-chunks.request.json"),
            MockReply::sse(fixtures::bytes(
                COMPAT,
                "llamacpp-stream-unicode-across-chunks.response.sse",
            )),
        ),
        MockReply::json(data(
            "llamacpp-stream-unicode-across-chunks.equivalent.json",
        )),
    ));
    v.push(
        Scenario::new(
            "finish length, no id/created/usage (synthetic body)",
            vec![Category::Finish(FinishReason::Length)],
            Call::Chat(ChatRequest::new("m", vec![Message::user("hi")])),
            MockReply::json(
                json!({"object": "chat.completion", "model": "m",
                       "choices": [{"index": 0, "message": {"role": "assistant", "content": "partial"}, "finish_reason": "length"}]})
                .to_string(),
            ),
        )
        .expect_chat(|r| {
            if r.finish_reason != FinishReason::Length || r.usage.is_some() || !r.id.is_empty() {
                return Err(format!("{r:?}"));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "embeddings-float (OpenAI recording; same wire)",
            vec![Category::Embeddings],
            Call::Embed(EmbeddingRequest::new(
                "nomic-embed-text",
                vec!["a".into(), "b".into()],
            )),
            MockReply::json(fixtures::bytes("openai", "embeddings-float.response.json")),
        )
        .expect_body(json!({"encoding_format": "float", "input": ["a", "b"]}))
        .expect_embed(|e| {
            if e.data.len() != 2 {
                return Err(format!("{} vectors", e.data.len()));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "completions-legacy (OpenAI recording; same wire)",
            vec![Category::Completion],
            Call::Complete(CompletionRequest {
                model: "m".into(),
                prompt: "Invent a new holiday".into(),
                max_tokens: Some(16),
                ..Default::default()
            }),
            MockReply::json(fixtures::bytes(
                "openai",
                "completions-legacy.response.json",
            )),
        )
        .expect_body(json!({"prompt": "Invent a new holiday", "max_tokens": 16})),
    );
    for (name, call) in [
        (
            "llamacpp-error-400-context-overflow.response.json",
            Call::Chat(req(
                COMPAT,
                "llamacpp-error-400-context-overflow.request.json",
            )),
        ),
        (
            "llamacpp-error-400-context-overflow-streaming.response.json",
            Call::Stream(req(
                COMPAT,
                "llamacpp-error-400-context-overflow-streaming.request.json",
            )),
        ),
    ] {
        v.push(
            Scenario::new(
                name.trim_end_matches(".response.json"),
                vec![Category::Extra],
                call,
                error_fixture(name),
            )
            .expect_error(|e| match e {
                Error::ContextLengthExceeded { .. } => Ok(()),
                other => Err(format!("{other:?}")),
            }),
        );
    }
    v.push(
        Scenario::new(
            "llamacpp-error-401-missing-key",
            vec![Category::Extra],
            Call::Chat(req(COMPAT, "llamacpp-error-401-missing-key.request.json")),
            error_fixture("llamacpp-error-401-missing-key.response.json"),
        )
        .expect_error(|e| match e {
            Error::Authentication { status: 401, .. } => Ok(()),
            other => Err(format!("{other:?}")),
        }),
    );
    v.push(
        Scenario::new(
            "llamacpp-error-500-tools-without-jinja",
            vec![Category::Extra],
            Call::Chat(req(
                COMPAT,
                "llamacpp-error-500-tools-without-jinja.request.json",
            )),
            error_fixture("llamacpp-error-500-tools-without-jinja.response.json"),
        )
        .expect_error(|e| match e {
            Error::Unsupported { capability, .. } if capability.contains("--jinja") => Ok(()),
            other => Err(format!("{other:?}")),
        }),
    );
    v.push(
        Scenario::new(
            "llamacpp-error-501-embeddings-disabled",
            vec![Category::Extra],
            Call::Embed(
                serde_json::from_value(fixtures::json(
                    COMPAT,
                    "llamacpp-error-501-embeddings-disabled.request.json",
                ))
                .unwrap(),
            ),
            error_fixture("llamacpp-error-501-embeddings-disabled.response.json"),
        )
        .expect_error(|e| match e {
            Error::Unsupported { .. } => Ok(()),
            other => Err(format!("{other:?}")),
        }),
    );
    v.push(
        Scenario::new(
            "vLLM top-level error object (synthetic body, shape from WIRE-FORMATS §7)",
            vec![Category::Extra],
            Call::Chat(ChatRequest::new("nope", vec![Message::user("hi")])),
            status(
                404,
                MockReply::json(
                    r#"{"object":"error","message":"The model `nope` does not exist.","type":"NotFoundError","param":null,"code":404}"#,
                ),
            ),
        )
        .expect_error(|e| match e {
            Error::ModelNotFound { .. } => Ok(()),
            other => Err(format!("{other:?}")),
        }),
    );
    v
}

fn openai_target() -> Target {
    let event = "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"},\"finish_reason\":null,\"index\":0}],\"created\":0,\"id\":\"chatcmpl-1\",\"model\":\"m\",\"object\":\"chat.completion.chunk\"}\n\n";
    Target {
        name: "local".into(),
        build: Arc::new(build_openai),
        model: "qwen3:4b".into(),
        chat_path: "^/v1/chat/completions$".into(),
        stream_path: "^/v1/chat/completions$".into(),
        embed_path: "^/v1/embeddings$".into(),
        completion_path: "^/v1/completions$".into(),
        error_body: Arc::new(|status, msg| {
            let t = match status {
                400 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                429 | 503 => "unavailable_error",
                _ => "server_error",
            };
            json!({"error": {"code": status, "message": msg, "type": t}}).to_string()
        }),
        auth_header: ("authorization".into(), format!("Bearer {TEST_KEY}")),
        stream_event: event.as_bytes().to_vec(),
        stream_content_type: "text/event-stream".into(),
        scenarios: openai_scenarios(),
        not_applicable: vec![(
            Category::Finish(FinishReason::ContentFilter),
            NO_CONTENT_FILTER.into(),
        )],
    }
}

#[tokio::test]
async fn conformance_local() {
    runtime_conformance::run(openai_target()).await.finish();
}

// ---------------------------------------------------------------- local-ollama (native API)

fn build_ollama(
    base: &str,
    key: &Secret,
    timeout: Duration,
) -> runtime_core::Result<Arc<dyn Provider>> {
    let mut s = LocalSettings::new("local-ollama", base);
    s.api = LocalApi::Ollama;
    s.api_key = Some(key.clone());
    s.timeout = timeout;
    s.stream_idle_timeout = timeout;
    s.build(HttpClient::new(&Default::default())?)
}

fn ollama_scenarios() -> Vec<Scenario> {
    let mut v = Vec::new();
    v.push(
        Scenario::new(
            "api-chat-nonstream-durations",
            vec![
                Category::PlainChat,
                Category::Usage,
                Category::Finish(FinishReason::Length),
            ],
            Call::Chat(req(OLLAMA, "api-chat-nonstream-durations.request.json")),
            MockReply::json(fixtures::bytes(
                OLLAMA,
                "api-chat-nonstream-durations.response.json",
            )),
        )
        .expect_body(json!({"stream": false, "think": false, "options": {"num_predict": 64}}))
        .expect_chat(|r| {
            let u = r.usage.ok_or("no usage")?;
            if (u.prompt_tokens, u.completion_tokens, u.total_tokens) != (18, 64, 82) {
                return Err(format!("usage {u:?}"));
            }
            if r.finish_reason != FinishReason::Length {
                return Err(format!("{:?}", r.finish_reason));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "api-chat-stream-ndjson",
            vec![
                Category::Streaming,
                Category::SystemPrompt,
                Category::Finish(FinishReason::Stop),
            ],
            Call::Stream(req(OLLAMA, "api-chat-stream-ndjson.request.json")),
            MockReply::ndjson(fixtures::bytes(
                OLLAMA,
                "api-chat-stream-ndjson.response.ndjson",
            )),
        )
        .expect_body(json!({"stream": true, "messages": [{"role": "system"}, {"role": "user"}]}))
        .expect_chat(|r| {
            if r.finish_reason != FinishReason::Stop
                || r.usage.map(|u| u.completion_tokens) != Some(289)
            {
                return Err(format!("{:?} {:?}", r.finish_reason, r.usage));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "api-chat-tool-calls",
            vec![Category::ToolCall, Category::Finish(FinishReason::ToolCalls)],
            Call::Chat(req(OLLAMA, "api-chat-tool-calls.request.json")),
            MockReply::json(fixtures::bytes(OLLAMA, "api-chat-tool-calls.response.json")),
        )
        .expect_body(json!({"stream": false, "tools": [{"function": {"name": "add"}}, {"function": {"name": "multiply"}}]}))
        .expect_chat(|r| {
            let c = r.message.tool_calls.first().ok_or("no call")?;
            if c.function.name != "add" || c.function.arguments != "{\"a\":4,\"b\":6}" {
                return Err(format!("{c:?}"));
            }
            if r.finish_reason != FinishReason::ToolCalls {
                return Err(format!("{:?}", r.finish_reason));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "api-chat-stream-parallel-tool-calls",
            vec![Category::Extra],
            Call::Stream(req(
                OLLAMA,
                "api-chat-stream-parallel-tool-calls.request.json",
            )),
            MockReply::ndjson(fixtures::bytes(
                OLLAMA,
                "api-chat-stream-parallel-tool-calls.response.ndjson",
            )),
        )
        .expect_chat(|r| {
            if r.message.tool_calls.len() != 2 || r.finish_reason != FinishReason::ToolCalls {
                return Err(format!("{:?}", r.message.tool_calls));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "api-chat-stream-thinking-tool-call",
            vec![Category::Extra],
            Call::Stream(req(
                OLLAMA,
                "api-chat-stream-thinking-tool-call.request.json",
            )),
            MockReply::ndjson(fixtures::bytes(
                OLLAMA,
                "api-chat-stream-thinking-tool-call.response.ndjson",
            )),
        )
        .expect_body(json!({"think": true}))
        .expect_chat(|r| {
            if r.message.reasoning_text().is_none() || r.message.tool_calls.len() != 1 {
                return Err(format!("{r:?}"));
            }
            Ok(())
        }),
    );
    let followup = ChatRequest::new(
        "qwen3:4b",
        vec![
            Message::user("Compute 4 + 6 with the add tool."),
            Message::Assistant(AssistantMessage {
                content: None,
                tool_calls: vec![ToolCall::new("call_1", "add", "{\"a\":4,\"b\":6}")],
                ..AssistantMessage::default()
            }),
            Message::tool("call_1", "10"),
        ],
    );
    v.push(
        Scenario::new(
            "tool-result follow-up (synthetic request; reply: api-chat-nonstream-durations)",
            vec![Category::ToolResult],
            Call::Chat(followup),
            MockReply::json(fixtures::bytes(
                OLLAMA,
                "api-chat-nonstream-durations.response.json",
            )),
        )
        .expect_body(json!({"messages": [
            {"role": "user"},
            {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "function": {"name": "add", "arguments": {"a": 4, "b": 6}}}]},
            {"role": "tool", "content": "10", "tool_name": "add"}
        ]})),
    );
    v.push(
        Scenario::new(
            "image-input base64 (synthetic request)",
            vec![Category::ImageInput],
            Call::Chat(image_request("data:image/png;base64,iVBORw0KGgo=")),
            MockReply::json(fixtures::bytes(
                OLLAMA,
                "api-chat-nonstream-durations.response.json",
            )),
        )
        .expect_body(json!({"messages": [{"role": "user", "content": "What is in this image?", "images": ["iVBORw0KGgo="]}]})),
    );
    v.push(
        Scenario::new(
            "image URL is rejected naming the field (synthetic request)",
            vec![Category::Extra],
            Call::Chat(image_request("https://example.com/cat.png")),
            MockReply::json(fixtures::bytes(
                OLLAMA,
                "api-chat-nonstream-durations.response.json",
            )),
        )
        .expect_error(|e| match e.param() {
            Some("messages[0].content[1].image_url.url") => Ok(()),
            _ => Err(format!("{e:?}")),
        }),
    );
    v.push(Scenario::new(
        "api-chat-stream-ndjson folds to the chat answer",
        vec![Category::StreamEqualsChat],
        Call::StreamEqualsChat(
            req(OLLAMA, "api-chat-stream-ndjson.request.json"),
            MockReply::ndjson(fixtures::bytes(
                OLLAMA,
                "api-chat-stream-ndjson.response.ndjson",
            )),
        ),
        MockReply::json(data("api-chat-stream-ndjson.equivalent.json")),
    ));
    v.push(
        Scenario::new(
            "api-embed",
            vec![Category::Embeddings],
            Call::Embed(
                serde_json::from_value(fixtures::json(OLLAMA, "api-embed.request.json")).unwrap(),
            ),
            MockReply::json(fixtures::bytes(OLLAMA, "api-embed.response.json")),
        )
        .expect_body(json!({"model": "all-minilm", "input": ["Why is the sky blue?"]}))
        .expect_embed(|e| {
            if e.data.len() != 1 || e.usage.map(|u| u.prompt_tokens) != Some(8) {
                return Err(format!("{e:?}"));
            }
            Ok(())
        }),
    );
    let generate = json!({
        "model": "qwen2.5-coder:1.5b", "created_at": "2026-01-01T00:00:00Z",
        "response": "return a + b", "done": true, "done_reason": "stop",
        "context": [1, 2, 3], "prompt_eval_count": 12, "eval_count": 5
    })
    .to_string();
    v.push(
        Scenario::new(
            "fill-in-the-middle completion over /api/generate (synthetic body)",
            vec![Category::Completion],
            Call::Complete(CompletionRequest {
                model: "qwen2.5-coder:1.5b".into(),
                prompt: "def add(a, b):\n    ".into(),
                suffix: Some("\n\nprint(add(1, 2))".into()),
                max_tokens: Some(32),
                ..Default::default()
            }),
            MockReply::json(generate),
        )
        .expect_body(json!({"stream": false, "suffix": "\n\nprint(add(1, 2))", "options": {"num_predict": 32}}))
        .expect_completion(|c| {
            if c.text != "return a + b" || c.usage.map(|u| u.total_tokens) != Some(17) {
                return Err(format!("{c:?}"));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "mid-stream error line (synthetic body, shape from WIRE-FORMATS §6)",
            vec![Category::Extra],
            Call::Stream(ChatRequest::new("qwen3:4b", vec![Message::user("hi")])),
            MockReply::ndjson(
                "{\"model\":\"qwen3:4b\",\"created_at\":\"2026-01-01T00:00:00Z\",\"message\":{\"role\":\"assistant\",\"content\":\"Hel\"},\"done\":false}\n{\"error\":\"an error was encountered while running the model: unexpected EOF\"}\n",
            ),
        )
        .expect_error(|e| match e {
            Error::Stream {
                content_sent: true,
                message,
                ..
            } if message.contains("unexpected EOF") => Ok(()),
            other => Err(format!("{other:?}")),
        }),
    );
    v
}

fn ollama_target() -> Target {
    let event = "{\"model\":\"qwen3:4b\",\"created_at\":\"2026-01-01T00:00:00Z\",\"message\":{\"role\":\"assistant\",\"content\":\"hi\"},\"done\":false}\n";
    Target {
        name: "local-ollama".into(),
        build: Arc::new(build_ollama),
        model: "qwen3:4b".into(),
        chat_path: "^/api/chat$".into(),
        stream_path: "^/api/chat$".into(),
        embed_path: "^/api/embed$".into(),
        completion_path: "^/api/generate$".into(),
        error_body: Arc::new(|_status, msg| json!({"error": msg}).to_string()),
        auth_header: ("authorization".into(), format!("Bearer {TEST_KEY}")),
        stream_event: event.as_bytes().to_vec(),
        stream_content_type: "application/x-ndjson".into(),
        scenarios: ollama_scenarios(),
        not_applicable: vec![(
            Category::Finish(FinishReason::ContentFilter),
            NO_CONTENT_FILTER.into(),
        )],
    }
}

#[tokio::test]
async fn conformance_local_ollama() {
    runtime_conformance::run(ollama_target()).await.finish();
}
