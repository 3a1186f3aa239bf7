//! Failures in OpenAI's envelope: `{"error": {"message", "type", "param", "code"}}` (the same
//! as the chat endpoints'), and the code a failed stream reports.

use serde::Serialize;

use crate::{ErrorCategory, ErrorInfo};

/// OpenAI's error `type` for a category.
pub fn error_type(c: ErrorCategory) -> &'static str {
    match c {
        ErrorCategory::InvalidRequest
        | ErrorCategory::NotFound
        | ErrorCategory::RequestTooLarge => "invalid_request_error",
        ErrorCategory::Authentication => "authentication_error",
        ErrorCategory::Permission => "permission_error",
        ErrorCategory::RateLimited => "rate_limit_error",
        ErrorCategory::Overloaded | ErrorCategory::Timeout | ErrorCategory::Api => "server_error",
    }
}

/// The code of a failure: its own, else one named after its category.
pub fn error_code(info: &ErrorInfo) -> String {
    info.code.clone().unwrap_or_else(|| {
        match info.category {
            ErrorCategory::InvalidRequest => "invalid_request",
            ErrorCategory::Authentication => "invalid_api_key",
            ErrorCategory::Permission => "permission_denied",
            ErrorCategory::NotFound => "not_found",
            ErrorCategory::RequestTooLarge => "request_too_large",
            ErrorCategory::RateLimited => "rate_limit_exceeded",
            ErrorCategory::Overloaded => "server_is_overloaded",
            ErrorCategory::Timeout => "timeout",
            ErrorCategory::Api => "server_error",
        }
        .to_owned()
    })
}

/// The HTTP status: the failure's own (an overload is OpenAI's 503; a status outside
/// 400–599 becomes 500).
pub fn status(info: &ErrorInfo) -> u16 {
    match info.category {
        ErrorCategory::Overloaded => 503,
        _ if (400..=599).contains(&info.status) => info.status,
        _ => 500,
    }
}

#[derive(Serialize)]
struct Inner<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Inner<'a>,
}

/// The error body.
pub fn body(info: &ErrorInfo) -> Vec<u8> {
    serde_json::to_vec(&Envelope {
        error: Inner {
            message: &info.message,
            kind: error_type(info.category),
            param: info.param.as_deref(),
            code: info.code.as_deref(),
        },
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_names_the_param() {
        let mut info = ErrorInfo::new(ErrorCategory::InvalidRequest, "bad");
        info.param = Some("input[2].type".into());
        let v: serde_json::Value = serde_json::from_slice(&body(&info)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": {"message": "bad", "type": "invalid_request_error", "param": "input[2].type", "code": null}})
        );
        assert_eq!(
            status(&ErrorInfo::new(ErrorCategory::Overloaded, "busy")),
            503
        );
        assert_eq!(
            error_code(&ErrorInfo::new(ErrorCategory::RateLimited, "x")),
            "rate_limit_exceeded"
        );
    }
}
