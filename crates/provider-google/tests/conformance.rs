//! provider-google against the shared conformance suite: the cases in `tests/conformance/`
//! over the recorded Gemini fixtures.

use runtime_conformance::Target;
use serde_json::json;

/// Google's error envelope.
fn error_body(status: u16, message: &str) -> String {
    let s = match status {
        400 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        500 => "INTERNAL",
        504 => "DEADLINE_EXCEEDED",
        _ => "UNAVAILABLE",
    };
    json!({"error": {"code": status, "message": message, "status": s}}).to_string()
}

#[tokio::test]
async fn conformance() {
    Target::from_factory(&provider_google::FACTORY)
        .model("gemini-2.5-flash")
        .cases(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance"))
        .fixtures(runtime_testkit::fixtures::dir().join("gemini"))
        // Gemini frames its events with CRLF.
        .chunks(|jsonl| {
            String::from_utf8_lossy(&runtime_conformance::chunks_as_sse(jsonl))
                .replace("\n\n", "\r\n\r\n")
                .into_bytes()
        })
        .error_body(error_body)
        .auth_header("x-goog-api-key", "{key}")
        .cannot_express("parallel_tool_calls", json!(false))
        .run()
        .await
        .finish();
}
