//! The pure mappings against every recorded Gemini fixture: request bodies (insta snapshots,
//! and equal to the recordings), whole responses, embeddings and model lists.
#![allow(clippy::unwrap_used, clippy::panic, clippy::result_large_err)]

mod common;

use common::{DIR, body_of, core_embed_request, core_request, fixture_request, normalize};
use provider_google::wire::{self, GenerateContentResponse};
use runtime_core::{Error, FinishReason, ModelKind, Usage};
use runtime_testkit::fixtures;
use serde_json::json;

/// Every chat request fixture (the embedding one is below).
pub const CHAT_REQUESTS: &[&str] = &[
    "error-404-model-not-found.request.json",
    "function-call.request.json",
    "function-response-followup.request.json",
    "generate-basic.request.json",
    "generate-max-tokens.request.json",
    "generate-system-instruction.request.json",
    "generate-thinking-usage.request.json",
    "max-tokens-thinking-empty.request.json",
    "safety-block-empty-content.request.json",
    "stream-error-404-event-stream-content-type.request.json",
    "stream-function-call-thought-signature.request.json",
    "stream-sse-crlf.request.json",
];

#[test]
fn chat_requests_match_the_recordings() {
    for name in CHAT_REQUESTS {
        let body = body_of(&core_request(name));
        let stem = name.trim_end_matches(".request.json");
        insta::assert_json_snapshot!(format!("request__{stem}"), body);
        assert_eq!(
            normalize(&body),
            normalize(&fixture_request(name)),
            "{name}: built body differs from the recording"
        );
    }
}

#[test]
fn batch_embed_request_matches_the_recording() {
    let req = core_embed_request();
    let body = wire::batch_embed_request(
        &req,
        &req.model,
        &req.input,
        "models/gemini-embedding-2-preview",
        "google",
    )
    .unwrap();
    let body = serde_json::to_value(body).unwrap();
    insta::assert_json_snapshot!("request__batch-embed-contents", body);
    assert_eq!(body, fixture_request("batch-embed-contents.request.json"));
}

fn parse(name: &str, model: &str) -> Result<runtime_core::ChatResponse, Error> {
    let body: GenerateContentResponse =
        serde_json::from_slice(&fixtures::bytes(DIR, name)).unwrap();
    wire::parse_generate(body, "google", model)
}

#[test]
fn whole_responses() {
    for (name, model) in [
        ("generate-basic.response.json", "gemini-2.5-flash"),
        (
            "generate-system-instruction.response.json",
            "gemini-2.0-flash",
        ),
        ("generate-max-tokens.response.json", "gemini-2.5-flash"),
        ("max-tokens-thinking-empty.response.json", "gemini-2.5-pro"),
        (
            "generate-thinking-usage.response.json",
            "gemini-3-pro-preview",
        ),
        ("function-call.response.json", "gemini-2.0-flash-exp"),
        (
            "function-response-followup.response.json",
            "gemini-2.0-flash-exp",
        ),
        (
            "safety-block-empty-content.response.json",
            "gemini-1.5-flash",
        ),
    ] {
        let r = parse(name, model).unwrap();
        let stem = name.trim_end_matches(".response.json");
        insta::assert_json_snapshot!(format!("response__{stem}"), r);
    }
}

#[test]
fn basic_response_counts_every_token() {
    let r = parse("generate-basic.response.json", "gemini-2.5-flash").unwrap();
    assert_eq!(
        r.message.text().as_deref(),
        Some("Hello! How can I help you today?")
    );
    assert_eq!(r.id, "bzlXaa_EE_aHqtsPi_zw8Ao");
    assert_eq!(r.model, "gemini-2.5-flash");
    assert_eq!(r.finish_reason, FinishReason::Stop);
    assert_eq!(
        r.usage,
        Some(Usage {
            prompt_tokens: 9,
            completion_tokens: 43,
            total_tokens: 52,
            cached_prompt_tokens: 0,
            cache_creation_tokens: 0,
            reasoning_tokens: 34,
        })
    );
}

