//! A closed-loop, keep-alive load generator.
//!
//! `concurrency` workers share one connection pool; each sends a request, reads the whole
//! answer, records the latency in its own HDR histogram and sends the next one, for a warm-up
//! (not recorded) and then `duration`. For streams it also records the time to the first body
//! byte (TTFT) and checks that the stream ends with `[DONE]`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// One load run.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Full URL of `POST …/chat/completions`.
    pub url: String,
    /// The `model` field sent.
    pub model: String,
    /// Workers, each with at most one request in flight.
    pub concurrency: usize,
    /// Recorded part of the run.
    pub duration: Duration,
    /// Unrecorded part before it (connections opened, caches warm).
    pub warmup: Duration,
    /// `"stream": true` (with `stream_options.include_usage`).
    pub stream: bool,
    /// Make every request body different (a counter in the prompt) and send `temperature: 0`,
    /// so a response cache sees only misses.
    pub unique: bool,
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// Largest.
    pub max: u64,
}

impl Percentiles {
    fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        Self {
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            max: h.max(),
        }
    }
}

/// What one run measured.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoadReport {
    /// Requests completed in the recorded window (successes and errors).
    pub requests: u64,
    /// Requests sent in the whole run, warm-up included (to divide a target's CPU time by).
    pub all_requests: u64,
    /// Failed requests: transport errors, non-2xx statuses, streams without `[DONE]`.
    pub errors: u64,
    /// The recorded window in seconds.
    pub seconds: f64,
    /// Successful requests per second.
    pub rps: f64,
    /// Time to the last byte of successful requests, µs.
    pub latency_us: Percentiles,
    /// Time to the first body byte of successful streams, µs (streams only).
    pub ttft_us: Option<Percentiles>,
    /// The first error seen, if any.
    pub first_error: Option<String>,
}

/// Errors that stop a run before it starts.
#[derive(Debug)]
pub struct LoadError(pub String);

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoadError {}

fn histogram() -> Result<Histogram<u64>, LoadError> {
    // 1 µs .. 60 s at 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3).map_err(|e| LoadError(e.to_string()))
}

fn body(config: &LoadConfig, n: u64) -> String {
    let content = if config.unique {
        format!("benchmark request {n}: say something short")
    } else {
        "benchmark request: say something short".to_owned()
    };
    let mut v = serde_json::json!({
        "model": config.model,
        "messages": [{"role": "user", "content": content}],
        "max_tokens": 64,
    });
    if config.unique {
        v["temperature"] = serde_json::json!(0);
    }
    if config.stream {
        v["stream"] = serde_json::json!(true);
        v["stream_options"] = serde_json::json!({"include_usage": true});
    }
    v.to_string()
}

struct WorkerResult {
    latency: Histogram<u64>,
    ttft: Histogram<u64>,
    requests: u64,
    all_requests: u64,
    errors: u64,
    first_error: Option<String>,
}

enum Outcome {
    Ok { ttft: Option<Duration> },
    Err(String),
}

async fn one(client: &reqwest::Client, config: &LoadConfig, body: String, t0: Instant) -> Outcome {
    let resp = match client
        .post(&config.url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => return Outcome::Err(format!("transport: {e}")),
    };
    let status = resp.status();
    if !config.stream {
        return match resp.bytes().await {
            Ok(b) if status.is_success() => {
                let _ = b;
                Outcome::Ok { ttft: None }
            }
            Ok(b) => Outcome::Err(format!(
                "status {status}: {}",
                String::from_utf8_lossy(&b[..b.len().min(200)])
            )),
            Err(e) => Outcome::Err(format!("body: {e}")),
        };
    }
    if !status.is_success() {
        let b = resp.bytes().await.unwrap_or_default();
        return Outcome::Err(format!(
            "status {status}: {}",
            String::from_utf8_lossy(&b[..b.len().min(200)])
        ));
    }
    let mut stream = resp.bytes_stream();
    let mut ttft = None;
    let mut tail: Vec<u8> = Vec::with_capacity(64);
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(c) => {
                if ttft.is_none() && !c.is_empty() {
                    ttft = Some(t0.elapsed());
                }
                tail.extend_from_slice(&c);
                if tail.len() > 32 {
                    tail.drain(..tail.len() - 32);
                }
            }
            Err(e) => return Outcome::Err(format!("stream: {e}")),
        }
    }
    let done = tail.windows(6).any(|w| w == b"[DONE]");
    if done {
        Outcome::Ok { ttft }
    } else {
        Outcome::Err("stream ended without [DONE]".into())
    }
}

