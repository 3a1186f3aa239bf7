//! What the dialects share about failure: a request body that cannot be served
//! ([`RequestError`], naming the field), the neutral description of any failure that each
//! dialect renders in its own envelope ([`ErrorInfo`]), and the result of a conversion
//! ([`Converted`]).

use std::time::Duration;

use runtime_core::{ChatRequest, Error};
use serde::de::DeserializeOwned;

/// Why a request body cannot be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestErrorKind {
    /// The body is not JSON (or has trailing bytes).
    InvalidJson,
    /// A field is missing, of the wrong type or has a value the dialect does not allow.
    Invalid,
    /// The field is valid in the dialect but the gateway cannot carry it to a provider yet.
    Unsupported,
}

/// A request body that cannot be served, with the offending field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", param.as_ref().map(|p| format!("`{p}`: ")).unwrap_or_default())]
pub struct RequestError {
    /// What kind of problem.
    pub kind: RequestErrorKind,
    /// The field, as a path into the body (`messages[0].content[2].source`).
    pub param: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl RequestError {
    /// A field with a wrong value.
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: RequestErrorKind::Invalid,
            param: Some(param.into()),
            message: message.into(),
        }
    }

    /// A valid field the gateway cannot carry.
    pub fn unsupported(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            kind: RequestErrorKind::Unsupported,
            param: Some(param.into()),
            message: message.into(),
        }
    }

    fn json(message: impl Into<String>) -> Self {
        Self {
            kind: RequestErrorKind::InvalidJson,
            param: None,
            message: message.into(),
        }
    }
}

/// Decodes a JSON body. A valid body is decoded once by plain `serde_json`; only a failing body
/// is decoded again with path tracking, to name the field.
pub(crate) fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, RequestError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(RequestError::json(
            "the request body is empty; expected a JSON object",
        ));
    }
    match serde_json::from_slice(bytes) {
        Ok(v) => Ok(v),
        Err(_) => Err(body_error::<T>(bytes)),
    }
}

fn body_error<T: DeserializeOwned>(bytes: &[u8]) -> RequestError {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut de) {
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            // serde_json reports some wrong types (an enum given a boolean) as syntax errors;
            // a body that is valid JSON has a wrong value, not bad syntax.
            let valid_json =
                !inner.is_data() && serde_json::from_slice::<serde::de::IgnoredAny>(bytes).is_ok();
            if inner.is_data() || valid_json {
                RequestError {
                    kind: RequestErrorKind::Invalid,
                    param: (!path.is_empty() && path != ".").then_some(path),
                    message: if valid_json {
                        format!("value of the wrong type ({inner})")
                    } else {
                        inner.to_string()
                    },
                }
            } else {
                RequestError::json(format!("invalid JSON body: {inner}"))
            }
        }
        Ok(_) => match de.end() {
            Err(e) => RequestError::json(format!("invalid JSON body: {e}")),
            Ok(()) => RequestError::json("invalid JSON body"),
        },
    }
}

/// A dialect request turned into a core request.
#[derive(Debug, Clone, PartialEq)]
pub struct Converted {
    /// The core request.
    pub request: ChatRequest,
    /// Fields of the body that have no place in core and do not change the answer (item ids,
    /// statuses, unknown fields inside content blocks), as paths. The gateway may log them or
    /// report them in a header; nothing else reads them.
    pub ignored: Vec<String>,
}

/// The family of a failure, which each dialect names in its own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCategory {
    /// The request is wrong (400, 422).
    InvalidRequest,
    /// Missing or wrong credentials (401).
    Authentication,
    /// The credentials may not do this (403).
    Permission,
    /// No such model or route (404).
    NotFound,
    /// The body is too large (413).
    RequestTooLarge,
    /// Too many requests or tokens, or out of quota (429).
    RateLimited,
    /// The upstream (or every deployment) is overloaded (Anthropic's 529).
    Overloaded,
    /// A wait ran out (504).
    Timeout,
    /// Anything else on the server side.
    Api,
}

/// A failure, described once for every dialect's envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorInfo {
    /// The HTTP status the gateway would answer with (dialects may adjust it, e.g. 529).
    pub status: u16,
    /// The family.
    pub category: ErrorCategory,
    /// Words for a person (never a key or a prompt).
    pub message: String,
    /// The offending request field.
    pub param: Option<String>,
    /// A stable machine-readable code (`model_not_found`, `rate_limit_exceeded`…).
    pub code: Option<String>,
    /// When to try again.
    pub retry_after: Option<Duration>,
}

impl ErrorInfo {
    /// An error of `category` with the status that goes with it.
    pub fn new(category: ErrorCategory, message: impl Into<String>) -> Self {
        Self {
            status: category_status(category),
            category,
            message: message.into(),
            param: None,
            code: None,
            retry_after: None,
        }
    }
}

