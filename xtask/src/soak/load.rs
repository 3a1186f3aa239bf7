//! The closed-loop load: `concurrency` workers send a mix of chats, streamed chats and
//! embeddings round-robin over the replicas, each with a deadline, and record how each one
//! was answered. A refused connection (a replica that is down) goes to the next replica, as
//! a load balancer would; nothing else is retried.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use parking_lot::Mutex;
use serde_json::{Value, json};

use super::config::{KEY_LIMITED, KEY_MAIN};

/// What a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReqKind {
    /// Non-streamed chat.
    Chat,
    /// Streamed chat.
    Stream,
    /// Embeddings.
    Embed,
}

/// How a request was answered.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// 2xx with a complete body (a stream ending in `[DONE]`).
    Ok,
    /// A non-2xx answer with an OpenAI error envelope.
    TypedError,
    /// A stream that ended with an error frame (`data: {"error": …}`).
    StreamError,
    /// Anything else the gateway sent (no envelope, a stream cut without an error frame).
    Untyped,
    /// The connection failed after the request was sent (reset, closed).
    Transport,
    /// No answer within the client's deadline.
    Deadline,
}

/// One request's outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    /// The request id (also the `[rid:…]` marker the mocks record).
    pub id: String,
    /// The replica that answered (after connect failovers).
    pub replica: usize,
    /// What it asked for.
    pub kind: ReqKind,
    /// Sent with the rpm-limited key.
    pub limited_key: bool,
    /// Start, ms since the load started.
    pub start_ms: u64,
    /// Until the whole answer was read, ms.
    pub latency_ms: f64,
    /// HTTP status (0 without an answer).
    pub status: u16,
    /// How it was answered.
    pub class: Class,
    /// The error envelope's `code`.
    pub code: Option<String>,
    /// The `Retry-After` header.
    pub retry_after: Option<String>,
    /// The gateway key limiter refused it (429 before any routing).
    pub key_limited: bool,
    /// Detail for failures.
    pub detail: Option<String>,
}

/// Load settings.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Replica base URLs.
    pub replicas: Vec<String>,
    /// Workers.
    pub concurrency: usize,
    /// Workers that use the limited key (the first ones).
    pub limited_workers: usize,
    /// Client deadline per request.
    pub deadline: Duration,
    /// Run until this instant.
    pub until: Instant,
    /// A tag making ids unique across runs.
    pub tag: String,
}

/// Counters and outcomes shared by the workers.
#[derive(Default)]
pub struct LoadState {
    /// Every finished request.
    pub outcomes: Mutex<Vec<Outcome>>,
    /// Requests sent to another replica because one refused the connection.
    pub connect_failovers: AtomicU64,
    /// Requests currently in flight.
    pub inflight: AtomicUsize,
    seq: AtomicU64,
    rr: AtomicUsize,
    /// Set to stop early.
    pub stop: AtomicBool,
}

/// Runs the load to `spec.until`; returns when every worker finished its last request.
pub async fn run(spec: LoadSpec, state: Arc<LoadState>, t0: Instant) {
    let client = match reqwest::Client::builder()
        .timeout(spec.deadline)
        .connect_timeout(Duration::from_secs(2))
        .pool_idle_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("soak: cannot build the HTTP client: {e}");
            return;
        }
    };
    let spec = Arc::new(spec);
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..spec.concurrency {
        let (client, spec, state) = (client.clone(), spec.clone(), state.clone());
        tasks.spawn(async move { worker(w, client, spec, state, t0).await });
    }
    while tasks.join_next().await.is_some() {}
}