async fn worker(
    client: reqwest::Client,
    config: Arc<LoadConfig>,
    counter: Arc<AtomicU64>,
    record_from: Instant,
    end: Instant,
) -> Result<WorkerResult, LoadError> {
    let mut r = WorkerResult {
        latency: histogram()?,
        ttft: histogram()?,
        requests: 0,
        all_requests: 0,
        errors: 0,
        first_error: None,
    };
    loop {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let b = body(&config, n);
        let t0 = Instant::now();
        if t0 >= end {
            break;
        }
        let outcome = one(&client, &config, b, t0).await;
        let elapsed = t0.elapsed();
        r.all_requests += 1;
        if t0 < record_from {
            continue;
        }
        r.requests += 1;
        match outcome {
            Outcome::Ok { ttft } => {
                let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
                r.latency.saturating_record(us.max(1));
                if let Some(t) = ttft {
                    let us = u64::try_from(t.as_micros()).unwrap_or(u64::MAX);
                    r.ttft.saturating_record(us.max(1));
                }
            }
            Outcome::Err(e) => {
                r.errors += 1;
                if r.first_error.is_none() {
                    r.first_error = Some(e);
                }
                // Do not spin on a dead target.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
    Ok(r)
}

/// Runs `config` to the end and reports.
pub async fn run(config: LoadConfig) -> Result<LoadReport, LoadError> {
    if config.concurrency == 0 {
        return Err(LoadError("concurrency must be at least 1".into()));
    }
    let client = reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(config.concurrency)
        .pool_idle_timeout(Duration::from_secs(90))
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| LoadError(format!("cannot build the HTTP client: {e}")))?;
    let config = Arc::new(config);
    let counter = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let record_from = start + config.warmup;
    let end = record_from + config.duration;
    let mut tasks = Vec::with_capacity(config.concurrency);
    for _ in 0..config.concurrency {
        tasks.push(tokio::spawn(worker(
            client.clone(),
            config.clone(),
            counter.clone(),
            record_from,
            end,
        )));
    }
    let mut latency = histogram()?;
    let mut ttft = histogram()?;
    let (mut requests, mut all_requests, mut errors, mut first_error) = (0, 0, 0, None);
    for t in tasks {
        let r = t
            .await
            .map_err(|e| LoadError(format!("worker failed: {e}")))??;
        latency
            .add(&r.latency)
            .map_err(|e| LoadError(e.to_string()))?;
        ttft.add(&r.ttft).map_err(|e| LoadError(e.to_string()))?;
        requests += r.requests;
        all_requests += r.all_requests;
        errors += r.errors;
        if first_error.is_none() {
            first_error = r.first_error;
        }
    }
    let seconds = config.duration.as_secs_f64();
    Ok(LoadReport {
        requests,
        all_requests,
        errors,
        seconds,
        rps: (requests - errors) as f64 / seconds.max(1e-9),
        latency_us: Percentiles::of(&latency),
        ttft_us: config.stream.then(|| Percentiles::of(&ttft)),
        first_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::{MockConfig, bind, serve};

    async fn against_mock(stream: bool) -> LoadReport {
        let (listener, addr) = bind(([127, 0, 0, 1], 0).into()).await.unwrap();
        tokio::spawn(serve(listener, MockConfig::default()));
        run(LoadConfig {
            url: format!("http://{addr}/v1/chat/completions"),
            model: "bench-model".into(),
            concurrency: 4,
            duration: Duration::from_millis(300),
            warmup: Duration::from_millis(50),
            stream,
            unique: true,
        })
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn measures_chat_against_the_mock() {
        let r = against_mock(false).await;
        assert!(r.requests > 0 && r.all_requests >= r.requests);
        assert_eq!(r.errors, 0, "{:?}", r.first_error);
        assert!(r.latency_us.p50 > 0 && r.latency_us.p50 <= r.latency_us.max);
        assert!(r.ttft_us.is_none());
    }

    #[tokio::test]
    async fn measures_streams_against_the_mock() {
        let r = against_mock(true).await;
        assert!(r.requests > 0);
        assert_eq!(r.errors, 0, "{:?}", r.first_error);
        let ttft = r.ttft_us.unwrap();
        assert!(ttft.p50 > 0 && ttft.p50 <= r.latency_us.max);
    }

    #[tokio::test]
    async fn a_dead_target_counts_errors() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        drop(l);
        let r = run(LoadConfig {
            url: format!("http://{addr}/v1/chat/completions"),
            model: "m".into(),
            concurrency: 2,
            duration: Duration::from_millis(100),
            warmup: Duration::ZERO,
            stream: false,
            unique: false,
        })
        .await
        .unwrap();
        assert!(r.errors > 0);
        assert_eq!(r.errors, r.requests);
        assert!(r.first_error.unwrap().starts_with("transport"));
    }

    #[test]
    fn unique_bodies_differ_and_ask_for_temperature_zero() {
        let c = LoadConfig {
            url: String::new(),
            model: "m".into(),
            concurrency: 1,
            duration: Duration::ZERO,
            warmup: Duration::ZERO,
            stream: true,
            unique: true,
        };
        let (a, b) = (body(&c, 1), body(&c, 2));
        assert_ne!(a, b);
        let v: serde_json::Value = serde_json::from_str(&a).unwrap();
        assert_eq!(v["temperature"], 0);
        assert_eq!(v["stream"], true);
    }
}
