//! The admin web UI at `/ui`: a single page (HTML, CSS, JS embedded in the binary; no build
//! step) over a small session-authenticated JSON API at `/ui/api/…`, which calls the same
//! admin dispatcher as `/admin/…`.
//!
//! - Sign-in takes the master key or a database key with the admin role and answers with a
//!   session cookie (`HttpOnly`, `SameSite=Strict`, 8 h); no secret is ever put in a URL or
//!   in the browser's storage. Sessions are kept (as hashes) in the usage database when there
//!   is one, so every replica sharing it honours them (see [`session`]). Every change also needs the session's CSRF token in
//!   `x-csrf-token` and a same-origin `Origin`.
//! - Every answer carries a strict Content-Security-Policy (only this origin's scripts and
//!   styles, no inline code, no framing) and `nosniff`.
//! - A gateway without keys (open to anyone who can reach it) serves no UI: a UI without a
//!   sign-in would hand spend and keys to anyone.

mod api;
pub mod session;
mod shared;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{any, get};

use crate::state::Gateway;
use session::Sessions;
pub use shared::Ui;
use shared::not_found;

const INDEX_HTML: &str = include_str!("../../ui/index.html");
const APP_JS: &str = include_str!("../../ui/app.js");
const CHARTS_JS: &str = include_str!("../../ui/charts.js");
const APP_CSS: &str = include_str!("../../ui/app.css");
const ICON_SVG: &str = include_str!("../../ui/icon.svg");

/// The Content-Security-Policy of every `/ui` answer.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                       img-src 'self' data:; connect-src 'self'; font-src 'self'; \
                       base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The `/ui` service (nest it at `/ui`).
pub fn service(gw: Arc<Gateway>) -> Router {
    // Sessions go where every replica finds them: the shared usage database, when there is one.
    let sessions = match gw.runtime().metering().and_then(|m| m.store()) {
        Some(store) => Sessions::database(store.clone()),
        None => Sessions::default(),
    };
    let ui = Arc::new(Ui { gw, sessions });
    Router::new()
        .route("/", get(index))
        .route(
            "/app.js",
            get(|| asset(APP_JS, "text/javascript; charset=utf-8")),
        )
        .route(
            "/charts.js",
            get(|| asset(CHARTS_JS, "text/javascript; charset=utf-8")),
        )
        .route(
            "/app.css",
            get(|| asset(APP_CSS, "text/css; charset=utf-8")),
        )
        .route("/icon.svg", get(|| asset(ICON_SVG, "image/svg+xml")))
        .route("/api/session", any(api::session))
        .route("/api/{*rest}", any(api::call))
        .fallback(|| async { not_found() })
        .layer(axum::middleware::map_response(secure_headers))
        .with_state(ui)
}

async fn secure_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    resp
}

async fn index(State(ui): State<Arc<Ui>>) -> Response {
    if !ui.gw.auth().enabled() {
        let mut r = Response::new(Body::from(
            "The admin UI needs sign-in, and this gateway has no keys: set \
             [gateway] master_key (or gateway keys) in the config and restart.\n",
        ));
        *r.status_mut() = StatusCode::FORBIDDEN;
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        return r;
    }
    asset(INDEX_HTML, "text/html; charset=utf-8").await
}

async fn asset(body: &'static str, ctype: &'static str) -> Response {
    let mut r = Response::new(Body::from(body));
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}
