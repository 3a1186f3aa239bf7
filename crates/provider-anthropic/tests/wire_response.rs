//! Response, error and model-list mapping against the recorded fixtures.
#![allow(
    clippy::result_large_err,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{DIR, build};
use http::{HeaderMap, HeaderValue};
use provider_anthropic::wire::{self, MessagesResponse, map_error, parse_response};
use runtime_core::http::ErrorContext;
use runtime_core::{ChatRequest, Error, FinishReason, Message, ToolCall, Usage};
use runtime_testkit::fixtures;
use serde_json::{Value, json};

fn response(name: &str) -> runtime_core::ChatResponse {
    let body: MessagesResponse = serde_json::from_value(fixtures::json(DIR, name)).unwrap();
    parse_response(body, "anthropic", "m", None)
}

#[test]
fn response_fixtures_map_text_tools_usage_and_finish() {
    let r = response("messages-basic-system.response.json");
    assert_eq!(r.id, "msg_01Fg1JVgvCYUHWsxrj9GkpEv");
    assert_eq!(r.model, "claude-3-opus-20240229");
    assert_eq!(
        r.message.text().as_deref(),
        Some("The capital of France is Paris.")
    );
    assert_eq!(r.finish_reason, FinishReason::Stop);
    assert_eq!(r.usage, Some(Usage::new(20, 10)));

    let r = response("messages-tool-use.response.json");
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    assert_eq!(r.message.content, None);
    assert_eq!(
        r.message.tool_calls,
        vec![ToolCall::new(
            "toolu_01X9wcHKKAZD9tBC711xipPa",
            "get_user_country",
            "{}"
        )]
    );

    let r = response("messages-tool-result-followup.response.json");
    let c = &r.message.tool_calls[0];
    assert_eq!(c.id, "toolu_01LZABsgreMefH2Go8D5PQbW");
    assert_eq!(
        serde_json::from_str::<Value>(&c.function.arguments).unwrap(),
        json!({"city": "Mexico City", "country": "Mexico"})
    );
    assert_eq!(r.usage.unwrap().total_tokens, 497 + 56);

    let r = response("messages-parallel-tool-use.response.json");
    let names: Vec<&str> = r
        .message
        .tool_calls
        .iter()
        .map(|c| c.function.arguments.as_str())
        .collect();
    assert_eq!(
        names,
        [
            r#"{"name":"Alice"}"#,
            r#"{"name":"Bob"}"#,
            r#"{"name":"Charlie"}"#,
            r#"{"name":"Daisy"}"#
        ]
    );
    assert!(r.message.text().unwrap().starts_with("I'll help you"));
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);

    let r = response("messages-prompt-cache-read.response.json");
    let u = r.usage.unwrap();
    assert_eq!(
        u,
        Usage {
            prompt_tokens: 3 + 418 + 1111,
            completion_tokens: 33,
            total_tokens: 3 + 418 + 1111 + 33,
            cached_prompt_tokens: 1111,
            cache_creation_tokens: 418,
            reasoning_tokens: 0,
        }
    );
}

#[test]
fn thinking_and_unknown_blocks_in_a_response() {
    let body: MessagesResponse = serde_json::from_value(json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "SIG"},
            {"type": "redacted_thinking", "data": "ENC"},
            {"type": "text", "text": "Hi"},
            {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_1", "content": []},
            {"type": "text", "text": " there"}
        ],
        "stop_reason": "stop_sequence", "stop_sequence": "END",
        "usage": {"input_tokens": 1, "output_tokens": 2, "cache_creation_input_tokens": null}
    }))
    .unwrap();
    let r = parse_response(body, "anthropic", "m", None);
    assert_eq!(r.message.text().as_deref(), Some("Hi there"));
    assert_eq!(r.message.reasoning.len(), 2);
    assert_eq!(r.message.reasoning[0].signature.as_deref(), Some("SIG"));
    assert_eq!(r.message.reasoning[1].data.as_deref(), Some("ENC"));
    assert_eq!(r.meta.annotations["stop_sequence"], json!("END"));
    assert_eq!(
        r.meta.annotations["content_blocks"][0]["type"],
        json!("web_search_tool_result")
    );
    assert_eq!(r.finish_reason, FinishReason::Stop);
    // Reasoning goes back out as signed blocks.
    let next = ChatRequest::new(
        "claude-sonnet-4-5",
        vec![Message::user("q"), Message::Assistant(r.message.clone())],
    );
    let out = build(&next).unwrap();
    assert_eq!(
        out["messages"][1]["content"],
        json!([
            {"type": "thinking", "thinking": "hmm", "signature": "SIG"},
            {"type": "redacted_thinking", "data": "ENC"},
            {"type": "text", "text": "Hi there"}
        ])
    );
}

fn ctx() -> ErrorContext<'static> {
    ErrorContext {
        provider: "anthropic",
        model: "claude-x",
        secret: None,
    }
}

fn status_of(meta: &str) -> u16 {
    fixtures::json(DIR, meta)["status"].as_u64().unwrap() as u16
}

#[test]
fn error_fixtures_map_to_typed_errors() {
    let e = map_error(
        &ctx(),
        status_of("error-400-invalid-request.meta.json"),
        &HeaderMap::new(),
        &fixtures::bytes(DIR, "error-400-invalid-request.response.json"),
    );
    assert!(
        matches!(&e, Error::InvalidRequest { message, .. } if message.contains("xhigh")),
        "{e:?}"
    );
    assert!(!e.is_retryable());
    let e = map_error(
        &ctx(),
        status_of("error-401-authentication.meta.json"),
        &HeaderMap::new(),
        &fixtures::bytes(DIR, "error-401-authentication.response.json"),
    );
    assert!(
        matches!(&e, Error::Authentication { status: 401, .. }),
        "{e:?}"
    );
    let e = map_error(
        &ctx(),
        status_of("error-404-not-found.meta.json"),
        &HeaderMap::new(),
        &fixtures::bytes(DIR, "error-404-not-found.response.json"),
    );
    assert!(matches!(&e, Error::ModelNotFound { .. }), "{e:?}");
}

