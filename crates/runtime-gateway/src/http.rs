//! Request and response helpers every route shares: the request id header, reading and
//! decoding a body, JSON answers with the routing headers, the draining error.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use model_runtime::ResponseMeta;
use model_runtime::error::excerpt;
use serde::de::DeserializeOwned;

use crate::error::ApiError;
use crate::listener::BodyTimeout;

pub(crate) static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

static X_PROVIDER: HeaderName = HeaderName::from_static("x-modelrt-provider");

static X_DEPLOYMENT: HeaderName = HeaderName::from_static("x-modelrt-deployment");

static X_ATTEMPTS: HeaderName = HeaderName::from_static("x-modelrt-attempts");

static X_DROPPED_PARAMS: HeaderName = HeaderName::from_static("x-modelrt-dropped-params");

static X_CACHE: HeaderName = HeaderName::from_static("x-modelrt-cache");

fn valid_request_id(v: &HeaderValue) -> Option<&str> {
    let s = v.to_str().ok()?;
    (!s.is_empty() && s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic())).then_some(s)
}

/// The request id of a request: the client's valid `x-request-id`, or a new one.
pub(crate) fn request_id(headers: &HeaderMap) -> Arc<str> {
    match headers.get(&X_REQUEST_ID).and_then(valid_request_id) {
        Some(s) => Arc::from(s),
        None => Arc::from(model_runtime::new_request_id()),
    }
}

/// `503 shutting_down`: the gateway is draining or stopping.
pub(crate) fn shutting_down() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "api_error",
        "the gateway is shutting down",
    )
    .with_code("shutting_down")
}

/// Reads the body up to `limit` bytes.
pub(crate) async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            format!("request body is larger than the limit of {limit} bytes"),
        )
        .with_code("request_too_large")
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let mut stream = body.into_data_stream();
    let mut buf = Vec::with_capacity(declared.map_or(1024, |n| n as usize));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(body_read_error)?;
        if buf.len() + chunk.len() > limit {
            return Err(too_large());
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buf))
}

/// `408` when the client stopped sending the body (`body_timeout`; the connection closes
/// after it), else `400`.
fn body_read_error(e: axum::Error) -> ApiError {
    match BodyTimeout::find(&e) {
        Some(t) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "invalid_request_error",
            t.to_string(),
        )
        .with_code("request_timeout"),
        None => ApiError::bad_request(format!("could not read the request body: {e}")),
    }
}

/// Decodes a JSON body; errors name the offending field as `param`.
///
/// A valid body is decoded once, by plain `serde_json`; only a body that fails is decoded a
/// second time with path tracking, to name the field (tracking every key of every request
/// cost about 3 % of the gateway's CPU per request).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::bad_request(
            "the request body is empty; expected a JSON object",
        ));
    }
    match serde_json::from_slice(bytes) {
        Ok(value) => Ok(value),
        Err(_) => Err(parse_json_error::<T>(bytes)),
    }
}

/// The error of a body that does not decode, with the path of the offending field.
fn parse_json_error<T: DeserializeOwned>(bytes: &[u8]) -> ApiError {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    match result {
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let mut err = if inner.is_data() {
                ApiError::bad_request(format!("invalid request: {inner}"))
            } else {
                ApiError::bad_request(format!("invalid JSON body: {inner}"))
                    .with_code("invalid_json")
            };
            if inner.is_data() && !path.is_empty() && path != "." {
                err = err.with_param(excerpt(&path));
            }
            err
        }
        // The value decoded, so what failed is what follows it.
        Ok(_) => match de.end() {
            Err(e) => {
                ApiError::bad_request(format!("invalid JSON body: {e}")).with_code("invalid_json")
            }
            Ok(()) => ApiError::bad_request("invalid JSON body").with_code("invalid_json"),
        },
    }
}

pub(crate) fn require(value: &str, param: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        Err(ApiError::bad_request(format!("`{param}` is required")).with_param(param))
    } else {
        Ok(())
    }
}

pub(crate) fn json_ok(body: Vec<u8>) -> Response {
    let mut resp = Response::new(Body::from(body));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

pub(crate) fn meta_headers(h: &mut HeaderMap, meta: &ResponseMeta) {
    let mut set = |name: &HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name.clone(), v);
        }
    };
    if let Some(p) = &meta.provider {
        set(&X_PROVIDER, p);
    }
    if let Some(d) = &meta.deployment {
        set(&X_DEPLOYMENT, d);
    }
    set(&X_ATTEMPTS, &meta.attempts.unwrap_or(1).to_string());
    // Request fields the provider could not send upstream (e.g. Anthropic's `top_k` to OpenAI).
    if let Some(serde_json::Value::Array(names)) = meta.annotations.get("dropped_params") {
        let names: Vec<&str> = names.iter().filter_map(serde_json::Value::as_str).collect();
        if !names.is_empty() {
            set(&X_DROPPED_PARAMS, &names.join(", "));
        }
    }
    set(
        &X_CACHE,
        if meta.cache_hit == Some(true) {
            "hit"
        } else {
            "miss"
        },
    );
}

pub(crate) fn json_with_meta(body: Vec<u8>, meta: &ResponseMeta) -> Response {
    let mut resp = json_ok(body);
    meta_headers(resp.headers_mut(), meta);
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dropped_request_fields_are_named_in_a_header() {
        let mut meta = ResponseMeta::default();
        let mut h = HeaderMap::new();
        meta_headers(&mut h, &meta);
        assert!(!h.contains_key("x-modelrt-dropped-params"));
        meta.annotations.insert(
            "dropped_params".into(),
            serde_json::json!(["thinking", "top_k"]),
        );
        meta_headers(&mut h, &meta);
        assert_eq!(h["x-modelrt-dropped-params"], "thinking, top_k");
    }

    #[test]
    fn a_body_that_stopped_arriving_is_408_other_read_errors_400() {
        let timeout = axum::Error::new(BodyTimeout(Duration::from_secs(1)));
        let e = body_read_error(timeout);
        assert_eq!(e.status, StatusCode::REQUEST_TIMEOUT);
        assert_eq!(e.code.as_deref(), Some("request_timeout"));
        let e = body_read_error(axum::Error::new(std::io::Error::other("reset")));
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }
}
