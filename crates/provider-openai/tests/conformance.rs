//! provider-openai against the shared conformance suite: the cases in `tests/conformance/`
//! over the recorded OpenAI fixtures.

use runtime_conformance::Target;
use serde_json::json;

#[tokio::test]
async fn conformance() {
    Target::from_factory(&provider_openai::FACTORY)
        .model("gpt-4o-mini")
        // The suite serves from 127.0.0.1, where `auto` would send `max_tokens`; the cases
        // record OpenAI's field (the host rule itself: tests/max_tokens_field.rs).
        .config(json!({"max_tokens_field": "max_completion_tokens"}))
        .cases(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance"))
        .fixtures(runtime_testkit::fixtures::dir().join("openai"))
        .run()
        .await
        .finish();
}
