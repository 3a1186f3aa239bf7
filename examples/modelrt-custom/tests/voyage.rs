//! The custom `modelrt` lists the linked Voyage provider and serves embeddings through it,
//! against a fake Voyage upstream on 127.0.0.1.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BIN: &str = env!("CARGO_BIN_EXE_modelrt");
const KEY: &str = "pa-upstream-test-key";

/// Environment variables that would point the default config at real providers.
const PROVIDER_ENV: &[&str] = &[
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "AZURE_OPENAI_API_KEY",
    "HF_TOKEN",
    "VOYAGE_API_KEY",
    "MODELRT_CONFIG",
];

fn command(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    for k in PROVIDER_ENV {
        cmd.env_remove(k);
    }
    cmd.current_dir(dir).env("HOME", dir).kill_on_drop(true);
    cmd
}

#[tokio::test]
async fn providers_lists_voyage() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path()).arg("providers").output().await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("voyage") && text.contains("Voyage AI"),
        "{text}"
    );
    assert!(text.contains("VOYAGE_API_KEY"), "{text}");
}

#[tokio::test]
async fn an_embedding_request_through_the_gateway_reaches_voyage() {
    let voyage = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(body_partial_json(json!({
            "model": "voyage-3.5",
            "input": ["Sample text 1", "Sample text 2"]
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list",
            "data": [
                {"object": "embedding", "embedding": [0.25, -0.5], "index": 0},
                {"object": "embedding", "embedding": [1.0, 0.0], "index": 1}
            ],
            "model": "voyage-3.5",
            "usage": {"total_tokens": 8}
        })))
        .expect(1)
        .mount(&voyage)
        .await;

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("modelrt.toml");
    std::fs::write(
        &config,
        format!(
            "[providers.voyage]\ntype = \"voyage\"\napi_key = \"{KEY}\"\nbase_url = \"{}/v1\"\n",
            voyage.uri()
        ),
    )
    .unwrap();
    let mut child = command(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(l)) = lines.next_line().await {
            if let Some(u) = l.strip_prefix("modelrt listening on ") {
                return u.to_owned();
            }
        }
        panic!("modelrt exited before listening");
    })
    .await
    .expect("modelrt listens within 60 s");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let resp = reqwest::Client::new()
        .post(format!("{url}/v1/embeddings"))
        .json(&json!({"model": "voyage/voyage-3.5", "input": ["Sample text 1", "Sample text 2"]}))
        .send()
        .await
        .unwrap();
    let status = resp.status();
    let body: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][1]["embedding"], json!([1.0, 0.0]), "{body}");
    assert_eq!(body["usage"]["prompt_tokens"], 8, "{body}");
    child.kill().await.unwrap();
    voyage.verify().await;
}
