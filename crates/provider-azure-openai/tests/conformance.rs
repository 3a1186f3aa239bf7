//! provider-azure-openai against the shared conformance suite, with the recorded Azure fixtures
//! (and OpenAI recordings where Azure serves the identical wire and no Azure recording exists).
#![allow(clippy::unwrap_used, clippy::panic, clippy::result_large_err)]

use std::sync::Arc;
use std::time::Duration;

use provider_azure_openai::{AzureCredential, AzureOpenAiSettings};
use runtime_conformance::{Call, Category, MockReply, Scenario, TEST_KEY, Target};
use runtime_core::http::HttpClient;
use runtime_core::{
    ChatRequest, CompletionRequest, Content, ContentPart, EmbeddingRequest, Error, FinishReason,
    Message, Provider, Secret,
};
use runtime_testkit::fixtures;
use serde_json::json;

const DIR: &str = "azure-openai";

fn build(base: &str, key: &Secret, timeout: Duration) -> runtime_core::Result<Arc<dyn Provider>> {
    let mut s =
        AzureOpenAiSettings::new("azure-openai", base, AzureCredential::ApiKey(key.clone()))
            .deployment("gpt-4o", "prod-gpt4o");
    s.timeout = timeout;
    s.stream_idle_timeout = timeout;
    Ok(Arc::new(s.build(HttpClient::new(&Default::default())?)?))
}

fn azure_req(name: &str) -> ChatRequest {
    let mut v = fixtures::json(DIR, name);
    if v.get("model").is_none() {
        v["model"] = json!("gpt-4o");
    }
    serde_json::from_value(v).unwrap()
}

fn openai_req(name: &str) -> ChatRequest {
    serde_json::from_value(fixtures::json("openai", name)).unwrap()
}

fn status(status: u16, reply: MockReply) -> MockReply {
    MockReply { status, ..reply }
}

