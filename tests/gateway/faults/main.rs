//! The fault matrix (docs/reliability.md): for each dependency and each failure, what the
//! client sees, how long it takes, and the usage records, counted exactly.
//!
//! Every test starts its own services through `runtime_testkit::services` (a private
//! PostgreSQL cluster, `modelrt` processes on free ports) and its own recording mock upstreams
//! (`runtime_testkit::upstream`); each request carries a `[rid:ID]` marker and the same
//! `x-request-id`, so usage rows are matched to requests one by one. Latency bounds are
//! generous (the machine is slow and shared); they separate "bounded" from "hangs".
//!
//! Cells owned elsewhere (Redis for the router/cache/limiter, SQLite read-only and disk
//! full, slow and partial clients, 429 waits) live with their fixes' tests.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod clients;
mod gateway;
mod postgres;
mod upstream;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use runtime_testkit::services::{Gateway, GatewaySpec, Postgres};
use runtime_testkit::upstream::{Timing, Upstream};
use serde_json::{Value, json};

/// Runs blocking service control (process starts, psql) without stalling the runtime.
pub fn blocking<T>(f: impl FnOnce() -> T) -> T {
    tokio::task::block_in_place(f)
}

/// A mock upstream with quick answers and slow-enough streams to be caught mid-way.
pub async fn upstream() -> Upstream {
    Upstream::start(Timing {
        delay: Duration::from_millis(5),
        chunks: 4,
        chunk_delay: Duration::from_millis(20),
    })
    .await
    .unwrap()
}

/// The config of the tests: logical model `m` over `upstreams` (deployments `d0`, `d1`, …,
/// in priority order), usage records in `database_url`; `router` lines are appended to
/// `[router]`.
pub fn config(upstreams: &[&Upstream], database_url: &str, router: &str) -> String {
    let mut s = String::new();
    for (i, u) in upstreams.iter().enumerate() {
        s.push_str(&format!(
            "[providers.up{i}]\ntype = \"openai\"\nbase_url = \"{}/v1\"\napi_key = \"sk-test-up\"\ntimeout = \"2s\"\nstream_idle_timeout = \"1s\"\n\n",
            u.url()
        ));
    }
    s.push_str(&format!(
        "[router]\nbackoff_base = \"10ms\"\nbackoff_max = \"50ms\"\ncooldown = \"1s\"\ncooldown_failures = 100\ntimeout = \"8s\"\nttft_timeout = \"2s\"\n{router}\n\n[[models]]\nname = \"m\"\nmax_attempts = 3\n"
    ));
    for i in 0..upstreams.len() {
        s.push_str(&format!(
            "\n[[models.deployments]]\nprovider = \"up{i}\"\nmodel = \"mock-model\"\nname = \"d{i}\"\npriority = {i}\n"
        ));
    }
    s.push_str(&format!(
        "\n[cache]\nenabled = false\n\n[storage]\ndatabase_url = \"{database_url}\"\nspill_path = \"usage.spill.jsonl\"\nflush_interval = \"50ms\"\nconnect_timeout = \"1s\"\n\n[gateway]\nshutdown_grace = \"10s\"\n"
    ));
    s
}

/// Starts `modelrt` with `config` in a fresh directory.
pub fn start_gateway(config: String) -> (Gateway, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let gw = blocking(|| {
        Gateway::start(GatewaySpec {
            bin: env!("CARGO_BIN_EXE_modelrt").into(),
            config,
            dir: dir.path().to_path_buf(),
            port: 0,
            log_filter: "info".into(),
        })
    })
    .unwrap();
    (gw, dir)
}

/// A client with a 30 s deadline per request.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// One answer as the client saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The request id (and marker).
    pub id: String,
    /// HTTP status (0: none).
    pub status: u16,
    /// The whole body.
    pub body: String,
    /// Until the body was read.
    pub elapsed: Duration,
    /// No HTTP answer at all (connection failed, deadline).
    pub transport_error: Option<String>,
}

