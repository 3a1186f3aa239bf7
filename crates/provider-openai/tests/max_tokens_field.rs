//! Which field carries the output-token limit (issue 15): `max_completion_tokens` only where the
//! upstream needs it — OpenAI's own API, for the models that reject `max_tokens` — and
//! `max_tokens` on any other base URL, unless the `max_tokens_field` setting says otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use provider_openai::{FACTORY, OpenAiSettings};
use runtime_core::http::HttpClient;
use runtime_core::registry::validate_with;
use runtime_core::{BuildContext, ChatRequest, Message, RequestContext, Secret};
use serde_json::{Map, Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn request(model: &str) -> ChatRequest {
    let mut r = ChatRequest::new(model, vec![Message::user("hi")]);
    r.max_tokens = Some(64);
    r
}

/// The body the provider built for `model` against `base_url` (nothing is sent).
fn body(base_url: &str, model: &str) -> Value {
    let mut s = OpenAiSettings::new("openai", Secret::new("sk-test"));
    s.base_url = base_url.to_owned();
    let p = s.build(HttpClient::new(&Default::default()).unwrap());
    p.chat_spec(&request(model), model, false, &RequestContext::new())
        .unwrap()
        .json_body()
        .unwrap()
}

fn field(body: &Value) -> (&'static str, u64) {
    match (body.get("max_tokens"), body.get("max_completion_tokens")) {
        (Some(v), None) => ("max_tokens", v.as_u64().unwrap()),
        (None, Some(v)) => ("max_completion_tokens", v.as_u64().unwrap()),
        other => panic!("expected exactly one token-limit field, got {other:?}"),
    }
}

#[test]
fn openai_host_uses_max_completion_tokens_only_for_the_models_that_require_it() {
    let base = provider_openai::DEFAULT_BASE_URL;
    for model in [
        "o3",
        "o4-mini",
        "o1-mini",
        "gpt-5",
        "gpt-5-mini",
        "codex-mini-latest",
    ] {
        assert_eq!(
            field(&body(base, model)),
            ("max_completion_tokens", 64),
            "{model}"
        );
    }
    for model in ["gpt-4o", "gpt-4.1-mini", "gpt-3.5-turbo"] {
        assert_eq!(field(&body(base, model)), ("max_tokens", 64), "{model}");
    }
}

#[test]
fn any_other_base_url_gets_max_tokens_even_for_reasoning_model_names() {
    for base in [
        "http://127.0.0.1:8000/v1",
        "https://gateway.example.com/openai/v1",
        "https://api.openai.com.evil.example/v1",
    ] {
        for model in ["o3", "gpt-5", "gpt-4o"] {
            assert_eq!(
                field(&body(base, model)),
                ("max_tokens", 64),
                "{base} {model}"
            );
        }
    }
}

/// Builds through the registry with `max_tokens_field` set, sends one chat to a mock, and
/// returns the body the mock received.
async fn sent_with_setting(setting: Option<&str>, model: &str) -> Value {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                         "finish_reason": "stop"}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let mut table = Map::new();
    table.insert("api_key".into(), json!("sk-test"));
    table.insert("base_url".into(), json!(format!("{}/v1", server.uri())));
    if let Some(s) = setting {
        table.insert("max_tokens_field".into(), json!(s));
    }
    let cfg = validate_with(&FACTORY, "openai", &table, &|_| None).unwrap();
    let ctx = BuildContext::new(HttpClient::new(&Default::default()).unwrap());
    let p = (FACTORY.build)(cfg, &ctx).unwrap();
    p.chat(&request(model), &RequestContext::new())
        .await
        .unwrap();
    let received: Vec<Request> = server.received_requests().await.unwrap();
    serde_json::from_slice(&received[0].body).unwrap()
}

#[tokio::test]
async fn the_setting_overrides_auto_and_auto_is_the_default() {
    // Default (`auto`) against a non-OpenAI host: max_tokens, whatever the model.
    assert_eq!(
        field(&sent_with_setting(None, "o3").await),
        ("max_tokens", 64)
    );
    assert_eq!(
        field(&sent_with_setting(Some("auto"), "o3").await),
        ("max_tokens", 64)
    );
    // A proxy in front of OpenAI asks for the field explicitly.
    assert_eq!(
        field(&sent_with_setting(Some("max_completion_tokens"), "gpt-4o").await),
        ("max_completion_tokens", 64)
    );
    assert_eq!(
        field(&sent_with_setting(Some("max_tokens"), "o3").await),
        ("max_tokens", 64)
    );
}

#[test]
fn a_bad_setting_is_a_config_error_naming_the_field() {
    let mut table = Map::new();
    table.insert("api_key".into(), json!("sk-test"));
    table.insert("max_tokens_field".into(), json!("max_output_tokens"));
    let cfg = validate_with(&FACTORY, "openai", &table, &|_| None).unwrap();
    let ctx = BuildContext::new(HttpClient::new(&Default::default()).unwrap());
    let Err(err) = (FACTORY.build)(cfg, &ctx) else {
        panic!("an unknown max_tokens_field must not build");
    };
    assert!(
        matches!(&err, runtime_core::Error::InvalidConfig { field, .. } if field == "max_tokens_field"),
        "{err:?}"
    );
}
