//! Anthropic's error envelope and its mapping to the core error.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use serde::Deserialize;

use runtime_core::Error;
use runtime_core::http::{ErrorContext, classify, parse_error_body};
use runtime_core::time::{parse_rfc3339, until};

/// Anthropic's error object.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireError {
    /// `overloaded_error`, `api_error`…
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The words.
    #[serde(default)]
    pub message: String,
}

/// On a 429 without `retry-after`: the wait until the latest reset of an exhausted
/// `anthropic-ratelimit-*` limit (reset timestamps are RFC 3339).
pub fn ratelimit_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let get = |name: String| headers.get(name).and_then(|v| v.to_str().ok());
    let mut wait: Option<Duration> = None;
    let mut any_reset: Option<Duration> = None;
    for kind in ["requests", "tokens", "input-tokens", "output-tokens"] {
        let Some(reset) = get(format!("anthropic-ratelimit-{kind}-reset")).and_then(parse_rfc3339)
        else {
            continue;
        };
        let left = until(reset, now);
        any_reset = Some(any_reset.map_or(left, |a| a.max(left)));
        let remaining = get(format!("anthropic-ratelimit-{kind}-remaining"))
            .and_then(|v| v.trim().parse::<u64>().ok());
        if remaining == Some(0) {
            wait = Some(wait.map_or(left, |w| w.max(left)));
        }
    }
    wait.or(any_reset)
}

/// Maps an Anthropic error response (`{"type":"error","error":{"type","message"}}`) to the core
/// error: 400 invalid request (or context length), 401/403 authentication, 404 model not found,
/// 413 `request_too_large` (not retryable), 429 rate limited (retry-after, else the rate-limit
/// reset headers), 402/`billing_error` quota, 500 and 529 `overloaded_error` retryable.
pub fn map_error(ctx: &ErrorContext<'_>, status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    let mut parsed = parse_error_body(body);
    if parsed.error_type.as_deref() == Some("billing_error") {
        parsed
            .code
            .get_or_insert_with(|| "insufficient_quota".into());
    }
    if status == 429 && parsed.retry_after.is_none() {
        parsed.retry_after = ratelimit_retry_after(headers, SystemTime::now());
    }
    classify(ctx, status, headers, parsed)
}
