//! Cohere against the shared conformance suite: the cases in `tests/conformance/` over the
//! recorded fixtures of `runtime-testkit/fixtures/cohere/` (written-for-the-test bodies are in
//! `tests/data/`, see its README).

use runtime_conformance::{Category, Target};
use runtime_core::FinishReason;
use serde_json::json;

#[tokio::test]
async fn conformance() {
    Target::from_factory(&provider_cohere::FACTORY)
        .model("command-a-03-2025")
        .cases(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance"))
        .fixtures(runtime_testkit::fixtures::dir().join("cohere"))
        .error_body(|_status, message| json!({ "message": message }).to_string())
        .cannot_express("logit_bias", json!({"50256": -100}))
        .not_applicable(
            Category::Finish(FinishReason::ContentFilter),
            "Cohere has no content-filter finish reason (its safety modes shape the text)",
        )
        .run()
        .await
        .finish();
}
