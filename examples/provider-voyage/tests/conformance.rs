//! provider-voyage against model-runtime's conformance suite: the cases in
//! `tests/conformance/` over the fixtures in `tests/fixtures/` (sources in its SOURCES.md).

use runtime_conformance::{Call, Target};
use serde_json::{Value, json};

/// Voyage's wire request as the core request it expresses (`output_dimension` is the core's
/// `dimensions`; the other Voyage fields travel in `extra`).
fn read_request(v: &Value) -> Result<Call, String> {
    let mut v = v.clone();
    if let Some(d) = v.as_object_mut().and_then(|m| m.remove("output_dimension")) {
        v["dimensions"] = d;
    }
    runtime_conformance::core_call(&v)
}

#[tokio::test]
async fn conformance() {
    Target::from_factory(&provider_voyage::FACTORY)
        .model("voyage-3.5")
        .cases(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/conformance"))
        .fixtures(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures"))
        .read_request(read_request)
        .error_body(|_status, message| json!({"detail": message}).to_string())
        .cannot_express("user", json!("end-user-1"))
        .run()
        .await
        .finish();
}