fn scenarios() -> Vec<Scenario> {
    let mut v = Vec::new();
    v.push(
        Scenario::new(
            "chat-content-filter-results",
            vec![
                Category::PlainChat,
                Category::Usage,
                Category::Finish(FinishReason::Stop),
            ],
            Call::Chat(azure_req("chat-content-filter-results.request.json")),
            MockReply::json(fixtures::bytes(
                DIR,
                "chat-content-filter-results.response.json",
            )),
        )
        .expect_body(json!({"model": "gpt-4o", "n": 1, "messages": [{"role": "user"}]}))
        .expect_chat(|r| {
            let u = r.usage.ok_or("no usage")?;
            if (u.prompt_tokens, u.completion_tokens, u.total_tokens) != (14, 9, 23) {
                return Err(format!("usage {u:?}"));
            }
            if r.finish_reason != FinishReason::Stop || r.model != "gpt-4o-2024-11-20" {
                return Err(format!("{:?} {}", r.finish_reason, r.model));
            }
            for k in ["prompt_filter_results", "content_filter_results"] {
                if !r.meta.annotations.contains_key(k) {
                    return Err(format!("annotation {k} missing"));
                }
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "spec-chat-completions (reply: chat-content-filter-results)",
            vec![Category::SystemPrompt],
            Call::Chat(azure_req("spec-chat-completions.request.json")),
            MockReply::json(fixtures::bytes(
                DIR,
                "chat-content-filter-results.response.json",
            )),
        )
        .expect_body(json!({"messages": [
            {"role": "system", "content": "you are a helpful assistant that talks like a pirate"},
            {"role": "user"}
        ]})),
    );
    v.push(
        Scenario::new(
            "chat-tool-call (OpenAI recording; same wire)",
            vec![
                Category::ToolCall,
                Category::Finish(FinishReason::ToolCalls),
            ],
            Call::Chat(openai_req("chat-tool-call.request.json")),
            MockReply::json(fixtures::bytes("openai", "chat-tool-call.response.json")),
        )
        .expect_body(json!({"tool_choice": "required"}))
        .expect_chat(|r| {
            let c = r.message.tool_calls.first().ok_or("no tool call")?;
            if c.function.name != "get_user_country" || r.finish_reason != FinishReason::ToolCalls {
                return Err(format!("{c:?} {:?}", r.finish_reason));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "chat-tool-result-followup (OpenAI recording; same wire)",
            vec![Category::ToolResult],
            Call::Chat(openai_req("chat-tool-result-followup.request.json")),
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
    let image = ChatRequest::new(
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
    v.push(
        Scenario::new(
            "image-input (synthetic request)",
            vec![Category::ImageInput],
            Call::Chat(image),
            MockReply::json(fixtures::bytes(
                DIR,
                "chat-content-filter-results.response.json",
            )),
        )
        .expect_body(json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is in this image?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
        ]}]})),
    );
    v.push(
        Scenario::new(
            "stream-async-filter-trailing-chunks",
            vec![Category::Streaming],
            Call::Stream(ChatRequest::new("gpt-4o", vec![Message::user("hi")])),
            MockReply::sse(fixtures::bytes(
                DIR,
                "stream-async-filter-trailing-chunks.sse",
            )),
        )
        .expect_body(json!({"stream": true, "stream_options": {"include_usage": true}}))
        .expect_chat(|r| {
            if r.message.text().as_deref() != Some("Kindness")
                || r.finish_reason != FinishReason::Stop
            {
                return Err(format!("{r:?}"));
            }
            if !r.meta.annotations.contains_key("prompt_filter_results") {
                return Err("prompt_filter_results not in the stream's meta".into());
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "chat-stream-prompt-filter-first folds to the chat answer",
            vec![Category::StreamEqualsChat, Category::Usage],
            Call::StreamEqualsChat(
                ChatRequest::new("gpt-4o", vec![Message::user("Capital of Denmark?")]),
                MockReply::sse(fixtures::jsonl_to_sse(
                    &fixtures::text(DIR, "chat-stream-prompt-filter-first.chunks.jsonl"),
                    true,
                )),
            ),
            MockReply::json(
                std::fs::read(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/data/chat-stream-prompt-filter-first.equivalent.json"
                ))
                .unwrap(),
            ),
        )
        .expect_chat(|r| {
            let u = r.usage.ok_or("no usage")?;
            if u.reasoning_tokens != 64 || u.total_tokens != 93 {
                return Err(format!("usage {u:?}"));
            }
            Ok(())
        }),
    );
    let synthetic = |reason: &str, content: serde_json::Value, filtered: bool| {
        json!({"id": "chatcmpl-x", "object": "chat.completion", "created": 1, "model": "gpt-4o-2024-11-20",
               "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                            "finish_reason": reason,
                            "content_filter_results": {"violence": {"filtered": filtered, "severity": if filtered {"high"} else {"safe"}}}}],
               "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7,
                         "prompt_tokens_details": {"cached_tokens": 3}, "completion_tokens_details": {"reasoning_tokens": 1}}})
        .to_string()
    };
    for (reason, fr, content, filtered) in [
        ("length", FinishReason::Length, json!("partial"), false),
        (
            "content_filter",
            FinishReason::ContentFilter,
            serde_json::Value::Null,
            true,
        ),
    ] {
        let want = fr.clone();
        v.push(
            Scenario::new(
                &format!("finish {reason} (synthetic body)"),
                vec![Category::Finish(fr), Category::Usage],
                Call::Chat(ChatRequest::new("gpt-4o", vec![Message::user("hi")])),
                MockReply::json(synthetic(reason, content, filtered)),
            )
            .expect_chat(move |r| {
                let u = r.usage.ok_or("no usage")?;
                if r.finish_reason != want || u.cached_prompt_tokens != 3 || u.reasoning_tokens != 1
                {
                    return Err(format!("{:?} {u:?}", r.finish_reason));
                }
                if !r.meta.annotations.contains_key("content_filter_results") {
                    return Err("content_filter_results missing".into());
                }
                Ok(())
            }),
        );
    }
    v.push(
        Scenario::new(
            "embeddings-base64 (OpenAI recording; same wire)",
            vec![Category::Embeddings],
            Call::Embed(
                serde_json::from_value::<EmbeddingRequest>(fixtures::json(
                    "openai",
                    "embeddings-base64.request.json",
                ))
                .unwrap(),
            ),
            MockReply::json(fixtures::bytes("openai", "embeddings-base64.response.json")),
        )
        .expect_body(json!({"encoding_format": "base64", "input": ["Hello, world!"]}))
        .expect_embed(|e| {
            if e.data.len() != 1 || e.data[0].embedding.len() < 100 {
                return Err(format!("{} vectors", e.data.len()));
            }
            Ok(())
        }),
    );
    let creq = CompletionRequest {
        model: "gpt-35-turbo-instruct".into(),
        prompt: "tell me a joke about mango".into(),
        max_tokens: Some(32),
        temperature: Some(1.0),
        ..Default::default()
    };
    v.push(
        Scenario::new(
            "spec-completions",
            vec![Category::Completion],
            Call::Complete(creq),
            MockReply::json(fixtures::bytes(DIR, "spec-completions.response.json")),
        )
        .expect_body(json!({"prompt": "tell me a joke about mango", "max_tokens": 32}))
        .expect_completion(|c| {
            if !c.text.contains("head mango") || c.usage.map(|u| u.total_tokens) != Some(26) {
                return Err(format!("{c:?}"));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "error-400-content-filter",
            vec![Category::Extra],
            Call::Chat(ChatRequest::new("gpt-4o", vec![Message::user("…")])),
            status(
                400,
                MockReply::json(fixtures::bytes(
                    DIR,
                    "error-400-content-filter.response.json",
                )),
            ),
        )
        .expect_error(|e| match e {
            Error::ContentFiltered { message, .. } if message.contains("sexual (high)") => Ok(()),
            other => Err(format!("{other:?}")),
        }),
    );
    v.push(
        Scenario::new(
            "error-400-content-filter on a stream request",
            vec![Category::Extra],
            Call::Stream(ChatRequest::new("gpt-4o", vec![Message::user("…")])),
            status(
                400,
                MockReply::json(fixtures::bytes(
                    DIR,
                    "error-400-content-filter.response.json",
                )),
            ),
        )
        .expect_error(|e| match e {
            Error::ContentFiltered { .. } => Ok(()),
            other => Err(format!("{other:?}")),
        }),
    );
    v.push(
        Scenario::new(
            "429 'Please retry after N seconds' without header (synthetic body, shape from WIRE-FORMATS §2)",
            vec![Category::Extra],
            Call::Chat(ChatRequest::new("gpt-4o", vec![Message::user("hi")])),
            status(
                429,
                MockReply::json(
                    r#"{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation under Azure OpenAI API version 2024-10-21 have exceeded token rate limit of your current OpenAI S0 pricing tier. Please retry after 86400 seconds. Please go here: https://aka.ms/oai/quotaincrease if you would like to further increase the default rate limit."}}"#,
                ),
            ),
        )
        .expect_error(|e| match e {
            Error::RateLimited {
                retry_after: Some(d),
                ..
            } if *d == Duration::from_secs(86400) => Ok(()),
            other => Err(format!("{other:?}")),
        }),
    );
    v.push(
        Scenario::new(
            "404 DeploymentNotFound (synthetic body)",
            vec![Category::Extra],
            Call::Chat(ChatRequest::new("gpt-4o", vec![Message::user("hi")])),
            status(
                404,
                MockReply::json(
                    r#"{"error":{"code":"DeploymentNotFound","message":"The API deployment for this resource does not exist. If you created the deployment within the last 5 minutes, please wait a moment and try again."}}"#,
                ),
            ),
        )
        .expect_error(|e| match e {
            Error::ModelNotFound { .. } if !e.is_retryable() => Ok(()),
            other => Err(format!("{other:?}")),
        }),
    );
    v
}

fn target() -> Target {
    let event = "data: {\"id\":\"chatcmpl-c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":null}]}\n\n";
    Target {
        name: "azure-openai".into(),
        build: Arc::new(build),
        model: "gpt-4o".into(),
        chat_path: "^/openai/deployments/prod-gpt4o/chat/completions$".into(),
        stream_path: "^/openai/deployments/prod-gpt4o/chat/completions$".into(),
        embed_path: "^/openai/deployments/[^/]+/embeddings$".into(),
        completion_path: "^/openai/deployments/gpt-35-turbo-instruct/completions$".into(),
        error_body: Arc::new(|status, msg| {
            match status {
                400 => json!({"error": {"message": msg, "type": "invalid_request_error", "param": null, "code": null}}),
                401 | 403 => json!({"error": {"code": status.to_string(), "message": format!("Access denied: {msg}")}}),
                404 => json!({"error": {"code": "DeploymentNotFound", "message": format!("The API deployment for this resource does not exist: {msg}")}}),
                429 => json!({"error": {"code": "429", "message": format!("{msg}. Please retry after 7 seconds.")}}),
                _ => json!({"error": {"code": "InternalServerError", "message": msg}}),
            }
            .to_string()
        }),
        auth_header: ("api-key".into(), TEST_KEY.into()),
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
