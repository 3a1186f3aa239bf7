//! Decoding speed of Azure's stream chunks (filter annotations included).
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use provider_azure_openai::AzureChunkDecoder;
use runtime_core::FrameDecoder;
use runtime_core::http::SseDecoder;

fn bench(c: &mut Criterion) {
    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../runtime-testkit/fixtures/azure-openai/stream-async-filter-trailing-chunks.sse"
    ))
    .unwrap_or_default();
    c.bench_function("azure stream-async-filter-trailing-chunks", |b| {
        b.iter(|| {
            let mut sse = SseDecoder::new();
            let mut events = Vec::new();
            sse.push(&body, &mut events);
            sse.finish(&mut events);
            let mut dec = AzureChunkDecoder::new("azure", "gpt-4o");
            let mut out = Vec::new();
            for e in &events {
                let _ = dec.decode(&e.data, &mut out);
            }
            out.len()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
