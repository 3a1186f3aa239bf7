//! `MeteredProvider`: a layer that times each call and records metrics, cost and a usage
//! record.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use futures::Stream;
use runtime_core::{
    Call, Capabilities, ChatStream, Failure, ModelInfo, Op, Reply, RequestContext, ResponseMeta,
    Result, Service, StreamEvent, Usage,
};
use tokio::time::Instant;

use crate::meter::{Metrics, Observation, Operation, Scope};
use crate::pricing::Pricing;
use crate::record::{Status, UsageRecord, UsageSink};

/// What the decorator records into: metrics, prices and (optionally) the usage sink.
#[derive(Clone)]
pub struct Meter {
    metrics: Arc<Metrics>,
    pricing: Arc<Pricing>,
    sink: Option<Arc<dyn UsageSink>>,
    scope: Scope,
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meter")
            .field("metrics", &self.metrics)
            .field("usage_records", &self.sink.is_some())
            .field("scope", &self.scope)
            .finish()
    }
}

/// One call under way.
struct Started {
    request_id: String,
    key_id: Option<String>,
    team_id: Option<String>,
    end_user: Option<String>,
    report: runtime_core::UsageReport,
    time_ms: i64,
    started: Instant,
    operation: Operation,
    logical_model: String,
}

impl Started {
    fn start(ctx: &RequestContext, operation: Operation, model: &str) -> Self {
        let time_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Self {
            request_id: ctx.request_id.clone(),
            key_id: ctx.key_id.clone(),
            team_id: ctx.team_id.clone(),
            end_user: ctx.end_user.clone(),
            report: ctx.usage.clone(),
            time_ms,
            started: Instant::now(),
            operation,
            logical_model: model.to_owned(),
        }
    }
}

/// How a call ended, with what is known about it.
struct Outcome<'a> {
    meta: Option<&'a ResponseMeta>,
    provider_model: Option<&'a str>,
    usage: Option<Usage>,
    /// Search units billed (rerank).
    search_units: u64,
    ttft: Option<Duration>,
    status: Status,
    error_kind: Option<&'static str>,
}

impl Meter {
    /// A meter over `metrics` and `pricing`, without usage records.
    pub fn new(metrics: Arc<Metrics>, pricing: Arc<Pricing>) -> Self {
        Self {
            metrics,
            pricing,
            sink: None,
            scope: Scope::Request,
        }
    }

    /// The meter for wrapping each router deployment: same metrics and prices, exported in
    /// the attempt families (`modelrt_attempt*`, so attempts never add to the request
    /// counts), and no usage records (one per request is written by the request-level
    /// meter).
    pub fn for_attempts(&self) -> Self {
        Self {
            metrics: self.metrics.clone(),
            pricing: self.pricing.clone(),
            sink: None,
            scope: Scope::Attempt,
        }
    }

