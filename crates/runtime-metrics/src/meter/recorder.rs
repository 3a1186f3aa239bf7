//! The Prometheus recorder's side: each family's HELP, and the shareable recorder installed
//! globally by [`Metrics::install_global`](super::Metrics::install_global).

use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder};
use metrics_exporter_prometheus::PrometheusRecorder;

use super::names;

/// HELP of every family the meter registers, said once to the recorder.
pub(super) fn describe(r: &PrometheusRecorder) {
    let counters = [
        (
            names::REQUESTS,
            "Requests as the client saw them (after routing, retries and the cache).",
        ),
        (names::SUCCESSES, "Requests that succeeded."),
        (names::ERRORS, "Requests that failed, by error type."),
        (
            names::ATTEMPTS,
            "Attempts at a provider (router retries and failovers each count).",
        ),
        (names::ATTEMPT_SUCCESSES, "Attempts that succeeded."),
        (
            names::ATTEMPT_ERRORS,
            "Attempts that failed, by error type.",
        ),
        (names::TOKENS, "Tokens used, by token type."),
        (
            names::COST,
            "Provider cost in nano-dollars (USD * 1e9), priced requests only.",
        ),
        (
            names::SAVED,
            "Provider cost avoided by answers from the response cache, in nano-dollars.",
        ),
        (
            names::UNPRICED,
            "Requests with token usage but no known price.",
        ),
        (
            names::CACHE_HITS,
            "Requests answered from the response cache.",
        ),
    ];
    for (name, help) in counters {
        r.describe_counter(KeyName::from_const_str(name), None, help.into());
    }
    let histograms = [
        (
            names::DURATION,
            "Duration of a GenAI operation as the client saw it (gen_ai.client.operation.duration).",
        ),
        (
            names::ATTEMPT_DURATION,
            "Duration of one attempt at a provider.",
        ),
        (
            names::TTFT,
            "Time from the request to the first streamed content (gen_ai.server.time_to_first_token).",
        ),
        (
            names::TPOT,
            "Time per output token after the first (gen_ai.server.time_per_output_token).",
        ),
        (names::OUTPUT_TPS, "Output tokens per second of generation."),
        (
            names::TOKEN_USAGE,
            "Tokens per request by token type, input or output (gen_ai.client.token.usage).",
        ),
    ];
    for (name, help) in histograms {
        r.describe_histogram(KeyName::from_const_str(name), None, help.into());
    }
}

/// A `metrics` recorder that forwards to a shared Prometheus recorder (installed globally by
/// [`Metrics::install_global`] while the [`Metrics`] keeps rendering it).
#[derive(Debug, Clone)]
pub struct SharedRecorder(pub(super) Arc<PrometheusRecorder>);

impl Recorder for SharedRecorder {
    fn describe_counter(&self, k: KeyName, u: Option<metrics::Unit>, d: metrics::SharedString) {
        self.0.describe_counter(k, u, d)
    }
    fn describe_gauge(&self, k: KeyName, u: Option<metrics::Unit>, d: metrics::SharedString) {
        self.0.describe_gauge(k, u, d)
    }
    fn describe_histogram(&self, k: KeyName, u: Option<metrics::Unit>, d: metrics::SharedString) {
        self.0.describe_histogram(k, u, d)
    }
    fn register_counter(&self, key: &Key, m: &Metadata<'_>) -> Counter {
        self.0.register_counter(key, m)
    }
    fn register_gauge(&self, key: &Key, m: &Metadata<'_>) -> Gauge {
        self.0.register_gauge(key, m)
    }
    fn register_histogram(&self, key: &Key, m: &Metadata<'_>) -> Histogram {
        self.0.register_histogram(key, m)
    }
}
