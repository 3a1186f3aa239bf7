//! Per-series metrics: counters and histograms through the `metrics` facade into a Prometheus
//! recorder, plus bounded windowed histograms for the p50/p95/p99 of [`Metrics::snapshot`]
//! (not exported: Prometheus computes quantiles from the histograms).
//!
//! A series is one (provider, deployment, model, operation) at one [`Scope`]. Request-scope
//! and attempt-scope series are exported in *different families* (`gen_ai_client_*` and
//! `modelrt_attempt*`), so a `sum()` over a family never adds attempts to requests. A label
//! without a value (no deployment) is left out, never exported empty. Its handles are
//! registered once, at first sight; recording afterwards is a lookup in a sharded map and
//! relaxed atomic adds.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dashmap::DashMap;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use runtime_core::Usage;
use tokio::time::Instant;

use crate::config::MetricsConfig;
use crate::histogram::{Quantiles, WindowedHistogram};
use crate::keybuf::{FastBuild, join, with_key};
use crate::pricing::Cost;

pub mod names;
mod recorder;

pub use recorder::SharedRecorder;
use recorder::describe;

/// The model label used for new models once `max_series` series exist.
pub const OVERFLOW_MODEL: &str = "__other__";

static META: Metadata<'static> = Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0,
];
const TPS_BUCKETS: &[f64] = &[
    1.0, 5.0, 10.0, 20.0, 35.0, 50.0, 75.0, 100.0, 150.0, 200.0, 300.0, 500.0, 1000.0, 2000.0,
];
const TPOT_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.04, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0,
];
const TOKEN_BUCKETS: &[f64] = &[
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0,
];

/// What one call is: the operation label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `chat`.
    Chat,
    /// `chat_stream`.
    ChatStream,
    /// `complete`.
    Completion,
    /// `complete_stream`.
    CompletionStream,
    /// `embed`.
    Embedding,
    /// `rerank`.
    Rerank,
}

impl Operation {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Chat => "chat",
            Operation::ChatStream => "chat_stream",
            Operation::Completion => "completion",
            Operation::CompletionStream => "completion_stream",
            Operation::Embedding => "embedding",
            Operation::Rerank => "rerank",
        }
    }

    /// Parses a label value.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "chat" => Operation::Chat,
            "chat_stream" => Operation::ChatStream,
            "completion" => Operation::Completion,
            "completion_stream" => Operation::CompletionStream,
            "embedding" => Operation::Embedding,
            "rerank" => Operation::Rerank,
            _ => return None,
        })
    }

    /// Whether it streams.
    pub fn is_stream(self) -> bool {
        matches!(self, Operation::ChatStream | Operation::CompletionStream)
    }
}

/// Which layer a call was measured at: the client's request (after routing, retries and the
/// cache), or one router attempt at a deployment. Exported in separate families, so the two
/// never add up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Scope {
    /// The whole request, as the client saw it.
    #[default]
    Request,
    /// One attempt at one deployment.
    Attempt,
}

impl Scope {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Request => "request",
            Scope::Attempt => "attempt",
        }
    }
}

/// One finished call, as the metrics see it.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    /// Provider instance.
    pub provider: &'a str,
    /// Router deployment, if any.
    pub deployment: Option<&'a str>,
    /// The model the client asked for.
    pub model: &'a str,
    /// Which call.
    pub operation: Operation,
    /// Request or attempt level.
    pub scope: Scope,
    /// From the call to its end (for streams: to the last event, error or drop).
    pub latency: Duration,
    /// For streams: from the call to the first content event.
    pub ttft: Option<Duration>,
    /// Token counts, when known.
    pub usage: Option<&'a Usage>,
    /// Cost and saving.
    pub cost: Cost,
    /// `None` for success, else the error kind.
    pub error_kind: Option<&'static str>,
    /// Served from our response cache.
    pub cache_hit: bool,
}

#[derive(Default)]
struct Totals {
    requests: AtomicU64,
    successes: AtomicU64,
    errors: AtomicU64,
    prompt: AtomicU64,
    completion: AtomicU64,
    cached: AtomicU64,
    cache_write: AtomicU64,
    reasoning: AtomicU64,
    cost_nanos: AtomicU64,
    saved_nanos: AtomicU64,
    unpriced: AtomicU64,
    cache_hits: AtomicU64,
}

