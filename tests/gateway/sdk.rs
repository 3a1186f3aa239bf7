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
