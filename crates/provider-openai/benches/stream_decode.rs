//! SSE framing + OpenAI chunk parsing throughput on a recorded stream repeated to 1000 chunks.
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use provider_openai::wire::ChunkDecoder;
use runtime_core::StreamEvent;
use runtime_core::http::SseDecoder;

fn thousand_chunk_stream() -> Vec<u8> {
    let jsonl = runtime_testkit::fixtures::text("openai", "chat-stream-text.chunks.jsonl");
    let lines: Vec<&str> = jsonl.lines().filter(|l| !l.trim().is_empty()).collect();
    // Content chunks only (no finish), cycled to 1000, then the recorded last chunk.
    let content: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|l| l.contains("\"finish_reason\":null"))
        .collect();
    let mut out = String::new();
    for i in 0..999 {
        out.push_str("data: ");
        out.push_str(content[i % content.len()]);
        out.push_str("\n\n");
    }
    out.push_str("data: ");
    out.push_str(lines.last().copied().unwrap_or_default());
    out.push_str("\n\ndata: [DONE]\n\n");
    out.into_bytes()
}

fn decode(bytes: &[u8], chunk: usize) -> usize {
    let mut sse = SseDecoder::new();
    let mut dec = ChunkDecoder::new("openai", "m");
    let mut frames = Vec::new();
    let mut events: Vec<StreamEvent> = Vec::new();
    for piece in bytes.chunks(chunk) {
        sse.push(piece, &mut frames);
        for f in frames.drain(..) {
            dec.decode(&f.data, &mut events).unwrap();
        }
    }
    sse.finish(&mut frames);
    for f in frames.drain(..) {
        dec.decode(&f.data, &mut events).unwrap();
    }
    events.len()
}

fn bench(c: &mut Criterion) {
    let bytes = thousand_chunk_stream();
    let mut g = c.benchmark_group("sse+openai-chunks (1000 chunks)");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    // Network-like reads of 1.4 KB, and one big buffer.
    g.bench_function("reads of 1460 B", |b| b.iter(|| decode(&bytes, 1460)));
    g.bench_function("whole buffer", |b| b.iter(|| decode(&bytes, bytes.len())));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
