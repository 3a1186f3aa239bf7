//! The client compatibility matrix (docs/clients.md): real client libraries — the official
//! `openai` SDKs for Python and Node, langchain-openai — run unchanged against the real
//! `modelrt` binary over a mock OpenAI upstream. Each client script prints `ok: <cell>` per
//! cell of the matrix; every cell listed here must be printed.
//!
//! The clients are installed by `cargo xtask services` (a Python venv in `target/clients/venv`
//! from tests/clients/requirements.txt, `npm ci` in tests/clients/node). A missing install is
//! a failure, never a skip.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::*;
use serde_json::Value;

const KEY: &str = "sk-client-matrix-key";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Where `cargo xtask services` installs the clients (`MODELRT_CLIENTS_DIR` overrides it).
fn clients_dir() -> PathBuf {
    std::env::var_os("MODELRT_CLIENTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/clients"))
}

fn venv_python() -> PathBuf {
    let py = clients_dir().join("venv/bin/python");
    assert!(
        py.exists(),
        "{} is missing: run `cargo xtask services` (it creates the clients' venv)",
        py.display()
    );
    py
}

fn node_script(name: &str) -> PathBuf {
    let dir = repo().join("tests/clients/node");
    assert!(
        dir.join("node_modules/openai/package.json").exists(),
        "{}/node_modules is missing: run `cargo xtask services` (it runs npm ci there)",
        dir.display()
    );
    dir.join(name)
}

/// The matrix's gateway config: `chat` and `embed` for the key, `secret-model` not for it.
fn config(upstream: &str) -> String {
    mock_config(
        upstream,
        &format!(
            r#"
[[models]]
name = "chat"
type = "chat"

[[models.deployments]]
provider = "mock"
model = "gpt-4o-mini"

[[models]]
name = "embed"
type = "embedding"

[[models.deployments]]
provider = "mock"
model = "text-embedding-3-small"

[[models]]
name = "secret-model"

[[models.deployments]]
provider = "mock"
model = "gpt-4o"

[storage]
enabled = false

[gateway]
master_key = "sk-client-matrix-master"

[[gateway.keys]]
id = "matrix"
key = "{KEY}"
models = ["chat", "embed", "m*"]
"#
        ),
    )
}

/// Runs a client program against `gw`; asserts it succeeded and printed every cell.
async fn run_client(mut cmd: tokio::process::Command, gw: &Gw, cells: &[&str]) -> String {
    let tiktoken = tempfile::tempdir().unwrap();
    cmd.env("MODELRT_BASE_URL", &gw.url)
        .env("MODELRT_KEY", KEY)
        .env("TIKTOKEN_CACHE_DIR", tiktoken.path())
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("ANTHROPIC_BASE_URL")
        .current_dir(repo())
        .kill_on_drop(true);
    let out = tokio::time::timeout(Duration::from_secs(180), cmd.output())
        .await
        .expect("the client script finished within 180 s")
        .expect("the client program starts");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "client failed ({}):\n{stdout}\n{stderr}\ngateway log:\n{}",
        out.status,
        gw.logs()
    );
    for cell in cells {
        assert!(
            stdout.lines().any(|l| l == format!("ok: {cell}")),
            "cell `{cell}` not passed:\n{stdout}"
        );
    }
    assert!(stdout.contains("all checks passed"), "{stdout}");
    stdout
}

fn python(script: &str) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(venv_python());
    cmd.arg(repo().join("tests/clients/python").join(script));
    cmd
}

/// The embedding requests the upstream received, as JSON bodies.
async fn embedding_bodies(up: &wiremock::MockServer) -> Vec<Value> {
    up.received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/v1/embeddings")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

fn is_token_lists(v: &Value) -> bool {
    v.as_array().is_some_and(|a| {
        !a.is_empty()
            && a.iter().all(|l| {
                l.as_array()
                    .is_some_and(|t| !t.is_empty() && t.iter().all(Value::is_u64))
            })
    })
}

#[tokio::test]
async fn openai_python_sdk() {
    let up = openai_upstream().await;
    let gw = Gw::start(Some(&config(&up.uri()))).await;
    run_client(
        python("openai_sdk.py"),
        &gw,
        &[
            "chat",
            "chat stream",
            "embeddings base64",
            "embeddings float",
            "embeddings token arrays",
            "models",
            "typed errors",
            "base URL without /v1",
        ],
    )
    .await;
    let bodies = embedding_bodies(&up).await;
    let tokens: Vec<&Value> = bodies
        .iter()
        .map(|b| &b["input"])
        .filter(|i| is_token_lists(i))
        .collect();
    assert_eq!(
        tokens,
        [
            &serde_json::json!([[1, 2, 3], [4, 5]]),
            &serde_json::json!([[9, 8, 7]])
        ],
        "token arrays reach an OpenAI upstream as token arrays: {bodies:?}"
    );
}

#[tokio::test]
async fn openai_node_sdk() {
    let up = openai_upstream().await;
    let gw = Gw::start(Some(&config(&up.uri()))).await;
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(node_script("openai_sdk.mjs"));
    run_client(
        cmd,
        &gw,
        &[
            "chat",
            "chat stream",
            "embeddings",
            "models",
            "typed errors",
            "base URL without /v1",
        ],
    )
    .await;
}

#[tokio::test]
async fn langchain_openai_defaults() {
    let up = openai_upstream().await;
    let gw = Gw::start(Some(&config(&up.uri()))).await;
    run_client(
        python("langchain_openai_test.py"),
        &gw,
        &[
            "OpenAIEmbeddings (token arrays)",
            "ChatOpenAI",
            "ChatOpenAI stream",
        ],
    )
    .await;
    let bodies = embedding_bodies(&up).await;
    assert!(!bodies.is_empty());
    assert!(
        bodies.iter().all(|b| is_token_lists(&b["input"])),
        "OpenAIEmbeddings' default token arrays are forwarded as such: {bodies:?}"
    );
}
