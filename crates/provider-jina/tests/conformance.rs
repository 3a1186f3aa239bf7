//! Jina against the shared conformance suite: the cases in `tests/conformance/` over the
//! recorded fixtures of `runtime-testkit/fixtures/jina/`. Jina serves no chat (rerank has no
//! conformance category: `tests/rerank.rs` covers it against the recorded answer).

use runtime_conformance::Target;
use serde_json::json;

#[tokio::test]
async fn conformance() {
    Target::from_factory(&provider_jina::FACTORY)
        .model("jina-embeddings-v3")
        .cases(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance"))
        .fixtures(runtime_testkit::fixtures::dir().join("jina"))
        // Jina's errors are classified by HTTP status alone; no recorded error body was
        // found, so the generic status checks get a FastAPI-style `detail` body.
        .error_body(|_status, message| json!({ "detail": message }).to_string())
        .cannot_express("embedding_type", json!("binary"))
        .run()
        .await
        .finish();
}
