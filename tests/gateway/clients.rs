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
    let (up, gw) = gw_over_openai(config).await;
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
    let bodies = received_bodies(&up, "/v1/embeddings").await;
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
    let (_up, gw) = gw_over_openai(config).await;
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
    let (up, gw) = gw_over_openai(config).await;
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
    let bodies = received_bodies(&up, "/v1/embeddings").await;
    assert!(!bodies.is_empty());
    assert!(
        bodies.iter().all(|b| is_token_lists(&b["input"])),
        "OpenAIEmbeddings' default token arrays are forwarded as such: {bodies:?}"
    );
}

macro_rules! messages_fixture {
    ($name:literal) => {
        include_str!(concat!(
            "../../crates/runtime-dialects/tests/fixtures/anthropic_messages/",
            $name
        ))
    };
}

/// A wiremock Anthropic upstream answering with the real recordings of the dialect fixtures:
/// a streamed request with `thinking` gets `stream-thinking.sse`, any other streamed request
/// `stream-tool-use.sse`, a plain one `basic-system.response.json`, count_tokens
/// `count-tokens.response.json`.
async fn anthropic_upstream() -> wiremock::MockServer {
    use wiremock::matchers::{body_partial_json, method, path};
    use wiremock::{Mock, ResponseTemplate};
    let up = wiremock::MockServer::start().await;
    let sse = |body: &str| {
        ResponseTemplate::new(200)
            .insert_header("content-type", "text/event-stream")
            .set_body_string(body.to_owned())
    };
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(body_partial_json(
            serde_json::json!({"stream": true, "thinking": {"type": "enabled"}}),
        ))
        .respond_with(sse(messages_fixture!("stream-thinking.sse")))
        .with_priority(1)
        .mount(&up)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(body_partial_json(serde_json::json!({"stream": true})))
        .respond_with(sse(messages_fixture!("stream-tool-use.sse")))
        .with_priority(2)
        .mount(&up)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_string(messages_fixture!("basic-system.response.json")),
        )
        .with_priority(3)
        .mount(&up)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/messages/count_tokens"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "application/json")
                .set_body_string(messages_fixture!("count-tokens.response.json")),
        )
        .mount(&up)
        .await;
    up
}

/// An OpenAI upstream whose `limited` model answers 429 (with `retry-after: 7`) and `busy`
/// model 503.
async fn flaky_upstream() -> wiremock::MockServer {
    use wiremock::matchers::{body_partial_json, method, path};
    use wiremock::{Mock, ResponseTemplate};
    let up = wiremock::MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(serde_json::json!({"model": "limited"})))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "7")
                .set_body_json(serde_json::json!({"error": {"message": "Rate limit reached", "type": "requests", "param": null, "code": "rate_limit_exceeded"}})),
        )
        .mount(&up)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(serde_json::json!({"model": "busy"})))
        .respond_with(ResponseTemplate::new(503).set_body_json(
            serde_json::json!({"error": {"message": "The server is overloaded", "type": "server_error", "param": null, "code": null}}),
        ))
        .mount(&up)
        .await;
    up
}

/// The `/v1/messages` matrix config: [`config`]'s models, `claude` on an Anthropic upstream,
/// and `limited` / `busy` on a failing one.
fn messages_config(openai: &str, anthropic: &str, flaky: &str) -> String {
    let base = config(openai).replace(
        r#"models = ["chat", "embed", "m*"]"#,
        r#"models = ["chat", "embed", "claude", "limited", "busy", "m*"]"#,
    );
    let claude = anthropic_provider("claude", anthropic);
    let flaky = openai_provider("flaky", flaky);
    format!(
        r#"{base}
{claude}
{flaky}

[[models]]
name = "claude"

[[models.deployments]]
provider = "claude"
model = "claude-sonnet-4-0"

[[models]]
name = "limited"

[[models.deployments]]
provider = "flaky"
model = "limited"

[[models]]
name = "busy"

[[models.deployments]]
provider = "flaky"
model = "busy"
"#
    )
}

