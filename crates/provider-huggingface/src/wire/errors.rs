//! TGI's error object, over HTTP and inside streams.

use http::HeaderMap;
use serde::Deserialize;

use runtime_core::Error;
use runtime_core::http::{ErrorBody, ErrorContext, classify, parse_error_body};

/// TGI's error object: `{"error": "...", "error_type": "validation" | "generation" |
/// "overloaded" | "incomplete_generation" | …}`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct TgiError {
    /// The message.
    pub error: String,
    /// The class.
    #[serde(default)]
    pub error_type: Option<String>,
}

/// True when a TGI validation message says the prompt does not fit
/// (`` `inputs` tokens + `max_new_tokens` must be <= N `` or `` `inputs` must have less than N
/// tokens ``).
pub fn is_context_error(message: &str) -> bool {
    message.contains("`inputs` tokens + `max_new_tokens` must be <=")
        || message.contains("`inputs` must have less than")
}

/// The status mapping of TGI and the Hugging Face APIs: the shared
/// [`runtime_core::http::map_status`] (which reads TGI's `error`/`error_type` and the Inference
/// API's `estimated_time` on 503 "model is loading" as the retry delay) plus TGI's
/// context-length validation messages. 424 (TGI generation error) stays an `Api` error that is
/// never retried: it is the model failing on this very request (see the crate docs).
pub fn map_error(ctx: &ErrorContext<'_>, status: u16, headers: &HeaderMap, body: &[u8]) -> Error {
    let parsed = parse_error_body(body);
    if matches!(status, 400 | 413 | 422) && is_context_error(&parsed.message) {
        return Error::ContextLengthExceeded {
            provider: ctx.provider.to_owned(),
            model: ctx.model.to_owned(),
            message: redacted(ctx, &parsed),
        };
    }
    classify(ctx, status, headers, parsed)
}

fn redacted(ctx: &ErrorContext<'_>, b: &ErrorBody) -> String {
    let secrets: Vec<&runtime_core::Secret> = ctx.secret.into_iter().collect();
    runtime_core::error::truncate(&runtime_core::secret::redact(&b.message, &secrets), 600)
}

/// Whether a TGI stream error may clear by itself.
fn transient(error_type: Option<&str>) -> bool {
    matches!(
        error_type,
        Some("overloaded" | "incomplete_generation" | "incomplete_generation_stream")
    )
}

/// Maps a TGI error object received as an SSE data payload (after HTTP 200). Validation errors
/// (TGI checks some parameters only once the stream has started) are the same `InvalidRequest` /
/// `ContextLengthExceeded` as their HTTP 422 form; every other class is `Error::Stream`, transient
/// for `overloaded` and `incomplete_generation`.
pub fn stream_error(e: TgiError, provider: &str, model: &str, content_sent: bool) -> Error {
    if e.error_type.as_deref() == Some("validation") {
        if is_context_error(&e.error) {
            return Error::ContextLengthExceeded {
                provider: provider.to_owned(),
                model: model.to_owned(),
                message: e.error,
            };
        }
        return Error::invalid_request(provider, model, None, e.error);
    }
    Error::Stream {
        provider: provider.to_owned(),
        model: model.to_owned(),
        transient: transient(e.error_type.as_deref()),
        error_type: e.error_type,
        message: e.error,
        content_sent,
    }
}

/// A TGI error object in a data payload, if that is what it is (`error` is a string; an
/// OpenAI-style `error` object is left to the OpenAI decoder).
pub fn tgi_error(data: &str) -> Option<TgiError> {
    if !data.contains("\"error\"") {
        return None;
    }
    serde_json::from_str::<TgiError>(data).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn tgi_error_only_for_string_errors() {
        assert_eq!(
            tgi_error(r#"{"error":"Model is overloaded","error_type":"overloaded"}"#),
            Some(TgiError {
                error: "Model is overloaded".into(),
                error_type: Some("overloaded".into())
            })
        );
        assert_eq!(tgi_error(r#"{"error":{"message":"x"}}"#), None);
        assert_eq!(
            tgi_error(r#"{"choices":[{"delta":{"content":"\"error\""}}]}"#),
            None
        );
    }

    #[test]
    fn stream_error_classes() {
        let e = stream_error(
            TgiError {
                error: "Model is overloaded".into(),
                error_type: Some("overloaded".into()),
            },
            "hf",
            "m",
            false,
        );
        assert!(e.is_retryable(), "{e:?}");
        let e = stream_error(
            TgiError {
                error: "Request failed during generation: Server error: CUDA OOM".into(),
                error_type: Some("generation".into()),
            },
            "hf",
            "m",
            true,
        );
        assert!(
            matches!(
                e,
                Error::Stream {
                    transient: false,
                    content_sent: true,
                    ..
                }
            ),
            "{e:?}"
        );
        let e = stream_error(
            TgiError {
                error: "Input validation error: `inputs` tokens + `max_new_tokens` must be <= 4096. Given: 4000 `inputs` tokens and 200 `max_new_tokens`".into(),
                error_type: Some("validation".into()),
            },
            "hf",
            "m",
            false,
        );
        assert!(matches!(e, Error::ContextLengthExceeded { .. }), "{e:?}");
    }
}
