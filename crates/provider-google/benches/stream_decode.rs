//! Decoding speed of a recorded Gemini stream.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use provider_google::wire::StreamDecoder;
use runtime_core::http::SseDecoder;

fn bench(c: &mut Criterion) {
    let body = runtime_testkit::fixtures::bytes("gemini", "stream-sse-crlf.response.sse");
    c.bench_function("gemini sse decode", |b| {
        b.iter(|| {
            let mut sse = SseDecoder::new();
            let mut events = Vec::new();
            sse.push(&body, &mut events);
            let mut dec = StreamDecoder::new("google", "gemini-2.0-flash");
            let mut out = Vec::new();
            for e in &events {
                let _ = dec.decode(&e.data, &mut out);
            }
            let _ = dec.end(&mut out);
            out
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
