//! Translated request bodies and parsed responses, as insta snapshots (`tests/snapshots/`): the
//! snapshots are the spec of the mapping.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{DIR, tgi_sse};
use http::HeaderMap;
use insta::assert_json_snapshot;
use provider_huggingface::wire::{self, GenerateInput, MessagesChunkDecoder};
use provider_huggingface::{Api, HuggingFaceProvider, embeddings};
use runtime_conformance::json_contains;
use runtime_core::{
    AssistantMessage, ChatRequest, CompletionRequest, Content, ContentPart, EmbeddingRequest,
    JsonSchemaFormat, Message, RequestContext, ResponseFormat, ToolCall, ToolChoice,
    ToolDefinition,
};
use runtime_testkit::fixtures;
use serde_json::json;

const MODEL: &str = "meta-llama/Llama-3.1-8B-Instruct";

fn messages_provider() -> HuggingFaceProvider {
    common::provider(
        "http://127.0.0.1:9",
        Some("hf_test"),
        Api::Messages,
        Duration::from_secs(5),
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
    r.tools = vec![ToolDefinition::function(
        "get_current_weather",
        "Get the current weather",
        json!({"type": "object", "properties": {"location": {"type": "string"}, "format": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["location", "format"]}),
    )];
    r.tool_choice = Some(ToolChoice::Required);
    r.max_tokens = Some(100);
    r.seed = Some(1);
    r.temperature = Some(0.0);
    r
}

#[test]
fn generate_quicktour_request() {
    let fixture = fixtures::json(DIR, "generate-quicktour.request.json");
    let req = CompletionRequest {
        model: "tgi".into(),
        prompt: fixture["inputs"].as_str().unwrap().into(),
        max_tokens: Some(20),
        ..Default::default()
    };
    let input = GenerateInput::from_completion(&req, &req.model, "hf").unwrap();
    let body = serde_json::to_value(wire::generate_request(&input, "hf").unwrap()).unwrap();
    assert!(json_contains(&body, &fixture), "{body:#}");
    assert_json_snapshot!("generate-quicktour.request", body);
}

#[test]
fn generate_chat_request_with_every_parameter() {
    let mut req = ChatRequest::new("tgi", vec![Message::user("Give me a person as JSON")]);
    req.max_tokens = Some(64);
    req.temperature = Some(0.7);
    req.top_p = Some(0.9);
    req.stop = vec!["\n\n".into(), "</s>".into()];
    req.seed = Some(42);
    req.frequency_penalty = Some(0.1);
    req.response_format = Some(ResponseFormat::JsonSchema {
        json_schema: JsonSchemaFormat {
            name: "person".into(),
            description: None,
            schema: Some(json!({"type": "object", "properties": {"name": {"type": "string"}}})),
            strict: None,
        },
    });
    req.extra.insert("top_k".into(), json!(40));
    req.extra.insert("repetition_penalty".into(), json!(1.1));
    let input = GenerateInput::from_chat(&req, &req.model, "hf").unwrap();
    let body = serde_json::to_value(wire::generate_request(&input, "hf").unwrap()).unwrap();
    assert_json_snapshot!("generate-chat-all-parameters.request", body);

    // Greedy: temperature 0 and top_p 1 are OpenAI's "no sampling cut" and TGI rejects both.
    let mut greedy = ChatRequest::new(
        "tgi",
        vec![Message::User {
            content: Content::Parts(vec![
                ContentPart::Text {
                    text: "Hello, ".into(),
                },
                ContentPart::Text {
                    text: "world".into(),
                },
            ]),
            name: None,
        }],
    );
    greedy.temperature = Some(0.0);
    greedy.top_p = Some(1.0);
    greedy.response_format = Some(ResponseFormat::JsonObject);
    let input = GenerateInput::from_chat(&greedy, &greedy.model, "hf").unwrap();
    let body = serde_json::to_value(wire::generate_request(&input, "hf").unwrap()).unwrap();
    assert_json_snapshot!("generate-chat-greedy-json-object.request", body);
}

#[test]
fn messages_requests() {
    let p = messages_provider();
    let ctx = RequestContext::new();
    let spec = p
        .messages_spec(&tool_request(), MODEL, false, &ctx)
        .unwrap();
    assert!(spec.url.ends_with("/v1/chat/completions"), "{}", spec.url);
    assert_json_snapshot!("messages-tool-call.request", spec.json_body().unwrap());
    let spec = p.messages_spec(&tool_request(), MODEL, true, &ctx).unwrap();
    assert_json_snapshot!(
        "messages-tool-call-stream.request",
        spec.json_body().unwrap()
    );

    let mut followup = tool_request();
    followup.tool_choice = None;
    followup.temperature = None;
    followup.messages.push(Message::Assistant(AssistantMessage {
        content: None,
        tool_calls: vec![ToolCall::new(
            "0",
            "get_current_weather",
            r#"{"location":"Brooklyn, NY","format":"fahrenheit"}"#,
        )],
        ..AssistantMessage::default()
    }));
    followup.messages.push(Message::tool("0", "61 F"));
    let spec = p
        .messages_spec(&followup, &followup.model, false, &ctx)
        .unwrap();
    assert_json_snapshot!("messages-tool-result.request", spec.json_body().unwrap());

    let image = ChatRequest::new(
        "meta-llama/Llama-3.2-11B-Vision-Instruct",
        vec![Message::User {
            content: Content::Parts(vec![
                ContentPart::Text {
                    text: "What is in this image?".into(),
                },
                ContentPart::image_url("https://example.com/cat.png"),
            ]),
            name: None,
        }],
    );
    let spec = p.messages_spec(&image, &image.model, false, &ctx).unwrap();
    assert_json_snapshot!("messages-image.request", spec.json_body().unwrap());
}

#[test]
fn embedding_requests() {
    let one = EmbeddingRequest::new("BAAI/bge-small-en-v1.5", vec!["Hello".into()]);
    assert_json_snapshot!(
        "embeddings-one.request",
        embeddings::embedding_request(&one, &one.model, "hf").unwrap()
    );
    let mut many = EmbeddingRequest::new("BAAI/bge-small-en-v1.5", vec!["a".into(), "b".into()]);
    many.extra.insert("truncate".into(), json!(true));
    assert_json_snapshot!(
        "embeddings-many.request",
        embeddings::embedding_request(&many, &many.model, "hf").unwrap()
    );
}

#[test]
fn responses() {
    let body: provider_openai::wire::ChatCompletion =
        serde_json::from_value(fixtures::json(DIR, "chat-tool-call-nostream.response.json"))
            .unwrap();
    let r = provider_openai::wire::parse_chat(body, "huggingface", MODEL).unwrap();
    assert_json_snapshot!("chat-tool-call-nostream.response", r);

    let mut headers = HeaderMap::new();
    headers.insert("x-prompt-tokens", "7".parse().unwrap());
    let body: wire::GenerateResponse =
        serde_json::from_value(fixtures::json(DIR, "generate-details.response.json")).unwrap();
    let r = wire::parse_generate(body, &headers, "hf", "tgi");
    assert_json_snapshot!("generate-details.response", r);

    let body: wire::GenerateResponse =
        serde_json::from_value(fixtures::json(DIR, "generate-quicktour.response.json")).unwrap();
    let r = wire::parse_generate_completion(body, &HeaderMap::new(), "hf", "tgi");
    assert_json_snapshot!("generate-quicktour.response", r);
}

#[test]
fn stream_folds() {
    for name in [
        "chat-stream-tool-call.chunks.json",
        "chat-tool-insufficient-info-stream.chunks.json",
        "completion-stream-usage.chunks.json",
    ] {
        let f = common::fold(
            &[tgi_sse(name, true)],
            MessagesChunkDecoder::new("huggingface", MODEL),
        );
        assert_eq!(f.error, None);
        assert_json_snapshot!(format!("{name}.folded"), f.response);
    }
}
