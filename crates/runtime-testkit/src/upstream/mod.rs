//! An OpenAI-compatible mock upstream for reliability tests and the soak: it records every
//! request it receives (with the request markers clients put in prompts, so usage records can
//! be matched to upstream arrivals one by one), injects faults by rule (status bursts, 429
//! with `Retry-After`, slow answers, stalls, streams cut mid-way, closed connections), and
//! can itself fail as a process does: killed (every connection dropped, the port refused),
//! hung (the port accepts, nothing answers), restarted on the same port.
//!
//! A marker is `[rid:ID]` anywhere in the request body; clients put their request id there
//! (and in `x-request-id`). Health probes (`GET /health`) are recorded too.

mod http;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use http::RawRequest;

/// Tokens the mock reports for every chat answer (prompt, completion).
pub const CHAT_USAGE: (u64, u64) = (11, 7);
/// Tokens the mock reports per input of an embeddings answer (prompt).
pub const EMBED_USAGE: u64 = 5;

/// What a request asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `POST /v1/chat/completions` without streaming.
    Chat,
    /// `POST /v1/chat/completions` with `"stream": true`.
    Stream,
    /// `POST /v1/embeddings`.
    Embed,
    /// `GET /health`.
    Health,
    /// Anything else.
    Other,
}

/// One fault to play instead of a normal answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answer this status with an OpenAI error body (and `Retry-After` when set).
    Status {
        /// HTTP status.
        status: u16,
        /// `Retry-After` header value.
        retry_after: Option<String>,
    },
    /// Answer normally after this extra wait (a slow upstream).
    Delay(Duration),
    /// Read the request and never answer, until the client hangs up.
    Stall,
    /// Streams: send this many content chunks, then drop the connection (no `[DONE]`, no
    /// terminating chunk). Other requests: drop the connection before answering.
    Cut {
        /// Content chunks sent before the cut.
        after_chunks: usize,
    },
}

impl Fault {
    /// `429` with `Retry-After: secs`.
    pub fn rate_limited(secs: u64) -> Fault {
        Fault::Status {
            status: 429,
            retry_after: Some(secs.to_string()),
        }
    }

    /// A plain status without `Retry-After`.
    pub fn status(status: u16) -> Fault {
        Fault::Status {
            status,
            retry_after: None,
        }
    }

    fn label(&self) -> String {
        match self {
            Fault::Status { status, .. } => format!("status_{status}"),
            Fault::Delay(_) => "delay".into(),
            Fault::Stall => "stall".into(),
            Fault::Cut { .. } => "cut".into(),
        }
    }
}

/// A fault applied to one request in `every` (the 1st, `every+1`th, … matching request).
#[derive(Debug, Clone)]
pub struct Rule {
    /// 1 = every matching request.
    pub every: u64,
    /// Apply only to streamed chats.
    pub streams_only: bool,
    /// The fault.
    pub fault: Fault,
}

/// Normal answers' timing and shape.
#[derive(Debug, Clone)]
pub struct Timing {
    /// Wait before answering.
    pub delay: Duration,
    /// Content chunks of a streamed answer.
    pub chunks: usize,
    /// Wait between two stream chunks.
    pub chunk_delay: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            delay: Duration::ZERO,
            chunks: 4,
            chunk_delay: Duration::ZERO,
        }
    }
}

/// One request the mock received (fully read).
#[derive(Debug, Clone)]
pub struct Arrival {
    /// Unix time in milliseconds.
    pub at_ms: u64,
    /// What it asked for.
    pub kind: Kind,
    /// The `[rid:…]` markers of its body, in order.
    pub markers: Vec<String>,
    /// The fault played, if any (`status_503`, `stall`, `cut`, `delay`).
    pub fault: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Serving,
    Hung,
    Down,
}

struct Shared {
    arrivals: Mutex<Vec<Arrival>>,
    rules: Mutex<Vec<(Rule, Arc<AtomicU64>)>>,
    all: Mutex<Option<Fault>>,
    timing: Mutex<Timing>,
    mode: watch::Sender<Mode>,
    seq: AtomicU64,
}

