//! The route template a request is counted and traced under (shared by [`crate::observe`]'s
//! metrics and access log and [`crate::otel`]'s request span).

/// The routes a request is counted under (the path template; anything else is `other`, so a
/// client cannot create series).
const ROUTES: &[&str] = &[
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/embeddings",
    "/v1/models",
    "/v1/models/{id}",
    "/v1/usage",
    "/v1/messages",
    "/v1/responses",
    "/health",
    "/ready",
    "/metrics",
    "/admin",
    "other",
];

/// The route template of `path`.
pub fn route_of(path: &str) -> &'static str {
    if let Some(r) = ROUTES.iter().find(|r| **r == path) {
        return r;
    }
    if path.starts_with("/v1/models/") {
        "/v1/models/{id}"
    } else if path.starts_with("/admin/") {
        "/admin"
    } else {
        "other"
    }
}
