//! Every OpenAI fixture: request bodies snapshotted after translation, responses parsed, streams
//! decoded under every re-chunking.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use provider_openai::wire::{self, ChunkDecoder, MaxTokensField, RequestOptions};
use runtime_core::{ChatRequest, ChatResponse, Provider, RequestContext};
use runtime_testkit::{fixtures, stream};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const OPTS: RequestOptions = RequestOptions {
    max_tokens_field: MaxTokensField::MaxCompletionTokens,
    stream_usage: true,
    reasoning_content: false,
};

/// Fixture files this test file covers (others are covered by tests/conformance.rs).
const REQUESTS: &[&str] = &[
    "chat-basic-system.request.json",
    "chat-stream-parallel-tool-calls.request.json",
    "chat-stream-text-include-usage.request.json",
    "chat-tool-call.request.json",
    "chat-tool-result-followup.request.json",
    "error-400-unsupported-value.request.json",
    "error-404-model-not-found.request.json",
    "stream-moderation-extra-chunk.request.json",
    "stream-parallel-tool-calls-split-args.request.json",
    "stream-tool-call-split-args-usage.request.json",
];

const STREAMS: &[&str] = &[
    "chat-stream-parallel-tool-calls.response.sse",
    "chat-stream-text-include-usage.response.sse",
    "stream-moderation-extra-chunk.response.sse",
    "stream-parallel-tool-calls-split-args.response.sse",
    "stream-tool-call-split-args-usage.response.sse",
];

#[test]
fn request_fixtures_translate_to_the_same_wire_body() {
    for name in REQUESTS {
        let original = fixtures::json("openai", name);
        let req: ChatRequest = serde_json::from_value(original.clone()).unwrap();
        let stream = req.stream.unwrap_or(false);
        let body =
            serde_json::to_value(wire::chat_request(&req, &req.model, stream, OPTS)).unwrap();
        insta::assert_json_snapshot!(format!("request__{name}"), body);
        // Everything the client sent reaches the wire (max_tokens is renamed, usage is asked for).
        let mut want = original.clone();
        if let Some(obj) = want.as_object_mut() {
            if let Some(v) = obj.remove("max_tokens") {
                obj.insert("max_completion_tokens".into(), v);
            }
            // Assistant turns that only call tools carry an explicit `content: null`.
            if let Some(msgs) = obj.get_mut("messages").and_then(|m| m.as_array_mut()) {
                for m in msgs {
                    if m["role"] == "assistant" && m.get("content").is_none() {
                        m["content"] = serde_json::Value::Null;
                    }
                }
            }
            if stream {
                obj.insert(
                    "stream_options".into(),
                    serde_json::json!({"include_usage": true}),
                );
            } else {
                obj.remove("stream");
            }
        }
        assert_eq!(body, want, "{name}");
    }
}

#[test]
fn response_fixtures_parse() {
    for name in [
        "chat-basic-system.response.json",
        "chat-tool-call.response.json",
        "chat-tool-result-followup.response.json",
        "chat-nonstream-long.response.json",
    ] {
        let body: wire::ChatCompletion =
            serde_json::from_value(fixtures::json("openai", name)).unwrap();
        let resp = wire::parse_chat(body, "openai", "m").unwrap();
        insta::assert_json_snapshot!(format!("response__{name}"), resp);
    }
    let c: wire::TextCompletion =
        serde_json::from_value(fixtures::json("openai", "completions-legacy.response.json"))
            .unwrap();
    insta::assert_json_snapshot!(
        "response__completions-legacy",
        wire::parse_completion(c, "openai", "m").unwrap()
    );
    let m: wire::ModelList =
        serde_json::from_value(fixtures::json("openai", "models-list.response.json")).unwrap();
    let models = wire::parse_models(m, "openai", &provider_openai::catalog("openai"));
    assert!(
        models
            .iter()
            .any(|m| m.id == "gpt-3.5-turbo" && m.supports_tools)
    );
    assert!(
        models
            .iter()
            .any(|m| m.id == "text-embedding-ada-002"
                && m.kind == runtime_core::ModelKind::Embedding)
    );
}

fn fold_sse(pieces: &[Vec<u8>]) -> Result<ChatResponse, runtime_core::Error> {
    let events = stream::decode_sse(pieces, &mut ChunkDecoder::new("openai", "m")).into_result()?;
    Ok(stream::fold(&events))
}

