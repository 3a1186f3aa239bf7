//! Mistral against the shared conformance suite: the cases in `tests/conformance/` over the
//! recorded fixtures of `runtime-testkit/fixtures/mistral/` (written-for-the-test bodies are in
//! `tests/data/`, see its README).

use runtime_conformance::{Category, Target};
use runtime_core::FinishReason;
use serde_json::json;

#[tokio::test]
async fn conformance() {
    Target::from_factory(&provider_mistral::FACTORY)
        .model("mistral-small-latest")
        .cases(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance"))
        .fixtures(runtime_testkit::fixtures::dir().join("mistral"))
        .error_body(|_status, message| {
            json!({"object": "error", "message": message, "type": "invalid_request_error",
                   "param": null, "code": null})
            .to_string()
        })
        .not_applicable(
            Category::Finish(FinishReason::ContentFilter),
            "Mistral has no content_filter finish reason: moderation is a separate endpoint",
        )
        .run()
        .await
        .finish();
}
