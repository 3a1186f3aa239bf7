//! provider-azure-openai against the shared conformance suite: the cases in
//! `tests/conformance/` over the recorded Azure fixtures (and OpenAI recordings where Azure
//! serves the identical wire and no Azure recording exists).

use runtime_conformance::{Target, chunks_as_sse, core_call};
use serde_json::json;

/// Azure's error envelopes (OpenAI's for 400; its own code/message for the others).
fn error_body(status: u16, msg: &str) -> String {
    match status {
        400 => json!({"error": {"message": msg, "type": "invalid_request_error", "param": null, "code": null}}),
        401 | 403 => json!({"error": {"code": status.to_string(), "message": format!("Access denied: {msg}")}}),
        404 => json!({"error": {"code": "DeploymentNotFound", "message": format!("The API deployment for this resource does not exist: {msg}")}}),
        429 => json!({"error": {"code": "429", "message": format!("{msg}. Please retry after 7 seconds.")}}),
        _ => json!({"error": {"code": "InternalServerError", "message": msg}}),
    }
    .to_string()
}

#[tokio::test]
async fn conformance() {
    Target::from_factory(&provider_azure_openai::FACTORY)
        .base_url_setting("endpoint")
        .model("gpt-4o")
        .cases(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance"))
        .fixtures(runtime_testkit::fixtures::dir().join("azure-openai"))
        // Azure's recorded requests name the deployment in the URL, not the body.
        .read_request(|v| {
            let mut v = v.clone();
            if v.get("model").is_none() {
                v["model"] = json!("gpt-4o");
            }
            core_call(&v)
        })
        .chunks(|jsonl| [chunks_as_sse(jsonl), b"data: [DONE]\n\n".to_vec()].concat())
        .error_body(error_body)
        .auth_header("api-key", "{key}")
        .run()
        .await
        .finish();
}
