//! The live listing against wiremock: Model Garden's `publishers.models.list` (every page,
//! the bearer token, the page token encoded), the callable models kept with the catalog's
//! limits, Claude from the catalog, and the static catalog when the route is not served.
//! The bodies are written for the test (`tests/data/README.md`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use provider_vertex::{Credentials, VertexProvider, VertexSettings};
use runtime_core::http::HttpClient;
use runtime_core::{ModelKind, Provider, RequestContext, Secret};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PAGE1: &str = include_str!("data/publisher-models.page1.json");
const PAGE2: &str = include_str!("data/publisher-models.page2.json");

fn provider(server: &MockServer) -> VertexProvider {
    let mut s = VertexSettings::new(
        "vertex",
        "my-proj",
        Credentials::AccessToken(Secret::new("ya29.list")),
    );
    s.location = "us-central1".into();
    s.base_url = Some(server.uri());
    s.timeout = Duration::from_secs(10);
    s.build(HttpClient::shared().unwrap()).unwrap()
}

#[tokio::test]
async fn every_page_is_read_and_callable_models_are_kept() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1beta1/publishers/google/models"))
        .and(query_param("pageToken", "page/2=="))
        .and(header("authorization", "Bearer ya29.list"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(PAGE2, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1beta1/publishers/google/models"))
        .and(query_param("pageSize", "300"))
        .and(header("authorization", "Bearer ya29.list"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(PAGE1, "application/json"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let p = provider(&server);
    assert!(p.capabilities().list_models);
    let models = p.list_models(&RequestContext::new()).await.unwrap();
    let ids: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        &ids[..3],
        [
            "gemini-2.5-flash",
            "text-embedding-005",
            "gemini-3-pro-preview"
        ],
        "{ids:?}"
    );
    // Gemma (weights to deploy) and Imagen are not callable through this provider.
    assert!(
        !ids.iter()
            .any(|i| i.starts_with("gemma") || i.starts_with("imagen"))
    );
    // The catalog's limits for a known id, none for a new one; Claude from the catalog.
    assert_eq!(models[0].context_window, Some(1_048_576));
    assert_eq!(models[1].kind, ModelKind::Embedding);
    assert_eq!(models[2].context_window, None);
    assert!(ids.contains(&"claude-sonnet-4-5@20250929"));
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 2);
    assert!(
        reqs[1]
            .url
            .query()
            .unwrap()
            .contains("pageToken=page%2F2%3D%3D"),
        "{}",
        reqs[1].url
    );
}

#[tokio::test]
async fn the_static_catalog_answers_when_the_route_is_not_served() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1beta1/publishers/google/models"))
        .respond_with(ResponseTemplate::new(404).set_body_string("<html>Not Found</html>"))
        .expect(1)
        .mount(&server)
        .await;
    let p = provider(&server);
    let models = p.list_models(&RequestContext::new()).await.unwrap();
    assert_eq!(models, p.models());
    assert!(models.iter().any(|m| m.id == "gemini-2.5-pro"));
}
