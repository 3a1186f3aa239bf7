//! The admin API under `/admin/`: keys, teams, end users, budgets, spend and the live routing
//! state, for the master key or keys with the admin role; described by `/admin/openapi.json`.
//!
//! Every route is one entry of [`ROUTES`], which the dispatcher matches and the OpenAPI test
//! checks; `modelrt keys …` calls the same dispatcher in process when it talks to the database
//! directly. Bodies are strict (unknown fields refused, errors name the field); each change is
//! one database transaction.

mod answer;
mod keys;
pub mod openapi;
mod routing;
mod spend;
mod teams;
mod users;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use runtime_governance::AdminError;
use serde_json::json;

use crate::error::ApiError;
use crate::govern::Governor;
use crate::state::Gateway;
pub use answer::{AdminCtx, Answer};
use answer::{list, ok};

/// Every admin route: method, path template (`{id}` is one segment).
pub const ROUTES: &[(&str, &str)] = &[
    ("GET", "/admin/keys"),
    ("POST", "/admin/keys"),
    ("GET", "/admin/keys/{id}"),
    ("PATCH", "/admin/keys/{id}"),
    ("POST", "/admin/keys/{id}/rotate"),
    ("POST", "/admin/keys/{id}/revoke"),
    ("GET", "/admin/teams"),
    ("POST", "/admin/teams"),
    ("GET", "/admin/teams/{id}"),
    ("PATCH", "/admin/teams/{id}"),
    ("DELETE", "/admin/teams/{id}"),
    ("GET", "/admin/users"),
    ("POST", "/admin/users"),
    ("GET", "/admin/users/{id}"),
    ("PATCH", "/admin/users/{id}"),
    ("DELETE", "/admin/users/{id}"),
    ("GET", "/admin/budgets"),
    ("GET", "/admin/spend"),
    ("GET", "/admin/routing"),
    ("GET", "/admin/openapi.json"),
];

/// One admin request.
pub struct AdminRequest<'a> {
    /// `GET`, `POST`, `PATCH`, `DELETE`.
    pub method: &'a str,
    /// The path (`/admin/keys/k1`).
    pub path: &'a str,
    /// The query string.
    pub query: Option<&'a str>,
    /// The body.
    pub body: &'a [u8],
}

fn error(e: AdminError) -> Answer {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let kind = if e.status >= 500 {
        "api_error"
    } else {
        "invalid_request_error"
    };
    (
        status,
        json!({"error": {"message": e.to_string(), "type": kind, "param": e.field, "code": e.code}}),
    )
}

/// Matches `path` against `template`; returns the `{id}` segment, if any.
fn matches<'a>(template: &str, path: &'a str) -> Option<Option<&'a str>> {
    let t: Vec<&str> = template.split('/').collect();
    let p: Vec<&str> = path.split('/').collect();
    if t.len() != p.len() {
        return None;
    }
    let mut id = None;
    for (a, b) in t.iter().zip(&p) {
        if *a == "{id}" {
            if b.is_empty() {
                return None;
            }
            id = Some(*b);
        } else if a != b {
            return None;
        }
    }
    Some(id)
}

fn governance<'a>(ctx: &AdminCtx<'a>) -> Result<&'a Governor, AdminError> {
    ctx.gov.ok_or(AdminError {
        status: 404,
        code: "governance_disabled",
        field: None,
        message: "database keys are off: set [gateway.governance] enabled = true".into(),
    })
}

/// Answers one admin request (the HTTP handler and the CLI's direct mode both call this).
pub async fn dispatch(ctx: &AdminCtx<'_>, req: &AdminRequest<'_>) -> Answer {
    let path = req.path.trim_end_matches('/');
    let mut route = None;
    let mut path_known = false;
    for (m, t) in ROUTES {
        if let Some(id) = matches(t, path) {
            path_known = true;
            if *m == req.method {
                route = Some((*t, id));
                break;
            }
        }
    }
    let Some((template, id)) = route else {
        let (status, what) = if path_known {
            (405, "method_not_allowed")
        } else {
            (404, "not_found")
        };
        return error(AdminError {
            status,
            code: what,
            field: None,
            message: format!(
                "no admin route {} {}",
                req.method,
                model_runtime::error::excerpt(path)
            ),
        });
    };
    let id = id.unwrap_or_default();
    let r = match template {
        "/admin/openapi.json" => Ok(ok(openapi::document())),
        "/admin/spend" => spend::spend(ctx, req.query).await,
        "/admin/routing" => routing::routing(ctx).await,
        "/admin/budgets" => match governance(ctx) {
            Ok(g) => Ok(list(g.gov.budgets().await)),
            Err(e) => Err(e),
        },
        t if t.starts_with("/admin/keys") => match governance(ctx) {
            Ok(g) => keys::handle(g, req.method, t, id, req.body).await,
            Err(e) => Err(e),
        },
        t if t.starts_with("/admin/teams") => match governance(ctx) {
            Ok(g) => teams::handle(g, req.method, id, req.body).await,
            Err(e) => Err(e),
        },
        t if t.starts_with("/admin/users") => match governance(ctx) {
            Ok(g) => users::handle(g, req.method, id, req.body).await,
            Err(e) => Err(e),
        },
        _ => Err(AdminError::not_found("route", template)),
    };
    r.unwrap_or_else(error)
}

/// The `/admin/…` routes of the gateway.
pub fn routes(gw: Arc<Gateway>) -> Router<Arc<Gateway>> {
    Router::new()
        .route("/admin", any(handler))
        .route("/admin/{*rest}", any(handler))
        .with_state(gw)
}

async fn handler(State(gw): State<Arc<Gateway>>, req: Request) -> Response {
    let who = match gw.auth().identify(req.headers()) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if !who.admin_api() {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            "the admin API needs the master key or a key with the admin role",
        )
        .with_code("admin_only")
        .into_response();
    }
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    let limit = gw.config().max_body_bytes;
    let body = match axum::body::to_bytes(req.into_body(), limit).await {
        Ok(b) => b,
        Err(e) => {
            return ApiError::bad_request(format!("could not read the request body: {e}"))
                .into_response();
        }
    };
    let ctx = AdminCtx {
        gov: gw.governor().map(|g| &**g),
        runtime: gw.runtime(),
    };
    let (status, value) = dispatch(
        &ctx,
        &AdminRequest {
            method: method.as_str(),
            path: &path,
            query: query.as_deref(),
            body: &body,
        },
    )
    .await;
    if status.is_success() && method != Method::GET {
        tracing::info!(method = %method, path, status = status.as_u16(), "admin change");
    }
    let mut resp = Response::new(Body::from(serde_json::to_vec(&value).unwrap_or_default()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_one_segment_per_id() {
        assert_eq!(
            matches("/admin/keys/{id}", "/admin/keys/k1"),
            Some(Some("k1"))
        );
        assert_eq!(matches("/admin/keys/{id}", "/admin/keys/"), None);
        assert_eq!(matches("/admin/keys/{id}", "/admin/keys/a/b"), None);
        assert_eq!(matches("/admin/keys", "/admin/keys"), Some(None));
    }
}
