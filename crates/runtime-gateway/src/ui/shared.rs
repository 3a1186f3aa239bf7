//! What the UI's handlers share: their state, JSON and error answers, the session check.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::session::{self, Sessions};
use crate::state::Gateway;

/// What the UI's handlers share.
pub struct Ui {
    pub(super) gw: Arc<Gateway>,
    pub(super) sessions: Sessions,
}

/// A JSON answer.
pub(super) fn json_response(status: StatusCode, v: &Value) -> Response {
    let mut r = Response::new(Body::from(serde_json::to_vec(v).unwrap_or_default()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

pub(super) fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"error": {"message": message, "type": "invalid_request_error", "code": code}}),
    )
}

pub(super) fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "not_found", "no such page")
}

/// Who a session belongs to now: its key checked again (revoked or expired keys end the
/// session) and still allowed the admin API.
pub(super) async fn authorize(
    ui: &Ui,
    headers: &HeaderMap,
) -> Result<(String, session::Session), Response> {
    let found = ui.sessions.get(headers).await.map_err(|e| {
        tracing::warn!(error = %e, "cannot read ui sessions");
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "sessions_unavailable",
            "the session store (usage database) did not answer: try again",
        )
    })?;
    let Some((id, s)) = found else {
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "not_signed_in",
            "sign in first",
        ));
    };
    let ok = ui
        .gw
        .auth()
        .identify_hash(&s.key_hash)
        .is_some_and(|p| p.admin_api());
    if !ok {
        if let Err(e) = ui.sessions.close(&id).await {
            tracing::warn!(error = %e, "cannot end a ui session");
        }
        return Err(error(
            StatusCode::UNAUTHORIZED,
            "session_ended",
            "the key of this session is no longer valid for the admin API: sign in again",
        ));
    }
    Ok((id, s))
}

/// Whether `method` changes something (and so needs the CSRF token).
pub(super) fn changes(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The request's body, bounded.
pub(super) async fn body(ui: &Ui, req: Request) -> Result<bytes::Bytes, Response> {
    axum::body::to_bytes(req.into_body(), ui.gw.config().max_body_bytes)
        .await
        .map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                "bad_body",
                &format!("could not read the request body: {e}"),
            )
        })
}
