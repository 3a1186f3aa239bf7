//! provider-huggingface against the shared conformance suite: once with the Messages API (the
//! recorded TGI fixtures) and once with TGI's native `/generate` API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use common::{DIR, generate_stream_from_details, tgi_sse};
use runtime_conformance::{Call, Category, MockReply, Scenario, TEST_KEY, Target};
use runtime_core::{
    AssistantMessage, ChatRequest, CompletionRequest, Content, ContentPart, EmbeddingRequest,
    Error, FinishReason, JsonSchemaFormat, Message, ResponseFormat, ToolCall, ToolChoice,
    ToolDefinition, Usage,
};
use runtime_testkit::fixtures;
use serde_json::json;

const MODEL: &str = "meta-llama/Llama-3.1-8B-Instruct";
const EMBED_MODEL: &str = "sentence-transformers/all-MiniLM-L6-v2";

fn body(name: &str) -> Vec<u8> {
    fixtures::bytes(DIR, name)
}

fn equivalent() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/completion-stream-usage.equivalent.synthetic.json"
    ))
    .unwrap()
}

const EQUIVALENT_TEXT: &str =
    "**Deep Learning: An Overview**\n=====================================\n\n";

fn weather_tool() -> ToolDefinition {
    // The tool of TGI's integration test that produced the tool-call recordings.
    ToolDefinition::function(
        "get_current_weather",
        "Get the current weather",
        json!({
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "The city and state, e.g. San Francisco, CA"},
                "format": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "The temperature unit to use. Infer this from the users location."}
            },
            "required": ["location", "format"]
        }),
    )
}

fn tool_request() -> ChatRequest {
    let mut r = ChatRequest::new(
        MODEL,
        vec![
            Message::system("Youre a helpful assistant! Answer the users question best you can."),
            Message::user("What is the weather like in Brooklyn, New York?"),
        ],
    );
    r.tools = vec![weather_tool()];
    r.tool_choice = Some(ToolChoice::Required);
    r.max_tokens = Some(100);
    r.seed = Some(1);
    r
}

fn text_check(r: &runtime_core::ChatResponse) -> Result<(), String> {
    if r.message.text().as_deref() != Some(EQUIVALENT_TEXT) {
        return Err(format!("text {:?}", r.message.text()));
    }
    if r.usage != Some(Usage::new(40, 10)) || r.finish_reason != FinishReason::Length {
        return Err(format!("{:?} {:?}", r.usage, r.finish_reason));
    }
    Ok(())
}

