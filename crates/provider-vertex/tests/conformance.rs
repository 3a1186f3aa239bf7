//! provider-vertex against the shared conformance suite: two rows, Gemini on Vertex AI
//! (`vertex`) and Claude on Vertex AI (`vertex-claude`), over the recordings in
//! `runtime-testkit/fixtures/vertex/` (and, where the wire is the same and no Vertex recording
//! of the exchange was found, `../gemini/` and `../anthropic/`; each such case says so).
//! The configured `access_token` is the key the suite checks in `Authorization: Bearer`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use runtime_conformance::{Category, Target};
use runtime_core::http::{HttpClient, HttpClientConfig};
use runtime_core::registry::validate_with;
use runtime_core::{BuildContext, Provider, Result, Secret};
use serde_json::{Map, Value, json};

/// Google's error envelope (Vertex answers Claude calls' own errors in it too).
fn error_body(status: u16, message: &str) -> String {
    let s = match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        500 => "INTERNAL",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNAVAILABLE",
    };
    json!({"error": {"code": status, "message": message, "status": s}}).to_string()
}

/// Builds through the registry factory, as an application would: the suite's key as
/// `access_token`, the mock server as `base_url`.
fn build(base: &str, key: &Secret, timeout: Duration, location: &str) -> Result<Arc<dyn Provider>> {
    let mut table = Map::new();
    let ms = format!("{}ms", timeout.as_millis());
    for (k, v) in [
        ("access_token", key.expose()),
        ("base_url", base),
        ("project", "PROJECT_ID"),
        ("location", location),
        ("timeout", &ms),
        ("stream_idle_timeout", &ms),
    ] {
        table.insert(k.into(), Value::String(v.to_owned()));
    }
    let cfg = validate_with(&provider_vertex::FACTORY, "vertex", &table, &|_| None)?;
    let http = HttpClient::new(&HttpClientConfig::default())?;
    (provider_vertex::FACTORY.build)(cfg, &BuildContext::new(http))
}

fn fixtures() -> std::path::PathBuf {
    runtime_testkit::fixtures::dir().join("vertex")
}

#[tokio::test]
async fn conformance_gemini() {
    Target::new("vertex", |base, key, timeout| {
        build(base, key, timeout, "global")
    })
    .model("gemini-2.5-flash")
    .cases(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance/gemini"
    ))
    .fixtures(fixtures())
    .error_body(error_body)
    .not_applicable(
        Category::ModelListing,
        "the live listing (Model Garden's v1beta1 publishers.models.list) has no recorded \
         answer to replay; tests/listing.rs covers it against wiremock with written bodies",
    )
    .cannot_express("parallel_tool_calls", json!(false))
    .run()
    .await
    .finish();
}

#[tokio::test]
async fn conformance_claude() {
    Target::new("vertex-claude", |base, key, timeout| {
        build(base, key, timeout, "us-east5")
    })
    .model("claude-sonnet-4-5@20250929")
    .cases(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance/claude"
    ))
    .fixtures(fixtures())
    .error_body(error_body)
    .not_applicable(
        Category::ModelListing,
        "Claude models come from the static catalog in the listing (see the `vertex` row)",
    )
    .not_applicable(
        Category::Embeddings,
        "Claude has no embeddings; Vertex text embeddings are checked on the `vertex` row",
    )
    .cannot_express("seed", json!(7))
    .run()
    .await
    .finish();
}
