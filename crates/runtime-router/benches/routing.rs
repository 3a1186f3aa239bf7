//! Routing decision overhead per request, 10 deployments.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    clippy::result_large_err
)]

use std::sync::Arc;

use async_trait::async_trait;
use criterion::{Criterion, criterion_group, criterion_main};
use runtime_core::{
    AssistantMessage, Capabilities, ChatRequest, ChatResponse, ChatStream, Content, Message,
    Provider, RequestContext, Result, ServiceExt,
};
use runtime_router::{DeploymentConfig, ModelConfig, RequestKind, Router, Strategy};

/// Answers at once, so the benchmark measures the router.
struct Instant;

#[async_trait]
impl Provider for Instant {
    fn name(&self) -> &str {
        "instant"
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

fn router(strategy: Strategy) -> Router {
    let mut m = ModelConfig::new("chat").strategy(strategy);
    for i in 0..10 {
        m = m.deployment(DeploymentConfig::new("instant", format!("model-{i}")).weight(i + 1));
    }
    Router::builder()
        .model(m)
        .provider("instant", Arc::new(Instant))
        .build()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("decision_10_deployments");
    for s in [
        Strategy::RoundRobin,
        Strategy::Weighted,
        Strategy::LeastConnections,
        Strategy::Random,
        Strategy::LowestLatency,
        Strategy::LowestCost,
        Strategy::UsageBased,
    ] {
        let r = router(s);
        g.bench_function(s.as_str(), |b| {
            b.iter(|| rt.block_on(r.choose("chat", RequestKind::Chat)).unwrap())
        });
    }
    g.finish();

    let r = router(Strategy::RoundRobin);
    let req = ChatRequest::new("chat", vec![Message::user("hello")]);
    c.bench_function("chat_through_router_10_deployments", |b| {
        b.iter(|| rt.block_on(r.chat(&req, &RequestContext::new())).unwrap())
    });
    let p = Instant;
    c.bench_function("chat_direct_baseline", |b| {
        b.iter(|| rt.block_on(p.chat(&req, &RequestContext::new())).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