#[test]
fn thinking_response_keeps_thoughts_and_signature() {
    let r = parse("generate-thinking-usage.response.json", "m").unwrap();
    let raw = fixtures::json(DIR, "generate-thinking-usage.response.json");
    let parts = &raw["candidates"][0]["content"]["parts"];
    assert_eq!(r.message.reasoning.len(), 1);
    let b = &r.message.reasoning[0];
    assert_eq!(b.text.as_deref(), parts[0]["text"].as_str());
    assert_eq!(
        b.signature.as_deref(),
        parts[1]["thoughtSignature"].as_str()
    );
    assert_eq!(r.message.text().as_deref(), parts[1]["text"].as_str());
    let u = r.usage.unwrap();
    assert_eq!(
        (
            u.prompt_tokens,
            u.completion_tokens,
            u.reasoning_tokens,
            u.total_tokens
        ),
        (29, 1737, 1001, 1766)
    );

    // The answer pushed back into the history reproduces the recorded parts.
    let mut next = core_request("generate-thinking-usage.request.json");
    next.messages
        .push(runtime_core::Message::Assistant(r.message.clone()));
    next.messages.push(runtime_core::Message::user("thanks"));
    let body = body_of(&next);
    assert_eq!(body["contents"][1]["role"], "model");
    assert_eq!(body["contents"][1]["parts"], *parts);
}

#[test]
fn max_tokens_with_no_parts() {
    let r = parse("max-tokens-thinking-empty.response.json", "gemini-2.5-pro").unwrap();
    assert_eq!(r.finish_reason, FinishReason::Length);
    assert_eq!(r.message.content, None);
    let u = r.usage.unwrap();
    assert_eq!(
        (
            u.prompt_tokens,
            u.completion_tokens,
            u.reasoning_tokens,
            u.total_tokens
        ),
        (15, 2, 2, 17)
    );
    let r = parse("generate-max-tokens.response.json", "gemini-2.5-flash").unwrap();
    assert_eq!(r.finish_reason, FinishReason::Length);
    assert_eq!(
        r.message.text().as_deref(),
        Some("The capital of France is")
    );
}

#[test]
fn function_call_gets_a_stable_id_and_round_trips() {
    let r = parse("function-call.response.json", "gemini-2.0-flash-exp").unwrap();
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    let c = &r.message.tool_calls[0];
    assert_eq!(
        (c.id.as_str(), c.function.name.as_str()),
        ("call_0", "get_capital")
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&c.function.arguments).unwrap(),
        json!({"country": "France"})
    );
    // The follow-up built from this answer is the recorded follow-up request.
    let mut next = core_request("function-call.request.json");
    next.messages
        .push(runtime_core::Message::Assistant(r.message));
    next.messages.push(runtime_core::Message::tool(
        "call_0",
        r#"{"return_value":"Paris"}"#,
    ));
    assert_eq!(
        normalize(&body_of(&next)),
        normalize(&fixture_request("function-response-followup.request.json"))
    );
}

#[test]
fn safety_finish_is_content_filter_with_ratings_kept() {
    let r = parse(
        "safety-block-empty-content.response.json",
        "gemini-1.5-flash",
    )
    .unwrap();
    assert_eq!(r.finish_reason, FinishReason::ContentFilter);
    assert_eq!(r.message.content, None);
    assert!(r.meta.annotations.contains_key("safety_ratings"));
    assert_eq!(r.usage.map(|u| u.prompt_tokens), Some(14));
}

#[test]
fn blocked_prompt_is_content_filtered() {
    let body: GenerateContentResponse = serde_json::from_value(json!({
        "promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
        "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8},
        "modelVersion": "gemini-2.5-flash"
    }))
    .unwrap();
    let e = wire::parse_generate(body, "google", "gemini-2.5-flash").unwrap_err();
    assert!(
        matches!(&e, Error::ContentFiltered { message, .. } if message.contains("PROHIBITED_CONTENT")),
        "{e:?}"
    );
    assert!(!e.is_retryable());
}

