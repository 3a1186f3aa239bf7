//! Every client route also without its `/v1` prefix: clients configured with a base URL
//! that lacks `/v1` (common in LiteLLM-style setups) call `/chat/completions`, `/embeddings`,
//! `/models`… The request's path gets the prefix before routing, so one route table serves
//! both spellings (and a route added under `/v1` is reachable both ways without more code).

use axum::Router;
use axum::extract::Request;
use axum::http::Uri;
use axum::http::uri::PathAndQuery;

/// The first segments of the client API under `/v1` (the admin API, `/health`, `/ready` and
/// `/metrics` stay where they are).
const CLIENT_ROUTES: &[&str] = &[
    "chat",
    "completions",
    "embeddings",
    "models",
    "usage",
    "messages",
    "responses",
];

/// `router`, also answering every client route without `/v1`.
pub fn with_unprefixed_routes(router: Router) -> Router {
    Router::new().fallback_service(tower::ServiceExt::map_request(router, add_v1))
}

/// The request with `/v1` put before a client route's path.
fn add_v1(mut req: Request) -> Request {
    if let Some(uri) = v1_uri(req.uri()) {
        *req.uri_mut() = uri;
    }
    req
}

/// The `/v1` spelling of `uri`, when it names a client route without the prefix.
fn v1_uri(uri: &Uri) -> Option<Uri> {
    let path = uri.path();
    let first = path.strip_prefix('/')?.split('/').next()?;
    if !CLIENT_ROUTES.contains(&first) {
        return None;
    }
    let pq = match uri.query() {
        Some(q) => format!("/v1{path}?{q}"),
        None => format!("/v1{path}"),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(PathAndQuery::try_from(pq).ok()?);
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn v1(s: &str) -> Option<String> {
        v1_uri(&s.parse().unwrap()).map(|u| u.to_string())
    }

    #[test]
    fn client_routes_get_the_prefix_with_their_query() {
        assert_eq!(
            v1("/chat/completions").as_deref(),
            Some("/v1/chat/completions")
        );
        assert_eq!(v1("/embeddings").as_deref(), Some("/v1/embeddings"));
        assert_eq!(v1("/completions").as_deref(), Some("/v1/completions"));
        assert_eq!(v1("/models").as_deref(), Some("/v1/models"));
        assert_eq!(v1("/models/a/b").as_deref(), Some("/v1/models/a/b"));
        assert_eq!(v1("/usage?since=1h").as_deref(), Some("/v1/usage?since=1h"));
        assert_eq!(v1("/messages").as_deref(), Some("/v1/messages"));
        assert_eq!(v1("/responses/r1").as_deref(), Some("/v1/responses/r1"));
    }

    #[test]
    fn other_paths_are_left_alone() {
        for p in [
            "/v1/chat/completions",
            "/health",
            "/ready",
            "/metrics",
            "/admin/keys",
            "/",
            "/chatty",
        ] {
            assert_eq!(v1(p), None, "{p}");
        }
    }
}
