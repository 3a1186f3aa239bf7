//! The assembled runtime: [`Runtime`], its accessors and typed calls (built by `start`).

use std::sync::Arc;

use runtime_core::*;

use crate::config::Config;
use crate::dispatch::Dispatcher;
use crate::ready_state::Tracker;

/// Providers, routing, caching and metrics assembled from one configuration.
///
/// The stack every call goes through is `Metered(Cached(Dispatcher))`, where the dispatcher
/// sends `provider/model` to that provider and a logical model to the router (each layer only
/// with its feature and when configured).
pub struct Runtime {
    pub(crate) registry: Arc<ProviderRegistry>,
    pub(crate) stack: Arc<dyn Service>,
    pub(crate) config: Config,
    pub(crate) logical: Vec<String>,
    #[cfg(feature = "router")]
    pub(crate) router: Option<Arc<runtime_router::Router>>,
    #[cfg(feature = "cache")]
    pub(crate) cache_stats: Option<Arc<runtime_cache::CacheStats>>,
    #[cfg(feature = "metrics")]
    pub(crate) metering: Option<Arc<runtime_metrics::Metering>>,
    #[cfg(feature = "redis")]
    pub(crate) redis: Arc<crate::shared_redis::SharedRedis>,
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) ready_state: Tracker,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("providers", &self.registry.instances())
            .field("logical_models", &self.logical)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime in code over a registry you filled (no router, cache or metrics).
    pub fn new(registry: Arc<ProviderRegistry>) -> Self {
        let stack: Arc<dyn Service> = Arc::new(Dispatcher::new(registry.clone(), None, Vec::new()));
        Self {
            registry,
            stack,
            config: Config::default(),
            logical: Vec::new(),
            #[cfg(feature = "router")]
            router: None,
            #[cfg(feature = "cache")]
            cache_stats: None,
            #[cfg(feature = "metrics")]
            metering: None,
            #[cfg(feature = "redis")]
            redis: Arc::default(),
            ready_state: Tracker::default(),
        }
    }

    /// The Redis handle for `cfg`, shared with every other component of this runtime using
    /// the same configuration (the gateway's key limits take theirs here). Does not connect.
    #[cfg(feature = "redis")]
    pub fn redis_handle(
        &self,
        cfg: &runtime_redis::RedisConfig,
        component: &str,
    ) -> Result<runtime_redis::Redis> {
        let h = self.redis.get(cfg, component)?;
        h.warm();
        Ok(h)
    }

    /// The registry of linked provider types and built instances.
    pub fn registry(&self) -> &Arc<ProviderRegistry> {
        &self.registry
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The whole stack as one service: call it with a [`Call`], or through the typed
    /// methods of [`ServiceExt`].
    pub fn service(&self) -> Arc<dyn Service> {
        self.stack.clone()
    }

    /// A typed client of the whole stack whose errors keep the route of a failed routed call
    /// (what the gateway serves).
    pub fn client(&self) -> Client {
        Client::new(self.stack.clone())
    }

    /// The logical model names (router), in config order.
    pub fn logical_models(&self) -> Vec<String> {
        self.logical.clone()
    }

    /// The router, when logical models are configured.
    #[cfg(feature = "router")]
    pub fn router(&self) -> Option<&Arc<runtime_router::Router>> {
        self.router.as_ref()
    }

    /// Cache counters, when the cache is on.
    #[cfg(feature = "cache")]
    pub fn cache_stats(&self) -> Option<&Arc<runtime_cache::CacheStats>> {
        self.cache_stats.as_ref()
    }

    /// Metrics, prices and the usage store, when the `metrics` feature is on.
    #[cfg(feature = "metrics")]
    pub fn metering(&self) -> Option<&Arc<runtime_metrics::Metering>> {
        self.metering.as_ref()
    }

    /// Prometheus text exposition of every metric (empty without the `metrics` feature).
    pub fn metrics_text(&self) -> String {
        #[cfg(feature = "metrics")]
        if let Some(m) = &self.metering {
            #[allow(unused_mut)]
            let mut text = m.render();
            #[cfg(feature = "cache")]
            if let Some(s) = &self.cache_stats {
                text.push_str(&cache_metrics(&s.snapshot()));
            }
            #[cfg(feature = "redis")]
            text.push_str(&self.redis.metrics_text());
            return text;
        }
        String::new()
    }

    /// Every metric of [`Runtime::metrics_text`] plus the router's (`modelrt_router_*`:
    /// attempts, retries, failovers, fallbacks, and each deployment's health, circuit and
    /// cooldown, which may need the shared state store).
    pub async fn render_metrics(&self) -> String {
        #[allow(unused_mut)]
        let mut text = self.metrics_text();
        #[cfg(feature = "router")]
        if let Some(r) = &self.router {
            text.push_str(&r.metrics_text().await);
        }
        text
    }

    /// Cost and tokens between two times, grouped, computed by the usage database.
    #[cfg(feature = "metrics")]
    pub async fn usage_summary(
        &self,
        from: std::time::SystemTime,
        to: std::time::SystemTime,
        group_by: &[runtime_metrics::GroupBy],
    ) -> std::result::Result<Vec<runtime_metrics::SummaryRow>, runtime_metrics::StoreError> {
        let ms = |t: std::time::SystemTime| {
            t.duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        };
        match &self.metering {
            Some(m) => m.usage_summary(ms(from), ms(to), group_by).await,
            None => Err(runtime_metrics::StoreError::Disabled),
        }
    }

    /// Stops background work: health checks, and flushes usage records to the database (or the
    /// spill file).
    pub async fn shutdown(&self) {
        #[cfg(feature = "router")]
        if let Some(r) = &self.router {
            r.shutdown().await;
        }
        #[cfg(feature = "metrics")]
        if let Some(m) = &self.metering {
            m.shutdown().await;
        }
        #[cfg(feature = "redis")]
        self.redis.shutdown().await;
    }

    /// A chat answer from `model` (`provider/model`, or a logical model).
    pub async fn chat(&self, model: &str, mut req: ChatRequest) -> Result<ChatResponse> {
        model.clone_into(&mut req.model);
        self.stack.chat(&req, &RequestContext::new()).await
    }

    /// A streamed chat answer.
    pub async fn chat_stream(&self, model: &str, mut req: ChatRequest) -> Result<ChatStream> {
        model.clone_into(&mut req.model);
        self.stack.chat_stream(&req, &RequestContext::new()).await
    }

    /// A text completion.
    pub async fn complete(
        &self,
        model: &str,
        mut req: CompletionRequest,
    ) -> Result<CompletionResponse> {
        model.clone_into(&mut req.model);
        self.stack.complete(&req, &RequestContext::new()).await
    }

    /// Embeddings.
    pub async fn embed(&self, model: &str, mut req: EmbeddingRequest) -> Result<EmbeddingResponse> {
        model.clone_into(&mut req.model);
        self.stack.embed(&req, &RequestContext::new()).await
    }

    /// Documents ranked by relevance to a query.
    pub async fn rerank(&self, model: &str, mut req: RerankRequest) -> Result<RerankResponse> {
        model.clone_into(&mut req.model);
        self.stack.rerank(&req, &RequestContext::new()).await
    }

    /// Every model of every configured provider (and logical model), live where possible.
    pub async fn list_models(&self) -> Result<Vec<ModelInfo>> {
        self.stack.list_models(&RequestContext::new()).await
    }
}

