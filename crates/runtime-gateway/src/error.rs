//! The OpenAI error envelope: `{"error": {"message", "type", "param", "code"}}`.

use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use model_runtime::{Error, RequestContext, RouteSummary};
use serde::Serialize;

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
    /// Sent as `Retry-After` (whole seconds, rounded up).
    pub retry_after: Option<Duration>,
    /// The route a failed routed call took, sent as the `x-modelrt-provider`,
    /// `x-modelrt-deployment` and `x-modelrt-attempts` headers.
    pub route: Option<RouteSummary>,
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
            message: message.into(),
            kind,
            param: None,
            code: None,
            retry_after: None,
            route: None,
        }
    }

    /// An upstream call's error, with the route the router reported for it in `ctx`.
    pub fn from_call(e: Error, ctx: &RequestContext) -> Self {
        let mut err = Self::from(e);
        err.route = ctx.route.get();
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
        Self {
            status,
            message,
            kind: e.openai_type(),
            param: e.param().map(str::to_owned),
            code: e.openai_code(),
            retry_after: (status == StatusCode::TOO_MANY_REQUESTS)
                .then(|| e.retry_after())
                .flatten(),
            route: None,
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
        let h = resp.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(after) = self.retry_after {
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
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
