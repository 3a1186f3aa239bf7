//! What a dead shared-state Redis costs a routed request: the same routed chat call (one
//! deployment with an rpm limit, so flags and the limiter are consulted) with state in
//! memory, in a live Redis, in a Redis on a refused port, and in a Redis that is frozen
//! (SIGSTOP) — the last two after the breaker opened. Criterion measures the mean; a
//! pre-pass of 20 000 calls per case prints p50/p99 (the goal: ≤ 5 ms added p99).
//! Starts its own `redis-server` on free ports (never the shared 6379).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    clippy::result_large_err
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use criterion::{Criterion, criterion_group, criterion_main};
use runtime_core::{
    AssistantMessage, Capabilities, ChatRequest, ChatResponse, ChatStream, Content, Message,
    Provider, RequestContext, Result, ServiceExt,
};
use runtime_router::{DeploymentConfig, ModelConfig, Redis, RedisConfig, Router, RouterDefaults};
use runtime_testkit::redis::{RedisServer, free_port};

/// Answers at once, so the benchmark measures the router and its state.
struct Answer;

#[async_trait]
impl Provider for Answer {
    fn name(&self) -> &str {
        "answer"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
    async fn chat(&self, req: &ChatRequest, _ctx: &RequestContext) -> Result<ChatResponse> {
        Ok(ChatResponse {
            model: req.model.clone(),
            message: AssistantMessage {
                content: Some(Content::Text("ok".into())),
                ..AssistantMessage::default()
            },
            ..ChatResponse::default()
        })
    }
    async fn chat_stream(&self, _req: &ChatRequest, _ctx: &RequestContext) -> Result<ChatStream> {
        Ok(ChatStream::from_events(Vec::new()))
    }
}

fn router(redis: Option<Redis>) -> Router {
    let mut b = Router::builder()
        .defaults(RouterDefaults {
            redis_prefix: format!("bench-{}", free_port()),
            ..RouterDefaults::default()
        })
        .model(
            ModelConfig::new("chat")
                .deployment(DeploymentConfig::new("answer", "m").rpm(u64::MAX / 2)),
        )
        .provider("answer", Arc::new(Answer));
    if let Some(r) = redis {
        b = b.redis(r);
    }
    b.build().unwrap()
}

fn handle(url: &str) -> Redis {
    Redis::new(
        &RedisConfig::standalone(url)
            // Probes rarely, so the bench measures the open breaker, not reconnect attempts.
            .with_probe(Duration::from_secs(30), Duration::from_secs(60)),
    )
    .unwrap()
}

fn percentiles(rt: &tokio::runtime::Runtime, r: &Router, name: &str) {
    let req = ChatRequest::new("chat", vec![Message::user("hello")]);
    let mut lat: Vec<Duration> = (0..20_000)
        .map(|_| {
            let t = Instant::now();
            rt.block_on(r.chat(&req, &RequestContext::new())).unwrap();
            t.elapsed()
        })
        .collect();
    lat.sort();
    let at = |q: f64| lat[((lat.len() as f64 * q) as usize).min(lat.len() - 1)];
    eprintln!(
        "redis_down/{name}: 20000 calls p50 {:.1} µs  p99 {:.1} µs  max {:.1} µs",
        at(0.50).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
        lat[lat.len() - 1].as_secs_f64() * 1e6
    );
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let req = ChatRequest::new("chat", vec![Message::user("hello")]);

    let live = RedisServer::start();
    let mut frozen = RedisServer::start();
    let refused = format!("redis://127.0.0.1:{}/", free_port());

    let cases: Vec<(&str, Router)> = vec![
        ("memory", router(None)),
        ("redis_live", router(Some(handle(&live.url())))),
        ("redis_refused", router(Some(handle(&refused)))),
        ("redis_frozen", router(Some(handle(&frozen.url())))),
    ];
    // Connect everything, then freeze one server and let its breaker open.
    for (_, r) in &cases {
        rt.block_on(r.chat(&req, &RequestContext::new())).unwrap();
    }
    frozen.pause();
    rt.block_on(cases[3].1.chat(&req, &RequestContext::new()))
        .unwrap();

    let mut g = c.benchmark_group("redis_down");
    for (name, r) in &cases {
        percentiles(&rt, r, name);
        g.bench_function(*name, |b| {
            b.iter(|| rt.block_on(r.chat(&req, &RequestContext::new())).unwrap())
        });
    }
    g.finish();
    frozen.resume();
}

criterion_group!(benches, bench);
criterion_main!(benches);
