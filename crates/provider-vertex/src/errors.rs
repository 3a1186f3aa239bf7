//! Vertex AI's error answers: Google's RPC envelope (`{"error": {"code", "message",
//! "status", "details"}}`), sometimes wrapped in a one-element JSON array (`[{"error": …}]`,
//! as `streamGenerateContent` without `alt=sse` answers), or Anthropic's envelope passed
//! through from a Claude model.
//!
//! 429 `RESOURCE_EXHAUSTED` is a rate limit (retryable, `RetryInfo.retryDelay` honoured), 401
//! `UNAUTHENTICATED` and 403 `PERMISSION_DENIED` are the gateway's credentials failing
//! (upstream_authentication), 404 `NOT_FOUND` an unknown model.

use std::borrow::Cow;

use http::HeaderMap;
use serde_json::Value;

use runtime_core::Error;
use runtime_core::http::ErrorContext;

/// The body without the one-element array some Vertex errors come in.
pub fn unwrap_array(body: &[u8]) -> Cow<'_, [u8]> {
    let trimmed = body.trim_ascii_start();
    if trimmed.first() != Some(&b'[') {
        return Cow::Borrowed(body);
    }
    match serde_json::from_slice::<Vec<Value>>(trimmed) {
        Ok(mut items) if !items.is_empty() && items[0].get("error").is_some() => {
            match serde_json::to_vec(&items.swap_remove(0)) {
                Ok(v) => Cow::Owned(v),
                Err(_) => Cow::Borrowed(body),
            }
        }
        _ => Cow::Borrowed(body),
    }
}

/// Maps a failed Gemini or embedding call (see the module docs).
pub fn map_vertex_error(
    ctx: &ErrorContext<'_>,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> Error {
    let body = unwrap_array(body);
    provider_google::map_google_error(ctx, status, headers, &body)
}

/// Maps a failed Claude call: Anthropic's envelope (`{"type": "error", …}`) through the
/// Anthropic mapping (its `overloaded_error`, `billing_error`), else as any Vertex error.
pub fn map_claude_error(
    ctx: &ErrorContext<'_>,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> Error {
    let body = unwrap_array(body);
    let anthropic = serde_json::from_slice::<Value>(&body)
        .ok()
        .is_some_and(|v| v.get("type").and_then(Value::as_str) == Some("error"));
    if anthropic {
        provider_anthropic::wire::map_error(ctx, status, headers, &body)
    } else {
        provider_google::map_google_error(ctx, status, headers, &body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CTX: ErrorContext<'static> = ErrorContext {
        provider: "vertex",
        model: "m",
        secret: None,
    };

    #[test]
    fn array_wrapped_errors_are_unwrapped() {
        let body = br#"[{"error":{"code":429,"message":"Resource exhausted.","status":"RESOURCE_EXHAUSTED"}}]"#;
        let e = map_vertex_error(&CTX, 429, &HeaderMap::new(), body);
        assert!(matches!(e, Error::RateLimited { .. }), "{e:?}");
        assert!(e.to_string().contains("Resource exhausted."), "{e}");
        assert_eq!(&*unwrap_array(b"[1,2]"), b"[1,2]");
        assert_eq!(&*unwrap_array(b"[]"), b"[]");
    }

    #[test]
    fn claude_envelopes_go_through_the_anthropic_mapping() {
        let body =
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        let e = map_claude_error(&CTX, 529, &HeaderMap::new(), body);
        assert!(e.is_retryable(), "{e:?}");
        let body =
            br#"{"error":{"code":403,"message":"Permission denied","status":"PERMISSION_DENIED"}}"#;
        let e = map_claude_error(&CTX, 403, &HeaderMap::new(), body);
        assert!(
            matches!(e, Error::Authentication { status: 403, .. }),
            "{e:?}"
        );
    }
}