    /// Also hands a usage record of every call to `sink`.
    pub fn with_sink(mut self, sink: Arc<dyn UsageSink>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The prices.
    pub fn pricing(&self) -> &Arc<Pricing> {
        &self.pricing
    }

    fn finish(&self, call: &Started, fallback_provider: &str, o: Outcome<'_>) {
        let latency = call.started.elapsed();
        let meta = o.meta;
        let provider = meta
            .and_then(|m| m.provider.as_deref())
            .unwrap_or(fallback_provider);
        let deployment = meta.and_then(|m| m.deployment.as_deref());
        let cache_hit = meta.and_then(|m| m.cache_hit).unwrap_or(false);
        let attempts = meta.and_then(|m| m.attempts).unwrap_or(1);
        let price_model = o
            .provider_model
            .filter(|m| !m.is_empty())
            .unwrap_or(&call.logical_model);
        let cost = match (&o.usage, call.operation) {
            (usage, Operation::Rerank) => self.pricing.search_cost(
                provider,
                deployment,
                price_model,
                o.search_units,
                usage.as_ref(),
                cache_hit,
            ),
            (Some(u), _) => self
                .pricing
                .cost(provider, deployment, price_model, u, cache_hit),
            (None, _) => crate::pricing::Cost::default(),
        };
        self.metrics.record(&Observation {
            provider,
            deployment,
            model: &call.logical_model,
            operation: call.operation,
            scope: self.scope,
            latency,
            ttft: o.ttft,
            usage: o.usage.as_ref(),
            cost,
            error_kind: o.error_kind,
            cache_hit,
        });
        if self.scope == Scope::Request {
            // The gateway settles budgets with exactly the cost recorded here.
            call.report.record(runtime_core::ReportedUsage {
                usage: o.usage.unwrap_or_default(),
                cost_usd: cost.cost_usd,
                provider: provider.to_owned(),
                deployment: deployment.map(str::to_owned),
                ttft_ms: o.ttft.map(|t| t.as_secs_f64() * 1e3),
                cache_hit,
            });
        }
        if let Some(sink) = &self.sink {
            let u = o.usage.unwrap_or_default();
            sink.submit(UsageRecord {
                request_id: call.request_id.clone(),
                time_ms: call.time_ms,
                key_id: call.key_id.clone(),
                team_id: call.team_id.clone(),
                end_user: call.end_user.clone(),
                provider: provider.to_owned(),
                deployment: deployment.map(str::to_owned),
                operation: call.operation.as_str().to_owned(),
                logical_model: call.logical_model.clone(),
                provider_model: o.provider_model.map(str::to_owned),
                prompt_tokens: u.prompt_tokens,
                completion_tokens: u.completion_tokens,
                cached_tokens: u.cached_prompt_tokens,
                cache_write_tokens: u.cache_creation_tokens,
                reasoning_tokens: u.reasoning_tokens,
                total_tokens: u.total_tokens,
                cost_usd: cost.cost_usd,
                saved_usd: cost.saved_usd,
                latency_ms: latency.as_secs_f64() * 1e3,
                ttft_ms: o.ttft.map(|t| t.as_secs_f64() * 1e3),
                status: o.status,
                error_kind: o.error_kind.map(str::to_owned),
                cache_hit,
                attempts,
                search_units: o.search_units,
            });
        }
    }

    /// A call answered: labelled and priced from the reply.
    fn finish_ok(&self, call: &Started, fallback: &str, reply: &Reply) {
        let (provider_model, usage, search_units) = match reply {
            Reply::Chat(r) => (Some(r.model.as_str()), r.usage, 0),
            Reply::Completion(r) => (Some(r.model.as_str()), r.usage, 0),
            Reply::Embeddings(r) => (Some(r.model.as_str()), r.usage, 0),
            Reply::Rerank(r) => {
                let u = r.usage.unwrap_or_default();
                (Some(r.model.as_str()), u.tokens, u.search_units)
            }
            _ => (None, None, 0),
        };
        self.finish(
            call,
            fallback,
            Outcome {
                meta: reply.meta(),
                provider_model,
                usage,
                search_units,
                ttft: None,
                status: Status::Ok,
                error_kind: None,
            },
        );
    }

    /// A failed call is labelled with the route a router took (in the [`Failure`]: its last
    /// provider and deployment, and the attempts), else with the provider the error names.
    fn finish_err(&self, call: &Started, fallback: &str, f: &Failure) {
        let meta = f.route.as_ref().map(|r| {
            let mut meta = ResponseMeta::default();
            r.write(&mut meta);
            meta
        });
        self.finish(
            call,
            f.error.provider().unwrap_or(fallback),
            Outcome {
                meta: meta.as_ref(),
                provider_model: None,
                usage: None,
                search_units: 0,
                ttft: None,
                status: Status::Error,
                error_kind: Some(f.error.kind()),
            },
        );
    }
}

impl Meter {
    /// A call dropped before it ended (its caller went away: a client that disconnected
    /// before a non-streamed answer): recorded `aborted`, without usage (none was received)
    /// and without a route (the router never answered).
    fn finish_abandoned(&self, call: &Started, fallback: &str) {
        self.finish(
            call,
            fallback,
            Outcome {
                meta: None,
                provider_model: None,
                usage: None,
                ttft: None,
                status: Status::Aborted,
                error_kind: Some("cancelled"),
                search_units: 0,
            },
        );
    }
}

/// A non-streamed call under way: recorded by [`Pending::done`] when it ends, or `aborted`
/// on drop when its future is dropped first (the upstream was called and may bill it, so the
/// request must still leave its one usage record).
struct Pending<'a> {
    meter: &'a Meter,
    fallback: &'a str,
    call: Option<Started>,
}

impl<'a> Pending<'a> {
    fn start(
        meter: &'a Meter,
        fallback: &'a str,
        ctx: &RequestContext,
        operation: Operation,
        model: &str,
    ) -> Self {
        Self {
            meter,
            fallback,
            call: Some(Started::start(ctx, operation, model)),
        }
    }

    /// The call, to be recorded elsewhere (a stream's end).
    fn take(mut self) -> Option<Started> {
        self.call.take()
    }

    /// Records how the call ended.
    fn done(mut self, r: &Result<Reply, Failure>) {
        let Some(call) = self.call.take() else {
            return;
        };
        match r {
            Ok(reply) => self.meter.finish_ok(&call, self.fallback, reply),
            Err(f) => self.meter.finish_err(&call, self.fallback, f),
        }
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if let Some(call) = self.call.take() {
            self.meter.finish_abandoned(&call, self.fallback);
        }
    }
}

