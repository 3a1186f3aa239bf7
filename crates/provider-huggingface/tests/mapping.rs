//! What cannot be expressed is a typed error naming the field, never dropped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use provider_huggingface::embeddings::{self, Pooling};
use provider_huggingface::wire::{self, GenerateInput};
use runtime_core::{
    AssistantMessage, ChatRequest, CompletionRequest, Content, ContentPart, EmbeddingRequest,
    Error, Message, ToolChoice, ToolDefinition,
};
use serde_json::json;

fn param_of(e: &Error) -> Option<&str> {
    match e {
        Error::InvalidRequest { param, .. } => param.as_deref(),
        _ => None,
    }
}

fn gen_chat(req: &ChatRequest) -> Result<serde_json::Value, Error> {
    let input = GenerateInput::from_chat(req, &req.model, "hf")?;
    wire::generate_request(&input, "hf").map(|b| serde_json::to_value(b).unwrap())
}

#[test]
fn generate_rejects_what_it_cannot_express() {
    let user = || ChatRequest::new("tgi", vec![Message::user("hi")]);
    let cases: Vec<(ChatRequest, &str)> = vec![
        (
            ChatRequest::new("tgi", vec![Message::system("s"), Message::user("hi")]),
            "messages",
        ),
        (
            ChatRequest::new(
                "tgi",
                vec![
                    Message::user("hi"),
                    Message::assistant("hello"),
                    Message::user("again"),
                ],
            ),
            "messages",
        ),
        (
            ChatRequest::new("tgi", vec![Message::Assistant(AssistantMessage::default())]),
            "messages",
        ),
        (ChatRequest::new("tgi", vec![]), "messages"),
        (
            ChatRequest::new(
                "tgi",
                vec![Message::User {
                    content: Content::Text("hi".into()),
                    name: Some("bob".into()),
                }],
            ),
            "messages[0].name",
        ),
        (
            ChatRequest {
                presence_penalty: Some(0.5),
                ..user()
            },
            "presence_penalty",
        ),
        (
            ChatRequest {
                user: Some("u-1".into()),
                ..user()
            },
            "user",
        ),
        (
            ChatRequest {
                seed: Some(-1),
                ..user()
            },
            "seed",
        ),
        (
            ChatRequest {
                temperature: Some(-0.5),
                ..user()
            },
            "temperature",
        ),
        (
            ChatRequest {
                top_p: Some(0.0),
                ..user()
            },
            "top_p",
        ),
        (
            ChatRequest {
                tool_choice: Some(ToolChoice::Required),
                ..user()
            },
            "tool_choice",
        ),
    ];
    for (req, param) in cases {
        let e = gen_chat(&req).unwrap_err();
        assert_eq!(param_of(&e), Some(param), "{e:?}");
        assert!(!e.is_retryable());
    }
    let mut extra = user();
    extra.extra.insert("logprobs".into(), json!(true));
    let e = gen_chat(&extra).unwrap_err();
    assert_eq!(param_of(&e), Some("logprobs"));
    assert!(e.to_string().contains("top_k"), "lists the known ones: {e}");

    let mut tools = user();
    tools.tools = vec![ToolDefinition::function("f", "d", json!({}))];
    assert!(matches!(gen_chat(&tools), Err(Error::Unsupported { .. })));
    let image = ChatRequest::new(
        "tgi",
        vec![Message::User {
            content: Content::Parts(vec![ContentPart::image_url("https://x/y.png")]),
            name: None,
        }],
    );
    assert!(matches!(gen_chat(&image), Err(Error::Unsupported { .. })));

    // No-ops without tools are accepted.
    let mut auto = user();
    auto.tool_choice = Some(ToolChoice::Auto);
    auto.parallel_tool_calls = Some(false);
    assert!(gen_chat(&auto).is_ok());

    let suffix = CompletionRequest {
        model: "tgi".into(),
        prompt: "def f(".into(),
        suffix: Some("return x".into()),
        ..Default::default()
    };
    let e = GenerateInput::from_completion(&suffix, &suffix.model, "hf").unwrap_err();
    assert_eq!(param_of(&e), Some("suffix"));
}

#[test]
fn embeddings_reject_what_they_cannot_express() {
    let base = || EmbeddingRequest::new("BAAI/bge-small-en-v1.5", vec!["x".into()]);
    let e =
        embeddings::embedding_request(&EmbeddingRequest::new("m", vec![]), "m", "hf").unwrap_err();
    assert_eq!(param_of(&e), Some("input"));
    let e = embeddings::embedding_request(
        &EmbeddingRequest {
            dimensions: Some(256),
            ..base()
        },
        "BAAI/bge-small-en-v1.5",
        "hf",
    )
    .unwrap_err();
    assert_eq!(param_of(&e), Some("dimensions"));
    let e = embeddings::embedding_request(
        &EmbeddingRequest {
            user: Some("u".into()),
            ..base()
        },
        "BAAI/bge-small-en-v1.5",
        "hf",
    )
    .unwrap_err();
    assert_eq!(param_of(&e), Some("user"));
    let mut extra = base();
    extra.extra.insert("task_type".into(), json!("retrieval"));
    let e = embeddings::embedding_request(&extra, &extra.model, "hf").unwrap_err();
    assert_eq!(param_of(&e), Some("task_type"));

    // Token-level answer with pooling = none names `pooling`.
    let e = embeddings::parse_embeddings(
        b"[[1.0, 2.0], [3.0, 4.0]]",
        1,
        Pooling::None,
        false,
        "hf",
        "m",
    )
    .unwrap_err();
    assert_eq!(param_of(&e), Some("pooling"));
    // A wrong shape is a decode error (never retried).
    let e =
        embeddings::parse_embeddings(b"[[1.0], [2.0], [3.0]]", 2, Pooling::Mean, false, "hf", "m")
            .unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    let e = embeddings::parse_embeddings(b"{\"error\":\"x\"}", 1, Pooling::Mean, false, "hf", "m")
        .unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    // Pooled + normalized answer.
    let r = embeddings::parse_embeddings(
        b"[[[3.0, 0.0], [3.0, 8.0]]]",
        1,
        Pooling::Mean,
        true,
        "hf",
        "m",
    )
    .unwrap();
    assert_eq!(r.data[0].embedding, vec![0.6, 0.8]);
    let r = embeddings::parse_embeddings(
        b"[[[3.0, 4.0], [9.0, 9.0]]]",
        1,
        Pooling::Cls,
        false,
        "hf",
        "m",
    )
    .unwrap();
    assert_eq!(r.data[0].embedding, vec![3.0, 4.0]);
}

#[test]
fn tool_call_arguments_as_an_object_are_json_text() {
    // Synthetic: TGI's server writes `function.arguments` as a JSON object (the recorded
    // fixture has the string its test client re-serialized).
    let mut body = runtime_testkit::fixtures::json("tgi", "chat-tool-call-nostream.response.json");
    body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] =
        json!({"location": "Brooklyn, NY", "format": "fahrenheit"});
    let body: provider_openai::wire::ChatCompletion = serde_json::from_value(body).unwrap();
    let r = provider_openai::wire::parse_chat(body, "hf", "m").unwrap();
    let args: serde_json::Value =
        serde_json::from_str(&r.message.tool_calls[0].function.arguments).unwrap();
    assert_eq!(
        args,
        json!({"location": "Brooklyn, NY", "format": "fahrenheit"})
    );
    assert_eq!(r.finish_reason, runtime_core::FinishReason::ToolCalls);
}