#[tokio::test]
async fn anthropic_python_sdk() {
    // A streamed request with tools gets OpenAI's real recording of two parallel tool calls.
    let up = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/v1/chat/completions"))
        .and(wiremock::matchers::body_partial_json(
            serde_json::json!({"stream": true, "tool_choice": "required"}),
        ))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(include_str!(
                    "../../crates/runtime-testkit/fixtures/openai/chat-stream-parallel-tool-calls.response.sse"
                )),
        )
        .with_priority(1)
        .mount(&up)
        .await;
    let up = openai_upstream_on(up).await;
    let claude = anthropic_upstream().await;
    let flaky = flaky_upstream().await;
    let gw = Gw::start(Some(&messages_config(
        &up.uri(),
        &claude.uri(),
        &flaky.uri(),
    )))
    .await;
    run_client(
        python("anthropic_sdk.py"),
        &gw,
        &[
            "create",
            "stream",
            "stream with tools",
            "stream with thinking",
            "count_tokens",
            "typed errors",
        ],
    )
    .await;
    // The Anthropic upstream got the SDK's thinking budget and tools as sent, with its own key.
    let sent = claude.received_requests().await.unwrap();
    let bodies: Vec<Value> = sent
        .iter()
        .filter(|r| r.url.path() == "/v1/messages")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert!(
        bodies
            .iter()
            .any(|b| b["thinking"] == serde_json::json!({"type": "enabled", "budget_tokens": 1024})),
        "{bodies:?}"
    );
    assert!(
        bodies
            .iter()
            .any(|b| b["tools"][0]["name"] == "get_weather"),
        "{bodies:?}"
    );
    assert!(sent.iter().all(|r| r.headers["x-api-key"] == UPSTREAM_KEY));
}

#[tokio::test]
async fn openai_python_sdk_responses() {
    // `tool_choice: "required"` gets OpenAI's real recording of a get_user_country call.
    let up = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/v1/chat/completions"))
        .and(wiremock::matchers::body_partial_json(
            serde_json::json!({"tool_choice": "required"}),
        ))
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_string(include_str!(
                "../../crates/runtime-testkit/fixtures/openai/chat-tool-call.response.json"
            )),
        )
        .with_priority(1)
        .mount(&up)
        .await;
    let up = openai_upstream_on(up).await;
    // Two processes, one SQLite database: a conversation continues on either.
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("shared.sqlite");
    let cfg = config(&up.uri()).replace(
        "[storage]\nenabled = false\n",
        &format!(
            "[storage]\ndatabase_url = \"sqlite://{}\"\nflush_interval = \"50ms\"\n",
            db.display()
        ),
    );
    let a = Gw::start(Some(&cfg)).await;
    let b = Gw::start(Some(&cfg)).await;
    let mut cmd = python("openai_responses.py");
    cmd.env("MODELRT_BASE_URL_2", &b.url);
    run_client(
        cmd,
        &a,
        &[
            "create",
            "stream",
            "function-call round trip",
            "previous_response_id across two processes",
            "typed errors",
        ],
    )
    .await;
    // What the upstream got: the stateless round trip and the two-process continuation each
    // carry the whole conversation as chat messages (user, assistant tool call, tool output).
    let chats = received_bodies(&up, "/v1/chat/completions").await;
    let with_tool_output: Vec<&Value> = chats
        .iter()
        .filter(|c| c["messages"].as_array().unwrap().last().unwrap()["role"] == "tool")
        .collect();
    assert!(with_tool_output.len() >= 2, "{chats:?}");
    for c in &with_tool_output {
        let msgs = c["messages"].as_array().unwrap();
        let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
        assert_eq!(
            roles[roles.len() - 3..],
            ["user", "assistant", "tool"],
            "{c}"
        );
        let call = &msgs[msgs.len() - 2]["tool_calls"][0];
        assert_eq!(call["id"], "call_iXFttys57ap0o16JSlC8yhYo", "{c}");
        assert_eq!(msgs[msgs.len() - 1]["tool_call_id"], call["id"], "{c}");
        assert_eq!(msgs[msgs.len() - 1]["content"], "Mexico", "{c}");
    }
    // The last turn, on the first process, carried the conversation the second one stored.
    let last = chats.last().unwrap();
    let roles: Vec<&str> = last["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["user", "assistant", "tool", "assistant", "user"],
        "{last}"
    );
    drop(b);
}