fn category_status(c: ErrorCategory) -> u16 {
    match c {
        ErrorCategory::InvalidRequest => 400,
        ErrorCategory::Authentication => 401,
        ErrorCategory::Permission => 403,
        ErrorCategory::NotFound => 404,
        ErrorCategory::RequestTooLarge => 413,
        ErrorCategory::RateLimited => 429,
        ErrorCategory::Overloaded => 529,
        ErrorCategory::Timeout => 504,
        ErrorCategory::Api => 500,
    }
}

fn status_category(status: u16) -> ErrorCategory {
    match status {
        401 => ErrorCategory::Authentication,
        403 => ErrorCategory::Permission,
        404 => ErrorCategory::NotFound,
        413 => ErrorCategory::RequestTooLarge,
        429 => ErrorCategory::RateLimited,
        504 => ErrorCategory::Timeout,
        503 | 529 => ErrorCategory::Overloaded,
        400..=499 => ErrorCategory::InvalidRequest,
        _ => ErrorCategory::Api,
    }
}

fn is_overloaded(error_type: Option<&str>) -> bool {
    error_type.is_some_and(|t| t.contains("overloaded"))
}

impl From<&Error> for ErrorInfo {
    fn from(e: &Error) -> Self {
        let status = e.http_status();
        let category = match e {
            Error::ProviderNotFound { .. } | Error::ModelNotFound { .. } => ErrorCategory::NotFound,
            Error::InvalidRequest { .. }
            | Error::ContextLengthExceeded { .. }
            | Error::ContentFiltered { .. }
            | Error::Unsupported { .. } => ErrorCategory::InvalidRequest,
            Error::RateLimited { .. } | Error::QuotaExhausted { .. } => ErrorCategory::RateLimited,
            Error::Api { error_type, .. } if is_overloaded(error_type.as_deref()) => {
                ErrorCategory::Overloaded
            }
            Error::Stream { error_type, .. } if is_overloaded(error_type.as_deref()) => {
                ErrorCategory::Overloaded
            }
            Error::NoHealthyDeployment { .. } => ErrorCategory::Overloaded,
            Error::Timeout { .. } => ErrorCategory::Timeout,
            Error::InvalidConfig { .. }
            | Error::Connect { .. }
            | Error::Decode { .. }
            | Error::Stream { .. }
            | Error::Cancelled => ErrorCategory::Api,
            _ => status_category(status),
        };
        Self {
            status,
            category,
            message: e.to_string(),
            param: e.param().map(str::to_owned),
            code: e.openai_code(),
            retry_after: e.retry_after(),
        }
    }
}

impl From<&RequestError> for ErrorInfo {
    fn from(e: &RequestError) -> Self {
        Self {
            status: 400,
            category: ErrorCategory::InvalidRequest,
            message: e.to_string(),
            param: e.param.clone(),
            code: Some(
                match e.kind {
                    RequestErrorKind::InvalidJson => "invalid_json",
                    RequestErrorKind::Invalid => "invalid_value",
                    RequestErrorKind::Unsupported => "unsupported",
                }
                .to_owned(),
            ),
            retry_after: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_map_to_categories() {
        let overloaded = Error::Api {
            provider: "anthropic".into(),
            model: "claude".into(),
            status: 529,
            error_type: Some("overloaded_error".into()),
            code: None,
            message: "Overloaded".into(),
            retry_after: None,
            should_retry: None,
        };
        assert_eq!(
            ErrorInfo::from(&overloaded).category,
            ErrorCategory::Overloaded
        );
        let limited = Error::RateLimited {
            provider: "p".into(),
            model: "m".into(),
            retry_after: Some(Duration::from_secs(3)),
            message: "slow down".into(),
        };
        let info = ErrorInfo::from(&limited);
        assert_eq!(
            (info.status, info.category),
            (429, ErrorCategory::RateLimited)
        );
        assert_eq!(info.retry_after, Some(Duration::from_secs(3)));
        let bad = Error::invalid_request("p", "m", Some("tools[0]"), "nope");
        let info = ErrorInfo::from(&bad);
        assert_eq!(info.param.as_deref(), Some("tools[0]"));
        assert_eq!(info.category, ErrorCategory::InvalidRequest);
    }

    #[test]
    fn body_errors_name_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct B {
            a: Vec<u32>,
        }
        let e = parse_body::<B>(br#"{"a": [1, "x"]}"#).unwrap_err();
        assert_eq!(e.kind, RequestErrorKind::Invalid);
        assert_eq!(e.param.as_deref(), Some("a[1]"));
        let e = parse_body::<B>(br#"{"a": [1]"#).unwrap_err();
        assert_eq!(e.kind, RequestErrorKind::InvalidJson);
        let e = parse_body::<B>(b"  ").unwrap_err();
        assert_eq!(e.kind, RequestErrorKind::InvalidJson);
    }
}
