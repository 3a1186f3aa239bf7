//! Every preset against the shared conformance suite: the cases in
//! `tests/conformance/<preset>/` over the recorded fixtures of
//! `runtime-testkit/fixtures/<preset>/` (written-for-the-test bodies are in `tests/data/`, see
//! its README).

#![allow(clippy::panic)]

use runtime_conformance::{Category, Target};
use runtime_core::FinishReason;
use serde_json::json;

const NO_CONTENT_FILTER: &str = "no documented content_filter finish reason: the API answers a \
                                 moderation refusal as text or an HTTP error";

fn target(name: &str, model: &str) -> Target {
    let factory = provider_presets::factories()
        .into_iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no preset `{name}` compiled in"));
    Target::from_factory(factory)
        .model(model)
        .cases(format!(
            "{}/tests/conformance/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .fixtures(runtime_testkit::fixtures::dir().join(name))
        .not_applicable(
            Category::Finish(FinishReason::ContentFilter),
            NO_CONTENT_FILTER,
        )
}

#[tokio::test]
async fn conformance_groq() {
    target("groq", "llama-3.1-8b-instant")
        .cannot_express("logprobs", json!(true))
        .cannot_express("top_logprobs", json!(2))
        .cannot_express("logit_bias", json!({"50256": -100}))
        .run()
        .await
        .finish();
}

#[tokio::test]
async fn conformance_deepseek() {
    target("deepseek", "deepseek-reasoner")
        .cannot_express("logprobs", json!(true))
        .cannot_express("top_logprobs", json!(2))
        .run()
        .await
        .finish();
}

#[tokio::test]
async fn conformance_xai() {
    target("xai", "grok-3-mini")
        .cannot_express("presence_penalty", json!(0.5))
        .cannot_express("frequency_penalty", json!(0.5))
        .run()
        .await
        .finish();
}

#[tokio::test]
async fn conformance_openrouter() {
    target("openrouter", "openai/gpt-4o").run().await.finish();
}

#[tokio::test]
async fn conformance_together() {
    target("together", "meta-llama/Llama-3.3-70B-Instruct-Turbo")
        .run()
        .await
        .finish();
}

#[tokio::test]
async fn conformance_fireworks() {
    target("fireworks", "llama-v3p1-8b-instruct")
        .run()
        .await
        .finish();
}

#[tokio::test]
async fn conformance_cerebras() {
    target("cerebras", "gpt-oss-120b")
        .cannot_express("frequency_penalty", json!(0.5))
        .cannot_express("logit_bias", json!({"1": 1}))
        .cannot_express("service_tier", json!("priority"))
        .run()
        .await
        .finish();
}

#[tokio::test]
async fn conformance_perplexity() {
    target("perplexity", "sonar").run().await.finish();
}
