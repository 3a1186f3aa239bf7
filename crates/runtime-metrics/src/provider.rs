//! `MeteredProvider`: a `Provider` decorator that times each call and records metrics, cost
//! and a usage record.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use futures::Stream;
use runtime_core::{
    Capabilities, ChatRequest, ChatResponse, ChatStream, CompletionRequest, CompletionResponse,
    EmbeddingRequest, EmbeddingResponse, HealthStatus, ModelInfo, Provider, RequestContext,
    RerankRequest, RerankResponse, ResponseMeta, Result, StreamEvent, Usage,
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
struct Call {
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

impl Call {
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

    fn finish(&self, call: &Call, fallback_provider: &str, o: Outcome<'_>) {
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

    fn finish_ok(
        &self,
        call: &Call,
        fallback: &str,
        meta: &ResponseMeta,
        model: &str,
        usage: Option<Usage>,
    ) {
        self.finish(
            call,
            fallback,
            Outcome {
                meta: Some(meta),
                provider_model: Some(model),
                usage,
                search_units: 0,
                ttft: None,
                status: Status::Ok,
                error_kind: None,
            },
        );
    }

    /// A failed call is labelled with the route a router reported in `ctx` (its last
    /// provider and deployment, and the attempts), else with the provider the error names.
    fn finish_err(
        &self,
        call: &Call,
        fallback: &str,
        e: &runtime_core::Error,
        ctx: &RequestContext,
    ) {
        let meta = ctx.route.get().map(|r| ResponseMeta {
            provider: Some(r.provider),
            deployment: Some(r.deployment),
            attempts: Some(r.attempts),
            ..ResponseMeta::default()
        });
        self.finish(
            call,
            e.provider().unwrap_or(fallback),
            Outcome {
                meta: meta.as_ref(),
                provider_model: None,
                usage: None,
                search_units: 0,
                ttft: None,
                status: Status::Error,
                error_kind: Some(e.kind()),
            },
        );
    }
}

impl Meter {
    /// A call dropped before it ended (its caller went away: a client that disconnected
    /// before a non-streamed answer): recorded `aborted`, labelled like a failure with the
    /// route a router reported in `ctx`, without usage (none was received).
    fn finish_abandoned(&self, call: &Call, fallback: &str, ctx: &RequestContext) {
        let meta = ctx.route.get().map(|r| ResponseMeta {
            provider: Some(r.provider),
            deployment: Some(r.deployment),
            attempts: Some(r.attempts),
            ..ResponseMeta::default()
        });
        self.finish(
            call,
            fallback,
            Outcome {
                meta: meta.as_ref(),
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
    ctx: &'a RequestContext,
    call: Option<Call>,
}

impl<'a> Pending<'a> {
    fn start(
        meter: &'a Meter,
        fallback: &'a str,
        ctx: &'a RequestContext,
        operation: Operation,
        model: &str,
    ) -> Self {
        Self {
            meter,
            fallback,
            ctx,
            call: Some(Call::start(ctx, operation, model)),
        }
    }

    /// Records how the call ended.
    fn done<T>(
        mut self,
        r: &Result<T>,
        ok: impl FnOnce(&T) -> (&ResponseMeta, &str, Option<Usage>),
    ) {
        let Some(call) = self.call.take() else {
            return;
        };
        match r {
            Ok(v) => {
                let (meta, model, usage) = ok(v);
                self.meter
                    .finish_ok(&call, self.fallback, meta, model, usage);
            }
            Err(e) => self.meter.finish_err(&call, self.fallback, e, self.ctx),
        }
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if let Some(call) = self.call.take() {
            self.meter.finish_abandoned(&call, self.fallback, self.ctx);
        }
    }
}

/// Wraps any provider: each call is timed and recorded (metrics, cost, usage record).
///
/// Labels come from the answer's [`ResponseMeta`] (provider, deployment, cache hit), falling
/// back to the inner provider's name. Streams are recorded when they end, fail, or are
/// dropped by the client (what was produced until then is recorded, status `aborted`).
pub struct MeteredProvider<P = Arc<dyn Provider>> {
    inner: P,
    meter: Meter,
}

impl<P: Provider> std::fmt::Debug for MeteredProvider<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeteredProvider")
            .field("inner", &self.inner.name())
            .field("meter", &self.meter)
            .finish()
    }
}

/// A meter is the layer that meters: each provider it wraps records into it.
impl runtime_core::layer::Layer for Meter {
    fn layer(&self, inner: Arc<dyn Provider>) -> Arc<dyn Provider> {
        Arc::new(MeteredProvider::new(inner, self.clone()))
    }
}

impl<P: Provider> MeteredProvider<P> {
    /// Wraps `inner`, recording into `meter`.
    pub fn new(inner: P, meter: Meter) -> Self {
        Self { inner, meter }
    }

    /// The meter.
    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    fn wrap_stream(&self, call: Call, stream: ChatStream) -> ChatStream {
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
impl<P: Provider> Provider for MeteredProvider<P> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }

    async fn count_tokens(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<u64> {
        // Counting generates nothing: not metered, not cached.
        self.inner.count_tokens(req, ctx).await
    }

    async fn chat(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatResponse> {
        let pending = Pending::start(
            &self.meter,
            self.inner.name(),
            ctx,
            Operation::Chat,
            &req.model,
        );
        let r = self.inner.chat(req, ctx).await;
        pending.done(&r, |r| (&r.meta, &r.model, r.usage));
        r
    }

    async fn chat_stream(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatStream> {
        let call = Call::start(ctx, Operation::ChatStream, &req.model);
        match self.inner.chat_stream(req, ctx).await {
            Ok(s) => Ok(self.wrap_stream(call, s)),
            Err(e) => {
                self.meter.finish_err(&call, self.inner.name(), &e, ctx);
                Err(e)
            }
        }
    }

    async fn complete(
        &self,
        req: &CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<CompletionResponse> {
        let pending = Pending::start(
            &self.meter,
            self.inner.name(),
            ctx,
            Operation::Completion,
            &req.model,
        );
        let r = self.inner.complete(req, ctx).await;
        pending.done(&r, |r| (&r.meta, &r.model, r.usage));
        r
    }

    async fn complete_stream(
        &self,
        req: &CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        let call = Call::start(ctx, Operation::CompletionStream, &req.model);
        match self.inner.complete_stream(req, ctx).await {
            Ok(s) => Ok(self.wrap_stream(call, s)),
            Err(e) => {
                self.meter.finish_err(&call, self.inner.name(), &e, ctx);
                Err(e)
            }
        }
    }

    async fn embed(
        &self,
        req: &EmbeddingRequest,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        let pending = Pending::start(
            &self.meter,
            self.inner.name(),
            ctx,
            Operation::Embedding,
            &req.model,
        );
        let r = self.inner.embed(req, ctx).await;
        pending.done(&r, |r| (&r.meta, &r.model, r.usage));
        r
    }

    async fn rerank(&self, req: &RerankRequest, ctx: &RequestContext) -> Result<RerankResponse> {
        let call = Call::start(ctx, Operation::Rerank, &req.model);
        match self.inner.rerank(req, ctx).await {
            Ok(r) => {
                let usage = r.usage.unwrap_or_default();
                self.meter.finish(
                    &call,
                    self.inner.name(),
                    Outcome {
                        meta: Some(&r.meta),
                        provider_model: Some(&r.model),
                        usage: usage.tokens,
                        search_units: usage.search_units,
                        ttft: None,
                        status: Status::Ok,
                        error_kind: None,
                    },
                );
                Ok(r)
            }
            Err(e) => {
                self.meter.finish_err(&call, self.inner.name(), &e, ctx);
                Err(e)
            }
        }
    }

    fn models(&self) -> Vec<ModelInfo> {
        self.inner.models()
    }

    async fn list_models(&self, ctx: &RequestContext) -> Result<Vec<ModelInfo>> {
        self.inner.list_models(ctx).await
    }

    async fn health(&self, ctx: &RequestContext) -> Result<HealthStatus> {
        self.inner.health(ctx).await
    }
}

struct StreamState {
    meter: Meter,
    call: Call,
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
