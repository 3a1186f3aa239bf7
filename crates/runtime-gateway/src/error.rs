//! The OpenAI error envelope: `{"error": {"message", "type", "param", "code"}}`.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use model_runtime::{Error, Failure, RequestContext, RouteSummary};
use serde::Serialize;

/// `Retry-After` of a 429 or 503 whose wait nobody knows (every 429/503 carries one).
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Longest error message sent (bytes): messages repeat provider words and lists of names,
/// and client input only as an excerpt, but no answer may grow with the input.
pub const MAX_MESSAGE: usize = 4096;

/// An error answered to the client in OpenAI's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Human-readable message (never holds a key or a provider secret).
    pub message: String,
    /// OpenAI error `type` (`invalid_request_error`, `authentication_error`, …).
    pub kind: &'static str,
    /// The offending request field.
    pub param: Option<String>,
    /// A stable machine-readable code.
    pub code: Option<String>,
    /// Sent as `Retry-After` (whole seconds, rounded up) and `retry-after-ms`; a 429 or 503
    /// without one gets [`DEFAULT_RETRY_AFTER`].
    pub retry_after: Option<Duration>,
    /// Sent as `x-should-retry` (which the OpenAI SDKs obey before their status rules):
    /// `false` for conditions no retry fixes (the gateway's upstream credentials or quota).
    pub should_retry: Option<bool>,
    /// The route a failed routed call took, sent as the `x-modelrt-provider`,
    /// `x-modelrt-deployment` and `x-modelrt-attempts` headers.
    pub route: Option<RouteSummary>,
    /// More headers to send (the caller's `x-ratelimit-*`).
    pub headers: Vec<(&'static str, String)>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

/// The inner object of the envelope (also sent as an SSE `data:` frame mid-stream).
#[derive(Serialize)]
struct Body<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    param: Option<&'a str>,
    code: Option<&'a str>,
}

impl ApiError {
    /// An error with a status, an OpenAI type and a message.
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            message: bounded(message.into()),
            kind,
            param: None,
            code: None,
            retry_after: None,
            should_retry: None,
            route: None,
            headers: Vec::new(),
        }
    }

    /// Adds headers to the answer.
    pub fn with_headers(mut self, headers: Vec<(&'static str, String)>) -> Self {
        self.headers.extend(headers);
        self
    }

    /// An upstream call's failure, with the route a router took for it.
    pub fn from_call(f: Failure, _ctx: &RequestContext) -> Self {
        let mut err = Self::from(f.error);
        err.route = f.route;
        err
    }

    /// 400 `invalid_request_error`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request_error", message)
    }

    /// 404 `invalid_request_error` for an unknown route.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "invalid_request_error", message).with_code("not_found")
    }

    /// 401 for a missing or wrong key.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_request_error", message)
            .with_code("invalid_api_key")
    }

    /// Sets `param`.
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// Sets `code`.
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets the `Retry-After` wait.
    pub fn with_retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// The envelope as JSON bytes.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&Envelope { error: self.body() }).unwrap_or_default()
    }

    fn body(&self) -> Body<'_> {
        Body {
            message: &self.message,
            kind: self.kind,
            param: self.param.as_deref(),
            code: self.code.as_deref(),
        }
    }
}

impl From<&Error> for ApiError {
    fn from(e: &Error) -> Self {
        let status = StatusCode::from_u16(e.http_status())
            .ok()
            .filter(|s| s.is_client_error() || s.is_server_error())
            .unwrap_or(StatusCode::BAD_GATEWAY);
        let mut message = e.to_string();
        if let Error::Authentication { provider, .. } = e {
            // The upstream rejected the gateway's credentials: that is not the client's key.
            message =
                format!("{message} (check the credentials configured for provider `{provider}`)");
        }
        let waits = matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        );
        Self {
            status,
            message: bounded(message),
            kind: e.openai_type(),
            param: e
                .param()
                .map(|p| model_runtime::error::excerpt(p).into_owned()),
            code: e.openai_code(),
            retry_after: waits.then(|| e.wait_hint().unwrap_or(DEFAULT_RETRY_AFTER)),
            should_retry: e.client_should_retry(),
            route: None,
            headers: Vec::new(),
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        Self::from(&e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            // Messages come from runtime-core errors, which redact credentials.
            tracing::warn!(status = self.status.as_u16(), message = %self.message, "request failed");
        }
        let mut resp = (self.status, self.to_json()).into_response();
        if let Some(r) = self
            .code
            .as_deref()
            .and_then(crate::observe::Rejection::of_code)
        {
            resp.extensions_mut().insert(r);
        }
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let waits = matches!(
            self.status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        );
        if let Some(after) = self.retry_after.or(waits.then_some(DEFAULT_RETRY_AFTER)) {
            // Whole seconds, rounded up and at least 1 (the OpenAI SDKs ignore 0), and the
            // exact milliseconds, which they read first.
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
            let ms = after.as_millis() + u128::from(after.subsec_nanos() % 1_000_000 > 0);
            h.insert(
                "retry-after-ms",
                HeaderValue::from(u64::try_from(ms.max(1)).unwrap_or(u64::MAX)),
            );
        }
        for (name, value) in &self.headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                h.insert(*name, v);
            }
        }
        if let Some(retry) = self.should_retry {
            h.insert(
                "x-should-retry",
                HeaderValue::from_static(if retry { "true" } else { "false" }),
            );
        }
        if let Some(route) = &self.route {
            for (name, value) in [
                ("x-modelrt-provider", route.provider.as_str()),
                ("x-modelrt-deployment", route.deployment.as_str()),
            ] {
                if let Ok(v) = HeaderValue::from_str(value) {
                    h.insert(name, v);
                }
            }
            h.insert("x-modelrt-attempts", HeaderValue::from(route.attempts));
        }
        resp
    }
}