#[test]
fn malformed_function_call_is_a_typed_error() {
    for reason in ["MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL"] {
        let body: GenerateContentResponse = serde_json::from_value(json!({
            "candidates": [{"content": {}, "finishReason": reason, "finishMessage": "Malformed function call: print(x"}],
            "usageMetadata": {"promptTokenCount": 8, "totalTokenCount": 8}
        }))
        .unwrap();
        let e = wire::parse_generate(body, "google", "m").unwrap_err();
        match &e {
            Error::Stream {
                error_type: Some(t),
                message,
                content_sent: false,
                transient: false,
                ..
            } => {
                assert_eq!(t, reason);
                assert!(message.contains("print(x"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(e.retryability(), runtime_core::Retryability::Failover);
    }
}

#[test]
fn error_fixtures_map_to_typed_errors() {
    let ctx = runtime_core::http::ErrorContext {
        provider: "google",
        model: "m",
        secret: None,
    };
    let h = http::HeaderMap::new();
    let e = provider_google::map_google_error(
        &ctx,
        400,
        &h,
        &fixtures::bytes(DIR, "error-400-invalid-api-key.response.json"),
    );
    assert!(
        matches!(e, Error::Authentication { status: 401, .. }),
        "{e:?}"
    );
    let e = provider_google::map_google_error(
        &ctx,
        404,
        &h,
        &fixtures::bytes(DIR, "error-404-model-not-found.response.json"),
    );
    assert!(matches!(e, Error::ModelNotFound { .. }), "{e:?}");
    let e = provider_google::map_google_error(
        &ctx,
        429,
        &h,
        &fixtures::bytes(DIR, "error-429-retry-info.response.json"),
    );
    assert!(matches!(e, Error::RateLimited { .. }), "{e:?}");
    assert_eq!(
        e.retry_after(),
        Some(std::time::Duration::from_millis(34_400))
    );
    // The failed stream's body, also when framed as an SSE event.
    let raw = fixtures::bytes(
        DIR,
        "stream-error-404-event-stream-content-type.response.json",
    );
    let mut framed = b"data: ".to_vec();
    framed.extend(
        String::from_utf8(raw.clone())
            .unwrap()
            .replace('\n', " ")
            .into_bytes(),
    );
    framed.extend(b"\r\n\r\n");
    for body in [raw, framed] {
        let e = provider_google::map_google_error(&ctx, 404, &h, &body);
        assert!(matches!(e, Error::ModelNotFound { .. }), "{e:?}");
    }
}

#[test]
fn batch_embed_response() {
    let body: wire::BatchEmbedContentsResponse =
        serde_json::from_slice(&fixtures::bytes(DIR, "batch-embed-contents.response.json"))
            .unwrap();
    let r = wire::parse_embeddings(
        vec![body.clone()],
        2,
        "google",
        "gemini-embedding-2-preview",
    )
    .unwrap();
    assert_eq!(r.data.len(), 2);
    assert_eq!(r.data[1].index, 1);
    assert_eq!(r.data[0].embedding[0], -0.006_419_318);
    assert_eq!(r.data[0].embedding.len(), body.embeddings[0].values.len());
    assert!(wire::parse_embeddings(vec![body], 3, "google", "m").is_err());
}

#[test]
fn model_list_fixture() {
    let page: wire::ModelsPage =
        serde_json::from_slice(&fixtures::bytes(DIR, "models-list.response.json")).unwrap();
    let n = page.models.len();
    let catalog = provider_google::catalog("google");
    let models = wire::parse_models(page.models, "google", &catalog);
    assert_eq!(models.len(), n);
    let flash = models.iter().find(|m| m.id == "gemini-2.5-flash").unwrap();
    assert_eq!(
        (flash.kind, flash.context_window, flash.max_output_tokens),
        (ModelKind::Chat, Some(1_048_576), Some(65_536))
    );
    assert!(flash.supports_tools && flash.supports_vision);
    assert!(models.iter().all(|m| !m.id.starts_with("models/")));
    insta::assert_json_snapshot!(
        "models__list",
        models
            .iter()
            .map(|m| (&m.id, m.kind, m.context_window))
            .collect::<Vec<_>>()
    );
}