#[cfg(all(feature = "cache", feature = "metrics"))]
fn cache_metrics(s: &runtime_cache::CacheStatsSnapshot) -> String {
    use runtime_core::prom::{Family, Kind};
    let mut out = String::new();
    for (name, help, v) in [
        ("modelrt_cache_hits_total", "Response-cache hits.", s.hits),
        (
            "modelrt_cache_misses_total",
            "Response-cache misses.",
            s.misses,
        ),
        (
            "modelrt_cache_stores_total",
            "Answers stored in the response cache.",
            s.stores,
        ),
        (
            "modelrt_cache_errors_total",
            "Cache backend errors (served as misses).",
            s.errors,
        ),
        (
            "modelrt_cache_bypassed_total",
            "Requests the cache did not apply to.",
            s.bypassed,
        ),
        (
            "modelrt_cache_upstream_batches_total",
            "Coalesced embedding calls sent upstream.",
            s.upstream_batches,
        ),
        (
            "modelrt_cache_batched_requests_total",
            "Embedding requests served through the batcher.",
            s.batched_requests,
        ),
        (
            "modelrt_cache_batched_inputs_total",
            "Embedding inputs sent in coalesced calls.",
            s.batched_inputs,
        ),
        (
            "modelrt_cache_merged_total",
            "Misses answered by an identical request already upstream.",
            s.merged,
        ),
    ] {
        Family::new(&mut out, name, Kind::Counter, help).sample(&[], v);
    }
    Family::new(
        &mut out,
        "modelrt_cache_latency_saved_seconds_total",
        Kind::Counter,
        "Upstream latency saved by cache hits.",
    )
    .sample(&[], s.latency_saved_us as f64 / 1e6);
    out
}
