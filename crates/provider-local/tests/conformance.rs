//! provider-local against the shared conformance suite, in both modes: `local` (an
//! OpenAI-compatible server: llama.cpp, vLLM, Ollama `/v1` recordings) and `local-ollama`
//! (Ollama's native API recordings). The cases are in `tests/conformance/{openai,ollama}/`.

use runtime_conformance::{Category, Target};
use runtime_core::FinishReason;
use serde_json::json;

const NO_CONTENT_FILTER: &str = "local servers have no content filter: no answer of theirs \
                                 ends with content_filter (an OpenAI/Azure-only category)";

fn cases(dir: &str) -> String {
    format!("{}/tests/conformance/{dir}", env!("CARGO_MANIFEST_DIR"))
}

#[tokio::test]
async fn conformance_local() {
    Target::from_factory(&provider_local::FACTORY)
        .config(json!({"base_url": "{base}/v1"}))
        .model("qwen3:4b")
        .cases(cases("openai"))
        .fixtures(runtime_testkit::fixtures::dir().join("openai-compatible"))
        .error_body(|status, msg| {
            let t = match status {
                400 => "invalid_request_error",
                401 => "authentication_error",
                403 => "permission_error",
                404 => "not_found_error",
                429 | 503 => "unavailable_error",
                _ => "server_error",
            };
            json!({"error": {"code": status, "message": msg, "type": t}}).to_string()
        })
        .not_applicable(
            Category::Finish(FinishReason::ContentFilter),
            NO_CONTENT_FILTER,
        )
        .run()
        .await
        .finish();
}

#[tokio::test]
async fn conformance_local_ollama() {
    Target::from_factory(&provider_local::FACTORY)
        .name("local-ollama")
        .config(json!({"api": "ollama"}))
        .model("qwen3:4b")
        .cases(cases("ollama"))
        .fixtures(runtime_testkit::fixtures::dir().join("ollama"))
        .error_body(|_status, msg| json!({"error": msg}).to_string())
        .not_applicable(
            Category::Finish(FinishReason::ContentFilter),
            NO_CONTENT_FILTER,
        )
        .run()
        .await
        .finish();
}

/// The named servers are the OpenAI-compatible mode with their own defaults: the same
/// recordings (llama.cpp's and vLLM's among them) hold for each.
#[tokio::test]
async fn conformance_named_servers() {
    for factory in [
        &provider_local::servers::VLLM_FACTORY,
        &provider_local::servers::SGLANG_FACTORY,
        &provider_local::servers::LMSTUDIO_FACTORY,
        &provider_local::servers::LLAMACPP_FACTORY,
    ] {
        Target::from_factory(factory)
            .config(json!({"base_url": "{base}/v1"}))
            .model("qwen3:4b")
            .cases(cases("openai"))
            .fixtures(runtime_testkit::fixtures::dir().join("openai-compatible"))
            .error_body(|status, msg| {
                json!({"error": {"code": status, "message": msg, "type": "server_error"}})
                    .to_string()
            })
            .not_applicable(
                Category::Finish(FinishReason::ContentFilter),
                NO_CONTENT_FILTER,
            )
            .run()
            .await
            .finish();
    }
}
