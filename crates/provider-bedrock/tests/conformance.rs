//! provider-bedrock against the shared conformance suite: the cases in `tests/conformance/`
//! over the recorded Bedrock fixtures (Converse JSON, binary ConverseStream captures,
//! InvokeModel embeddings). The suite configures a Bedrock API key (`api_key`), so calls carry
//! `Authorization: Bearer`; SigV4 is tested in `tests/provider.rs` and the unit tests.
#![allow(clippy::expect_used)]

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use runtime_conformance::{EVENTSTREAM, Target};
use serde_json::json;

/// Bedrock's error body: the exception type in `__type`, the words in `message`.
fn error_body(status: u16, message: &str) -> String {
    let kind = match status {
        400 => "ValidationException",
        401 => "UnrecognizedClientException",
        403 => "AccessDeniedException",
        404 => "ResourceNotFoundException",
        429 => "ThrottlingException",
        500 => "InternalServerException",
        503 => "ServiceUnavailableException",
        _ => return json!({ "message": message }).to_string(),
    };
    json!({ "__type": kind, "message": message }).to_string()
}

/// One event-stream message.
fn event(kind: &str, payload: &str) -> Vec<u8> {
    let m = Message::new(payload.as_bytes().to_vec())
        .add_header(Header::new(
            ":event-type",
            HeaderValue::String(kind.to_owned().into()),
        ))
        .add_header(Header::new(
            ":content-type",
            HeaderValue::String("application/json".into()),
        ))
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String("event".into()),
        ));
    let mut out = Vec::new();
    write_message_to(&m, &mut out).expect("encodes");
    out
}

#[tokio::test]
async fn conformance() {
    let mut first = event("messageStart", r#"{"role":"assistant"}"#);
    first.extend(event(
        "contentBlockDelta",
        r#"{"contentBlockIndex":0,"delta":{"text":"The"}}"#,
    ));
    Target::from_factory(&provider_bedrock::FACTORY)
        .model("amazon.nova-micro-v1:0")
        // Model listing goes to the mock server too (never to AWS).
        .config(json!({"control_plane_url": "{base}"}))
        .cases(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance"))
        .fixtures(runtime_testkit::fixtures::dir().join("bedrock"))
        .stream_event(first, EVENTSTREAM)
        .error_body(error_body)
        .auth_header("authorization", "Bearer {key}")
        .cannot_express("seed", json!(7))
        .cannot_express("parallel_tool_calls", json!(false))
        .cannot_express("frequency_penalty", json!(0.5))
        .run()
        .await
        .finish();
}