fn envelope(t: &str, msg: &str) -> Vec<u8> {
    json!({"type": "error", "error": {"type": t, "message": msg}, "request_id": "req_1"})
        .to_string()
        .into_bytes()
}

#[test]
fn status_table() {
    let h = HeaderMap::new();
    let e = map_error(&ctx(), 529, &h, &envelope("overloaded_error", "Overloaded"));
    assert!(
        matches!(&e, Error::Api { status: 529, error_type: Some(t), .. } if t == "overloaded_error")
    );
    assert!(e.is_retryable());
    let e = map_error(&ctx(), 500, &h, &envelope("api_error", "boom"));
    assert!(e.is_retryable());
    let e = map_error(&ctx(), 413, &h, &envelope("request_too_large", "too big"));
    assert!(matches!(&e, Error::Api { status: 413, .. }), "{e:?}");
    assert!(!e.is_retryable());
    let e = map_error(
        &ctx(),
        400,
        &h,
        &envelope(
            "invalid_request_error",
            "prompt is too long: 210000 tokens > 200000 maximum",
        ),
    );
    assert!(matches!(e, Error::ContextLengthExceeded { .. }), "{e:?}");
    let e = map_error(&ctx(), 403, &h, &envelope("permission_error", "no"));
    assert!(matches!(e, Error::Authentication { status: 403, .. }));
    let e = map_error(&ctx(), 400, &h, &envelope("billing_error", "credit"));
    assert!(matches!(e, Error::QuotaExhausted { .. }), "{e:?}");
}

fn rfc3339(unix: u64) -> String {
    // Civil date from days (Howard Hinnant), for test headers.
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[test]
fn rate_limit_reset_headers_feed_retry_after() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut h = HeaderMap::new();
    h.insert(
        "anthropic-ratelimit-requests-remaining",
        HeaderValue::from_static("10"),
    );
    h.insert(
        "anthropic-ratelimit-requests-reset",
        HeaderValue::from_str(&rfc3339(now + 5)).unwrap(),
    );
    h.insert(
        "anthropic-ratelimit-input-tokens-remaining",
        HeaderValue::from_static("0"),
    );
    h.insert(
        "anthropic-ratelimit-input-tokens-reset",
        HeaderValue::from_str(&rfc3339(now + 40)).unwrap(),
    );
    let e = map_error(&ctx(), 429, &h, &envelope("rate_limit_error", "slow down"));
    let after = e.retry_after().unwrap();
    assert!(
        after > Duration::from_secs(30) && after <= Duration::from_secs(40),
        "{after:?}"
    );
    assert!(matches!(e, Error::RateLimited { .. }));
    // `retry-after` wins when present.
    h.insert("retry-after", HeaderValue::from_static("3"));
    let e = map_error(&ctx(), 429, &h, &envelope("rate_limit_error", "slow down"));
    assert_eq!(e.retry_after(), Some(Duration::from_secs(3)));
    // Pure function with a fixed clock.
    let at = UNIX_EPOCH + Duration::from_secs(now);
    h.remove("retry-after");
    assert_eq!(
        wire::ratelimit_retry_after(&h, at),
        Some(Duration::from_secs(40))
    );
}

#[test]
fn model_page_maps_to_catalog_entries() {
    let page: wire::ModelPage = serde_json::from_value(json!({
        "data": [
            {"type": "model", "id": "claude-sonnet-4-5-20250929", "display_name": "Claude Sonnet 4.5", "created_at": "2025-09-29T00:00:00Z"},
            {"type": "model", "id": "claude-opus-4-20250514", "display_name": "Claude Opus 4", "created_at": "2025-05-22T00:00:00Z"},
            {"type": "model", "id": "claude-3-5-haiku-20241022", "display_name": "Claude Haiku 3.5", "created_at": "2024-10-22T00:00:00Z"},
            {"type": "model", "id": "claude-new-9", "display_name": "New", "created_at": "2026-10-01T00:00:00Z"}
        ],
        "has_more": false, "first_id": "claude-sonnet-4-5-20250929", "last_id": "claude-new-9"
    }))
    .unwrap();
    let catalog = provider_anthropic::catalog("anthropic");
    let models = wire::parse_models(page.data, "anthropic", &catalog);
    assert_eq!(models[0].max_output_tokens, Some(64_000));
    assert_eq!(models[0].created, Some(1_759_104_000));
    assert_eq!(models[1].max_output_tokens, Some(32_000));
    assert_eq!(models[2].max_output_tokens, Some(8_192));
    assert_eq!(models[3].context_window, None);
    assert!(
        models
            .iter()
            .all(|m| m.provider == "anthropic" && m.supports_streaming)
    );
}

#[test]
fn catalog_has_current_models() {
    let c = provider_anthropic::catalog("anthropic");
    for id in [
        "claude-opus-4-1",
        "claude-sonnet-4-5",
        "claude-haiku-4-5",
        "claude-3-5-haiku-latest",
    ] {
        let m = c.iter().find(|m| m.id == id).unwrap();
        assert_eq!(m.context_window, Some(200_000));
        assert!(m.supports_vision && m.supports_tools && m.supports_json_schema);
    }
}
