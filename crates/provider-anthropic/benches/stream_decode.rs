//! Decoding speed of a recorded Messages stream (SSE framing + event decoding + fold) and of
//! building a request body.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use provider_anthropic::wire::{EventDecoder, RequestOptions, messages_request};
use runtime_core::http::SseDecoder;
use runtime_core::{ChatRequest, Message, StreamAccumulator, ToolDefinition};
use runtime_testkit::fixtures;
use serde_json::json;

fn decode(bytes: &[u8]) -> runtime_core::ChatResponse {
    let mut sse = SseDecoder::new();
    let mut events = Vec::new();
    for chunk in bytes.chunks(512) {
        sse.push(chunk, &mut events);
    }
    sse.finish(&mut events);
    let mut dec = EventDecoder::new("anthropic", "m");
    let mut acc = StreamAccumulator::default();
    let mut out = Vec::new();
    for e in &events {
        dec.decode(&e.data, &mut out).unwrap();
        for ev in out.drain(..) {
            acc.push(ev);
        }
    }
    acc.finish()
}

fn bench(c: &mut Criterion) {
    let bytes = fixtures::bytes("anthropic", "stream-thinking.response.sse");
    let mut g = c.benchmark_group("anthropic");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("decode stream-thinking", |b| b.iter(|| decode(&bytes)));
    g.finish();

    let mut req = ChatRequest::new(
        "claude-sonnet-4-5",
        (0..20)
            .map(|i| {
                if i % 2 == 0 {
                    Message::user(format!("question {i}"))
                } else {
                    Message::assistant(format!("answer {i}"))
                }
            })
            .collect(),
    );
    req.tools = vec![ToolDefinition::function(
        "f",
        "d",
        json!({"type": "object", "properties": {"x": {"type": "string"}}}),
    )];
    c.bench_function("anthropic build 20-message request", |b| {
        b.iter(|| {
            messages_request(
                &req,
                &req.model,
                "anthropic",
                RequestOptions::default(),
                false,
            )
            .unwrap()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