struct Series {
    provider: String,
    deployment: String,
    model: String,
    operation: Operation,
    scope: Scope,
    labels: Vec<Label>,
    requests: Counter,
    successes: Counter,
    errors: DashMap<&'static str, (Counter, AtomicU64)>,
    duration: Histogram,
    /// The request-scope instruments (`None` for attempts).
    request: Option<RequestInstruments>,
    duration_window: WindowedHistogram,
    ttft_window: Option<WindowedHistogram>,
    tps_window: WindowedHistogram,
    totals: Totals,
}

/// What only a request-scope series exports.
struct RequestInstruments {
    ttft: Option<Histogram>,
    tpot: Histogram,
    tps: Histogram,
    /// `gen_ai.client.token.usage`: input, output.
    token_usage: [Histogram; 2],
    tokens: [Counter; 5],
    cost: Counter,
    saved: Counter,
    unpriced: Counter,
    cache_hits: Counter,
}

impl Series {
    /// Copies the hot-path totals into the exported counters (done at render time, so
    /// recording touches each total once).
    fn sync_counters(&self) {
        let t = &self.totals;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        self.requests.absolute(g(&t.requests));
        self.successes.absolute(g(&t.successes));
        if let Some(r) = &self.request {
            for (c, total) in r.tokens.iter().zip([
                &t.prompt,
                &t.completion,
                &t.cached,
                &t.cache_write,
                &t.reasoning,
            ]) {
                c.absolute(g(total));
            }
            r.cost.absolute(g(&t.cost_nanos));
            r.saved.absolute(g(&t.saved_nanos));
            r.unpriced.absolute(g(&t.unpriced));
            r.cache_hits.absolute(g(&t.cache_hits));
        }
        for e in self.errors.iter() {
            e.value().0.absolute(e.value().1.load(Ordering::Relaxed));
        }
    }
}

/// Windowed and total figures of one series.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSnapshot {
    /// Provider instance.
    pub provider: String,
    /// Deployment (empty when none).
    pub deployment: String,
    /// Requested model (or [`OVERFLOW_MODEL`]).
    pub model: String,
    /// Operation.
    pub operation: Operation,
    /// Request or attempt level.
    pub scope: Scope,
    /// Requests since start.
    pub requests: u64,
    /// Successes since start.
    pub successes: u64,
    /// Errors since start.
    pub errors: u64,
    /// Errors by kind since start.
    pub errors_by_kind: Vec<(&'static str, u64)>,
    /// Token totals since start.
    pub usage: Usage,
    /// Provider cost since start, in US dollars (priced requests only).
    pub cost_usd: f64,
    /// Saved by our cache since start, in US dollars.
    pub saved_usd: f64,
    /// Requests with usage but no price.
    pub unpriced_requests: u64,
    /// Requests served from our cache.
    pub cache_hits: u64,
    /// Latency over the window, in seconds.
    pub latency: Quantiles,
    /// Time to first token over the window, in seconds (streams).
    pub ttft: Option<Quantiles>,
    /// Output tokens per second over the window.
    pub output_tokens_per_second: Quantiles,
}

fn to_nanos(usd: f64) -> u64 {
    if usd.is_finite() && usd > 0.0 {
        (usd * 1e9).round() as u64
    } else {
        0
    }
}

fn scaled(q: Quantiles, div: f64) -> Quantiles {
    Quantiles {
        count: q.count,
        mean: q.mean / div,
        p50: q.p50 / div,
        p95: q.p95 / div,
        p99: q.p99 / div,
    }
}

/// The metrics of every series and the Prometheus recorder they are exported through.
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
    series: DashMap<Box<str>, Arc<Series>, FastBuild>,
    window: Duration,
    slots: usize,
    max_series: usize,
    origin: Instant,
    last_upkeep_ms: AtomicU64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("series", &self.series.len())
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

/// The exporter queues histogram samples until an upkeep (or a render) folds them into
/// buckets. [`Metrics::spawn_upkeep`] does that off the request path; as a safety net (no
/// upkeep task, no scrapes) the recording path does it itself when this long (ms) has passed,
/// so memory stays bounded in every case.
const UPKEEP_FALLBACK_MS: u64 = 10_000;

