//! provider-anthropic against the shared conformance suite, with the recorded Anthropic fixtures.
#![allow(
    clippy::result_large_err,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod common;

use std::sync::Arc;

use common::{DIR, fixture_request, sse_bytes};
use runtime_conformance::{Call, Category, MockReply, Scenario, TEST_KEY, Target};
use runtime_core::{
    ChatRequest, CompletionRequest, Content, ContentPart, Error, FinishReason, JsonSchemaFormat,
    Message, ResponseFormat, Usage,
};
use runtime_testkit::fixtures;
use serde_json::json;

fn body(name: &str) -> Vec<u8> {
    fixtures::bytes(DIR, name)
}

fn status(code: u16, name: &str) -> MockReply {
    MockReply {
        status: code,
        ..MockReply::json(body(name))
    }
}

fn scenarios() -> Vec<Scenario> {
    let mut v = Vec::new();
    v.push(
        Scenario::new(
            "messages-basic-system",
            vec![
                Category::PlainChat,
                Category::SystemPrompt,
                Category::Usage,
                Category::Finish(FinishReason::Stop),
            ],
            Call::Chat(fixture_request("messages-basic-system.request.json")),
            MockReply::json(body("messages-basic-system.response.json")),
        )
        .expect_body(json!({
            "system": "You are a helpful assistant.\n\n",
            "max_tokens": 4096,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "What is the capital of France?"}]}]
        }))
        .expect_chat(|r| {
            if r.message.text().as_deref() != Some("The capital of France is Paris.") {
                return Err(format!("text {:?}", r.message.text()));
            }
            if r.usage != Some(Usage::new(20, 10)) {
                return Err(format!("usage {:?}", r.usage));
            }
            if r.finish_reason != FinishReason::Stop || r.model != "claude-3-opus-20240229" {
                return Err(format!("{:?} {}", r.finish_reason, r.model));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "messages-tool-use",
            vec![Category::ToolCall, Category::Finish(FinishReason::ToolCalls)],
            Call::Chat(fixture_request("messages-tool-use.request.json")),
            MockReply::json(body("messages-tool-use.response.json")),
        )
        .expect_body(json!({
            "tool_choice": {"type": "any"},
            "tools": [
                {"name": "get_user_country", "description": "", "input_schema": {"additionalProperties": false, "properties": {}, "type": "object"}},
                {"name": "final_result"}
            ]
        }))
        .expect_chat(|r| {
            let c = r.message.tool_calls.first().ok_or("no tool call")?;
            if c.id != "toolu_01X9wcHKKAZD9tBC711xipPa"
                || c.function.name != "get_user_country"
                || c.function.arguments != "{}"
            {
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
            "messages-tool-result-followup",
            vec![Category::ToolResult],
            Call::Chat(fixture_request("messages-tool-result-followup.request.json")),
            MockReply::json(body("messages-tool-result-followup.response.json")),
        )
        .expect_body(json!({"messages": [
            {"role": "user"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_01X9wcHKKAZD9tBC711xipPa", "name": "get_user_country", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01X9wcHKKAZD9tBC711xipPa", "content": "Mexico"}]}
        ]}))
        .expect_chat(|r| {
            let c = r.message.tool_calls.first().ok_or("no tool call")?;
            let args: serde_json::Value =
                serde_json::from_str(&c.function.arguments).map_err(|e| e.to_string())?;
            if args != json!({"city": "Mexico City", "country": "Mexico"}) {
                return Err(format!("{args}"));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "messages-parallel-tool-use",
            vec![Category::Extra],
            Call::Chat(fixture_request("messages-parallel-tool-use.request.json")),
            MockReply::json(body("messages-parallel-tool-use.response.json")),
        )
        .expect_body(json!({"tool_choice": {"type": "auto"}}))
        .expect_chat(|r| {
            let ids: Vec<&str> = r.message.tool_calls.iter().map(|c| c.id.as_str()).collect();
            if ids.len() != 4 || !ids.iter().all(|i| i.starts_with("toolu_")) {
                return Err(format!("{ids:?}"));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "messages-prompt-cache-read",
            vec![Category::Usage],
            Call::Chat(fixture_request("messages-prompt-cache-read.request.json")),
            MockReply::json(body("messages-prompt-cache-read.response.json")),
        )
        .expect_body(json!({"cache_control": {"type": "ephemeral", "ttl": "5m"}, "system": "You are a helpful assistant."}))
        .expect_chat(|r| {
            let u = r.usage.ok_or("no usage")?;
            let want = Usage {
                prompt_tokens: 1532,
                completion_tokens: 33,
                total_tokens: 1565,
                cached_prompt_tokens: 1111,
                cache_creation_tokens: 418,
                reasoning_tokens: 0,
            };
            if u != want {
                return Err(format!("usage {u:?}"));
            }
            Ok(())
        }),
    );
    // Synthetic request: no recorded image request exists among the fixtures.
    let image = ChatRequest::new(
        "claude-3-opus-latest",
        vec![Message::User {
            content: Content::Parts(vec![
                ContentPart::Text {
                    text: "What is in these images?".into(),
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
            MockReply::json(body("messages-basic-system.response.json")),
        )
        .expect_body(json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is in these images?"},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.png"}},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
        ]}]})),
    );
    v.push(
        Scenario::new(
            "stream-tool-use",
            vec![
                Category::Streaming,
                Category::Finish(FinishReason::ToolCalls),
            ],
            Call::Stream(ChatRequest::new(
                "claude-sonnet-4-20250514",
                vec![Message::user("What's the weather in Paris?")],
            )),
            MockReply::sse(body("stream-tool-use.sse")),
        )
        .expect_body(json!({"stream": true, "max_tokens": 4096}))
        .expect_chat(|r| {
            let c = r.message.tool_calls.first().ok_or("no call")?;
            if c.function.arguments != r#"{"location": "Paris"}"#
                || r.finish_reason != FinishReason::ToolCalls
                || r.usage != Some(Usage::new(377, 65))
            {
                return Err(format!("{r:?}"));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "stream-thinking folds to the chat answer",
            vec![Category::StreamEqualsChat, Category::Usage],
            Call::StreamEqualsChat(
                fixture_request("stream-thinking.request.json"),
                MockReply::sse(body("stream-thinking.response.sse")),
            ),
            MockReply::json(
                std::fs::read(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/tests/data/stream-thinking.equivalent.json"
                ))
                .unwrap(),
            ),
        )
        .expect_body(json!({"thinking": {"type": "enabled", "budget_tokens": 1024}}))
        .expect_chat(|r| {
            let b = r.message.reasoning.first().ok_or("no reasoning")?;
            if b.signature.is_none() || r.usage != Some(Usage::new(43, 282)) {
                return Err(format!("{b:?} {:?}", r.usage));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "stream-text-ping-padding",
            vec![Category::Streaming],
            Call::Stream(fixture_request("stream-text-ping-padding.request.json")),
            MockReply::sse(body("stream-text-ping-padding.response.sse")),
        )
        .expect_body(json!({"stream": true, "max_tokens": 32000}))
        .expect_chat(|r| {
            if r.message.text().as_deref() != Some("2") || r.usage != Some(Usage::new(20, 5)) {
                return Err(format!("{r:?}"));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "stream-incomplete-partial-json (max_tokens)",
            vec![Category::Finish(FinishReason::Length)],
            Call::Stream(ChatRequest::new(
                "claude-3-7-sonnet-20250219",
                vec![Message::user("Write a tax guide to taxes.txt")],
            )),
            MockReply::sse(body("stream-incomplete-partial-json.sse")),
        )
        .expect_chat(|r| {
            let c = r.message.tool_calls.first().ok_or("no call")?;
            if r.finish_reason != FinishReason::Length || !c.function.arguments.ends_with("taxes") {
                return Err(format!("{:?} {:?}", r.finish_reason, c.function.arguments));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "stream-refusal",
            vec![Category::Finish(FinishReason::ContentFilter)],
            Call::Stream(ChatRequest::new(
                "claude-fable-5",
                vec![Message::user("(refused prompt)")],
            )),
            MockReply::sse(sse_bytes("stream-refusal.chunks.jsonl")),
        )
        .expect_chat(|r| {
            if r.finish_reason != FinishReason::ContentFilter || r.message.refusal.is_none() {
                return Err(format!("{r:?}"));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "stream-tool-no-args",
            vec![Category::Extra],
            Call::Stream(ChatRequest::new(
                "claude-sonnet-4-5",
                vec![Message::user("update the issue list")],
            )),
            MockReply::sse(sse_bytes("stream-tool-no-args.chunks.jsonl")),
        )
        .expect_chat(|r| {
            let c = r.message.tool_calls.first().ok_or("no call")?;
            if c.function.arguments != "{}" || c.id != "toolu_01QE1WLsSVp5hy5Q3GmGTmjP" {
                return Err(format!("{c:?}"));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "stream-json-tool-ping-between-deltas",
            vec![Category::Extra],
            Call::Stream(ChatRequest::new(
                "claude-haiku-4-5",
                vec![Message::user("weather as json")],
            )),
            MockReply::sse(sse_bytes(
                "stream-json-tool-ping-between-deltas.chunks.jsonl",
            )),
        )
        .expect_chat(|r| {
            let c = r.message.tool_calls.first().ok_or("no call")?;
            serde_json::from_str::<serde_json::Value>(&c.function.arguments)
                .map_err(|e| format!("args {e}"))?;
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "stream-message-delta-input-tokens",
            vec![Category::Usage],
            Call::Stream(ChatRequest::new(
                "claude-opus-4-5",
                vec![Message::user("ping")],
            )),
            MockReply::sse(sse_bytes("stream-message-delta-input-tokens.chunks.jsonl")),
        )
        .expect_chat(|r| {
            if r.usage != Some(Usage::new(61, 2)) {
                return Err(format!(
                    "usage {:?} (message_delta counts overwrite)",
                    r.usage
                ));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "stream-basic",
            vec![Category::Streaming],
            Call::Stream(ChatRequest::new(
                "claude-3-opus-latest",
                vec![Message::user("hi")],
            )),
            MockReply::sse(body("stream-basic.sse")),
        )
        .expect_chat(|r| {
            if r.message.text().as_deref() != Some("Hello there!") {
                return Err(format!("{r:?}"));
            }
            Ok(())
        }),
    );
    // Synthetic request: structured output is a forced tool; the recorded forced-tool answer
    // (`final_result`) comes back as JSON text.
    let mut structured = ChatRequest::new(
        "claude-sonnet-4-5",
        vec![Message::user(
            "What is the largest city in the user country?",
        )],
    );
    structured.response_format = Some(ResponseFormat::JsonSchema {
        json_schema: JsonSchemaFormat {
            name: "final_result".into(),
            description: Some("The final response which ends this conversation".into()),
            schema: Some(json!({
                "type": "object",
                "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
                "required": ["city", "country"]
            })),
            strict: None,
        },
    });
    v.push(
        Scenario::new(
            "json-schema via forced tool (synthetic request)",
            vec![Category::Extra],
            Call::Chat(structured),
            MockReply::json(body("messages-tool-result-followup.response.json")),
        )
        .expect_body(json!({
            "tool_choice": {"type": "tool", "name": "final_result", "disable_parallel_tool_use": true},
            "tools": [{"name": "final_result"}]
        }))
        .expect_chat(|r| {
            let text = r.message.text().ok_or("no text")?;
            let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
            if v != json!({"city": "Mexico City", "country": "Mexico"})
                || r.finish_reason != FinishReason::Stop
                || !r.message.tool_calls.is_empty()
            {
                return Err(format!("{r:?}"));
            }
            Ok(())
        }),
    );
    let completion = CompletionRequest {
        model: "claude-3-opus-latest".into(),
        prompt: "What is the capital of France?".into(),
        max_tokens: Some(64),
        ..Default::default()
    };
    v.push(
        Scenario::new(
            "completion over messages",
            vec![Category::Completion],
            Call::Complete(completion),
            MockReply::json(body("messages-basic-system.response.json")),
        )
        .expect_body(json!({"max_tokens": 64, "messages": [{"role": "user", "content": [{"type": "text", "text": "What is the capital of France?"}]}]}))
        .expect_completion(|c| {
            if c.text != "The capital of France is Paris." || c.finish_reason != FinishReason::Stop
            {
                return Err(format!("{c:?}"));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "error-400-invalid-request",
            vec![Category::Extra],
            Call::Chat(fixture_request("error-400-invalid-request.request.json")),
            status(400, "error-400-invalid-request.response.json"),
        )
        .expect_body(json!({"output_config": {"effort": "xhigh"}}))
        .expect_error(|e| match e {
            Error::InvalidRequest { message, .. } if message.contains("xhigh") => Ok(()),
            other => Err(format!("{other:?}")),
        }),
    );
    v.push(
        Scenario::new(
            "error-401-authentication",
            vec![Category::Extra],
            Call::Chat(fixture_request("error-401-authentication.request.json")),
            status(401, "error-401-authentication.response.json"),
        )
        .expect_error(|e| match e {
            Error::Authentication { status: 401, .. } => Ok(()),
            other => Err(format!("{other:?}")),
        }),
    );
    v.push(
        Scenario::new(
            "error-404-not-found",
            vec![Category::Extra],
            Call::Chat(fixture_request("error-404-not-found.request.json")),
            status(404, "error-404-not-found.response.json"),
        )
        .expect_error(|e| match e {
            Error::ModelNotFound { .. } if !e.is_retryable() => Ok(()),
            other => Err(format!("{other:?}")),
        }),
    );
    v
}

fn target() -> Target {
    let event = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-4-5\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n";
    Target {
        name: "anthropic".into(),
        build: Arc::new(common::dyn_provider),
        model: "claude-haiku-4-5".into(),
        chat_path: "/v1/messages$".into(),
        stream_path: "/v1/messages$".into(),
        embed_path: "/v1/embeddings$".into(),
        completion_path: "/v1/messages$".into(),
        error_body: Arc::new(|status, msg| {
            let t = match status {
                400 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                413 => "request_too_large",
                429 => "rate_limit_error",
                529 => "overloaded_error",
                _ => "api_error",
            };
            json!({"type": "error", "error": {"type": t, "message": msg}, "request_id": "req_011CConformance"})
                .to_string()
        }),
        auth_header: ("x-api-key".into(), TEST_KEY.into()),
        stream_event: event.as_bytes().to_vec(),
        stream_content_type: "text/event-stream; charset=utf-8".into(),
        scenarios: scenarios(),
        not_applicable: Vec::new(),
    }
}

#[tokio::test]
async fn conformance() {
    runtime_conformance::run(target()).await.finish();
}
