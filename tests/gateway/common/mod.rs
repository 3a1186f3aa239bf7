//! Starts the real `modelrt` binary on a free port with a config file, and fake upstreams.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod sse;

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use runtime_testkit::prom;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The upstream key the tests configure; it must never reach a client, a log or `/metrics`.
pub const UPSTREAM_KEY: &str = "sk-upstream-secret-0123456789";

/// A running gateway process.
pub struct Gw {
    pub child: Child,
    pub url: String,
    pub stderr: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

/// Environment variables that would make the default config reach real providers.
const PROVIDER_ENV: &[&str] = &[
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_ENDPOINT",
    "HF_TOKEN",
    "MODELRT_CONFIG",
];

impl Gw {
    /// Starts `modelrt serve` with this config text (None: no file, the embedded default).
    pub async fn start(config: Option<&str>) -> Gw {
        Self::start_with(config, &[]).await
    }

    /// Same, with extra environment variables.
    pub async fn start_with(config: Option<&str>, env: &[(&str, &str)]) -> Gw {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_modelrt"));
        for k in PROVIDER_ENV {
            cmd.env_remove(k);
        }
        // Keep the default config's state (usage file) inside the test's temp dir.
        cmd.current_dir(dir.path());
        cmd.env("HOME", dir.path());
        cmd.env("RUST_LOG", "info");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.arg("serve").arg("--listen").arg("127.0.0.1:0");
        if let Some(text) = config {
            let file = dir.path().join("modelrt.toml");
            std::fs::write(&file, text).unwrap();
            cmd.arg("--config").arg(&file);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().expect("spawn modelrt");
        let stderr = Arc::new(Mutex::new(String::new()));
        let err_pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(err_pipe).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                let mut s = sink.lock();
                s.push_str(&l);
                s.push('\n');
            }
        });
        let out = child.stdout.take().unwrap();
        let mut lines = BufReader::new(out).lines();
        let url = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(l)) = lines.next_line().await {
                if let Some(u) = l.strip_prefix("modelrt listening on ") {
                    return Some(u.to_owned());
                }
            }
            None
        })
        .await
        .ok()
        .flatten();
        let Some(url) = url else {
            let status = child.wait().await;
            panic!(
                "modelrt did not start ({status:?}); stderr:\n{}",
                stderr.lock()
            );
        };
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Gw {
            child,
            url,
            stderr,
            _dir: dir,
        }
    }

    pub fn at(&self, p: &str) -> String {
        format!("{}{p}", self.url)
    }

    pub fn pid(&self) -> u32 {
        self.child.id().unwrap()
    }

    /// Sends SIGTERM.
    pub fn sigterm(&self) {
        let st = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(st.success());
    }

    /// The process's working directory (holds the usage database of the test configs).
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    pub fn logs(&self) -> String {
        self.stderr.lock().clone()
    }
}

/// The `[providers.<name>]` section of a provider instance of type `kind` at `base_url`, with
/// the tests' upstream key.
fn provider(name: &str, kind: &str, base_url: &str) -> String {
    format!(
        r#"
[providers.{name}]
type = "{kind}"
base_url = "{base_url}"
api_key = "{UPSTREAM_KEY}"
"#
    )
}

/// The `[providers.<name>]` section of an OpenAI-type provider instance at `base` (a mock
/// server's URI) with the tests' upstream key.
pub fn openai_provider(name: &str, base: &str) -> String {
    provider(name, "openai", &format!("{base}/v1"))
}

/// The `[providers.<name>]` section of an Anthropic-type provider instance at `base` (a mock
/// server's URI) with the tests' upstream key.
pub fn anthropic_provider(name: &str, base: &str) -> String {
    provider(name, "anthropic", base)
}

/// The `[telemetry]` section exporting to the OTLP collector at `endpoint`, with `settings`
/// (more `key = value` lines) after it.
pub fn telemetry(endpoint: &str, settings: &str) -> String {
    format!("[telemetry]\nendpoint = \"{endpoint}\"\n{settings}\n")
}

/// The endpoint of an OTLP collector that is down (a port nothing listens on).
pub fn collector_down() -> String {
    format!("http://127.0.0.1:{}", runtime_testkit::otlp::closed_port())
}

/// A config with one OpenAI-type provider instance `mock` at `base`.
pub fn mock_config(base: &str, extra: &str) -> String {
    format!("{}\n{extra}\n", openai_provider("mock", base))
}