/// Name, inputs, answer body, expected vectors.
type EmbedCase = (&'static str, Vec<&'static str>, &'static str, Vec<Vec<f32>>);

fn embedding_scenarios() -> Vec<Scenario> {
    let mut v = Vec::new();
    // Synthetic bodies: no feature-extraction recording exists.
    let cases: Vec<EmbedCase> = vec![
        (
            "one input, pooled [f32] (synthetic)",
            vec!["Hello"],
            "[0.5, -0.25, 1.0]",
            vec![vec![0.5, -0.25, 1.0]],
        ),
        (
            "two inputs, pooled [[f32]] (synthetic)",
            vec!["a", "b"],
            "[[1.0, 0.0], [0.0, 2.0]]",
            vec![vec![1.0, 0.0], vec![0.0, 2.0]],
        ),
        (
            "one input, token-level [[f32]] mean-pooled (synthetic)",
            vec!["Hello world"],
            "[[1.0, 2.0], [3.0, 4.0], [5.0, 0.0]]",
            vec![vec![3.0, 2.0]],
        ),
        (
            "two inputs, token-level [[[f32]]] mean-pooled (synthetic)",
            vec!["a", "b c"],
            "[[[1.0, 1.0]], [[2.0, 0.0], [4.0, 2.0]]]",
            vec![vec![1.0, 1.0], vec![3.0, 1.0]],
        ),
    ];
    for (name, inputs, reply, want) in cases {
        let sent = if inputs.len() == 1 {
            json!(inputs[0])
        } else {
            json!(inputs)
        };
        v.push(
            Scenario::new(
                &format!("embeddings: {name}"),
                vec![Category::Embeddings],
                Call::Embed(EmbeddingRequest::new(
                    EMBED_MODEL,
                    inputs.iter().map(|s| s.to_string()).collect(),
                )),
                MockReply::json(reply),
            )
            .expect_body(json!({ "inputs": sent }))
            .expect_embed(move |e| {
                let got: Vec<Vec<f32>> = e.data.iter().map(|d| d.embedding.clone()).collect();
                if got != want || e.model != EMBED_MODEL || e.usage.is_some() {
                    return Err(format!("{got:?}"));
                }
                Ok(())
            }),
        );
    }
    v.push(
        Scenario::new(
            "embeddings: model loading 503 with estimated_time (synthetic body)",
            vec![Category::Extra],
            Call::Embed(EmbeddingRequest::new(EMBED_MODEL, vec!["x".into()])),
            MockReply {
                status: 503,
                ..MockReply::json(format!(
                    r#"{{"error":"Model {EMBED_MODEL} is currently loading","estimated_time":20.0}}"#
                ))
            },
        )
        .expect_error(|e| match e.retryability() {
            runtime_core::Retryability::Retry { after: Some(d) }
                if d == std::time::Duration::from_secs(20) =>
            {
                Ok(())
            }
            other => Err(format!("{other:?} for {e:?}")),
        }),
    );
    v
}

fn messages_scenarios() -> Vec<Scenario> {
    let mut v = Vec::new();
    v.push(
        Scenario::new(
            "chat-tool-call-nostream (request synthetic: the tool of TGI's test)",
            vec![
                Category::ToolCall,
                Category::Finish(FinishReason::ToolCalls),
                Category::Usage,
            ],
            Call::Chat(tool_request()),
            MockReply::json(body("chat-tool-call-nostream.response.json")),
        )
        .expect_body(json!({
            "model": MODEL,
            "max_tokens": 100,
            "seed": 1,
            "tool_choice": "required",
            "tools": [{"type": "function", "function": {"name": "get_current_weather"}}],
            "messages": [{"role": "system"}, {"role": "user"}]
        }))
        .expect_chat(|r| {
            let c = r.message.tool_calls.first().ok_or("no tool call")?;
            let args: serde_json::Value =
                serde_json::from_str(&c.function.arguments).map_err(|e| e.to_string())?;
            if c.id != "0"
                || c.function.name != "get_current_weather"
                || args != json!({"location": "Brooklyn, NY", "format": "fahrenheit"})
            {
                return Err(format!("{c:?}"));
            }
            if r.finish_reason != FinishReason::ToolCalls || r.message.content.is_some() {
                return Err(format!("{:?} {:?}", r.finish_reason, r.message.content));
            }
            if r.usage != Some(Usage::new(501, 29)) || !r.id.is_empty() || r.model != MODEL {
                return Err(format!("{:?} {:?} {}", r.usage, r.id, r.model));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "plain chat (body synthetic, equivalent to the recorded completion-stream-usage)",
            vec![
                Category::PlainChat,
                Category::Usage,
                Category::Finish(FinishReason::Length),
            ],
            Call::Chat(ChatRequest::new(
                MODEL,
                vec![Message::user("What is Deep Learning?")],
            )),
            MockReply::json(equivalent()),
        )
        .expect_body(json!({"messages": [{"role": "user", "content": "What is Deep Learning?"}]}))
        .expect_chat(text_check),
    );
    v.push(
        Scenario::new(
            "completion-stream-usage folds to the chat answer",
            vec![
                Category::StreamEqualsChat,
                Category::Streaming,
                Category::Usage,
            ],
            Call::StreamEqualsChat(
                ChatRequest::new(MODEL, vec![Message::user("What is Deep Learning?")]),
                MockReply::sse(tgi_sse("completion-stream-usage.chunks.json", true)),
            ),
            MockReply::json(equivalent()),
        )
        .expect_chat(text_check),
    );
    v.push(
        Scenario::new(
            "chat-stream-tool-call (no finish_reason before [DONE])",
            vec![
                Category::Streaming,
                Category::Finish(FinishReason::ToolCalls),
            ],
            Call::Stream(tool_request()),
            MockReply::sse(tgi_sse("chat-stream-tool-call.chunks.json", true)),
        )
        .expect_body(json!({"stream": true, "stream_options": {"include_usage": true}}))
        .expect_chat(|r| {
            let c = r.message.tool_calls.first().ok_or("no tool call")?;
            serde_json::from_str::<serde_json::Value>(&c.function.arguments)
                .map_err(|e| format!("args {e}"))?;
            if r.message.tool_calls.len() != 1
                || c.id != "0"
                || r.finish_reason != FinishReason::ToolCalls
            {
                return Err(format!("{r:?}"));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "chat-tool-insufficient-info-stream",
            vec![Category::Streaming, Category::Finish(FinishReason::Length)],
            Call::Stream(tool_request()),
            MockReply::sse(tgi_sse(
                "chat-tool-insufficient-info-stream.chunks.json",
                true,
            )),
        )
        .expect_chat(|r| {
            let t = r.message.text().unwrap_or_default();
            if !t.starts_with("I'm an artificial intelligence")
                || r.finish_reason != FinishReason::Length
                || !r.message.tool_calls.is_empty()
            {
                return Err(format!("{r:?}"));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "system prompt (synthetic request)",
            vec![Category::SystemPrompt],
            Call::Chat(ChatRequest::new(
                MODEL,
                vec![
                    Message::system("You are terse."),
                    Message::user("What is Deep Learning?"),
                ],
            )),
            MockReply::json(equivalent()),
        )
        .expect_body(json!({"messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "What is Deep Learning?"}
        ]})),
    );
    let mut followup = tool_request();
    followup.tool_choice = None;
    followup.messages.push(Message::Assistant(AssistantMessage {
        content: None,
        tool_calls: vec![ToolCall::new(
            "0",
            "get_current_weather",
            r#"{"location":"Brooklyn, NY","format":"fahrenheit"}"#,
        )],
        ..AssistantMessage::default()
    }));
    followup.messages.push(Message::tool(
        "0",
        r#"{"temperature": 61, "unit": "fahrenheit"}"#,
    ));
    v.push(
        Scenario::new(
            "tool result follow-up (synthetic request)",
            vec![Category::ToolResult],
            Call::Chat(followup),
            MockReply::json(equivalent()),
        )
        .expect_body(json!({"messages": [
            {"role": "system"},
            {"role": "user"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "0", "type": "function", "function": {"name": "get_current_weather", "arguments": "{\"location\":\"Brooklyn, NY\",\"format\":\"fahrenheit\"}"}}]},
            {"role": "tool", "tool_call_id": "0", "content": "{\"temperature\": 61, \"unit\": \"fahrenheit\"}"}
        ]})),
    );
    let image = ChatRequest::new(
        "meta-llama/Llama-3.2-11B-Vision-Instruct",
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
            "image input (synthetic request)",
            vec![Category::ImageInput],
            Call::Chat(image),
            MockReply::json(equivalent()),
        )
        .expect_body(json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "What is in this image?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
        ]}]})),
    );
    let stop_body = json!({
        "choices": [{"finish_reason": "stop", "index": 0, "logprobs": null,
                     "message": {"content": "Paris.", "role": "assistant"}}],
        "created": 1741372335, "id": "", "model": MODEL, "object": "chat.completion",
        "system_fingerprint": "3.1.2-dev0-native",
        "usage": {"completion_tokens": 3, "prompt_tokens": 12, "total_tokens": 15}
    });
    v.push(
        Scenario::new(
            "finish stop (synthetic body)",
            vec![Category::Finish(FinishReason::Stop)],
            Call::Chat(ChatRequest::new(
                MODEL,
                vec![Message::user("Capital of France?")],
            )),
            MockReply::json(stop_body.to_string()),
        )
        .expect_chat(|r| {
            if r.finish_reason != FinishReason::Stop
                || r.message.text().as_deref() != Some("Paris.")
            {
                return Err(format!("{r:?}"));
            }
            Ok(())
        }),
    );
    let mut creq = CompletionRequest {
        model: MODEL.into(),
        prompt: "What is Deep Learning?".into(),
        ..Default::default()
    };
    creq.max_tokens = Some(10);
    v.push(
        Scenario::new(
            "completion over chat (body synthetic)",
            vec![Category::Completion],
            Call::Complete(creq),
            MockReply::json(equivalent()),
        )
        .expect_body(json!({"max_tokens": 10, "messages": [{"role": "user", "content": "What is Deep Learning?"}]}))
        .expect_completion(|c| {
            if c.text != EQUIVALENT_TEXT || c.finish_reason != FinishReason::Length {
                return Err(format!("{c:?}"));
            }
            Ok(())
        }),
    );
    v.push(
        Scenario::new(
            "TGI 422 context length (synthetic body, TGI's validation message)",
            vec![Category::Extra],
            Call::Chat(ChatRequest::new(MODEL, vec![Message::user("long")])),
            MockReply {
                status: 422,
                ..MockReply::json(r#"{"error":"Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4000 `inputs` tokens and 200 `max_new_tokens`","error_type":"validation"}"#)
            },
        )
        .expect_error(|e| match e {
            Error::ContextLengthExceeded { .. } if !e.is_retryable() => Ok(()),
            other => Err(format!("{other:?}")),
        }),
    );
    v.push(
        Scenario::new(
            "TGI 424 generation error is not retried (synthetic body)",
            vec![Category::Extra],
            Call::Chat(ChatRequest::new(MODEL, vec![Message::user("hi")])),
            MockReply {
                status: 424,
                ..MockReply::json(r#"{"error":"Request failed during generation: Server error: CUDA out of memory","error_type":"generation"}"#)
            },
        )
        .expect_error(|e| match e {
            Error::Api { status: 424, error_type: Some(t), .. }
                if t == "generation" && !e.is_retryable() =>
            {
                Ok(())
            }
            other => Err(format!("{other:?}")),
        }),
    );
    v.push(
        Scenario::new(
            "TGI error object mid-stream (synthetic transcript)",
            vec![Category::Extra],
            Call::Stream(ChatRequest::new(MODEL, vec![Message::user("hi")])),
            MockReply::sse({
                let text = String::from_utf8(tgi_sse("completion-stream-usage.chunks.json", false))
                    .unwrap();
                let mut s: String = text.split_inclusive("\n\n").take(2).collect();
                s.push_str(
                    "data:{\"error\":\"Model is overloaded\",\"error_type\":\"overloaded\"}\n\n",
                );
                s.into_bytes()
            }),
        )
        .expect_error(|e| match e {
            Error::Stream {
                error_type: Some(t),
                content_sent: true,
                transient: true,
                ..
            } if t == "overloaded" && !e.is_retryable() => Ok(()),
            other => Err(format!("{other:?}")),
        }),
    );
    v.extend(embedding_scenarios());
    v
}

fn tgi_error_body(status: u16, msg: &str) -> String {
    let t = match status {
        400 | 422 => "validation",
        424 => "generation",
        429 => "overloaded",
        500 => "incomplete_generation",
        _ => "unknown",
    };
    json!({"error": msg, "error_type": t}).to_string()
}

fn messages_target() -> Target {
    let event = "data:{\"choices\":[{\"delta\":{\"content\":\"hi\",\"role\":\"assistant\",\"tool_calls\":null},\"finish_reason\":null,\"index\":0,\"logprobs\":null}],\"created\":1,\"id\":\"\",\"model\":\"m\",\"object\":\"chat.completion.chunk\",\"system_fingerprint\":\"3.1.2-dev0-native\",\"usage\":null}\n\n";
    Target {
        name: "huggingface".into(),
        build: Arc::new(common::dyn_messages),
        model: MODEL.into(),
        chat_path: "/v1/chat/completions$".into(),
        stream_path: "/v1/chat/completions$".into(),
        embed_path: "/pipeline/feature-extraction$".into(),
        completion_path: "/v1/chat/completions$".into(),
        error_body: Arc::new(tgi_error_body),
        auth_header: ("authorization".into(), format!("Bearer {TEST_KEY}")),
        stream_event: event.as_bytes().to_vec(),
        stream_content_type: "text/event-stream".into(),
        scenarios: messages_scenarios(),
        not_applicable: vec![(
            Category::Finish(FinishReason::ContentFilter),
            "TGI has no content filter: its finish reasons are length, eos_token and \
             stop_sequence"
                .into(),
        )],
    }
}

#[tokio::test]
async fn conformance_messages_api() {
    runtime_conformance::run(messages_target()).await.finish();
}

fn generate_scenarios() -> Vec<Scenario> {
    let mut v = Vec::new();
    let quick: serde_json::Value = fixtures::json(DIR, "generate-quicktour.request.json");
    let mut creq = CompletionRequest {
        model: "tgi".into(),
        prompt: "What is Deep Learning?".into(),
        ..Default::default()
    };
    creq.max_tokens = Some(20);
    v.push(
        Scenario::new(
            "generate-quicktour",
            vec![Category::Completion],
            Call::Complete(creq),
            MockReply::json(body("generate-quicktour.response.json")),
        )
        .expect_body(quick)
        .expect_completion(|c| {
            if !c
                .text
                .starts_with("\n\nDeep Learning is a subset of Machine Learning")
            {
                return Err(format!("{c:?}"));
            }
            Ok(())
        }),
    );
    let details = || MockReply {
        // The x-prompt-tokens header is synthetic: the recording kept only the body.
        headers: vec![("x-prompt-tokens".into(), "7".into())],
        ..MockReply::json(body("generate-details.response.json"))
    };
    let details_check = |r: &runtime_core::ChatResponse| {
        if r.message.text().as_deref() != Some(" for /api/v1/projects/1")
            || r.finish_reason != FinishReason::Length
            || r.usage != Some(Usage::new(7, 10))
        {
            return Err(format!("{r:?}"));
        }
        Ok(())
    };
    v.push(
        Scenario::new(
            "generate-details (x-prompt-tokens header synthetic)",
            vec![
                Category::PlainChat,
                Category::Usage,
                Category::Finish(FinishReason::Length),
            ],
            Call::Chat(ChatRequest::new("tgi", vec![Message::user("Test request")])),
            details(),
        )
        .expect_body(json!({"inputs": "Test request", "parameters": {"details": true, "return_full_text": false, "do_sample": true}}))
        .expect_chat(details_check),
    );
    v.push(
        Scenario::new(
            "generate_stream from the recorded tokens folds to /generate",
            vec![Category::StreamEqualsChat, Category::Streaming],
            Call::StreamEqualsChat(
                ChatRequest::new("tgi", vec![Message::user("Test request")]),
                MockReply::sse(generate_stream_from_details(7)),
            ),
            details(),
        )
        .expect_chat(details_check),
    );
    for (reason, text) in [("eos_token", "Paris."), ("stop_sequence", "Paris.\n")] {
        let b = json!({"generated_text": text, "details": {"finish_reason": reason, "generated_tokens": 3, "seed": null, "prefill": [], "tokens": []}});
        v.push(
            Scenario::new(
                &format!("finish {reason} (synthetic body)"),
                vec![Category::Finish(FinishReason::Stop)],
                Call::Chat(ChatRequest::new(
                    "tgi",
                    vec![Message::user("Capital of France?")],
                )),
                MockReply::json(b.to_string()),
            )
            .expect_chat(move |r| {
                if r.finish_reason != FinishReason::Stop
                    || r.message.text().as_deref() != Some(text)
                {
                    return Err(format!("{r:?}"));
                }
                Ok(())
            }),
        );
    }
    v.push(
        Scenario::new(
            "a system prompt cannot be expressed without a chat template",
            vec![Category::Extra],
            Call::Chat(ChatRequest::new(
                "tgi",
                vec![Message::system("be terse"), Message::user("hi")],
            )),
            MockReply::json(body("generate-quicktour.response.json")),
        )
        .expect_error(|e| match e.param() {
            Some("messages") if matches!(e, Error::InvalidRequest { .. }) => Ok(()),
            _ => Err(format!("{e:?}")),
        }),
    );
    let mut schema = ChatRequest::new("tgi", vec![Message::user("Give me a person as JSON")]);
    schema.temperature = Some(0.0);
    schema.response_format = Some(ResponseFormat::JsonSchema {
        json_schema: JsonSchemaFormat {
            name: "person".into(),
            description: None,
            schema: Some(json!({"type": "object", "properties": {"name": {"type": "string"}}})),
            strict: Some(true),
        },
    });
    v.push(
        Scenario::new(
            "response_format json_schema → grammar, temperature 0 → greedy",
            vec![Category::Extra],
            Call::Chat(schema),
            MockReply::json(body("generate-quicktour.response.json")),
        )
        .expect_body(json!({"parameters": {
            "do_sample": false,
            "grammar": {"type": "json", "value": {"type": "object", "properties": {"name": {"type": "string"}}}}
        }})),
    );
    v.extend(embedding_scenarios());
    v
}

fn generate_target() -> Target {
    let event = "data:{\"index\":1,\"token\":{\"id\":1,\"text\":\"hi\",\"logprob\":-0.1,\"special\":false},\"generated_text\":null,\"details\":null}\n\n";
    Target {
        name: "huggingface-generate".into(),
        build: Arc::new(common::dyn_generate),
        model: "tgi".into(),
        chat_path: "/generate$".into(),
        stream_path: "/generate_stream$".into(),
        embed_path: "/pipeline/feature-extraction$".into(),
        completion_path: "/generate$".into(),
        error_body: Arc::new(tgi_error_body),
        auth_header: ("authorization".into(), format!("Bearer {TEST_KEY}")),
        stream_event: event.as_bytes().to_vec(),
        stream_content_type: "text/event-stream".into(),
        scenarios: generate_scenarios(),
        not_applicable: vec![
            (
                Category::SystemPrompt,
                "api = generate sends one prompt without a chat template; a system prompt is an \
                 InvalidRequest naming `messages` (checked by a scenario); use api = messages"
                    .into(),
            ),
            (
                Category::Finish(FinishReason::ContentFilter),
                "TGI has no content filter: its finish reasons are length, eos_token and \
                 stop_sequence"
                    .into(),
            ),
        ],
    }
}

#[tokio::test]
async fn conformance_generate_api() {
    runtime_conformance::run(generate_target()).await.finish();
}