/// `message` cut to [`MAX_MESSAGE`] bytes.
fn bounded(message: String) -> String {
    if message.len() <= MAX_MESSAGE {
        message
    } else {
        model_runtime::error::truncate(&message, MAX_MESSAGE)
    }
}

/// `data: {"error": …}\n\n`: the frame that ends a stream that failed after it started.
pub fn sse_error_frame(err: &ApiError, out: &mut Vec<u8>) {
    out.extend_from_slice(b"data: ");
    out.extend_from_slice(&err.to_json());
    out.extend_from_slice(b"\n\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_keeps_retry_after() {
        let e = Error::RateLimited {
            provider: "openai".into(),
            model: "gpt".into(),
            retry_after: Some(Duration::from_millis(1500)),
            message: "slow down".into(),
        };
        let api = ApiError::from(&e);
        assert_eq!(api.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(api.kind, "rate_limit_error");
        let resp = api.into_response();
        assert_eq!(resp.headers()[header::RETRY_AFTER], "2");
        assert_eq!(resp.headers()["retry-after-ms"], "1500");
    }

    #[test]
    fn every_429_and_503_says_when_to_come_back() {
        let no_hint = Error::RateLimited {
            provider: "openai".into(),
            model: "gpt".into(),
            retry_after: None,
            message: "slow down".into(),
        };
        let resp = ApiError::from(&no_hint).into_response();
        assert_eq!(resp.headers()[header::RETRY_AFTER], "1");
        let none_healthy = Error::NoHealthyDeployment {
            model: "chat".into(),
            reason: "1 cooling down".into(),
            retry_after: Some(Duration::from_millis(26_604)),
        };
        let resp = ApiError::from(&none_healthy).into_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()[header::RETRY_AFTER], "27");
        assert_eq!(resp.headers()["retry-after-ms"], "26604");
        // The gateway's own 503s too.
        let resp =
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "api_error", "draining").into_response();
        assert_eq!(resp.headers()[header::RETRY_AFTER], "1");
        // Not on other statuses.
        let resp = ApiError::bad_request("bad").into_response();
        assert!(resp.headers().get(header::RETRY_AFTER).is_none());
    }

    #[test]
    fn upstream_credentials_answer_502_and_ask_sdks_not_to_retry() {
        let e = Error::Authentication {
            provider: "openai".into(),
            model: "gpt".into(),
            status: 401,
            message: "Incorrect API key provided".into(),
        };
        let api = ApiError::from(&e);
        assert_eq!(api.status, StatusCode::BAD_GATEWAY);
        assert_eq!(api.kind, "api_error");
        assert_eq!(api.code.as_deref(), Some("upstream_authentication"));
        assert!(api.message.contains("provider `openai`"), "{}", api.message);
        let resp = api.into_response();
        assert_eq!(resp.headers()["x-should-retry"], "false");
    }

    #[test]
    fn messages_are_bounded() {
        let api = ApiError::bad_request("x".repeat(100_000));
        assert!(api.message.len() <= MAX_MESSAGE + 3);
        let e = Error::ModelNotFound {
            provider: "router".into(),
            model: "m".repeat(100_000),
            message: "no logical model of that name".into(),
        };
        assert!(ApiError::from(&e).message.len() < 1024);
    }

    #[test]
    fn envelope_shape() {
        let e = ApiError::bad_request("bad").with_param("temperature");
        let v: serde_json::Value = serde_json::from_slice(&e.to_json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"error": {"message": "bad", "type": "invalid_request_error", "param": "temperature", "code": null}})
        );
    }

    #[test]
    fn cancelled_maps_to_a_real_status() {
        let api = ApiError::from(&Error::Cancelled);
        assert_eq!(api.status.as_u16(), 499);
    }
}