/// A logical model `model` over two deployments, `primary-mini` (priority 0, provider
/// `primary` at `primary_url`) and `backup-mini` (priority 1, provider `backup` at
/// `backup_url`), three attempts with millisecond backoff; `extra` is appended.
pub fn two_deployments(model: &str, primary_url: &str, backup_url: &str, extra: &str) -> String {
    let primary = openai_provider("primary", primary_url);
    let backup = openai_provider("backup", backup_url);
    format!(
        r#"
{primary}
{backup}

[router]
backoff_base = "1ms"
backoff_max = "2ms"

[[models]]
name = "{model}"
max_attempts = 3

[[models.deployments]]
provider = "primary"
model = "gpt-4o-mini"
name = "primary-mini"
priority = 0

[[models.deployments]]
provider = "backup"
model = "gpt-4o-mini"
name = "backup-mini"
priority = 1

{extra}
"#
    )
}

/// `[storage]` in the process's working directory, flushed quickly.
pub const STORAGE: &str = "[storage]\ndatabase_url = \"sqlite://usage.sqlite\"\nspill_path = \"usage.spill.jsonl\"\nflush_interval = \"50ms\"\n";

/// Polls `GET /v1/usage` (with `key`) until `done` holds for its body, up to 20 s.
pub async fn wait_usage(
    gw: &Gw,
    key: Option<&str>,
    query: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let mut req = client().get(gw.at(&format!("/v1/usage?{query}")));
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let v: Value = resp.json().await.unwrap();
        // 503 while the usage store is still being prepared (runtime-metrics creates its
        // tables on the writer's first batch).
        assert!(status == 200 || status == 503, "{status}: {v}");
        if status == 200 && done(&v) {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "usage never matched: {v}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

pub fn chat_body(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "Say hi"}]})
}

pub fn completion_json() -> Value {
    json!({
        "id": "chatcmpl-up1",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": "Hello there!"},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
    })
}

