//! provider-huggingface against the shared conformance suite: once with the Messages API (the
//! recorded TGI fixtures) and once with TGI's native `/generate` API; the feature-extraction
//! embedding cases serve both. Cases are in `tests/conformance/{messages,generate,embeddings}/`.

use runtime_conformance::{Category, Target};
use runtime_core::FinishReason;
use serde_json::{Value, json};

const NO_CONTENT_FILTER: &str =
    "TGI has no content filter: its finish reasons are length, eos_token and stop_sequence";

fn cases(dir: &str) -> String {
    format!("{}/tests/conformance/{dir}", env!("CARGO_MANIFEST_DIR"))
}

/// TGI's error object.
fn error_body(status: u16, msg: &str) -> String {
    let t = match status {
        400 | 422 => "validation",
        424 => "generation",
        429 => "overloaded",
        500 => "incomplete_generation",
        _ => "unknown",
    };
    json!({"error": msg, "error_type": t}).to_string()
}

/// TGI's SSE framing (axum): `data:` without a space.
fn tgi_sse(chunks: &str, done: bool) -> Vec<u8> {
    let chunks: Vec<Value> = serde_json::from_str(chunks).unwrap_or_default();
    let mut out: String = chunks.iter().map(|c| format!("data:{c}\n\n")).collect();
    if done {
        out.push_str("data:[DONE]\n\n");
    }
    out.into_bytes()
}

fn target(api: &str) -> Target {
    Target::from_factory(&provider_huggingface::FACTORY)
        .config(json!({
            "api": api,
            "base_url": "{base}/v1",
            "embeddings_url": "{base}/hf-inference/models/{model}/pipeline/feature-extraction"
        }))
        .fixtures(runtime_testkit::fixtures::dir().join("tgi"))
        .cases(cases(api))
        .cases(cases("embeddings"))
        .error_body(error_body)
        .not_applicable(
            Category::Finish(FinishReason::ContentFilter),
            NO_CONTENT_FILTER,
        )
}

#[tokio::test]
async fn conformance_messages_api() {
    target("messages")
        .model("meta-llama/Llama-3.1-8B-Instruct")
        .chunks(|c| tgi_sse(c, true))
        .run()
        .await
        .finish();
}

#[tokio::test]
async fn conformance_generate_api() {
    target("generate")
        .name("huggingface-generate")
        .model("tgi")
        .chunks(|c| tgi_sse(c, false))
        .not_applicable(
            Category::SystemPrompt,
            "api = generate sends one prompt without a chat template; a system prompt is an \
             InvalidRequest naming `messages` (the case system-prompt-is-refused)",
        )
        .run()
        .await
        .finish();
}
