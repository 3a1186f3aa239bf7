//! Routes of the client-facing dialects other than OpenAI's chat completions, one module per
//! dialect; each translates with `runtime-dialects` and calls the chat path the OpenAI routes
//! use ([`crate::call::ChatCall`]), so keys, governance, routing, caching and metering
//! apply exactly as on `/v1/chat/completions`.

pub mod messages;
pub mod rerank;

use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Whether `path` is a route of Anthropic's Messages API (`/v1/messages…`, `/messages…`):
/// its answers, failures included, are in Anthropic's envelope.
pub(crate) fn is_messages_path(path: &str) -> bool {
    let rest = path.strip_prefix("/v1").unwrap_or(path);
    rest.strip_prefix("/messages")
        .is_some_and(|r| r.is_empty() || r.starts_with('/'))
}

/// A failure the gateway answers before a route's own handler runs (unknown route, method not
/// allowed, draining, stopping), in the envelope of the dialect `path` belongs to: Anthropic's
/// for the Messages routes, OpenAI's everywhere else (`/v1/responses` included).
pub(crate) fn error_for_path(path: &str, e: ApiError, request_id: &str) -> Response {
    if is_messages_path(path) {
        messages::error::response(e, request_id)
    } else {
        e.into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_paths_are_told_apart() {
        for p in [
            "/v1/messages",
            "/messages",
            "/v1/messages/count_tokens",
            "/messages/batches/x",
        ] {
            assert!(is_messages_path(p), "{p}");
        }
        for p in [
            "/v1/messagesx",
            "/v1/responses",
            "/v1/chat/completions",
            "/v2/messages",
            "/",
        ] {
            assert!(!is_messages_path(p), "{p}");
        }
    }
}