/// An OpenAI SSE body: "Hel", "lo", finish, usage chunk, [DONE].
pub fn sse_body() -> String {
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-up2", "object": "chat.completion.chunk", "created": 1700000001,
               "model": "gpt-4o-mini-2024-07-18",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut s = String::new();
    for v in [
        chunk(json!({"role": "assistant", "content": ""}), Value::Null),
        chunk(json!({"content": "Hel"}), Value::Null),
        chunk(json!({"content": "lo"}), Value::Null),
        chunk(json!({}), json!("stop")),
        json!({"id": "chatcmpl-up2", "object": "chat.completion.chunk", "created": 1700000001,
               "model": "gpt-4o-mini-2024-07-18", "choices": [],
               "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}}),
    ] {
        s.push_str(&format!("data: {v}\n\n"));
    }
    s.push_str("data: [DONE]\n\n");
    s
}

pub fn text_completion_json() -> Value {
    json!({
        "id": "cmpl-up1", "object": "text_completion", "created": 1700000000,
        "model": "gpt-3.5-turbo-instruct",
        "choices": [{"text": "Hello there!", "index": 0, "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5}
    })
}

/// A legacy completion SSE body: "Hel", "lo", finish, [DONE].
pub fn text_sse_body() -> String {
    let mut s = String::new();
    for (text, finish) in [
        ("Hel", Value::Null),
        ("lo", Value::Null),
        ("", json!("stop")),
    ] {
        let v = json!({"id": "cmpl-up2", "object": "text_completion", "created": 1700000001,
                       "model": "gpt-3.5-turbo-instruct",
                       "choices": [{"text": text, "index": 0, "logprobs": null, "finish_reason": finish}]});
        s.push_str(&format!("data: {v}\n\n"));
    }
    s.push_str("data: [DONE]\n\n");
    s
}

pub fn embeddings_json(n: usize) -> Value {
    let data: Vec<Value> = (0..n)
        .map(|i| json!({"object": "embedding", "index": i, "embedding": [0.5, -0.25, i as f32]}))
        .collect();
    json!({"object": "list", "data": data, "model": "text-embedding-3-small",
           "usage": {"prompt_tokens": 4, "total_tokens": 4}})
}

pub fn models_json() -> Value {
    json!({"object": "list", "data": [
        {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"},
        {"id": "text-embedding-3-small", "object": "model", "created": 1705948997, "owned_by": "system"}
    ]})
}

/// A wiremock upstream that answers chat (plain or SSE by the `stream` field), embeddings and
/// model listing like OpenAI.
pub async fn openai_upstream() -> MockServer {
    openai_upstream_on(MockServer::start().await).await
}

/// [`openai_upstream`]'s answers mounted on `server`, after (so below) any mock the test
/// mounted there first.
pub async fn openai_upstream_on(server: MockServer) -> MockServer {
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(wiremock::matchers::body_partial_json(
            json!({"stream": true}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(sse_body()),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion_json()))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/completions"))
        .and(wiremock::matchers::body_partial_json(
            json!({"stream": true}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(text_sse_body()),
        )
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(text_completion_json()))
        .with_priority(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .respond_with(move |req: &wiremock::Request| {
            let body: Value = serde_json::from_slice(&req.body).unwrap_or_default();
            let n = match &body["input"] {
                Value::Array(a) => a.len(),
                _ => 1,
            };
            ResponseTemplate::new(200).set_body_json(embeddings_json(n))
        })
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(models_json()))
        .mount(&server)
        .await;
    server
}

/// Splits an SSE body into `data:` payloads.
pub fn sse_frames(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter_map(|f| f.trim().strip_prefix("data: ").map(str::to_owned))
        .collect()
}

/// Asserts an OpenAI error envelope and returns it.
pub async fn error_envelope(resp: reqwest::Response, status: u16) -> Value {
    assert_eq!(resp.status().as_u16(), status);
    assert!(resp.headers().contains_key("x-request-id"));
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let v: Value = resp.json().await.unwrap();
    let e = &v["error"];
    assert!(e["message"].is_string(), "{v}");
    assert!(e["type"].is_string(), "{v}");
    assert!(e.get("param").is_some() && e.get("code").is_some(), "{v}");
    v
}

/// An [`openai_upstream`] and the gateway started with the config `config` makes of the
/// upstream's URL: the setup most tests begin with.
pub async fn gw_over_openai(config: impl FnOnce(&str) -> String) -> (MockServer, Gw) {
    gw_over_openai_with(&[], config).await
}

/// [`gw_over_openai`] with extra environment variables for the gateway.
pub async fn gw_over_openai_with(
    env: &[(&str, &str)],
    config: impl FnOnce(&str) -> String,
) -> (MockServer, Gw) {
    let up = openai_upstream().await;
    let gw = Gw::start_with(Some(&config(&up.uri())), env).await;
    (up, gw)
}

/// The gateway's Prometheus text (`GET /metrics`).
pub async fn metrics_text(gw: &Gw) -> String {
    client()
        .get(gw.at("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// `GET /metrics`: the text and its strict parse (every family with HELP and TYPE, families
/// contiguous, histograms consistent); panics with the text when it does not parse.
pub async fn scrape(gw: &Gw) -> (String, prom::Exposition) {
    let text = metrics_text(gw).await;
    let expo = prom::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    (text, expo)
}

/// [`scrape`]s every 100 ms until `done` holds for the exposition or `within` has passed, and
/// returns the last scrape either way (the caller asserts on it).
pub async fn scrape_until(
    gw: &Gw,
    within: Duration,
    done: impl Fn(&prom::Exposition) -> bool,
) -> (String, prom::Exposition) {
    let until = std::time::Instant::now() + within;
    loop {
        let scraped = scrape(gw).await;
        if done(&scraped.1) || std::time::Instant::now() >= until {
            return scraped;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The JSON bodies `up` received on `path`, in order.
pub async fn received_bodies(up: &MockServer, path: &str) -> Vec<Value> {
    up.received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == path)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

/// `(event, data)` pairs of an Anthropic SSE body; each `data.type` must name its event.
pub fn anthropic_sse(text: &str) -> Vec<(String, Value)> {
    text.split("\n\n")
        .filter(|f| !f.trim().is_empty())
        .map(|f| {
            let mut name = String::new();
            let mut data = Value::Null;
            for line in f.lines() {
                if let Some(n) = line.strip_prefix("event: ") {
                    name = n.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(d).unwrap_or_else(|e| panic!("{e}: {d}"));
                }
            }
            assert_eq!(
                data["type"],
                json!(name),
                "event name and data type agree: {f}"
            );
            (name, data)
        })
        .collect()
}