/// The JSON paths (`/system/1/cache_control`…) where a body carries `cache_control`.
fn cache_marks(v: &Value, at: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let p = format!("{at}/{k}");
                if k == "cache_control" {
                    out.push(p);
                } else {
                    cache_marks(v, &p, out);
                }
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                cache_marks(v, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// Claude Code's recorded request (`claude-code.request.json`, Claude Code 0.2.107: system
/// blocks with `cache_control`, tools, metadata, `stream: true`), with its second system
/// block grown back to the size class of the recording (its 100 kB body was trimmed for the
/// fixture: the block's own text repeated to ~64 kB), and Claude Code's headers.
fn claude_code_request(model: &str) -> (Value, [(&'static str, &'static str); 3]) {
    let mut v: Value = serde_json::from_str(messages_fixture!("claude-code.request.json")).unwrap();
    v["model"] = serde_json::json!(model);
    let text = v["system"][1]["text"].as_str().unwrap().to_owned();
    v["system"][1]["text"] = serde_json::json!(text.repeat(64 * 1024 / text.len() + 1));
    (
        v,
        [
            ("anthropic-version", "2023-06-01"),
            ("anthropic-beta", "claude-code-20250219,oauth-2025-04-20"),
            ("x-app", "cli"),
        ],
    )
}

async fn post_claude_code(gw: &Gw, model: &str) -> (Value, Vec<(String, Value)>) {
    let (body, headers) = claude_code_request(model);
    let mut req = client()
        .post(gw.at("/v1/messages"))
        .header("x-api-key", KEY)
        .json(&body);
    for (k, v) in headers {
        req = req.header(k, v);
    }
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    (body, anthropic_sse(&resp.text().await.unwrap()))
}

/// The event names with `ping`s left out (Anthropic may send them anywhere).
fn grammar_of(evs: &[(String, Value)]) -> Vec<&str> {
    evs.iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| *n != "ping")
        .collect()
}

#[tokio::test]
async fn claude_code_shaped_request_through_openai_and_anthropic_upstreams() {
    let up = openai_upstream().await;
    let claude = anthropic_upstream().await;
    let flaky = flaky_upstream().await;
    let gw = Gw::start(Some(&messages_config(
        &up.uri(),
        &claude.uri(),
        &flaky.uri(),
    )))
    .await;

    // Through a non-Anthropic upstream: OpenAI chat, streamed; no Anthropic cache marks or
    // headers reach it, and the answer is Anthropic's exact stream grammar.
    let (_, evs) = post_claude_code(&gw, "chat").await;
    assert_eq!(
        grammar_of(&evs),
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let text: String = evs
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, "Hello");
    assert_eq!(evs[evs.len() - 2].1["usage"]["output_tokens"], 2);
    let reqs = up.received_requests().await.unwrap();
    let to_openai = reqs.last().unwrap();
    assert_eq!(to_openai.url.path(), "/v1/chat/completions");
    assert!(!to_openai.headers.contains_key("anthropic-beta"));
    assert!(!to_openai.headers.contains_key("anthropic-version"));
    let body: Value = serde_json::from_slice(&to_openai.body).unwrap();
    assert!(!body.to_string().contains("cache_control"));
    assert_eq!(body["stream"], true);
    assert_eq!(body["messages"][0]["role"], "system");
    let system = body["messages"][0]["content"].to_string();
    assert!(
        system.len() > 64 * 1024,
        "the large system block reaches it whole"
    );
    let tools: Vec<&str> = body["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(tools, ["Bash", "TodoWrite", "WebSearch"]);

    // Through an Anthropic upstream: the body reaches it with every cache mark where the client
    // put it, the beta features and version as headers, the upstream key (not the client's);
    // the stream comes back event for event.
    let (sent_by_client, evs) = post_claude_code(&gw, "claude").await;
    let reqs = claude.received_requests().await.unwrap();
    let to_anthropic = reqs.last().unwrap();
    assert_eq!(to_anthropic.url.path(), "/v1/messages");
    assert_eq!(
        to_anthropic.headers["anthropic-beta"],
        "claude-code-20250219,oauth-2025-04-20"
    );
    assert_eq!(to_anthropic.headers["anthropic-version"], "2023-06-01");
    assert_eq!(to_anthropic.headers["x-api-key"], UPSTREAM_KEY);
    let body: Value = serde_json::from_slice(&to_anthropic.body).unwrap();
    let (mut want, mut got) = (Vec::new(), Vec::new());
    cache_marks(&sent_by_client, "", &mut want);
    cache_marks(&body, "", &mut got);
    assert_eq!(want.len(), 3, "{want:?}");
    assert_eq!(got, want);
    for p in &want {
        assert_eq!(body.pointer(p), sent_by_client.pointer(p), "{p}");
    }
    for k in ["system", "tools", "metadata", "max_tokens", "stream"] {
        assert_eq!(body[k], sent_by_client[k], "{k}");
    }
    let upstream = anthropic_sse(messages_fixture!("stream-tool-use.sse"));
    // Every delta, in order (an empty `partial_json` carries nothing and is not repeated).
    let deltas = |e: &[(String, Value)]| -> Vec<Value> {
        e.iter()
            .filter(|(n, d)| n == "content_block_delta" && d["delta"]["partial_json"] != "")
            .map(|(_, d)| d["delta"].clone())
            .collect()
    };
    assert_eq!(deltas(&evs), deltas(&upstream));
    let blocks = |e: &[(String, Value)]| -> Vec<Value> {
        e.iter()
            .filter(|(n, _)| n == "content_block_start")
            .map(|(_, d)| d["content_block"]["type"].clone())
            .collect()
    };
    assert_eq!(blocks(&evs), blocks(&upstream));
}
