//! Failures in Anthropic's envelope: `{"type": "error", "error": {"type", "message"},
//! "request_id"}`, with Anthropic's statuses (529 for `overloaded_error`).
//!
//! Reference: <https://docs.anthropic.com/en/api/errors>.

use serde::Serialize;

use crate::{ErrorCategory, ErrorInfo};

/// Anthropic's error `type` for a category.
pub fn error_type(c: ErrorCategory) -> &'static str {
    match c {
        ErrorCategory::InvalidRequest => "invalid_request_error",
        ErrorCategory::Authentication => "authentication_error",
        ErrorCategory::Permission => "permission_error",
        ErrorCategory::NotFound => "not_found_error",
        ErrorCategory::RequestTooLarge => "request_too_large",
        ErrorCategory::RateLimited => "rate_limit_error",
        ErrorCategory::Overloaded => "overloaded_error",
        ErrorCategory::Timeout => "timeout_error",
        ErrorCategory::Api => "api_error",
    }
}

/// The HTTP status Anthropic answers with for this failure: 529 for an overload, the failure's
/// own status otherwise (a status outside 400–599 becomes 500).
pub fn status(info: &ErrorInfo) -> u16 {
    match info.category {
        ErrorCategory::Overloaded => 529,
        _ if (400..=599).contains(&info.status) => info.status,
        _ => 500,
    }
}

#[derive(Serialize)]
struct Inner<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    message: &'a str,
}

#[derive(Serialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    error: Inner<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<&'a str>,
}

/// The error body.
pub fn body(info: &ErrorInfo, request_id: Option<&str>) -> Vec<u8> {
    serde_json::to_vec(&Envelope {
        kind: "error",
        error: Inner {
            kind: error_type(info.category),
            message: &info.message,
        },
        request_id,
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overloaded_is_529_and_the_envelope_is_anthropics() {
        let info = ErrorInfo::new(ErrorCategory::Overloaded, "Overloaded");
        assert_eq!(status(&info), 529);
        let v: serde_json::Value = serde_json::from_slice(&body(&info, Some("req_1"))).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}, "request_id": "req_1"})
        );
        let mut odd = ErrorInfo::new(ErrorCategory::Api, "cancelled");
        odd.status = 499;
        assert_eq!(status(&odd), 499);
        odd.status = 302;
        assert_eq!(status(&odd), 500);
    }
}
