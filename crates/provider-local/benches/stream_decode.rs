//! Decoding speed of an Ollama NDJSON stream and a llama.cpp SSE stream.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use provider_local::ollama::OllamaStreamDecoder;
use provider_local::openai::LocalChunkDecoder;
use runtime_core::FrameDecoder;
use runtime_core::http::{NdjsonDecoder, SseDecoder};

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../runtime-testkit/fixtures/{rel}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_default()
}

fn bench(c: &mut Criterion) {
    let ndjson = fixture("ollama/api-chat-stream-ndjson.response.ndjson");
    c.bench_function("ollama api-chat-stream-ndjson", |b| {
        b.iter(|| {
            let mut lines = Vec::new();
            let mut d = NdjsonDecoder::new();
            d.push(&ndjson, &mut lines);
            d.finish(&mut lines);
            let mut dec = OllamaStreamDecoder::new("local", "qwen3:4b");
            let mut out = Vec::new();
            for l in &lines {
                let _ = dec.decode(l, &mut out);
            }
            out.len()
        })
    });
    let sse = fixture("openai-compatible/llamacpp-stream-unicode-across-chunks.response.sse");
    c.bench_function("llama.cpp stream-unicode-across-chunks", |b| {
        b.iter(|| {
            let mut frames = Vec::new();
            let mut d = SseDecoder::new();
            d.push(&sse, &mut frames);
            d.finish(&mut frames);
            let mut dec = LocalChunkDecoder::new("local", "m");
            let mut out = Vec::new();
            for f in &frames {
                let _ = dec.decode(&f.data, &mut out);
            }
            out.len()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