impl Seen {
    /// 2xx with a complete body (a stream ending in `[DONE]`).
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
            && !self.body.contains("data: {\"error\"")
            && (self.body.contains("\"choices\"") || self.body.contains("\"data\""))
            && (!self.body.starts_with("data:") || self.body.trim_end().ends_with("data: [DONE]"))
    }

    /// An OpenAI error envelope: as the whole body, or as an SSE error frame.
    pub fn typed_error(&self) -> Option<Value> {
        let json = if self.body.starts_with("data:") {
            self.body
                .split("data: ")
                .find(|f| f.starts_with("{\"error\""))?
                .trim()
                .to_owned()
        } else if self.status >= 400 {
            self.body.clone()
        } else {
            return None;
        };
        let v: Value = serde_json::from_str(&json).ok()?;
        (v["error"]["message"].is_string() && v["error"]["type"].is_string()).then_some(v)
    }

    /// Answered: 2xx or a typed error.
    pub fn answered(&self) -> bool {
        self.transport_error.is_none() && (self.ok() || self.typed_error().is_some())
    }
}

/// Sends one chat (streamed when `stream`) with marker `id` to `gw` and reads the whole answer.
pub async fn chat(c: &reqwest::Client, base: &str, id: &str, stream: bool) -> Seen {
    let body = json!({"model": "m", "stream": stream,
        "messages": [{"role": "user", "content": format!("[rid:{id}] hello")}]});
    let start = Instant::now();
    let sent = c
        .post(format!("{base}/v1/chat/completions"))
        .header("x-request-id", id)
        .json(&body)
        .send()
        .await;
    let (status, text, err) = match sent {
        Ok(r) => {
            let status = r.status().as_u16();
            match r.text().await {
                Ok(t) => (status, t, None),
                Err(e) => (status, String::new(), Some(format!("{e:?}"))),
            }
        }
        Err(e) => (0, String::new(), Some(format!("{e:?}"))),
    };
    Seen {
        id: id.to_owned(),
        status,
        body: text,
        elapsed: start.elapsed(),
        transport_error: err,
    }
}

/// `n` chats with ids `{prefix}-{i}`, `conc` at a time.
pub async fn chats(base: &str, prefix: &str, n: usize, stream: bool) -> Vec<Seen> {
    let c = client();
    let futs = (0..n).map(|i| {
        let c = c.clone();
        let id = format!("{prefix}-{i}");
        async move { chat(&c, base, &id, stream).await }
    });
    futures::future::join_all(futs).await
}

/// A usage row: status, operation, total tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `ok`, `error`, `aborted`.
    pub status: String,
    /// `chat`, `chat_stream`, …
    pub operation: String,
    /// Total tokens.
    pub total_tokens: u64,
}

/// Every usage row by request id.
pub fn rows(pg: &Postgres) -> HashMap<String, Row> {
    let text = blocking(|| {
        pg.psql("COPY (SELECT request_id, status, operation, total_tokens FROM usage_records) TO STDOUT")
    });
    // Before the first batch the table does not exist yet.
    let Ok(text) = text else {
        return HashMap::new();
    };
    text.lines()
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c.len() == 4).then(|| {
                (
                    c[0].to_owned(),
                    Row {
                        status: c[1].to_owned(),
                        operation: c[2].to_owned(),
                        total_tokens: c[3].parse().unwrap_or(0),
                    },
                )
            })
        })
        .collect()
}

/// Polls until the rows of ids starting with `prefix` number `n` (or `limit` passes); returns
/// those rows.
pub async fn wait_rows(
    pg: &Postgres,
    prefix: &str,
    n: usize,
    limit: Duration,
) -> HashMap<String, Row> {
    let deadline = Instant::now() + limit;
    loop {
        let r: HashMap<String, Row> = rows(pg)
            .into_iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .collect();
        if r.len() >= n || Instant::now() > deadline {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `SELECT sum(requests) FROM usage_rollup_hourly` equals the row count (nothing counted
/// twice).
pub fn assert_rollups_match(pg: &Postgres) {
    let rows: u64 = blocking(|| pg.psql("SELECT count(*) FROM usage_records"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let rolled: u64 =
        blocking(|| pg.psql("SELECT COALESCE(sum(requests),0) FROM usage_rollup_hourly"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
    assert_eq!(
        rolled, rows,
        "rollups count {rolled} requests for {rows} rows"
    );
}

/// Starts a private PostgreSQL.
pub fn postgres() -> Postgres {
    blocking(Postgres::start).unwrap()
}

/// Asserts every answer is 2xx or typed and none took longer than `bound`.
pub fn assert_answered_within(seen: &[Seen], bound: Duration) {
    for s in seen {
        assert!(s.answered(), "{}: not answered: {s:?}", s.id);
        assert!(
            s.elapsed <= bound,
            "{}: took {:?} (bound {bound:?})",
            s.id,
            s.elapsed
        );
    }
}