impl Metrics {
    /// Metrics with their own Prometheus recorder (nothing global is touched).
    pub fn new(config: &MetricsConfig) -> Self {
        let mut builder = PrometheusBuilder::new();
        for (name, buckets) in [
            (names::DURATION, LATENCY_BUCKETS),
            (names::ATTEMPT_DURATION, LATENCY_BUCKETS),
            (names::TTFT, LATENCY_BUCKETS),
            (names::TPOT, TPOT_BUCKETS),
            (names::OUTPUT_TPS, TPS_BUCKETS),
            (names::TOKEN_USAGE, TOKEN_BUCKETS),
        ] {
            builder = match builder.set_buckets_for_metric(Matcher::Full(name.to_owned()), buckets)
            {
                Ok(b) => b,
                // Unreachable: the bucket lists are not empty. Keep the builder as it was.
                Err(_) => PrometheusBuilder::new(),
            };
        }
        let recorder = Arc::new(builder.build_recorder());
        let handle = recorder.handle();
        describe(&recorder);
        Self {
            recorder,
            handle,
            series: DashMap::default(),
            window: config.window.max(Duration::from_millis(1)),
            slots: config.window_slots.max(1),
            max_series: config.max_series.max(1),
            origin: Instant::now(),
            last_upkeep_ms: AtomicU64::new(0),
        }
    }

    /// The Prometheus handle (render, upkeep).
    pub fn prometheus_handle(&self) -> &PrometheusHandle {
        &self.handle
    }

    /// Installs this registry's recorder as the process-wide `metrics` recorder, so the
    /// `metrics::counter!`-style macros of other crates appear in [`Metrics::render`] too.
    /// Fails if a global recorder is already installed.
    pub fn install_global(&self) -> Result<(), metrics::SetRecorderError<SharedRecorder>> {
        metrics::set_global_recorder(SharedRecorder(self.recorder.clone()))
    }

    /// The Prometheus text exposition of all metrics (for `GET /metrics`).
    pub fn render(&self) -> String {
        let now = self.now_ms();
        self.last_upkeep_ms.store(now, Ordering::Relaxed);
        for s in self.series.iter() {
            s.sync_counters();
        }
        self.handle.render()
    }

    /// Gives `name` its `# HELP` line (every exported family has one).
    pub(crate) fn describe(&self, kind: MetricKind, name: &'static str, help: &'static str) {
        let k = KeyName::from_const_str(name);
        match kind {
            MetricKind::Counter => self.recorder.describe_counter(k, None, help.into()),
            MetricKind::Gauge => self.recorder.describe_gauge(k, None, help.into()),
        }
    }

    /// A label-less counter on this registry's recorder (for the writer's counters).
    pub(crate) fn plain_counter(&self, name: &'static str) -> Counter {
        self.recorder
            .register_counter(&Key::from_static_name(name), &META)
    }

    /// A counter with one label on this registry's recorder (for the writer's counters).
    pub(crate) fn labeled_counter(
        &self,
        name: &'static str,
        label: &'static str,
        value: &'static str,
    ) -> Counter {
        self.recorder.register_counter(
            &Key::from_parts(name, vec![Label::new(label, value)]),
            &META,
        )
    }

    /// A label-less gauge on this registry's recorder (for the writer's state).
    pub(crate) fn plain_gauge(&self, name: &'static str) -> Gauge {
        self.recorder
            .register_gauge(&Key::from_static_name(name), &META)
    }

    /// Folds the queued histogram samples into the exported buckets (the exporter's upkeep).
    pub fn upkeep(&self) {
        self.last_upkeep_ms.store(self.now_ms(), Ordering::Relaxed);
        self.handle.run_upkeep();
    }

