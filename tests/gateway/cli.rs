//! The CLI commands, run as the real binary against a wiremock upstream (no server).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Output;

use common::*;
use serde_json::Value;
use tokio::io::AsyncWriteExt;

async fn modelrt(config: Option<&std::path::Path>, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_modelrt"));
    for k in [
        "OPENAI_API_KEY",
        "ANTHROPIC_API_KEY",
        "GEMINI_API_KEY",
        "MODELRT_CONFIG",
        "HF_TOKEN",
    ] {
        cmd.env_remove(k);
    }
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    cmd.args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        pipe.write_all(s.as_bytes()).await.unwrap();
    }
    drop(pipe);
    child.wait_with_output().await.unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test]
async fn chat_embed_models_against_the_configured_provider() {
    let up = openai_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.toml");
    std::fs::write(&file, mock_config(&up.uri(), "")).unwrap();

    let out = modelrt(
        Some(&file),
        &["chat", "-m", "mock/gpt-4o-mini", "Say hi"],
        None,
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "Hello\n");

    let out = modelrt(
        Some(&file),
        &["chat", "-m", "mock/gpt-4o-mini"],
        Some("Say hi from stdin"),
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "Hello\n");
    let sent: Vec<Value> = up
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/v1/chat/completions")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(sent[1]["messages"][0]["content"], "Say hi from stdin");
    assert_eq!(sent[1]["stream"], true);

    let out = modelrt(
        Some(&file),
        &["chat", "-m", "mock/gpt-4o-mini", "--no-stream", "Say hi"],
        None,
    )
    .await;
    assert_eq!(text(&out.stdout), "Hello there!\n");

    let out = modelrt(
        Some(&file),
        &["embed", "-m", "mock/text-embedding-3-small", "a", "b"],
        None,
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][1]["embedding"][2], 1.0);

    let out = modelrt(Some(&file), &["models"], None).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.starts_with("MODEL"), "{table}");
    assert!(table.contains("mock/gpt-4o-mini"), "{table}");
    let out = modelrt(Some(&file), &["models", "--json"], None).await;
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["object"], "list");
}

#[tokio::test]
async fn unconfigured_provider_names_what_to_set() {
    let out = modelrt(None, &["chat", "-m", "openai/gpt-4o-mini", "hi"], None).await;
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("OPENAI_API_KEY"), "{err}");
}

#[tokio::test]
async fn providers_lists_linked_providers_and_fields() {
    let out = modelrt(None, &["providers"], None).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains("openai"), "{s}");
    assert!(
        s.contains("api_key") && s.contains("OPENAI_API_KEY") && s.contains("base_url"),
        "{s}"
    );
}

#[tokio::test]
async fn config_check() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[providers.openai]\napi_key = \"sk-x\"\n[gateway]\nmaster_key = \"sk-m\"\n",
    )
    .unwrap();
    let out = modelrt(None, &["config", "check", good.to_str().unwrap()], None).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("ok"));
    assert!(!text(&out.stdout).contains("sk-m"));

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[providers.openai]\napi_key = \"${NOT_SET_ANYWHERE_42}\"\n",
    )
    .unwrap();
    let out = modelrt(None, &["config", "check", bad.to_str().unwrap()], None).await;
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.toml")
            && err.contains("providers.openai.api_key")
            && err.contains("NOT_SET_ANYWHERE_42"),
        "{err}"
    );

    let bad = dir.path().join("bad2.toml");
    std::fs::write(&bad, "[providers.openai]\napi_key = \"k\"\nbase_url = 5\n").unwrap();
    let out = modelrt(None, &["config", "check", bad.to_str().unwrap()], None).await;
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("providers.openai.base_url"), "{err}");
}