#[test]
fn streams_fold_the_same_under_every_rechunking() {
    for name in STREAMS {
        let bytes = fixtures::bytes("openai", name);
        let whole = fold_sse(std::slice::from_ref(&bytes)).unwrap();
        insta::assert_json_snapshot!(format!("stream__{name}"), whole);
        for pieces in fixtures::rechunkings(&bytes, 20) {
            assert_eq!(fold_sse(&pieces).unwrap(), whole, "{name}");
        }
    }
}

#[test]
fn jsonl_chunk_fixtures_decode() {
    let chat = fixtures::jsonl_to_sse(
        &fixtures::text("openai", "chat-stream-text.chunks.jsonl"),
        true,
    );
    let r = fold_sse(&[chat.into_bytes()]).unwrap();
    assert!(r.message.text().unwrap().len() > 200);
    assert_eq!(r.finish_reason, runtime_core::FinishReason::Stop);
    let legacy = fixtures::jsonl_to_sse(
        &fixtures::text("openai", "completions-legacy-stream.chunks.jsonl"),
        true,
    );
    let r = fold_sse(&[legacy.into_bytes()]).unwrap();
    assert!(
        r.message.text().unwrap().starts_with("The holiday"),
        "{:?}",
        r.message.text()
    );
    assert_eq!(r.finish_reason, runtime_core::FinishReason::Length);
    assert_eq!(r.usage.unwrap().total_tokens, 30);
}

#[tokio::test]
async fn organization_project_and_models_list() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/models"))
        .and(header("authorization", "Bearer sk-test"))
        .and(header("openai-organization", "org-1"))
        .and(header("openai-project", "proj-1"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixtures::bytes("openai", "models-list.response.json"),
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let mut s =
        provider_openai::OpenAiSettings::new("openai", runtime_core::Secret::new("sk-test"));
    s.base_url = server.uri();
    s.organization = Some("org-1".into());
    s.project = Some("proj-1".into());
    let p = s.build(runtime_core::http::HttpClient::new(&Default::default()).unwrap());
    let models = p.list_models(&RequestContext::new()).await.unwrap();
    assert!(models.len() > 3);
}

#[tokio::test]
async fn invalid_key_on_models_is_authentication_and_hides_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/models"))
        .respond_with(ResponseTemplate::new(401).set_body_raw(
            fixtures::bytes("openai", "error-401-invalid-api-key-models.response.json"),
            "application/json",
        ))
        .mount(&server)
        .await;
    let p = common::provider(&server.uri(), "sk-invalid-key", Duration::from_secs(5));
    let e = p.list_models(&RequestContext::new()).await.unwrap_err();
    assert!(
        matches!(e, runtime_core::Error::Authentication { status: 401, .. }),
        "{e:?}"
    );
    assert!(!format!("{e:?}").contains("sk-invalid-key"));
}

#[tokio::test]
async fn model_not_found_fixture() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(404).set_body_raw(
            fixtures::bytes("openai", "error-404-model-not-found.response.json"),
            "application/json",
        ))
        .mount(&server)
        .await;
    let p = common::provider(&server.uri(), "sk", Duration::from_secs(5));
    let req: ChatRequest = serde_json::from_value(fixtures::json(
        "openai",
        "error-404-model-not-found.request.json",
    ))
    .unwrap();
    let e = p.chat(&req, &RequestContext::new()).await.unwrap_err();
    assert!(
        matches!(e, runtime_core::Error::ModelNotFound { .. }),
        "{e:?}"
    );
}

#[tokio::test]
async fn unsupported_parameter_fixture_is_an_invalid_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(
            fixtures::bytes("openai", "error-400-unsupported-parameter.response.json"),
            "application/json",
        ))
        .mount(&server)
        .await;
    let p = common::provider(&server.uri(), "sk", Duration::from_secs(5));
    let e = p
        .chat(
            &ChatRequest::new("o1", vec![runtime_core::Message::user("x")]),
            &RequestContext::new(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, runtime_core::Error::InvalidRequest { param: Some(p), .. } if p == "max_tokens"),
        "{e:?}"
    );
}

#[test]
fn every_fixture_is_used() {
    let sources = include_str!("fixtures.rs");
    let cases = fixtures::used_by_cases(
        "openai",
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance")),
    );
    for f in fixtures::list("openai") {
        if f.ends_with(".meta.json") {
            continue;
        }
        assert!(
            sources.contains(&f) || cases.contains(&f),
            "fixture openai/{f} is not exercised by any test"
        );
    }
}