async fn worker(
    w: usize,
    client: reqwest::Client,
    spec: Arc<LoadSpec>,
    state: Arc<LoadState>,
    t0: Instant,
) {
    let limited = w < spec.limited_workers;
    let mut i = w;
    while Instant::now() < spec.until && !state.stop.load(Ordering::Relaxed) {
        let kind = match i % 10 {
            0..=4 => ReqKind::Chat,
            5..=7 => ReqKind::Stream,
            _ => ReqKind::Embed,
        };
        i += 1;
        let n = state.seq.fetch_add(1, Ordering::Relaxed);
        let id = format!("soak-{}-{n:07}", spec.tag);
        state.inflight.fetch_add(1, Ordering::Relaxed);
        let o = one(&client, &spec, &state, t0, id, kind, limited).await;
        state.inflight.fetch_sub(1, Ordering::Relaxed);
        let pause = o.class != Class::Ok;
        state.outcomes.lock().push(o);
        if pause {
            // An impatient client: back off briefly after an error, not for the whole
            // Retry-After (so the key and deployment limits stay under pressure).
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

fn body(kind: ReqKind, id: &str) -> (&'static str, Value) {
    let text = format!("[rid:{id}] Say hi");
    match kind {
        ReqKind::Chat => (
            "/v1/chat/completions",
            json!({"model": "chat", "messages": [{"role": "user", "content": text}]}),
        ),
        ReqKind::Stream => (
            "/v1/chat/completions",
            json!({"model": "chat", "stream": true, "stream_options": {"include_usage": true},
                   "messages": [{"role": "user", "content": text}]}),
        ),
        ReqKind::Embed => ("/v1/embeddings", json!({"model": "embed", "input": text})),
    }
}

async fn one(
    client: &reqwest::Client,
    spec: &LoadSpec,
    state: &LoadState,
    t0: Instant,
    id: String,
    kind: ReqKind,
    limited: bool,
) -> Outcome {
    let (path, payload) = body(kind, &id);
    let started = Instant::now();
    let mut out = Outcome {
        id: id.clone(),
        replica: 0,
        kind,
        limited_key: limited,
        start_ms: started.duration_since(t0).as_millis() as u64,
        latency_ms: 0.0,
        status: 0,
        class: Class::Transport,
        code: None,
        retry_after: None,
        key_limited: false,
        detail: None,
    };
    let n = spec.replicas.len();
    let first = state.rr.fetch_add(1, Ordering::Relaxed);
    let mut result = None;
    for k in 0..n {
        let r = (first + k) % n;
        out.replica = r;
        let sent = client
            .post(format!("{}{path}", spec.replicas[r]))
            .bearer_auth(if limited { KEY_LIMITED } else { KEY_MAIN })
            .header("x-request-id", &id)
            .json(&payload)
            .send()
            .await;
        match sent {
            Err(e) if e.is_connect() && k + 1 < n && started.elapsed() < spec.deadline => {
                state.connect_failovers.fetch_add(1, Ordering::Relaxed);
            }
            other => {
                result = Some(other);
                break;
            }
        }
    }
    let finish = |out: &mut Outcome| out.latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let resp = match result {
        Some(Ok(r)) => r,
        Some(Err(e)) => {
            out.class = if e.is_timeout() {
                Class::Deadline
            } else {
                Class::Transport
            };
            out.detail = Some(error_chain(&e));
            finish(&mut out);
            return out;
        }
        None => {
            out.detail = Some("no replica accepted the connection".into());
            finish(&mut out);
            return out;
        }
    };
    out.status = resp.status().as_u16();
    out.retry_after = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let is_sse = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let mut bytes = Vec::new();
    let mut stream = resp.bytes_stream();
    let mut read_err = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(b) => bytes.extend_from_slice(&b),
            Err(e) => {
                read_err = Some(e);
                break;
            }
        }
    }
    finish(&mut out);
    let text = String::from_utf8_lossy(&bytes);
    if let Some(e) = read_err {
        out.class = if e.is_timeout() {
            Class::Deadline
        } else if is_sse && text.contains("data: {\"error\"") {
            Class::StreamError
        } else {
            Class::Transport
        };
        out.detail = Some(error_chain(&e));
        return out;
    }
    classify(&mut out, is_sse, &text);
    out
}

fn classify(out: &mut Outcome, is_sse: bool, text: &str) {
    if (200..300).contains(&out.status) {
        if is_sse {
            if text.contains("data: {\"error\"") {
                out.class = Class::StreamError;
                out.code = error_code(text.split("data: ").find(|f| f.starts_with("{\"error\"")));
            } else if text.trim_end().ends_with("data: [DONE]") {
                out.class = Class::Ok;
            } else {
                out.class = Class::Untyped;
                out.detail = Some("stream ended without [DONE] or an error frame".into());
            }
        } else {
            let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
            if v.get("choices").is_some() || v.get("data").is_some() {
                out.class = Class::Ok;
            } else {
                out.class = Class::Untyped;
                out.detail = Some(format!("2xx without choices/data: {}", excerpt(text)));
            }
        }
        return;
    }
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let e = &v["error"];
    if e["message"].is_string() && e["type"].is_string() {
        out.class = Class::TypedError;
        out.code = e["code"].as_str().map(str::to_owned);
        out.key_limited = out.status == 429
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("is over its limit"));
    } else {
        out.class = Class::Untyped;
        out.detail = Some(format!(
            "{} without an error envelope: {}",
            out.status,
            excerpt(text)
        ));
    }
}

fn error_code(frame: Option<&str>) -> Option<String> {
    let v: Value = serde_json::from_str(frame?.trim()).ok()?;
    v["error"]["code"].as_str().map(str::to_owned)
}

fn excerpt(s: &str) -> String {
    s.chars().take(160).collect()
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}