    /// Runs [`Metrics::upkeep`] every `every` on the current Tokio runtime until `stop` is
    /// cancelled, keeping that work off the request path. `None` outside a runtime.
    pub fn spawn_upkeep(
        self: &Arc<Self>,
        every: Duration,
        stop: tokio_util::sync::CancellationToken,
    ) -> Option<tokio::task::JoinHandle<()>> {
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let me = self.clone();
        Some(runtime.spawn(async move {
            let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tick.tick() => me.upkeep(),
                }
            }
        }))
    }

    fn now_ms(&self) -> u64 {
        self.origin.elapsed().as_millis() as u64
    }

    fn series_for(
        &self,
        provider: &str,
        deployment: &str,
        model: &str,
        op: Operation,
        scope: Scope,
    ) -> Arc<Series> {
        let parts = [provider, deployment, model, op.as_str(), scope.as_str()];
        if let Some(s) = with_key(&parts, |k| self.series.get(k).map(|s| s.value().clone())) {
            return s;
        }
        let model = if self.series.len() >= self.max_series {
            OVERFLOW_MODEL
        } else {
            model
        };
        let parts = [provider, deployment, model, op.as_str(), scope.as_str()];
        self.series
            .entry(join(&parts).into())
            .or_insert_with(|| Arc::new(self.new_series(provider, deployment, model, op, scope)))
            .value()
            .clone()
    }

    fn new_series(
        &self,
        provider: &str,
        deployment: &str,
        model: &str,
        op: Operation,
        scope: Scope,
    ) -> Series {
        let mut labels = vec![Label::new(names::PROVIDER, provider.to_owned())];
        if !deployment.is_empty() {
            labels.push(Label::new(names::DEPLOYMENT, deployment.to_owned()));
        }
        labels.push(Label::new(names::MODEL, model.to_owned()));
        labels.push(Label::new(names::OPERATION, op.as_str()));
        let key = |name: &'static str, extra: Option<(&'static str, &'static str)>| {
            let mut l = labels.clone();
            if let Some((k, v)) = extra {
                l.push(Label::new(k, v));
            }
            Key::from_parts(name, l)
        };
        let counter = |name, extra| self.recorder.register_counter(&key(name, extra), &META);
        let histogram = |name, extra| self.recorder.register_histogram(&key(name, extra), &META);
        let token = |t| counter(names::TOKENS, Some((names::TOKEN_TYPE, t)));
        let (requests, successes, duration) = match scope {
            Scope::Request => (names::REQUESTS, names::SUCCESSES, names::DURATION),
            Scope::Attempt => (
                names::ATTEMPTS,
                names::ATTEMPT_SUCCESSES,
                names::ATTEMPT_DURATION,
            ),
        };
        let request = (scope == Scope::Request).then(|| RequestInstruments {
            ttft: op.is_stream().then(|| histogram(names::TTFT, None)),
            tpot: histogram(names::TPOT, None),
            tps: histogram(names::OUTPUT_TPS, None),
            token_usage: [
                histogram(names::TOKEN_USAGE, Some((names::TOKEN_TYPE, "input"))),
                histogram(names::TOKEN_USAGE, Some((names::TOKEN_TYPE, "output"))),
            ],
            tokens: [
                token("input"),
                token("output"),
                token("cached_input"),
                token("cache_write"),
                token("reasoning"),
            ],
            cost: counter(names::COST, None),
            saved: counter(names::SAVED, None),
            unpriced: counter(names::UNPRICED, None),
            cache_hits: counter(names::CACHE_HITS, None),
        });
        Series {
            provider: provider.to_owned(),
            deployment: deployment.to_owned(),
            model: model.to_owned(),
            operation: op,
            scope,
            requests: counter(requests, None),
            successes: counter(successes, None),
            errors: DashMap::new(),
            duration: histogram(duration, None),
            request,
            duration_window: WindowedHistogram::new(self.window, self.slots),
            ttft_window: op
                .is_stream()
                .then(|| WindowedHistogram::new(self.window, self.slots)),
            tps_window: WindowedHistogram::new(self.window, self.slots),
            labels,
            totals: Totals::default(),
        }
    }

    /// Records one finished call. Lock-free after the series' first call.
    pub fn record(&self, o: &Observation<'_>) {
        let s = self.series_for(
            o.provider,
            o.deployment.unwrap_or(""),
            o.model,
            o.operation,
            o.scope,
        );
        let now = self.now_ms();
        let t = &s.totals;
        t.requests.fetch_add(1, Ordering::Relaxed);
        match o.error_kind {
            None => {
                t.successes.fetch_add(1, Ordering::Relaxed);
            }
            Some(kind) => {
                t.errors.fetch_add(1, Ordering::Relaxed);
                self.record_error(&s, kind);
            }
        }
        s.duration.record(o.latency.as_secs_f64());
        s.duration_window.record(o.latency.as_micros() as u64, now);
        let req = s.request.as_ref();
        if let (Some(ttft), Some(w)) = (o.ttft, &s.ttft_window) {
            if let Some(h) = req.and_then(|r| r.ttft.as_ref()) {
                h.record(ttft.as_secs_f64());
            }
            w.record(ttft.as_micros() as u64, now);
        }
        if let Some(u) = o.usage {
            let counts = [
                (u.prompt_tokens, &t.prompt),
                (u.completion_tokens, &t.completion),
                (u.cached_prompt_tokens, &t.cached),
                (u.cache_creation_tokens, &t.cache_write),
                (u.reasoning_tokens, &t.reasoning),
            ];
            for (n, total) in counts {
                if n > 0 {
                    total.fetch_add(n, Ordering::Relaxed);
                }
            }
            if let Some(r) = req {
                if u.prompt_tokens > 0 {
                    r.token_usage[0].record(u.prompt_tokens as f64);
                }
                if u.completion_tokens > 0 {
                    r.token_usage[1].record(u.completion_tokens as f64);
                }
            }
            // Generation time: after the first token for streams, the whole call otherwise.
            let gen_time = o.latency.saturating_sub(o.ttft.unwrap_or_default());
            if u.completion_tokens > 0 && !gen_time.is_zero() && o.error_kind.is_none() {
                let tps = u.completion_tokens as f64 / gen_time.as_secs_f64();
                // Per token after the first when the first one's time is known (streams).
                let after_first = if o.ttft.is_some() {
                    u.completion_tokens.saturating_sub(1).max(1)
                } else {
                    u.completion_tokens
                };
                if let Some(r) = req {
                    r.tps.record(tps);
                    r.tpot.record(gen_time.as_secs_f64() / after_first as f64);
                }
                s.tps_window.record((tps * 1000.0) as u64, now);
            }
            if o.cost.cost_usd.is_none() && !o.cache_hit {
                t.unpriced.fetch_add(1, Ordering::Relaxed);
            }
        }
        if let Some(c) = o.cost.cost_usd {
            let n = to_nanos(c);
            t.cost_nanos.fetch_add(n, Ordering::Relaxed);
        }
        if let Some(c) = o.cost.saved_usd {
            let n = to_nanos(c);
            t.saved_nanos.fetch_add(n, Ordering::Relaxed);
        }
        if o.cache_hit {
            t.cache_hits.fetch_add(1, Ordering::Relaxed);
        }
        let last = self.last_upkeep_ms.load(Ordering::Relaxed);
        if now >= last + UPKEEP_FALLBACK_MS
            && self
                .last_upkeep_ms
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            self.handle.run_upkeep();
        }
    }

    fn record_error(&self, s: &Series, kind: &'static str) {
        if let Some(e) = s.errors.get(kind) {
            e.1.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut labels = s.labels.clone();
        labels.push(Label::new(names::ERROR_TYPE, kind));
        let name = match s.scope {
            Scope::Request => names::ERRORS,
            Scope::Attempt => names::ATTEMPT_ERRORS,
        };
        let e = s.errors.entry(kind).or_insert_with(|| {
            let c = self
                .recorder
                .register_counter(&Key::from_parts(name, labels), &META);
            (c, AtomicU64::new(0))
        });
        e.1.fetch_add(1, Ordering::Relaxed);
    }

    /// Every series with its totals and windowed percentiles (latency and TTFT in seconds).
    pub fn snapshot(&self) -> Vec<SeriesSnapshot> {
        let now = self.now_ms();
        let mut out: Vec<SeriesSnapshot> = self
            .series
            .iter()
            .map(|s| {
                let t = &s.totals;
                let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
                let prompt = get(&t.prompt);
                let completion = get(&t.completion);
                let mut errors_by_kind: Vec<(&'static str, u64)> = s
                    .errors
                    .iter()
                    .map(|e| (*e.key(), e.value().1.load(Ordering::Relaxed)))
                    .collect();
                errors_by_kind.sort();
                SeriesSnapshot {
                    provider: s.provider.clone(),
                    deployment: s.deployment.clone(),
                    model: s.model.clone(),
                    operation: s.operation,
                    scope: s.scope,
                    requests: get(&t.requests),
                    successes: get(&t.successes),
                    errors: get(&t.errors),
                    errors_by_kind,
                    usage: Usage {
                        prompt_tokens: prompt,
                        completion_tokens: completion,
                        total_tokens: prompt + completion,
                        cached_prompt_tokens: get(&t.cached),
                        cache_creation_tokens: get(&t.cache_write),
                        reasoning_tokens: get(&t.reasoning),
                    },
                    cost_usd: get(&t.cost_nanos) as f64 / 1e9,
                    saved_usd: get(&t.saved_nanos) as f64 / 1e9,
                    unpriced_requests: get(&t.unpriced),
                    cache_hits: get(&t.cache_hits),
                    latency: scaled(s.duration_window.quantiles(now), 1e6),
                    ttft: s
                        .ttft_window
                        .as_ref()
                        .map(|w| scaled(w.quantiles(now), 1e6)),
                    output_tokens_per_second: scaled(s.tps_window.quantiles(now), 1e3),
                }
            })
            .collect();
        out.sort_by(|a, b| {
            (
                &a.provider,
                &a.deployment,
                &a.model,
                a.operation.as_str(),
                a.scope.as_str(),
            )
                .cmp(&(
                    &b.provider,
                    &b.deployment,
                    &b.model,
                    b.operation.as_str(),
                    b.scope.as_str(),
                ))
        });
        out
    }
}

/// The kind of a family described with [`Metrics::describe`].
#[derive(Debug, Clone, Copy)]
pub(crate) enum MetricKind {
    Counter,
    Gauge,
}