/// Wraps any service: each call is timed and recorded (metrics, cost, usage record).
///
/// Labels come from the answer's [`ResponseMeta`] (provider, deployment, cache hit) or a
/// failure's route, falling back to the inner service's name. Streams are recorded when they end, fail, or are
/// dropped by the client (what was produced until then is recorded, status `aborted`).
pub struct MeteredProvider {
    inner: Arc<dyn Service>,
    meter: Meter,
}

impl std::fmt::Debug for MeteredProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeteredProvider")
            .field("inner", &self.inner.name())
            .field("meter", &self.meter)
            .finish()
    }
}

/// A meter is the layer that meters: each service it wraps records into it.
impl runtime_core::layer::Layer for Meter {
    fn layer(&self, inner: Arc<dyn Service>) -> Arc<dyn Service> {
        Arc::new(MeteredProvider::new(inner, self.clone()))
    }
}

impl MeteredProvider {
    /// Wraps `inner`, recording into `meter`.
    pub fn new(inner: Arc<dyn Service>, meter: Meter) -> Self {
        Self { inner, meter }
    }

    /// The meter.
    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    fn wrap_stream(&self, call: Started, stream: ChatStream) -> ChatStream {
        let meta = stream.meta().clone();
        let state = StreamState {
            meter: self.meter.clone(),
            call,
            fallback: self.inner.name().to_owned(),
            meta: meta.clone(),
            provider_model: None,
            usage: None,
            ttft: None,
            finish_seen: false,
        };
        ChatStream::new(MeteredStream {
            inner: stream,
            state: Some(state),
        })
        .with_meta(meta)
    }
}

#[async_trait]
impl Service for MeteredProvider {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    fn models(&self) -> Vec<ModelInfo> {
        self.inner.models()
    }

    async fn call(&self, call: Call<'_>, ctx: &RequestContext) -> Result<Reply, Failure> {
        let operation = match (call.op, call.stream) {
            (Op::Chat(_), false) => Operation::Chat,
            (Op::Chat(_), true) => Operation::ChatStream,
            (Op::Complete(_), false) => Operation::Completion,
            (Op::Complete(_), true) => Operation::CompletionStream,
            (Op::Embed(_), _) => Operation::Embedding,
            (Op::Rerank(_), _) => Operation::Rerank,
            // Counting, listings and probes generate nothing: not metered.
            _ => return self.inner.call(call, ctx).await,
        };
        let name = self.inner.name();
        let pending = Pending::start(&self.meter, name, ctx, operation, call.model);
        let r = self.inner.call(call, ctx).await;
        match r {
            // A stream is recorded when it ends, fails or is dropped.
            Ok(Reply::Stream(s)) => match pending.take() {
                Some(started) => Ok(Reply::Stream(self.wrap_stream(started, s))),
                None => Ok(Reply::Stream(s)),
            },
            r => {
                pending.done(&r);
                r
            }
        }
    }
}

struct StreamState {
    meter: Meter,
    call: Started,
    fallback: String,
    meta: ResponseMeta,
    provider_model: Option<String>,
    usage: Option<Usage>,
    ttft: Option<Duration>,
    finish_seen: bool,
}

impl StreamState {
    fn finish(self, status: Status, error_kind: Option<&'static str>) {
        self.meter.finish(
            &self.call,
            &self.fallback,
            Outcome {
                meta: Some(&self.meta),
                provider_model: self.provider_model.as_deref(),
                usage: self.usage,
                search_units: 0,
                ttft: self.ttft,
                status,
                error_kind,
            },
        );
    }
}

/// The inner stream plus what has been seen of it; records once, at its end or drop.
struct MeteredStream {
    inner: ChatStream,
    state: Option<StreamState>,
}

impl Stream for MeteredStream {
    type Item = Result<StreamEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let item = match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(item) => item,
        };
        match &item {
            Some(Ok(ev)) => {
                if let Some(st) = this.state.as_mut() {
                    if st.ttft.is_none() && ev.is_content() {
                        st.ttft = Some(st.call.started.elapsed());
                    }
                    match ev {
                        StreamEvent::Start { model, .. } => st.provider_model = Some(model.clone()),
                        StreamEvent::Usage(u) => st.usage = Some(*u),
                        StreamEvent::Finish { .. } => st.finish_seen = true,
                        _ => {}
                    }
                }
            }
            Some(Err(e)) => {
                if let Some(st) = this.state.take() {
                    st.finish(Status::Error, Some(e.kind()));
                }
            }
            None => {
                if let Some(st) = this.state.take() {
                    st.finish(Status::Ok, None);
                }
            }
        }
        Poll::Ready(item)
    }
}

impl Drop for MeteredStream {
    fn drop(&mut self) {
        if let Some(st) = self.state.take() {
            if st.finish_seen {
                st.finish(Status::Ok, None);
            } else {
                st.finish(Status::Aborted, Some("cancelled"));
            }
        }
    }
}
