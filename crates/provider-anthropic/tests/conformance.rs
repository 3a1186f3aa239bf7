//! provider-anthropic against the shared conformance suite: the cases in `tests/conformance/`
//! over the recorded Anthropic fixtures, whose requests read back into core requests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use runtime_conformance::{Call, Target};
use serde_json::json;

/// Anthropic's error envelope.
fn error_body(status: u16, message: &str) -> String {
    let kind = match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    };
    json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_011CConformance"})
        .to_string()
}

#[tokio::test]
async fn conformance() {
    Target::from_factory(&provider_anthropic::FACTORY)
        .model("claude-haiku-4-5")
        .cases(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance"))
        .fixtures(runtime_testkit::fixtures::dir().join(common::DIR))
        .read_request(|v| {
            let req = common::anthropic_to_core(v);
            Ok(if req.stream == Some(true) {
                Call::Stream(req)
            } else {
                Call::Chat(req)
            })
        })
        .error_body(error_body)
        .auth_header("x-api-key", "{key}")
        .cannot_express("seed", json!(7))
        .cannot_express("frequency_penalty", json!(0.5))
        .run()
        .await
        .finish();
}
