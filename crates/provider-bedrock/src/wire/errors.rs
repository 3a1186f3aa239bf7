//! Bedrock's errors, over HTTP and inside event streams, mapped through the core taxonomy.
//!
//! Bedrock names an error by its exception type: the `x-amzn-ErrorType` header
//! (`ValidationException:http://internal.amazon.com/coral/...`), the body's `__type`
//! (`com.amazon.coral.service#UnrecognizedClientException`), or in a stream the
//! `:exception-type` header of an exception frame (`throttlingException`, lowerCamelCase).

use http::HeaderMap;
use runtime_core::error::truncate;
use runtime_core::http::{ErrorBody, ErrorContext, classify, parse_error_body};
use runtime_core::secret::redact;
use runtime_core::{Error, Secret};
use serde_json::Value;

use super::eventstream::{Frame, FrameKind};

/// The exception type without namespace or suffix, in UpperCamelCase
/// (`throttlingException` → `ThrottlingException`).
pub fn exception_name(raw: &str) -> String {
    let s = raw.split(':').next().unwrap_or(raw);
    let s = s.rsplit('#').next().unwrap_or(s).trim();
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// The HTTP status Bedrock documents for an exception.
pub fn documented_status(name: &str) -> Option<u16> {
    Some(match name {
        "ThrottlingException" | "ModelNotReadyException" => 429,
        "ServiceUnavailableException" => 503,
        "InternalServerException" => 500,
        "ValidationException" | "ServiceQuotaExceededException" => 400,
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "IncompleteSignatureException"
        | "ExpiredTokenException"
        | "MissingAuthenticationTokenException" => 403,
        "ResourceNotFoundException" => 404,
        "ModelTimeoutException" => 408,
        "ModelErrorException" | "ModelStreamErrorException" => 424,
        "ConflictException" => 409,
        _ => return None,
    })
}

/// Phrases of Bedrock's "prompt too long" validation errors, across model families.
const CONTEXT_PHRASES: &[&str] = &[
    "input is too long",
    "too long for requested model",
    "prompt is too long",
    "too many input tokens",
    "expected maxlength",
    "too many total text bytes",
    "model_context_window_exceeded",
    "context window",
    "context length",
];

fn is_context_length(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    CONTEXT_PHRASES.iter().any(|p| m.contains(p))
}

/// Maps an exception (its name, status and body) to the core error.
fn map_exception(
    ctx: &ErrorContext<'_>,
    name: &str,
    status: u16,
    headers: &HeaderMap,
    mut b: ErrorBody,
) -> Error {
    let secrets: Vec<&Secret> = ctx.secret.into_iter().collect();
    let message = || truncate(&redact(&b.message, &secrets), 600);
    let (provider, model) = (ctx.provider.to_owned(), ctx.model.to_owned());
    match name {
        "ValidationException" if is_context_length(&b.message) => {
            return Error::ContextLengthExceeded {
                provider,
                model,
                message: message(),
            };
        }
        "ValidationException" => {
            return Error::InvalidRequest {
                provider,
                model,
                param: None,
                message: message(),
            };
        }
        // Rate and quota limits: retried later (`Retry-After` honoured when sent).
        "ThrottlingException" | "ServiceQuotaExceededException" => {
            return classify(ctx, 429, headers, b);
        }
        // The model is loading (imported models): transient, retried like a 503.
        "ModelNotReadyException" | "ServiceUnavailableException" => {
            return Error::Api {
                provider,
                model,
                status: 503,
                error_type: Some(name.to_owned()),
                code: None,
                message: message(),
                retry_after: None,
                should_retry: None,
            };
        }
        "ResourceNotFoundException" => {
            return Error::ModelNotFound {
                provider,
                model,
                message: message(),
            };
        }
        _ => {}
    }
    if !name.is_empty() {
        b.error_type = Some(name.to_owned());
    }
    classify(ctx, status, headers, b)
}

/// The exception type of a failed HTTP call.
fn http_exception_name(headers: &HeaderMap, b: &ErrorBody) -> String {
    let from_header = headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .map(exception_name);
    let from_body = b.json.as_ref().and_then(|j| {
        j.get("__type")
            .or_else(|| j.get("code"))
            .and_then(Value::as_str)
            .map(exception_name)
    });
    from_header.or(from_body).unwrap_or_default()
}

/// The [`ErrorMapper`](runtime_core::http::ErrorMapper) of every Bedrock call.
pub fn map_bedrock_error(
    ctx: &ErrorContext<'_>,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> Error {
    let mut b = parse_error_body(body);
    if let Some(m) = b
        .json
        .as_ref()
        .and_then(|j| j.get("Message"))
        .and_then(Value::as_str)
        && b.message.trim_start().starts_with('{')
    {
        b.message = m.to_owned();
    }
    let name = http_exception_name(headers, &b);
    map_exception(ctx, &name, status, headers, b)
}

/// The error of an exception (or error) frame inside a 200 stream.
pub fn stream_exception(provider: &str, model: &str, f: &Frame) -> Error {
    let ctx = ErrorContext {
        provider,
        model,
        secret: None,
    };
    let name = exception_name(&f.name);
    let mut b = if f.kind == FrameKind::Error {
        ErrorBody {
            message: f.payload.clone(),
            ..ErrorBody::default()
        }
    } else {
        parse_error_body(f.payload.as_bytes())
    };
    if name == "ModelStreamErrorException" {
        let json = b.json.take();
        let original = |k: &str| json.as_ref().and_then(|j| j.get(k));
        let status = original("originalStatusCode").and_then(Value::as_u64);
        let message = original("originalMessage")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .map(str::to_owned)
            .unwrap_or(b.message);
        return Error::Stream {
            provider: provider.to_owned(),
            model: model.to_owned(),
            error_type: Some(name),
            message: truncate(&message, 600),
            transient: status.is_some_and(|s| s == 429 || s >= 500),
            content_sent: false,
        };
    }
    let status = documented_status(&name).unwrap_or(500);
    match map_exception(&ctx, &name, status, &HeaderMap::new(), b) {
        // An exception the taxonomy leaves generic is a stream error, transient when its
        // documented status is.
        Error::Api {
            message, status, ..
        } => Error::Stream {
            provider: provider.to_owned(),
            model: model.to_owned(),
            error_type: Some(name),
            message,
            transient: status == 429 || status >= 500,
            content_sent: false,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ErrorContext<'static> {
        ErrorContext {
            provider: "bedrock",
            model: "m",
            secret: None,
        }
    }

    fn header(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-amzn-errortype", v.parse().unwrap());
        h
    }

    #[test]
    fn names() {
        assert_eq!(exception_name("throttlingException"), "ThrottlingException");
        assert_eq!(
            exception_name(
                "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"
            ),
            "ValidationException"
        );
        assert_eq!(
            exception_name("com.amazon.coral.service#UnrecognizedClientException"),
            "UnrecognizedClientException"
        );
    }

    #[test]
    fn http_errors() {
        let e = map_bedrock_error(
            &ctx(),
            429,
            &HeaderMap::new(),
            br#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        );
        assert!(
            matches!(e, Error::RateLimited { .. }) && e.is_retryable(),
            "{e:?}"
        );
        let e = map_bedrock_error(
            &ctx(),
            400,
            &header("ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"),
            br#"{"message":"Input is too long for requested model."}"#,
        );
        assert!(matches!(e, Error::ContextLengthExceeded { .. }), "{e:?}");
        let e = map_bedrock_error(
            &ctx(),
            400,
            &header("ValidationException"),
            br#"{"message":"The provided model identifier is invalid."}"#,
        );
        assert!(matches!(e, Error::InvalidRequest { .. }), "{e:?}");
        let e = map_bedrock_error(
            &ctx(),
            503,
            &header("ServiceUnavailableException"),
            br#"{"message":"Bedrock is unable to process your request."}"#,
        );
        assert!(e.is_retryable(), "{e:?}");
        let e = map_bedrock_error(
            &ctx(),
            429,
            &header("ModelNotReadyException"),
            br#"{"message":"Model is not ready for inference."}"#,
        );
        assert!(
            matches!(e, Error::Api { status: 503, .. }) && e.is_retryable(),
            "{e:?}"
        );
        let e = map_bedrock_error(
            &ctx(),
            403,
            &header("AccessDeniedException"),
            br#"{"message":"You don't have access to the model with the specified model ID."}"#,
        );
        assert!(
            matches!(e, Error::Authentication { status: 403, .. }),
            "{e:?}"
        );
        let e = map_bedrock_error(&ctx(), 403, &HeaderMap::new(), br#"{"Message":"User: arn:aws:iam::1:user/x is not authorized","__type":"com.amazon.coral.service#AccessDeniedException"}"#);
        assert!(matches!(e, Error::Authentication { .. }), "{e:?}");
        assert!(e.to_string().contains("not authorized"), "{e}");
    }

    #[test]
    fn stream_exceptions() {
        let f = |name: &str, payload: &str| Frame {
            kind: FrameKind::Exception,
            name: name.into(),
            payload: payload.into(),
        };
        let e = stream_exception(
            "b",
            "m",
            &f(
                "throttlingException",
                r#"{"message":"Too many requests, please wait before trying again."}"#,
            ),
        );
        assert!(
            matches!(e, Error::RateLimited { .. }) && e.is_retryable(),
            "{e:?}"
        );
        let e = stream_exception(
            "b",
            "m",
            &f(
                "modelStreamErrorException",
                r#"{"message":"Model stream error","originalStatusCode":529,"originalMessage":"Overloaded"}"#,
            ),
        );
        assert!(
            matches!(&e, Error::Stream { transient: true, message, .. } if message == "Overloaded"),
            "{e:?}"
        );
        let e = stream_exception(
            "b",
            "m",
            &f(
                "validationException",
                r#"{"message":"prompt is too long: 210000 tokens > 200000 maximum"}"#,
            ),
        );
        assert!(matches!(e, Error::ContextLengthExceeded { .. }), "{e:?}");
        let e = stream_exception(
            "b",
            "m",
            &f("internalServerException", r#"{"message":"internal"}"#),
        );
        assert!(
            matches!(
                e,
                Error::Stream {
                    transient: true,
                    ..
                }
            ),
            "{e:?}"
        );
        let e = stream_exception(
            "b",
            "m",
            &f(
                "serviceUnavailableException",
                r#"{"message":"unavailable"}"#,
            ),
        );
        assert!(
            matches!(
                e,
                Error::Stream {
                    transient: true,
                    ..
                }
            ),
            "{e:?}"
        );
        let e = stream_exception(
            "b",
            "m",
            &Frame {
                kind: FrameKind::Error,
                name: "InternalFailure".into(),
                payload: "oops".into(),
            },
        );
        assert!(
            matches!(
                e,
                Error::Stream {
                    transient: true,
                    ..
                }
            ),
            "{e:?}"
        );
    }
}
