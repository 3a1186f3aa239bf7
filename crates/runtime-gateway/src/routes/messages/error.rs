//! The gateway's errors in Anthropic's envelope: `{"type": "error", "error": {"type",
//! "message"}, "request_id"}`, with Anthropic's statuses (529 `overloaded_error`).

use axum::body::Body;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use runtime_dialects::anthropic_messages::error as anthropic;
use runtime_dialects::{ErrorCategory, ErrorInfo, RequestError, RequestErrorKind};

use crate::error::ApiError;

/// The neutral description of a gateway error, for Anthropic's envelope. A field the error
/// names is put in the message (Anthropic's envelope has no `param`).
pub fn info(e: &ApiError) -> ErrorInfo {
    let status = e.status.as_u16();
    let category = match status {
        _ if e.kind == "overloaded_error" => ErrorCategory::Overloaded,
        // The gateway drains or stops: 503 stays 503 (this replica is going away; a client or
        // load balancer retries elsewhere), not the 529 of an overloaded model.
        503 if e.code.as_deref() == Some("shutting_down") => ErrorCategory::Api,
        401 => ErrorCategory::Authentication,
        403 => ErrorCategory::Permission,
        404 => ErrorCategory::NotFound,
        413 => ErrorCategory::RequestTooLarge,
        429 => ErrorCategory::RateLimited,
        // No deployment can take the call now (or the gateway drains): Anthropic's overload.
        503 | 529 => ErrorCategory::Overloaded,
        408 | 504 => ErrorCategory::Timeout,
        400..=499 => ErrorCategory::InvalidRequest,
        _ => ErrorCategory::Api,
    };
    let message = match &e.param {
        Some(p) if !e.message.contains(p.as_str()) => format!("{p}: {}", e.message),
        _ => e.message.clone(),
    };
    ErrorInfo {
        status,
        category,
        message,
        param: e.param.clone(),
        code: e.code.clone(),
        retry_after: e.retry_after,
    }
}

/// The gateway's answer to a failed request on a Messages route: the headers the OpenAI
/// routes send (`Retry-After`, `x-ratelimit-*`, the route taken, `x-should-retry`), with
/// Anthropic's status and body.
pub fn response(e: ApiError, request_id: &str) -> Response {
    let info = info(&e);
    let status = anthropic::status(&info);
    let body = anthropic::body(&info, Some(request_id));
    let mut resp = e.into_response();
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    *resp.body_mut() = Body::from(body);
    if status == 529 && !resp.headers().contains_key(axum::http::header::RETRY_AFTER) {
        resp.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from(crate::error::DEFAULT_RETRY_AFTER.as_secs().max(1)),
        );
    }
    resp
}

/// A body the dialect cannot serve: 400 naming the field.
pub fn request_error(e: &RequestError) -> ApiError {
    let code = match e.kind {
        RequestErrorKind::InvalidJson => "invalid_json",
        RequestErrorKind::Invalid => "invalid_value",
        RequestErrorKind::Unsupported => "unsupported",
    };
    let mut err = ApiError::bad_request(e.to_string()).with_code(code);
    if let Some(p) = &e.param {
        err = err.with_param(model_runtime::error::excerpt(p).into_owned());
    }
    err
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn body(resp: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        serde_json::from_slice(&bytes).unwrap_or_default()
    }

    #[tokio::test]
    async fn a_budget_refusal_is_a_rate_limit_error_with_its_wait_and_headers() {
        let e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "over budget",
        )
        .with_code("budget_exceeded")
        .with_retry_after(Duration::from_secs(30))
        .with_headers(vec![("x-ratelimit-limit-requests", "10".into())]);
        let resp = response(e, "req_1");
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers()["retry-after"], "30");
        assert_eq!(resp.headers()["x-ratelimit-limit-requests"], "10");
        assert_eq!(
            body(resp).await,
            serde_json::json!({"type": "error", "error": {"type": "rate_limit_error", "message": "over budget"}, "request_id": "req_1"})
        );
    }

    #[tokio::test]
    async fn no_healthy_deployment_is_529_overloaded() {
        let e = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "api_error", "none healthy");
        let resp = response(e, "r");
        assert_eq!(resp.status().as_u16(), 529);
        assert!(resp.headers().contains_key("retry-after"));
        assert_eq!(body(resp).await["error"]["type"], "overloaded_error");
    }

    #[tokio::test]
    async fn draining_is_503_api_error_with_its_wait() {
        let e = crate::http::shutting_down().with_retry_after(Duration::from_secs(1));
        let resp = response(e, "r");
        assert_eq!(resp.status().as_u16(), 503);
        assert_eq!(resp.headers()["retry-after"], "1");
        assert_eq!(body(resp).await["error"]["type"], "api_error");
    }

    #[tokio::test]
    async fn a_bad_field_is_named_in_the_message() {
        let e = ApiError::bad_request("must be positive").with_param("max_tokens");
        let resp = response(e, "r");
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let v = body(resp).await;
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["message"], "max_tokens: must be positive");
        let e = ApiError::unauthorized("missing API key");
        assert_eq!(
            body(response(e, "r")).await["error"]["type"],
            "authentication_error"
        );
    }
}
