//! Hot-path cost of recording one request's metrics (target: under 1 µs).
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use runtime_core::Usage;
use runtime_metrics::{Cost, Metrics, MetricsConfig, Observation, Operation, Pricing, Scope};

fn bench_record(c: &mut Criterion) {
    let metrics = Metrics::new(&MetricsConfig::default());
    let pricing = Pricing::default();
    let usage = Usage {
        prompt_tokens: 1_200,
        completion_tokens: 350,
        total_tokens: 1_550,
        cached_prompt_tokens: 1_000,
        cache_creation_tokens: 0,
        reasoning_tokens: 120,
    };
    let models = ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "o3-mini"];
    // Series exist after the first request of each; the hot path is every later one.
    let mut i = 0usize;
    let mut group = c.benchmark_group("metrics");
    group.bench_function("record_one_stream_request", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            let o = Observation {
                provider: "openai",
                deployment: Some("eastus-1"),
                model: models[i % models.len()],
                operation: Operation::ChatStream,
                scope: Scope::Request,
                latency: Duration::from_micros(850_000 + (i % 1000) as u64),
                ttft: Some(Duration::from_micros(120_000 + (i % 500) as u64)),
                usage: Some(&usage),
                cost: Cost {
                    cost_usd: Some(0.0012),
                    saved_usd: None,
                },
                error_kind: None,
                cache_hit: false,
            };
            metrics.record(black_box(&o));
        })
    });
    group.bench_function("price_lookup_and_cost", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(pricing.cost(
                "openai",
                Some("eastus-1"),
                black_box(models[i % models.len()]),
                &usage,
                false,
            ))
        })
    });
    group.finish();
}

criterion_group!(benches, bench_record);
criterion_main!(benches);
