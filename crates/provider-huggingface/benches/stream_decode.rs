//! Decoding speed: recorded TGI Messages API stream, a `/generate_stream` transcript, and a
//! token-level feature-extraction answer pooled per input.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use provider_huggingface::embeddings::{self, Pooling};
use provider_huggingface::wire::{GenerateStreamDecoder, MessagesChunkDecoder};
use runtime_core::FrameDecoder as EventDecoder;
use runtime_core::http::{SseDecoder, SseEvent};
use runtime_core::{StreamAccumulator, StreamEvent};
use serde_json::{Value, json};

fn tgi_sse(name: &str) -> Vec<u8> {
    let chunks: Vec<Value> =
        serde_json::from_str(&runtime_testkit::fixtures::text("tgi", name)).unwrap();
    let mut out = String::new();
    for c in chunks {
        out.push_str("data:");
        out.push_str(&c.to_string());
        out.push_str("\n\n");
    }
    out.push_str("data:[DONE]\n\n");
    out.into_bytes()
}

fn generate_stream(tokens: usize) -> Vec<u8> {
    let mut out = String::new();
    for i in 0..tokens {
        let last = i + 1 == tokens;
        let ev = json!({
            "index": i + 1,
            "token": {"id": i, "text": " tok", "logprob": -0.5, "special": false},
            "generated_text": if last { Value::String(" tok".repeat(tokens)) } else { Value::Null },
            "details": if last { json!({"finish_reason": "length", "generated_tokens": tokens, "seed": null, "input_length": 12}) } else { Value::Null },
        });
        out.push_str("data:");
        out.push_str(&ev.to_string());
        out.push_str("\n\n");
    }
    out.into_bytes()
}

fn run<D: EventDecoder>(bytes: &[u8], mut dec: D) -> usize {
    let mut sse = SseDecoder::new();
    let mut frames: Vec<SseEvent> = Vec::new();
    let mut acc = StreamAccumulator::default();
    let mut out: Vec<StreamEvent> = Vec::new();
    for chunk in bytes.chunks(512) {
        sse.push(chunk, &mut frames);
        for f in frames.drain(..) {
            dec.decode(&f.data, &mut out).unwrap();
        }
    }
    sse.finish(&mut frames);
    for f in frames.drain(..) {
        dec.decode(&f.data, &mut out).unwrap();
    }
    let n = out.len();
    for e in out {
        acc.push(e);
    }
    std::hint::black_box(acc.finish());
    n
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("tgi");
    let tool = tgi_sse("chat-stream-tool-call.chunks.json");
    g.throughput(Throughput::Bytes(tool.len() as u64));
    g.bench_function("messages stream (recorded tool call)", |b| {
        b.iter(|| run(&tool, MessagesChunkDecoder::new("hf", "m")))
    });
    let gen_stream = generate_stream(256);
    g.throughput(Throughput::Bytes(gen_stream.len() as u64));
    g.bench_function("generate_stream 256 tokens", |b| {
        b.iter(|| run(&gen_stream, GenerateStreamDecoder::new("hf", "m")))
    });
    // 8 inputs x 64 tokens x 384 dims, token level.
    let tensor: Vec<Vec<Vec<f32>>> = (0..8)
        .map(|i| {
            (0..64)
                .map(|t| (0..384).map(|d| ((i * t + d) % 17) as f32 / 17.0).collect())
                .collect()
        })
        .collect();
    let body = serde_json::to_vec(&tensor).unwrap();
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("feature extraction 8x64x384 mean-pooled", |b| {
        b.iter(|| embeddings::parse_embeddings(&body, 8, Pooling::Mean, true, "hf", "m").unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