/// The mock upstream. Stops (every connection dropped) when dropped.
pub struct Upstream {
    port: u16,
    shared: Arc<Shared>,
    tasks: Mutex<Option<JoinSet<()>>>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The `[rid:…]` markers in `body`.
pub fn markers(body: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(body);
    let mut out = Vec::new();
    let mut rest: &str = &text;
    while let Some(i) = rest.find("[rid:") {
        rest = &rest[i + 5..];
        let Some(end) = rest.find(']') else { break };
        out.push(rest[..end].to_owned());
        rest = &rest[end..];
    }
    out
}

impl Upstream {
    /// Starts serving on a free port of 127.0.0.1 (on the current Tokio runtime).
    pub async fn start(timing: Timing) -> std::io::Result<Upstream> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (mode, _) = watch::channel(Mode::Serving);
        let up = Upstream {
            port,
            shared: Arc::new(Shared {
                arrivals: Mutex::new(Vec::new()),
                rules: Mutex::new(Vec::new()),
                all: Mutex::new(None),
                timing: Mutex::new(timing),
                mode,
                seq: AtomicU64::new(0),
            }),
            tasks: Mutex::new(None),
        };
        up.serve(listener);
        Ok(up)
    }

    fn serve(&self, listener: TcpListener) {
        let mut set = JoinSet::new();
        let shared = self.shared.clone();
        set.spawn(accept_loop(listener, shared));
        *self.tasks.lock() = Some(set);
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Replaces the per-request fault rules (counters restart).
    pub fn set_rules(&self, rules: Vec<Rule>) {
        *self.shared.rules.lock() = rules
            .into_iter()
            .map(|r| (r, Arc::new(AtomicU64::new(0))))
            .collect();
    }

    /// Plays `fault` for every POST until cleared with `None` (a burst).
    pub fn set_all(&self, fault: Option<Fault>) {
        *self.shared.all.lock() = fault;
    }

    /// Changes normal answers' timing.
    pub fn set_timing(&self, timing: Timing) {
        *self.shared.timing.lock() = timing;
    }

    /// Every request received so far.
    pub fn arrivals(&self) -> Vec<Arrival> {
        self.shared.arrivals.lock().clone()
    }

    /// Requests received so far of `kind`.
    pub fn count(&self, kind: Kind) -> usize {
        self.shared
            .arrivals
            .lock()
            .iter()
            .filter(|a| a.kind == kind)
            .count()
    }

    /// How many times each marker arrived (retries arrive more than once).
    pub fn marker_counts(&self) -> HashMap<String, usize> {
        let mut m = HashMap::new();
        for a in self.shared.arrivals.lock().iter() {
            for id in &a.markers {
                *m.entry(id.clone()).or_insert(0) += 1;
            }
        }
        m
    }

    /// Like a killed process: every open connection is dropped at once and the port refuses.
    pub fn kill(&self) {
        let _ = self.shared.mode.send_replace(Mode::Down);
        if let Some(mut set) = self.tasks.lock().take() {
            set.abort_all();
            // Aborted tasks drop their sockets when they next get polled, which the runtime
            // does right away; the listener closes with the accept loop.
            drop(set);
        }
    }

    /// Like a hung (SIGSTOP'd) process: the port still accepts (the kernel's backlog), but
    /// no request is read or answered, and answers in progress stop where they are.
    pub fn hang(&self) {
        // `send_replace`: stored even when no task has subscribed yet (a plain `send` to a
        // mock whose accept loop has not started is dropped, and the mock keeps serving).
        let _ = self.shared.mode.send_replace(Mode::Hung);
    }

    /// Serves again after [`Upstream::hang`] or [`Upstream::kill`] (then on the same port).
    pub async fn resume(&self) -> std::io::Result<()> {
        let was = *self.shared.mode.borrow();
        let _ = self.shared.mode.send_replace(Mode::Serving);
        if was == Mode::Down || self.tasks.lock().is_none() {
            let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
            let listener = TcpListener::bind(addr).await?;
            self.serve(listener);
        }
        Ok(())
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(mut set) = self.tasks.lock().take() {
            set.abort_all();
        }
    }
}

async fn wait_serving(rx: &mut watch::Receiver<Mode>) {
    while *rx.borrow_and_update() == Mode::Hung {
        if rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut conns = JoinSet::new();
    let mut mode = shared.mode.subscribe();
    loop {
        // Hung: stop accepting; the kernel keeps completing handshakes into the backlog.
        wait_serving(&mut mode).await;
        tokio::select! {
            r = listener.accept() => {
                if let Ok((sock, _)) = r {
                    let _ = sock.set_nodelay(true);
                    conns.spawn(connection(sock, shared.clone()));
                }
            }
            _ = mode.changed() => {}
        }
        while conns.try_join_next().is_some() {}
    }
}

async fn connection(mut sock: TcpStream, shared: Arc<Shared>) {
    let mut buf = Vec::new();
    let mut mode = shared.mode.subscribe();
    loop {
        wait_serving(&mut mode).await;
        let Some(req) = http::read_request(&mut sock, &mut buf).await else {
            return;
        };
        wait_serving(&mut mode).await;
        if !answer(&mut sock, &req, &shared, &mut mode).await {
            return;
        }
    }
}

fn classify(req: &RawRequest) -> Kind {
    match (
        req.method.as_str(),
        req.path.split('?').next().unwrap_or(""),
    ) {
        ("GET", "/health") => Kind::Health,
        ("POST", p) if p.ends_with("/chat/completions") => {
            let stream = serde_json::from_slice::<Value>(&req.body)
                .ok()
                .and_then(|v| v.get("stream").and_then(Value::as_bool))
                .unwrap_or(false);
            if stream { Kind::Stream } else { Kind::Chat }
        }
        ("POST", p) if p.ends_with("/embeddings") => Kind::Embed,
        _ => Kind::Other,
    }
}

fn pick_fault(shared: &Shared, kind: Kind) -> Option<Fault> {
    if !matches!(kind, Kind::Chat | Kind::Stream | Kind::Embed) {
        return None;
    }
    if let Some(f) = shared.all.lock().clone() {
        return Some(f);
    }
    for (rule, counter) in shared.rules.lock().iter() {
        if rule.streams_only && kind != Kind::Stream {
            continue;
        }
        let n = counter.fetch_add(1, Ordering::Relaxed);
        if n % rule.every.max(1) == 0 {
            return Some(rule.fault.clone());
        }
    }
    None
}

/// Answers one request; false when the connection must close.
async fn answer(
    sock: &mut TcpStream,
    req: &RawRequest,
    shared: &Shared,
    mode: &mut watch::Receiver<Mode>,
) -> bool {
    let kind = classify(req);
    let fault = pick_fault(shared, kind);
    shared.arrivals.lock().push(Arrival {
        at_ms: now_ms(),
        kind,
        markers: markers(&req.body),
        fault: fault.as_ref().map(Fault::label),
    });
    let seq = shared.seq.fetch_add(1, Ordering::Relaxed);
    let timing = shared.timing.lock().clone();
    let json = |v: Value| v.to_string().into_bytes();
    let ct = ("content-type", "application/json".to_owned());
    match fault {
        Some(Fault::Status {
            status,
            retry_after,
        }) => {
            let mut headers = vec![ct];
            if let Some(ra) = retry_after {
                headers.push(("retry-after", ra));
            }
            let body = json(json!({"error": {
                "message": format!("mock fault: status {status}"),
                "type": if status == 429 { "rate_limit_error" } else { "server_error" },
                "param": null, "code": null}}));
            return http::write_response(sock, status, &headers, &body)
                .await
                .is_ok();
        }
        Some(Fault::Stall) => {
            // Wait until the client hangs up (a read returns 0 or fails).
            let mut tmp = [0u8; 1024];
            use tokio::io::AsyncReadExt;
            while matches!(sock.read(&mut tmp).await, Ok(n) if n > 0) {}
            return false;
        }
        Some(Fault::Cut { .. }) if kind != Kind::Stream => return false,
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        _ => {}
    }
    if !timing.delay.is_zero() {
        tokio::time::sleep(timing.delay).await;
    }
    wait_serving(mode).await;
    match kind {
        Kind::Health => http::write_response(sock, 200, &[ct], br#"{"status":"ok"}"#)
            .await
            .is_ok(),
        Kind::Chat => {
            let (p, c) = CHAT_USAGE;
            let body = json(json!({
                "id": format!("chatcmpl-mock{seq}"), "object": "chat.completion",
                "created": 1_700_000_000u64, "model": "mock-model",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello from the mock"},
                             "finish_reason": "stop"}],
                "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}}));
            http::write_response(sock, 200, &[ct], &body).await.is_ok()
        }
        Kind::Embed => {
            let n = serde_json::from_slice::<Value>(&req.body)
                .ok()
                .and_then(|v| v.get("input").and_then(Value::as_array).map(Vec::len))
                .unwrap_or(1);
            let data: Vec<Value> = (0..n)
                .map(|i| json!({"object": "embedding", "index": i, "embedding": [0.25, -0.5, 1.0]}))
                .collect();
            let body = json(
                json!({"object": "list", "data": data, "model": "mock-embed",
                "usage": {"prompt_tokens": EMBED_USAGE * n as u64, "total_tokens": EMBED_USAGE * n as u64}}),
            );
            http::write_response(sock, 200, &[ct], &body).await.is_ok()
        }
        Kind::Stream => {
            let cut = match fault {
                Some(Fault::Cut { after_chunks }) => Some(after_chunks),
                _ => None,
            };
            stream(sock, seq, &timing, cut, mode).await
        }
        Kind::Other => {
            let body = if req.path.ends_with("/models") {
                json(json!({"object": "list", "data": [
                    {"id": "mock-model", "object": "model", "created": 1_700_000_000u64, "owned_by": "mock"}]}))
            } else {
                json(
                    json!({"error": {"message": "not found", "type": "invalid_request_error", "param": null, "code": null}}),
                )
            };
            let status = if req.path.ends_with("/models") {
                200
            } else {
                404
            };
            http::write_response(sock, status, &[ct], &body)
                .await
                .is_ok()
        }
    }
}

async fn stream(
    sock: &mut TcpStream,
    seq: u64,
    timing: &Timing,
    cut: Option<usize>,
    mode: &mut watch::Receiver<Mode>,
) -> bool {
    if http::write_chunked_head(sock, 200, "text/event-stream")
        .await
        .is_err()
    {
        return false;
    }
    let chunk = |delta: Value, finish: Value| {
        format!(
            "data: {}\n\n",
            json!({"id": format!("chatcmpl-mock{seq}"), "object": "chat.completion.chunk",
                   "created": 1_700_000_000u64, "model": "mock-model",
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        )
    };
    let mut events = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    for i in 0..timing.chunks {
        events.push(chunk(json!({"content": format!("tok{i} ")}), Value::Null));
    }
    events.push(chunk(json!({}), json!("stop")));
    let (p, c) = CHAT_USAGE;
    events.push(format!(
        "data: {}\n\n",
        json!({"id": format!("chatcmpl-mock{seq}"), "object": "chat.completion.chunk",
               "created": 1_700_000_000u64, "model": "mock-model", "choices": [],
               "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}})
    ));
    events.push("data: [DONE]\n\n".to_owned());
    for (i, e) in events.iter().enumerate() {
        // The role chunk and `after_chunks` content chunks, then the connection drops.
        if cut.is_some_and(|n| i > n) {
            return false;
        }
        if i > 0 && !timing.chunk_delay.is_zero() {
            tokio::time::sleep(timing.chunk_delay).await;
        }
        wait_serving(mode).await;
        if http::write_chunk(sock, e.as_bytes()).await.is_err() {
            return false;
        }
    }
    http::write_chunk(sock, b"").await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_found_in_order() {
        assert_eq!(
            markers(br#"{"input":["[rid:a1] x","[rid:b-2]"]}"#),
            vec!["a1".to_owned(), "b-2".to_owned()]
        );
        assert!(markers(b"[rid:unterminated").is_empty());
    }

    #[tokio::test]
    async fn records_faults_and_comes_back_after_a_kill() {
        let up = Upstream::start(Timing::default()).await.unwrap();
        up.set_rules(vec![Rule {
            every: 2,
            streams_only: false,
            fault: Fault::status(503),
        }]);
        let c = reqwest_free_post(&up, "[rid:one]").await;
        assert!(c.starts_with("HTTP/1.1 503"), "{c}");
        let c = reqwest_free_post(&up, "[rid:two]").await;
        assert!(c.starts_with("HTTP/1.1 200"), "{c}");
        up.kill();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(TcpStream::connect(("127.0.0.1", up.port())).await.is_err());
        up.resume().await.unwrap();
        let c = reqwest_free_post(&up, "[rid:three]").await;
        assert!(c.starts_with("HTTP/1.1 503"), "{c}");
        let a = up.arrivals();
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].fault.as_deref(), Some("status_503"));
        assert_eq!(a[1].markers, vec!["two".to_owned()]);
    }

    async fn reqwest_free_post(up: &Upstream, content: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let body =
            json!({"model": "m", "messages": [{"role": "user", "content": content}]}).to_string();
        let mut s = TcpStream::connect(("127.0.0.1", up.port())).await.unwrap();
        let req = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = vec![0u8; 4096];
        let n = s.read(&mut out).await.unwrap();
        String::from_utf8_lossy(&out[..n]).into_owned()
    }
}
