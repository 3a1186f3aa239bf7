//! provider-openai against the shared conformance suite: the cases in `tests/conformance/`
//! over the recorded OpenAI fixtures.

use runtime_conformance::Target;

#[tokio::test]
async fn conformance() {
    Target::from_factory(&provider_openai::FACTORY)
        .model("gpt-4o-mini")
        .cases(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance"))
        .fixtures(runtime_testkit::fixtures::dir().join("openai"))
        .run()
        .await
        .finish();
}
