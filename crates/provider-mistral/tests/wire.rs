//! Request specs of the Mistral provider: where FIM goes, and the body quirks, snapshotted.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use provider_mistral::MistralSettings;
use runtime_core::http::{HttpClient, HttpRequestSpec};
use runtime_core::{
    AssistantMessage, ChatRequest, CompletionRequest, Content, Message, RequestContext, Secret,
    ToolCall,
};
use serde_json::Value;

fn provider() -> provider_mistral::MistralProvider {
    let mut s = MistralSettings::new("mistral", Secret::new("k"));
    s.base_url = "http://127.0.0.1:9/v1".into();
    s.build(HttpClient::new(&Default::default()).unwrap())
}

fn body(spec: &HttpRequestSpec) -> Value {
    serde_json::from_slice(spec.body.as_deref().unwrap()).unwrap()
}

#[test]
fn codestral_completions_go_to_fim_with_suffix_and_random_seed() {
    let p = provider();
    let mut req = CompletionRequest {
        model: "codestral-latest".into(),
        prompt: "def fibonacci(n: int):".into(),
        suffix: Some("n = int(input('Enter a number: '))\nprint(fibonacci(n))".into()),
        max_tokens: Some(64),
        temperature: Some(0.0),
        seed: Some(7),
        ..CompletionRequest::default()
    };
    req.extra.insert("min_tokens".into(), 1.into());
    let spec = p
        .fim_spec(&req, &req.model, false, &RequestContext::new())
        .unwrap();
    assert_eq!(spec.url, "http://127.0.0.1:9/v1/fim/completions");
    insta::assert_json_snapshot!("fim_body", body(&spec));
    let mut bad = req.clone();
    bad.presence_penalty = Some(0.5);
    let e = p
        .fim_spec(&bad, &bad.model, false, &RequestContext::new())
        .unwrap_err();
    assert!(e.to_string().contains("presence_penalty"), "{e}");
}

#[test]
fn foreign_tool_call_ids_are_mapped_and_a_trailing_assistant_message_is_a_prefix() {
    let p = provider();
    let req = ChatRequest::new(
        "mistral-small-latest",
        vec![
            Message::user("What's the status of T1001?"),
            Message::Assistant(AssistantMessage {
                tool_calls: vec![ToolCall::new(
                    "call_abc123",
                    "retrieve_payment_status",
                    r#"{"transaction_id":"T1001"}"#,
                )],
                ..AssistantMessage::default()
            }),
            Message::tool("call_abc123", r#"{"status":"Paid"}"#),
            Message::Assistant(AssistantMessage {
                content: Some(Content::Text("The status is".into())),
                ..AssistantMessage::default()
            }),
        ],
    );
    let spec = p
        .chat_spec(&req, &req.model, false, &RequestContext::new())
        .unwrap();
    assert_eq!(spec.url, "http://127.0.0.1:9/v1/chat/completions");
    let b = body(&spec);
    let id = b["messages"][1]["tool_calls"][0]["id"].as_str().unwrap();
    assert_eq!(id.len(), 9);
    assert!(id.bytes().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(b["messages"][2]["tool_call_id"], id);
    assert_eq!(b["messages"][3]["prefix"], true);
    assert!(b["messages"][1].get("prefix").is_none());
    insta::assert_json_snapshot!("chat_ids_and_prefix", b);
}
