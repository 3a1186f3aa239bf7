//! The official `openai` Python SDK against the real binary. Fails (never skips) when
//! `python3` or the `openai` package is missing: `cargo xtask test` installs them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;

use common::*;

#[tokio::test]
async fn openai_python_sdk() {
    let up = openai_upstream().await;
    let key = "sk-sdk-test-key";
    let gw = Gw::start_with(
        Some(&mock_config(
            &up.uri(),
            "[gateway]\nmaster_key = \"${SDK_MASTER_KEY}\"\n",
        )),
        &[("SDK_MASTER_KEY", key)],
    )
    .await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/sdk_test.py");
    let out = tokio::process::Command::new("python3")
        .arg(&script)
        .arg(&gw.url)
        .arg(key)
        .output()
        .await
        .expect("python3 must be installed (cargo xtask test installs it with the openai package)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the openai SDK test failed ({}):\n{stdout}\n{stderr}\n(if `openai` is missing: pip install openai)",
        out.status
    );
    assert!(stdout.contains("all checks passed"), "{stdout}");
}

/// The gateway answers a long upstream wait at once with `Retry-After` / `retry-after-ms`;
/// the official SDK must wait that long (not its own 0.5 s backoff) and then succeed.
#[tokio::test]
async fn openai_python_sdk_waits_for_the_gateways_retry_after() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, ResponseTemplate};
    let up = openai_upstream().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(429).set_body_json(serde_json::json!({"error": {
            "message": "Rate limit reached for gpt-4o-mini on tokens per min (TPM): Limit 30000, Used 29000, Requested 2000. Please try again in 1.5s.",
            "type": "tokens", "param": null, "code": "rate_limit_exceeded"}})))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&up)
        .await;
    let cfg = mock_config(
        &up.uri(),
        r#"
[storage]
enabled = false

[router]
max_retry_wait = "0s"

[[models]]
name = "limited"

[[models.deployments]]
provider = "mock"
model = "gpt-4o-mini"
"#,
    );
    let gw = Gw::start(Some(&cfg)).await;
    let script = r#"
import sys, time, openai
client = openai.OpenAI(base_url=sys.argv[1] + "/v1", api_key="unused", max_retries=2)
start = time.monotonic()
r = client.chat.completions.create(model="limited", messages=[{"role": "user", "content": "hi"}])
elapsed = time.monotonic() - start
assert r.choices[0].message.content == "Hello there!", r
assert elapsed >= 1.4, f"the SDK retried after {elapsed:.3f}s, before the gateway's Retry-After"
print(f"waited {elapsed:.3f}s")
"#;
    let out = tokio::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&gw.url)
        .output()
        .await
        .expect("python3 must be installed (cargo xtask test installs it with the openai package)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("waited"), "{stdout}");
    // One refused call and one answered: the gateway itself did not retry.
    assert_eq!(up.received_requests().await.unwrap().len(), 2);
}
