//! CPU time (not wall time) per recorded request, for a machine too busy for criterion:
//! `cargo run --release -p runtime-metrics --example cpu_cost` (Linux: reads /proc).
#![allow(missing_docs, clippy::unwrap_used)]
use runtime_core::Usage;
use runtime_metrics::{Cost, Metrics, MetricsConfig, Observation, Operation, Scope};
use std::time::Duration;

fn cpu_ticks() -> u64 {
    let s = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
    let rest = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

fn main() {
    let metrics = Metrics::new(&MetricsConfig::default());
    let usage = Usage {
        prompt_tokens: 1200,
        completion_tokens: 350,
        total_tokens: 1550,
        cached_prompt_tokens: 1000,
        cache_creation_tokens: 0,
        reasoning_tokens: 120,
    };
    let models = ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "o3-mini"];
    let n = 5_000_000u64;
    let t0 = cpu_ticks();
    for i in 0..n as usize {
        let o = Observation {
            provider: "openai",
            deployment: Some("eastus-1"),
            model: models[i % 4],
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
        metrics.record(std::hint::black_box(&o));
    }
    let ticks = cpu_ticks() - t0; // 100 Hz
    println!(
        "{:.0} ns CPU per record",
        ticks as f64 * 10_000_000.0 / n as f64
    );
}
