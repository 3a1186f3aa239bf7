//! The router: selection, the failover loop, fallbacks, the rate-limit queue.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use rand::Rng;
use runtime_core::http::HttpClient;
use runtime_core::{
    Capabilities, ChatRequest, ChatResponse, ChatStream, CompletionRequest, CompletionResponse,
    EmbeddingRequest, EmbeddingResponse, Error, HealthStatus, Message, ModelInfo, ModelKind,
    Provider, RequestContext, RerankRequest, RerankResponse, ResponseFormat, ResponseMeta, Result,
    Retryability, RouteSummary, Secret, TimeoutPhase, Usage,
};
use serde::Serialize;
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::Instrument;

use crate::breaker::{Breaker, BreakerConfig};
use crate::config::{
    DeploymentConfig, ModelConfig, ModelType, RequestKind, RouterConfig, RouterDefaults, Strategy,
    expand_env,
};
use crate::deployment::{
    Deployment, Ewma, HealthProbe, InFlight, Needs, estimate_chat_tokens, state_keys,
};
use crate::health::HealthTasks;
use crate::state::{Acquire, MemoryStore, RateLimits, StateStore, WindowUsage};
use crate::strategy::{PickInput, pick};
use crate::stream::{HeldStream, RoutedStream, StreamDone, hold_back};

/// Resolves a provider instance name to the provider (the facade passes its registry lookup).
pub type Resolver = Arc<dyn Fn(&str) -> Result<Arc<dyn Provider>> + Send + Sync>;

/// One attempt the router made, kept in response metadata and in [`RouteError`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    /// The logical model the attempt served (a fallback model after failover).
    pub model: String,
    /// The deployment tried.
    pub deployment: String,
    /// Its provider instance.
    pub provider: String,
    /// The strategy that chose it.
    pub strategy: &'static str,
    /// `"ok"` or the error kind ([`Error::kind`]).
    pub outcome: String,
    /// The error message, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Which of the deployment's keys was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_index: Option<usize>,
    /// Whether it was the half-open trial after a cooldown.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub trial: bool,
    /// How long the attempt took (for streams: until the router committed to it).
    pub latency_ms: f64,
}

/// A routed answer and the attempts it took.
#[derive(Debug)]
pub struct Routed<T> {
    /// The answer (its `meta` filled).
    pub value: T,
    /// Every attempt, the successful one last.
    pub attempts: Vec<Attempt>,
}

/// A routing failure with every attempt made.
#[derive(Debug, Clone)]
pub struct RouteError {
    /// The error returned to the caller (the last one).
    pub error: Error,
    /// Every attempt made.
    pub attempts: Vec<Attempt>,
}

impl RouteError {
    /// Leaves the route in `ctx` (last provider and deployment, attempts made) for the layers
    /// above the router, and returns the error.
    pub fn report(self, ctx: &RequestContext) -> Error {
        if let Some(last) = self.attempts.last() {
            ctx.route.record(RouteSummary {
                provider: last.provider.clone(),
                deployment: last.deployment.clone(),
                attempts: u32::try_from(self.attempts.len()).unwrap_or(u32::MAX),
            });
        }
        self.error
    }
}

impl std::fmt::Display for RouteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (after {} attempts)", self.error, self.attempts.len())
    }
}

impl std::error::Error for RouteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// The state of one deployment, for dashboards and tests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentStatus {
    /// Deployment name.
    pub name: String,
    /// Provider instance.
    pub provider: String,
    /// Provider model.
    pub model: String,
    /// False when the active health check found it down.
    pub healthy: bool,
    /// Time left in cooldown (circuit open), if cooling down.
    pub cooldown_remaining: Option<Duration>,
    /// True when the circuit is half-open (the next request is a trial).
    pub half_open: bool,
    /// Calls under way from this process.
    pub in_flight: usize,
    /// Indices of keys currently marked dead.
    pub dead_keys: Vec<usize>,
    /// Current latency average of whole answers, in seconds.
    pub latency_ewma: Option<f64>,
    /// Current time-to-first-token average of streams, in seconds.
    pub ttft_ewma: Option<f64>,
    /// Its last errors, newest first (at most 5, from this process).
    pub recent_errors: Vec<crate::recent::RecentError>,
}

pub(crate) struct Queue {
    lock: tokio::sync::Mutex<()>,
    waiting: AtomicUsize,
    pub(crate) notify: Notify,
    last_retry_ms: AtomicU64,
}

pub(crate) struct LogicalModel {
    pub name: String,
    pub model_type: ModelType,
    strategy: Strategy,
    strategies: HashMap<RequestKind, Strategy>,
    max_attempts: u32,
    timeout: Duration,
    fallbacks: Vec<String>,
    cw_fallbacks: Vec<String>,
    cf_fallbacks: Vec<String>,
    pub deployments: Vec<Arc<Deployment>>,
    flag_keys: Vec<String>,
    rr: AtomicUsize,
    pub(crate) queue: Queue,
}

impl LogicalModel {
    fn strategy_for(&self, kind: RequestKind) -> Strategy {
        self.strategies.get(&kind).copied().unwrap_or(self.strategy)
    }

    /// Requests waiting in this model's queue.
    pub(crate) fn queue_waiting(&self) -> usize {
        self.queue.waiting.load(Ordering::Relaxed)
    }
}

pub(crate) struct Inner {
    pub name: String,
    pub defaults: RouterDefaults,
    pub models: HashMap<String, Arc<LogicalModel>>,
    pub order: Vec<String>,
    pub store: Arc<dyn StateStore>,
    pub http: Option<HttpClient>,
    pub stats: crate::stats::Stats,
}

/// Routes requests for logical models to deployments. Implements [`Provider`].
///
/// Build with [`Router::builder`]. Active health checks run until [`Router::shutdown`] or
/// until the router is dropped.
pub struct Router {
    inner: Arc<Inner>,
    health: Mutex<Option<HealthTasks>>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("name", &self.inner.name)
            .field("models", &self.inner.order)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Router`].
pub struct RouterBuilder {
    name: String,
    config: RouterConfig,
    resolver: Option<Resolver>,
    providers: HashMap<String, Arc<dyn Provider>>,
    store: Option<Arc<dyn StateStore>>,
    #[cfg(feature = "redis")]
    redis: Option<runtime_redis::Redis>,
    health_checks: bool,
    http: Option<HttpClient>,
    env: EnvLookup,
}

type EnvLookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

impl std::fmt::Debug for RouterBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterBuilder")
            .field("name", &self.name)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl RouterBuilder {
    /// Sets the whole configuration.
    pub fn config(mut self, config: RouterConfig) -> Self {
        self.config = config;
        self
    }

    /// Replaces the `[router]` defaults.
    pub fn defaults(mut self, d: RouterDefaults) -> Self {
        self.config.router = d;
        self
    }

    /// Adds a logical model.
    pub fn model(mut self, m: ModelConfig) -> Self {
        self.config.models.push(m);
        self
    }

    /// The name the router reports as a provider (default `router`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Resolves deployment provider names not given with [`RouterBuilder::provider`].
    pub fn resolver(
        mut self,
        f: impl Fn(&str) -> Result<Arc<dyn Provider>> + Send + Sync + 'static,
    ) -> Self {
        self.resolver = Some(Arc::new(f));
        self
    }

    /// Gives a provider instance directly, under `name`.
    pub fn provider(mut self, name: impl Into<String>, p: Arc<dyn Provider>) -> Self {
        self.providers.insert(name.into(), p);
        self
    }

    /// The shared-state store (default: [`MemoryStore`]).
    pub fn store(mut self, store: Arc<dyn StateStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The HTTP client for `health_check_url` probes (default: the process-wide shared one).
    pub fn http(mut self, http: HttpClient) -> Self {
        self.http = Some(http);
        self
    }

    /// Where `${VAR}` in `api_keys` is looked up (default: the process environment).
    pub fn env(mut self, f: impl Fn(&str) -> Option<String> + Send + Sync + 'static) -> Self {
        self.env = Arc::new(f);
        self
    }

    /// Keeps shared state in this Redis (falling back to local state while it is down);
    /// takes precedence over `router.redis_url`.
    #[cfg(feature = "redis")]
    pub fn redis(mut self, handle: runtime_redis::Redis) -> Self {
        self.redis = Some(handle);
        self
    }

    /// Whether active health checks start with the router (default true; `config check`
    /// builds without them, so validating a file sends nothing anywhere).
    pub fn health_checks(mut self, on: bool) -> Self {
        self.health_checks = on;
        self
    }

    /// The same as [`RouterBuilder::build`]: Redis is connected lazily, in the background,
    /// so building never waits for it (kept for callers written when it did).
    pub async fn build_async(self) -> Result<Router> {
        self.build()
    }

    /// The store: the one given, else Redis (a handle given or `router.redis_url`) with a
    /// local fallback, else memory.
    fn make_store(&mut self) -> Result<Arc<dyn StateStore>> {
        if let Some(s) = self.store.take() {
            return Ok(s);
        }
        let d = &self.config.router;
        #[cfg(feature = "redis")]
        {
            let handle = match (self.redis.take(), &d.redis_url) {
                (Some(h), _) => Some(h),
                (None, Some(url)) => {
                    let cfg = runtime_redis::RedisConfig::standalone(url.clone());
                    cfg.validate("router").map_err(|e| match e {
                        Error::InvalidConfig { reason, .. } => Error::InvalidConfig {
                            provider: self.name.clone(),
                            field: "router.redis_url".into(),
                            reason,
                        },
                        other => other,
                    })?;
                    let h = runtime_redis::Redis::new(&cfg)?;
                    h.add_user("router");
                    Some(h)
                }
                (None, None) => None,
            };
            if let Some(h) = handle {
                let store = crate::redis_store::RedisStore::new(h, d.redis_prefix.clone());
                return Ok(Arc::new(crate::shared::SharedStore::new(store)));
            }
        }
        if d.redis {
            return Err(Error::InvalidConfig {
                provider: self.name.clone(),
                field: "router.redis".into(),
                reason: "no Redis connection was given: add a `[redis]` section (or set router.redis_url)".into(),
            });
        }
        if d.redis_url.is_some() {
            return Err(Error::InvalidConfig {
                provider: self.name.clone(),
                field: "router.redis_url".into(),
                reason: "this build has no Redis support (enable the `redis` feature)".into(),
            });
        }
        Ok(Arc::new(MemoryStore::new()))
    }

    /// Validates the configuration, resolves the providers and starts the active health
    /// checks (which needs a tokio runtime when any deployment enables them).
    pub fn build(mut self) -> Result<Router> {
        let store = self.make_store()?;
        let d = &self.config.router;
        let cfg_err = |field: String, reason: String| Error::InvalidConfig {
            provider: self.name.clone(),
            field,
            reason,
        };
        if d.redis_prefix.trim().is_empty() {
            return Err(cfg_err(
                "router.redis_prefix".into(),
                "must not be empty".into(),
            ));
        }
        if d.max_attempts == 0 {
            return Err(cfg_err(
                "router.max_attempts".into(),
                "must be at least 1".into(),
            ));
        }
        if !(d.failure_rate_threshold > 0.0 && d.failure_rate_threshold <= 1.0) {
            return Err(cfg_err(
                "router.failure_rate_threshold".into(),
                format!(
                    "must be a share above 0 and at most 1 (0.5 = half the attempts failed), got {}",
                    d.failure_rate_threshold
                ),
            ));
        }
        if d.failure_rate_min_requests == 0 {
            return Err(cfg_err(
                "router.failure_rate_min_requests".into(),
                "must be at least 1".into(),
            ));
        }
        if d.failure_rate_window.is_zero() {
            return Err(cfg_err(
                "router.failure_rate_window".into(),
                "must be longer than zero".into(),
            ));
        }
        if d.max_cooldown < d.cooldown {
            return Err(cfg_err(
                "router.max_cooldown".into(),
                format!(
                    "must be at least `cooldown` ({:?}), got {:?}",
                    d.cooldown, d.max_cooldown
                ),
            ));
        }
        let mut models = HashMap::new();
        let mut order = Vec::new();
        let mut any_health = false;
        let mut any_url = false;
        for (mi, mc) in self.config.models.iter().enumerate() {
            if models.contains_key(&mc.name) {
                return Err(cfg_err(
                    format!("models[{mi}].name"),
                    format!("logical model `{}` is defined twice", mc.name),
                ));
            }
            if mc.deployments.is_empty() {
                return Err(cfg_err(
                    format!("models[{mi}].deployments"),
                    format!("logical model `{}` has no deployments", mc.name),
                ));
            }
            let mut deps: Vec<Arc<Deployment>> = Vec::new();
            for (di, dc) in mc.deployments.iter().enumerate() {
                let field = format!("models[{mi}].deployments[{di}]");
                let dep = self.deployment(dc, &field, d)?;
                if deps.iter().any(|x| x.name == dep.name) {
                    return Err(cfg_err(
                        format!("{field}.name"),
                        format!(
                            "deployment `{}` appears twice in model `{}`",
                            dep.name, mc.name
                        ),
                    ));
                }
                any_health |= dep.probe.is_some();
                any_url |= matches!(dep.probe, Some(HealthProbe::Url(_)));
                deps.push(Arc::new(dep));
            }
            let max_attempts = mc.max_attempts.unwrap_or(d.max_attempts);
            if max_attempts == 0 {
                return Err(cfg_err(
                    format!("models[{mi}].max_attempts"),
                    "must be at least 1".into(),
                ));
            }
            let flag_keys = deps
                .iter()
                .flat_map(|d| {
                    [
                        d.skeys.cool.clone(),
                        d.skeys.trip.clone(),
                        d.skeys.down.clone(),
                    ]
                })
                .collect();
            order.push(mc.name.clone());
            models.insert(
                mc.name.clone(),
                Arc::new(LogicalModel {
                    name: mc.name.clone(),
                    model_type: mc.model_type,
                    strategy: mc.strategy.unwrap_or(d.strategy),
                    strategies: mc.strategies.iter().map(|(k, v)| (*k, *v)).collect(),
                    max_attempts,
                    timeout: mc.timeout.unwrap_or(d.timeout),
                    fallbacks: mc.fallbacks.clone(),
                    cw_fallbacks: mc.context_window_fallbacks.clone(),
                    cf_fallbacks: mc.content_filter_fallbacks.clone(),
                    deployments: deps,
                    flag_keys,
                    rr: AtomicUsize::new(0),
                    queue: Queue {
                        lock: tokio::sync::Mutex::new(()),
                        waiting: AtomicUsize::new(0),
                        notify: Notify::new(),
                        last_retry_ms: AtomicU64::new(0),
                    },
                }),
            );
        }
        for (mi, mc) in self.config.models.iter().enumerate() {
            for (list, what) in [
                (&mc.fallbacks, "fallbacks"),
                (&mc.context_window_fallbacks, "context_window_fallbacks"),
                (&mc.content_filter_fallbacks, "content_filter_fallbacks"),
            ] {
                for f in list {
                    if !models.contains_key(f) || *f == mc.name {
                        return Err(cfg_err(
                            format!("models[{mi}].{what}"),
                            format!("`{f}` is not another configured logical model"),
                        ));
                    }
                }
            }
        }
        let http = match (self.http, any_url) {
            (Some(h), _) => Some(h),
            (None, true) => Some(HttpClient::shared()?),
            (None, false) => None,
        };
        let stats = crate::stats::Stats::new(&models);
        let inner = Arc::new(Inner {
            name: self.name.clone(),
            defaults: d.clone(),
            models,
            order,
            store,
            http,
            stats,
        });
        let health = if any_health && self.health_checks {
            if tokio::runtime::Handle::try_current().is_err() {
                return Err(cfg_err(
                    "health_check".into(),
                    "active health checks need a tokio runtime: build the router inside one".into(),
                ));
            }
            Some(crate::health::spawn(&inner))
        } else {
            None
        };
        Ok(Router {
            inner,
            health: Mutex::new(health),
        })
    }

    fn deployment(
        &self,
        dc: &DeploymentConfig,
        field: &str,
        d: &RouterDefaults,
    ) -> Result<Deployment> {
        let provider = match self.providers.get(&dc.provider) {
            Some(p) => p.clone(),
            None => match &self.resolver {
                Some(r) => r(&dc.provider)?,
                None => {
                    return Err(Error::InvalidConfig {
                        provider: self.name.clone(),
                        field: format!("{field}.provider"),
                        reason: format!(
                            "provider instance `{}` was not given and no resolver is set",
                            dc.provider
                        ),
                    });
                }
            },
        };
        let keys = dc
            .api_keys
            .iter()
            .map(|k| {
                expand_env(k, &*self.env)
                    .map(Secret::new)
                    .map_err(|reason| Error::InvalidConfig {
                        provider: self.name.clone(),
                        field: format!("{field}.api_keys"),
                        reason,
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        let name = dc.display_name();
        let probe = dc
            .health_check
            .then(|| match (&dc.health_check_url, dc.health_check_paid) {
                (Some(u), _) => HealthProbe::Url(u.clone()),
                (None, true) => HealthProbe::Paid,
                (None, false) => HealthProbe::Provider,
            });
        Ok(Deployment {
            skeys: state_keys(&name, keys.len()),
            name: name.into(),
            caps: provider.capabilities(),
            provider,
            provider_name: dc.provider.clone(),
            model: dc.model.clone(),
            weight: dc.weight,
            priority: dc.priority,
            limits: RateLimits {
                rpm: dc.rpm,
                tpm: dc.tpm,
            },
            keys,
            key_rr: AtomicUsize::new(0),
            probe,
            ttft_timeout: dc.ttft_timeout.unwrap_or(d.ttft_timeout),
            pricing: dc.pricing,
            in_flight: Arc::new(AtomicUsize::new(0)),
            latency: Ewma::new(Duration::from_secs(10)),
            ttft: Ewma::new(Duration::from_secs(10)),
            recent_errors: Default::default(),
            breaker: Breaker::new(BreakerConfig {
                consecutive: d.cooldown_failures,
                rate: d.failure_rate_threshold,
                min_requests: d.failure_rate_min_requests,
                window: d.failure_rate_window,
            }),
        })
    }
}

/// What a request asks of a deployment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Want {
    kind: RequestKind,
    needs: Needs,
}

/// One call being routed.
#[derive(Clone, Copy)]
enum Call<'a> {
    Chat(&'a ChatRequest),
    Stream(&'a ChatRequest),
    Complete(&'a CompletionRequest),
    CompleteStream(&'a CompletionRequest),
    Embed(&'a EmbeddingRequest),
    Rerank(&'a RerankRequest),
}

impl Call<'_> {
    fn kind(&self) -> RequestKind {
        match self {
            Call::Chat(_) => RequestKind::Chat,
            Call::Stream(_) | Call::CompleteStream(_) => RequestKind::Stream,
            Call::Complete(_) => RequestKind::Completion,
            Call::Embed(_) => RequestKind::Embedding,
            Call::Rerank(_) => RequestKind::Rerank,
        }
    }

    fn model(&self) -> &str {
        match self {
            Call::Chat(r) | Call::Stream(r) => &r.model,
            Call::Complete(r) | Call::CompleteStream(r) => &r.model,
            Call::Embed(r) => &r.model,
            Call::Rerank(r) => &r.model,
        }
    }

    /// Capabilities the request needs beyond its kind.
    fn needs(&self) -> Needs {
        match self {
            Call::Chat(r) | Call::Stream(r) => Needs {
                tools: !r.tools.is_empty(),
                vision: r.messages.iter().any(|m| match m {
                    Message::User { content, .. } | Message::System { content, .. } => {
                        content.has_image()
                    }
                    _ => false,
                }),
                json_schema: matches!(r.response_format, Some(ResponseFormat::JsonSchema { .. })),
            },
            _ => Needs::default(),
        }
    }

    /// (prompt, completion) token estimate: characters/4 plus `max_tokens`.
    fn tokens(&self) -> (u64, u64) {
        match self {
            Call::Chat(r) | Call::Stream(r) => {
                let max = u64::from(r.max_tokens.unwrap_or(0));
                (estimate_chat_tokens(r) - max, max)
            }
            Call::Complete(r) | Call::CompleteStream(r) => (
                (r.prompt.chars().count() / 4) as u64,
                u64::from(r.max_tokens.unwrap_or(0)),
            ),
            Call::Embed(r) => (
                r.input.iter().map(|s| s.chars().count() / 4).sum::<usize>() as u64,
                0,
            ),
            Call::Rerank(r) => (
                (r.query.chars().count()
                    + r.documents
                        .iter()
                        .map(|d| d.text().chars().count())
                        .sum::<usize>()) as u64
                    / 4,
                0,
            ),
        }
    }
}

enum Out {
    Chat(ChatResponse),
    Stream(ChatStream),
    Held(HeldStream),
    Complete(CompletionResponse),
    Embed(EmbeddingResponse),
    Rerank(RerankResponse),
}

impl Out {
    fn usage(&self) -> Option<Usage> {
        match self {
            Out::Chat(r) => r.usage,
            Out::Complete(r) => r.usage,
            Out::Embed(r) => r.usage,
            Out::Rerank(r) => r.usage.and_then(|u| u.tokens),
            Out::Stream(_) | Out::Held(_) => None,
        }
    }

    fn meta_mut(&mut self) -> &mut ResponseMeta {
        match self {
            Out::Chat(r) => &mut r.meta,
            Out::Complete(r) => &mut r.meta,
            Out::Embed(r) => &mut r.meta,
            Out::Rerank(r) => &mut r.meta,
            Out::Stream(s) => s.meta_mut(),
            Out::Held(h) => h.stream.meta_mut(),
        }
    }
}

/// The outcome of a selection.
#[derive(Debug)]
pub(crate) struct Chosen {
    pub idx: usize,
    pub key: Option<(usize, Secret)>,
    pub window: Option<u64>,
    pub tokens: u64,
    pub trial: bool,
    pub reused: bool,
}

enum Pick {
    Got(Chosen),
    Limited(Duration),
    /// Why nothing is available, and when the first cooldown ends.
    Unavailable(Unavailable),
}

/// Why a selection found nothing, and when to expect a deployment back.
pub(crate) struct Unavailable {
    reason: String,
    /// When the shortest cooldown ends.
    soonest: Option<Duration>,
    /// The wait to tell a client: the shortest cooldown, else the next health probe of an
    /// unhealthy deployment.
    hint: Option<Duration>,
}

/// Why a selection failed.
enum NoPick {
    Error(Error),
    /// Nothing available; the first cooldown ends after this long.
    Unavailable(Error, Option<Duration>),
}

/// Whether the router may move on to fallback models after this error.
fn may_fall_back(e: &Error) -> bool {
    matches!(
        e,
        Error::NoHealthyDeployment { .. }
            | Error::ContextLengthExceeded { .. }
            | Error::ContentFiltered { .. }
    ) || e.retryability() != Retryability::Never
}

/// Whether an error counts against the deployment's health.
fn counts_as_failure(e: &Error) -> bool {
    match e {
        Error::Unsupported { .. } | Error::Cancelled => false,
        Error::Timeout {
            phase: TimeoutPhase::Deadline,
            ..
        } => false,
        _ => e.retryability() != Retryability::Never,
    }
}

impl Router {
    /// A builder with default settings and no models.
    pub fn builder() -> RouterBuilder {
        RouterBuilder {
            name: "router".into(),
            config: RouterConfig::default(),
            resolver: None,
            providers: HashMap::new(),
            store: None,
            #[cfg(feature = "redis")]
            redis: None,
            health_checks: true,
            http: None,
            env: Arc::new(|k| std::env::var(k).ok()),
        }
    }

    /// A router from the config file sections, resolving provider instances with `resolver`
    /// (shared state in `router.redis_url` when set, connected lazily).
    pub async fn from_config(
        config: RouterConfig,
        resolver: impl Fn(&str) -> Result<Arc<dyn Provider>> + Send + Sync + 'static,
    ) -> Result<Router> {
        Router::builder()
            .config(config)
            .resolver(resolver)
            .build_async()
            .await
    }

    /// The logical model names, in config order.
    pub fn model_names(&self) -> &[String] {
        &self.inner.order
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// Stops the active health checks and waits for them to end.
    pub async fn shutdown(&self) {
        let tasks = self.health.lock().take();
        if let Some(t) = tasks {
            t.shutdown().await;
        }
    }

    /// Whether active health-check tasks are running.
    pub fn health_tasks_running(&self) -> usize {
        self.health.lock().as_ref().map_or(0, HealthTasks::running)
    }

    /// The state of every deployment of `model`.
    pub async fn status(&self, model: &str) -> Result<Vec<DeploymentStatus>> {
        let m = self.inner.model(model)?;
        let flags = self.inner.flags(&m).await;
        let mut out = Vec::with_capacity(m.deployments.len());
        for (i, d) in m.deployments.iter().enumerate() {
            let dead_keys = if d.keys.is_empty() {
                Vec::new()
            } else {
                let refs: Vec<&str> = d.skeys.keys.iter().map(String::as_str).collect();
                let kf = self
                    .inner
                    .store
                    .flags(&refs)
                    .await
                    .unwrap_or_else(|_| vec![None; refs.len()]);
                kf.iter()
                    .enumerate()
                    .filter(|(_, f)| f.is_some())
                    .map(|(k, _)| k)
                    .collect()
            };
            out.push(DeploymentStatus {
                name: d.name.to_string(),
                provider: d.provider_name.clone(),
                model: d.model.clone(),
                healthy: flags[3 * i + 2].is_none(),
                cooldown_remaining: flags[3 * i],
                half_open: flags[3 * i].is_none() && flags[3 * i + 1].is_some(),
                in_flight: d.in_flight(),
                dead_keys,
                latency_ewma: d.latency.get(),
                ttft_ewma: d.ttft.get(),
                recent_errors: d.recent_errors.snapshot(),
            });
        }
        Ok(out)
    }

    /// Runs the routing decision alone, as a request of `kind` for `model` would: the
    /// deployment it returns counts the request against its rate limit (when it has one)
    /// and, when half-open, holds its trial. For diagnostics and benchmarks.
    pub async fn choose(&self, model: &str, kind: RequestKind) -> Result<String> {
        let m = self.inner.model(model)?;
        let strategy = m.strategy_for(kind);
        let want = Want {
            kind,
            needs: Needs::default(),
        };
        match self
            .inner
            .select(&m, want, strategy, &[], &[], (0, 0))
            .await
        {
            Pick::Got(c) => Ok(m.deployments[c.idx].name.to_string()),
            Pick::Limited(ra) => Err(Error::RateLimited {
                provider: self.inner.name.clone(),
                model: m.name.clone(),
                retry_after: Some(ra),
                message: "every deployment is at its rate limit".into(),
            }),
            Pick::Unavailable(u) => Err(self.inner.no_healthy(&m, u)),
        }
    }

    /// A chat answer with the attempts it took.
    pub async fn chat_routed(
        &self,
        req: &ChatRequest,
        ctx: &RequestContext,
    ) -> Result<Routed<ChatResponse>, RouteError> {
        let (out, attempts) = self.inner.route(Call::Chat(req), ctx).await?;
        match out {
            Out::Chat(value) => Ok(Routed { value, attempts }),
            _ => Err(internal(attempts)),
        }
    }

    /// A streamed chat answer with the attempts it took before committing.
    pub async fn chat_stream_routed(
        &self,
        req: &ChatRequest,
        ctx: &RequestContext,
    ) -> Result<Routed<ChatStream>, RouteError> {
        let (out, attempts) = self.inner.route(Call::Stream(req), ctx).await?;
        match out {
            Out::Stream(value) => Ok(Routed { value, attempts }),
            _ => Err(internal(attempts)),
        }
    }

    /// Embeddings with the attempts they took.
    pub async fn embed_routed(
        &self,
        req: &EmbeddingRequest,
        ctx: &RequestContext,
    ) -> Result<Routed<EmbeddingResponse>, RouteError> {
        let (out, attempts) = self.inner.route(Call::Embed(req), ctx).await?;
        match out {
            Out::Embed(value) => Ok(Routed { value, attempts }),
            _ => Err(internal(attempts)),
        }
    }

    /// A ranking with the attempts it took.
    pub async fn rerank_routed(
        &self,
        req: &RerankRequest,
        ctx: &RequestContext,
    ) -> Result<Routed<RerankResponse>, RouteError> {
        let (out, attempts) = self.inner.route(Call::Rerank(req), ctx).await?;
        match out {
            Out::Rerank(value) => Ok(Routed { value, attempts }),
            _ => Err(internal(attempts)),
        }
    }

    fn model_info(&self, m: &LogicalModel) -> ModelInfo {
        let any = |f: fn(&Capabilities) -> bool| m.deployments.iter().any(|d| f(&d.caps));
        ModelInfo {
            id: m.name.clone(),
            provider: self.inner.name.clone(),
            kind: match m.model_type {
                ModelType::Embedding => ModelKind::Embedding,
                ModelType::Rerank => ModelKind::Other,
                _ => ModelKind::Chat,
            },
            supports_streaming: any(|c| c.streaming),
            supports_tools: any(|c| c.tools),
            supports_vision: any(|c| c.vision),
            supports_json_schema: any(|c| c.json_schema),
            owned_by: Some(self.inner.name.clone()),
            ..ModelInfo::default()
        }
    }
}

fn internal(attempts: Vec<Attempt>) -> RouteError {
    RouteError {
        error: Error::InvalidConfig {
            provider: "router".into(),
            field: "internal".into(),
            reason: "answer of the wrong kind".into(),
        },
        attempts,
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        if let Some(t) = self.health.get_mut().take() {
            t.abort();
        }
    }
}

impl Inner {
    pub(crate) fn model(&self, name: &str) -> Result<Arc<LogicalModel>> {
        self.models
            .get(name)
            .cloned()
            .ok_or_else(|| Error::ModelNotFound {
                provider: self.name.clone(),
                model: name.to_owned(),
                message: format!(
                    "no logical model of that name; configured: [{}]",
                    self.order.join(", ")
                ),
            })
    }

    /// cool/trip/down flags of every deployment (3 per deployment). A store error counts as
    /// "no flags" (fail open) and is logged.
    async fn flags(&self, m: &LogicalModel) -> Vec<Option<Duration>> {
        let refs: Vec<&str> = m.flag_keys.iter().map(String::as_str).collect();
        match self.store.flags(&refs).await {
            Ok(f) if f.len() == refs.len() => f,
            Ok(_) => vec![None; refs.len()],
            Err(e) => {
                tracing::warn!(error = %e, model = %m.name, "router state store failed; routing without shared flags");
                vec![None; refs.len()]
            }
        }
    }

    async fn select(
        &self,
        m: &LogicalModel,
        want: Want,
        strategy: Strategy,
        avoid: &[usize],
        exclude: &[usize],
        tokens: (u64, u64),
    ) -> Pick {
        let flags = self.flags(m).await;
        let n = m.deployments.len();
        let mut avail: Vec<usize> = Vec::with_capacity(n);
        let (mut cooling, mut unhealthy, mut unsupported, mut failed) = (0, 0, 0, 0);
        let mut soonest: Option<Duration> = None;
        for (i, d) in m.deployments.iter().enumerate() {
            if !d.supports(want.kind, want.needs) {
                unsupported += 1;
            } else if exclude.contains(&i) {
                failed += 1;
            } else if flags[3 * i + 2].is_some() {
                unhealthy += 1;
            } else if let Some(left) = flags[3 * i] {
                cooling += 1;
                soonest = Some(soonest.map_or(left, |s| s.min(left)));
            } else {
                avail.push(i);
            }
        }
        let (mut pool, reused) = if avoid.is_empty() {
            (avail, false)
        } else {
            let fresh: Vec<usize> = avail
                .iter()
                .copied()
                .filter(|i| !avoid.contains(i))
                .collect();
            if fresh.is_empty() {
                (avail, true)
            } else {
                (fresh, false)
            }
        };
        pool.sort_by_key(|i| m.deployments[*i].priority);
        let total = tokens.0 + tokens.1;
        let mut limited: Option<Duration> = None;
        let mut dead = 0;
        let mut start = 0;
        while start < pool.len() {
            let prio = m.deployments[pool[start]].priority;
            let end = pool[start..]
                .iter()
                .position(|i| m.deployments[*i].priority != prio)
                .map_or(pool.len(), |p| start + p);
            let mut tier: Vec<usize> = pool[start..end].to_vec();
            start = end;
            while !tier.is_empty() {
                let usage = if strategy == Strategy::UsageBased {
                    let mut u = Vec::with_capacity(tier.len());
                    for i in &tier {
                        let d = &m.deployments[*i];
                        u.push(if d.limits.is_unlimited() {
                            WindowUsage::default()
                        } else {
                            self.store.usage(&d.skeys.rate).await.unwrap_or_default()
                        });
                    }
                    u
                } else {
                    Vec::new()
                };
                let pos = pick(
                    strategy,
                    &PickInput {
                        deployments: &m.deployments,
                        candidates: &tier,
                        rr: &m.rr,
                        kind: want.kind,
                        cost_tokens: tokens,
                        usage: &usage,
                    },
                );
                let i = tier.remove(pos);
                let d = &m.deployments[i];
                let trial = flags[3 * i + 1].is_some();
                if trial
                    && !self
                        .store
                        .try_lock(&d.skeys.trial, m.timeout)
                        .await
                        .unwrap_or(true)
                {
                    // Another request holds the half-open trial.
                    cooling += 1;
                    continue;
                }
                let key = if d.keys.is_empty() {
                    None
                } else {
                    match self.pick_key(d).await {
                        Some(k) => Some(k),
                        None => {
                            dead += 1;
                            self.release_trial(d, trial).await;
                            continue;
                        }
                    }
                };
                let window = if d.limits.is_unlimited() {
                    None
                } else {
                    match self.store.acquire(&d.skeys.rate, d.limits, total).await {
                        Ok(Acquire::Granted { window }) => Some(window),
                        Ok(Acquire::Denied { retry_after }) => {
                            limited = Some(limited.map_or(retry_after, |l| l.min(retry_after)));
                            self.release_trial(d, trial).await;
                            continue;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, deployment = %d.name, "rate limiter store failed; letting the request through");
                            None
                        }
                    }
                };
                return Pick::Got(Chosen {
                    idx: i,
                    key,
                    window,
                    tokens: total,
                    trial,
                    reused,
                });
            }
        }
        if let Some(l) = limited {
            return Pick::Limited(l);
        }
        let mut reason = format!(
            "{n} deployments: {cooling} cooling down, {unhealthy} unhealthy, {failed} already failed for this request"
        );
        if dead > 0 {
            reason.push_str(&format!(", {dead} with every key dead"));
        }
        if unsupported > 0 {
            reason.push_str(&format!(
                ", {unsupported} cannot serve this {} request",
                want.kind.as_str()
            ));
        }
        if let Some(s) = soonest {
            reason.push_str(&format!("; next cooldown ends in {:.3}s", s.as_secs_f64()));
        }
        let probe = (unhealthy > 0).then_some(self.defaults.health_check_interval);
        let hint = match (soonest, probe) {
            (Some(s), Some(p)) => Some(s.min(p)),
            (s, p) => s.or(p),
        };
        Pick::Unavailable(Unavailable {
            reason,
            soonest,
            hint,
        })
    }

    async fn release_trial(&self, d: &Deployment, trial: bool) {
        if trial {
            let _ = self.store.clear_flags(&[d.skeys.trial.as_str()]).await;
        }
    }

    async fn pick_key(&self, d: &Deployment) -> Option<(usize, Secret)> {
        let n = d.keys.len();
        let refs: Vec<&str> = d.skeys.keys.iter().map(String::as_str).collect();
        let dead = self
            .store
            .flags(&refs)
            .await
            .unwrap_or_else(|_| vec![None; n]);
        let start = d.key_rr.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|k| (start + k) % n)
            .find(|k| dead.get(*k).is_none_or(Option::is_none))
            .map(|k| (k, d.keys[k].clone()))
    }

    /// Selects a deployment, waiting in the model's FIFO queue while every one is at its
    /// rate limit.
    #[allow(clippy::too_many_arguments)]
    async fn select_or_wait(
        &self,
        m: &LogicalModel,
        want: Want,
        strategy: Strategy,
        avoid: &[usize],
        exclude: &[usize],
        tokens: (u64, u64),
        deadline: Instant,
        ctx: &RequestContext,
    ) -> Result<Chosen, NoPick> {
        let q = &m.queue;
        if q.waiting.load(Ordering::Acquire) == 0 {
            match self.select(m, want, strategy, avoid, exclude, tokens).await {
                Pick::Got(c) => return Ok(c),
                Pick::Unavailable(u) => {
                    let soonest = u.soonest;
                    return Err(NoPick::Unavailable(self.no_healthy(m, u), soonest));
                }
                Pick::Limited(ra) => {
                    q.last_retry_ms
                        .store(ra.as_millis() as u64, Ordering::Relaxed);
                }
            }
        }
        let limited = |ra: Duration, msg: &str| Error::RateLimited {
            provider: self.name.clone(),
            model: m.name.clone(),
            retry_after: Some(ra),
            message: msg.to_owned(),
        };
        let last_ra = || Duration::from_millis(q.last_retry_ms.load(Ordering::Relaxed));
        // Join the queue.
        let joined = q.waiting.fetch_add(1, Ordering::AcqRel);
        let _leave = Leave(&q.waiting);
        if joined >= self.defaults.queue_max_len {
            return Err(NoPick::Error(limited(
                last_ra(),
                &format!(
                    "every deployment is at its rate limit and the request queue is full ({} waiting)",
                    self.defaults.queue_max_len
                ),
            )));
        }
        let wait_until = deadline.min(Instant::now() + self.defaults.queue_max_wait);
        let timed_out = || {
            limited(
                last_ra(),
                "every deployment stayed at its rate limit for the longest queue wait",
            )
        };
        let _head = tokio::select! {
            biased;
            _ = ctx.cancel.cancelled() => return Err(NoPick::Error(Error::Cancelled)),
            g = tokio::time::timeout_at(wait_until, q.lock.lock()) => match g {
                Ok(g) => g,
                Err(_) => return Err(NoPick::Error(timed_out())),
            },
        };
        loop {
            let notified = q.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.select(m, want, strategy, avoid, exclude, tokens).await {
                Pick::Got(c) => return Ok(c),
                Pick::Unavailable(u) => {
                    let soonest = u.soonest;
                    return Err(NoPick::Unavailable(self.no_healthy(m, u), soonest));
                }
                Pick::Limited(ra) => {
                    q.last_retry_ms
                        .store(ra.as_millis() as u64, Ordering::Relaxed);
                    let now = Instant::now();
                    if now >= wait_until {
                        return Err(NoPick::Error(timed_out()));
                    }
                    let wake = wait_until.min(now + ra);
                    tokio::select! {
                        biased;
                        _ = ctx.cancel.cancelled() => return Err(NoPick::Error(Error::Cancelled)),
                        _ = &mut notified => {}
                        _ = tokio::time::sleep_until(wake) => {}
                    }
                }
            }
        }
    }

    fn no_healthy(&self, m: &LogicalModel, u: Unavailable) -> Error {
        Error::NoHealthyDeployment {
            model: m.name.clone(),
            reason: u.reason,
            retry_after: u.hint,
        }
    }

    /// A wait the router reports never exceeds `max_cooldown`: by then every deployment it
    /// cooled down is tried again (half-open), whatever the upstream asked.
    fn cap_wait(&self, e: Error) -> Error {
        match e.wait_hint() {
            Some(w) if w > self.defaults.max_cooldown => {
                e.with_wait_hint(self.defaults.max_cooldown)
            }
            _ => e,
        }
    }

    /// Routes a call: the model's own deployments, then its fallbacks.
    async fn route(
        self: &Arc<Self>,
        call: Call<'_>,
        ctx: &RequestContext,
    ) -> Result<(Out, Vec<Attempt>), RouteError> {
        let mut attempts = Vec::new();
        let fail = |error, attempts| RouteError {
            error: self.cap_wait(error),
            attempts,
        };
        let m = match self.model(call.model()) {
            Ok(m) => m,
            Err(e) => return Err(fail(e, attempts)),
        };
        let mut budget = m.timeout;
        if let Some(rem) = ctx.remaining() {
            budget = budget.min(rem);
        }
        let deadline = Instant::now() + budget;
        let err = match self
            .route_model(&m, call, ctx, deadline, &mut attempts)
            .await
        {
            Ok(out) => return Ok(self.finish(out, attempts)),
            Err(e) => e,
        };
        if !may_fall_back(&err) {
            return Err(fail(err, attempts));
        }
        let list = match &err {
            Error::ContextLengthExceeded { .. } if !m.cw_fallbacks.is_empty() => &m.cw_fallbacks,
            Error::ContentFiltered { .. } if !m.cf_fallbacks.is_empty() => &m.cf_fallbacks,
            _ => &m.fallbacks,
        };
        let mut last = err;
        for fb in list {
            if Instant::now() >= deadline {
                break;
            }
            let fm = match self.model(fb) {
                Ok(fm) => fm,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            tracing::info!(model = %m.name, fallback = %fb, error = %last, "falling back");
            self.stats.fallback(&m.name);
            match self
                .route_model(&fm, call, ctx, deadline, &mut attempts)
                .await
            {
                Ok(out) => return Ok(self.finish(out, attempts)),
                Err(e) => {
                    let stop = !may_fall_back(&e);
                    last = e;
                    if stop {
                        break;
                    }
                }
            }
        }
        Err(fail(last, attempts))
    }

    fn finish(&self, mut out: Out, attempts: Vec<Attempt>) -> (Out, Vec<Attempt>) {
        let meta = out.meta_mut();
        if let Some(last) = attempts.last() {
            meta.provider = Some(last.provider.clone());
            meta.deployment = Some(last.deployment.clone());
        }
        meta.attempts = Some(attempts.len() as u32);
        if let Ok(v) = serde_json::to_value(&attempts) {
            meta.annotations.insert("attempts".into(), v);
        }
        (out, attempts)
    }

    async fn route_model(
        self: &Arc<Self>,
        m: &Arc<LogicalModel>,
        call: Call<'_>,
        ctx: &RequestContext,
        deadline: Instant,
        attempts: &mut Vec<Attempt>,
    ) -> Result<Out> {
        let kind = call.kind();
        let want = Want {
            kind,
            needs: call.needs(),
        };
        let strategy = m.strategy_for(kind);
        let tokens = call.tokens();
        let mut avoid: Vec<usize> = Vec::new();
        let mut exclude: Vec<usize> = Vec::new();
        let mut last: Option<Error> = None;
        let mut retry_after: Option<Duration> = None;
        // True right after waiting out a hinted wait: no backoff on top of it.
        let mut waited = false;
        let mut n = 0;
        // Deployments this request tried at this model (a second try is a retry, a new one
        // a failover, in the router's metrics).
        let mut tried: Vec<usize> = Vec::new();
        while n < m.max_attempts {
            if ctx.cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            if Instant::now() >= deadline {
                break;
            }
            let chosen = match self
                .select_or_wait(m, want, strategy, &avoid, &exclude, tokens, deadline, ctx)
                .await
            {
                Ok(c) => c,
                Err(NoPick::Unavailable(e, soonest)) => {
                    // The deployment asked us to wait (Retry-After) and is blocked for no
                    // longer than that: wait for it, when the wait is short enough and fits
                    // the deadline, instead of giving up.
                    if let (Some(ra), Some(s)) = (retry_after.take(), soonest) {
                        if s <= ra + Duration::from_millis(5) && self.may_wait(s, deadline) {
                            tokio::select! {
                                biased;
                                _ = ctx.cancel.cancelled() => return Err(Error::Cancelled),
                                _ = tokio::time::sleep(s) => {}
                            }
                            waited = true;
                            continue;
                        }
                    }
                    // Attempts were made: their error says more than "none left", with the
                    // wait until the first deployment is back.
                    if let Some(e) = last.take() {
                        return Err(match soonest {
                            Some(s) => e.with_wait_hint(s),
                            None => e,
                        });
                    }
                    return Err(e);
                }
                Err(NoPick::Error(e)) => return Err(e),
            };
            if chosen.reused && n > 0 && !std::mem::take(&mut waited) {
                let wait = self.backoff(n).max(retry_after.unwrap_or_default());
                if !self.may_wait(wait, deadline) {
                    self.release(m, &chosen).await;
                    break;
                }
                tracing::debug!(model = %m.name, wait_ms = wait.as_millis() as u64, "backing off before retrying");
                tokio::select! {
                    biased;
                    _ = ctx.cancel.cancelled() => return Err(Error::Cancelled),
                    _ = tokio::time::sleep(wait) => {}
                }
            }
            n += 1;
            let d = m.deployments[chosen.idx].clone();
            let (res, attempt) = self
                .attempt(m, &d, &chosen, call, ctx, deadline, strategy, n)
                .await;
            attempts.push(attempt);
            self.stats.attempt(
                &m.name,
                chosen.idx,
                res.is_ok(),
                tried.is_empty(),
                tried.contains(&chosen.idx),
            );
            tried.push(chosen.idx);
            match res {
                Ok(out) => return Ok(out),
                Err(e) => {
                    let key_problem = chosen.key.is_some()
                        && matches!(
                            e,
                            Error::Authentication { .. } | Error::QuotaExhausted { .. }
                        );
                    match e.retryability() {
                        Retryability::Never => return Err(e),
                        Retryability::Retry { after } => {
                            retry_after = after;
                            avoid.push(chosen.idx);
                        }
                        Retryability::Failover if key_problem => {
                            retry_after = None;
                        }
                        Retryability::Failover => {
                            retry_after = None;
                            exclude.push(chosen.idx);
                        }
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| Error::Timeout {
            provider: self.name.clone(),
            model: m.name.clone(),
            phase: TimeoutPhase::Deadline,
            after: m.timeout,
        }))
    }

    /// Whether a wait for the same deployment is worth it: no longer than `max_retry_wait`
    /// and ending before the deadline.
    fn may_wait(&self, wait: Duration, deadline: Instant) -> bool {
        wait <= self.defaults.max_retry_wait && Instant::now() + wait < deadline
    }

    fn backoff(&self, n: u32) -> Duration {
        let base = self.defaults.backoff_base.as_secs_f64();
        let max = self.defaults.backoff_max.as_secs_f64();
        let exp = (base * 2f64.powi(n.saturating_sub(1).min(30) as i32)).min(max);
        // Equal jitter: half fixed, half random.
        Duration::from_secs_f64(exp / 2.0 + rand::rng().random_range(0.0..=exp / 2.0))
    }

    /// Gives back what a selection took when the attempt is not made.
    async fn release(&self, m: &LogicalModel, c: &Chosen) {
        let d = &m.deployments[c.idx];
        self.release_trial(d, c.trial).await;
        if let Some(w) = c.window {
            let _ = self
                .store
                .adjust_tokens(&d.skeys.rate, w, -(c.tokens as i64))
                .await;
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        self: &Arc<Self>,
        m: &Arc<LogicalModel>,
        d: &Arc<Deployment>,
        c: &Chosen,
        call: Call<'_>,
        ctx: &RequestContext,
        deadline: Instant,
        strategy: Strategy,
        n: u32,
    ) -> (Result<Out>, Attempt) {
        let span = tracing::info_span!(
            "router.attempt",
            model = %m.name,
            deployment = %d.name,
            provider = %d.provider_name,
            strategy = strategy.as_str(),
            attempt = n,
            trial = c.trial,
            outcome = tracing::field::Empty,
        );
        let mut actx = ctx.clone();
        let left = deadline.saturating_duration_since(Instant::now());
        actx.deadline = Some(std::time::Instant::now() + left);
        if let Some((_, k)) = &c.key {
            actx.api_key = Some(k.clone());
        }
        let start = Instant::now();
        let guard = InFlight::new(&d.in_flight);
        let fut = self.call_deployment(d, call, &actx, guard);
        let res = tokio::select! {
            biased;
            _ = ctx.cancel.cancelled() => Err(Error::Cancelled),
            r = tokio::time::timeout_at(deadline, fut.instrument(span.clone())) => match r {
                Ok(r) => r,
                Err(_) => Err(Error::Timeout {
                    provider: d.provider_name.clone(),
                    model: d.model.clone(),
                    phase: TimeoutPhase::Deadline,
                    after: left,
                }),
            },
        };
        let latency = start.elapsed();
        let outcome = match &res {
            Ok(_) => "ok",
            Err(e) => e.kind(),
        };
        span.record("outcome", outcome);
        let attempt = Attempt {
            model: m.name.clone(),
            deployment: d.name.to_string(),
            provider: d.provider_name.clone(),
            strategy: strategy.as_str(),
            outcome: outcome.to_owned(),
            error: res.as_ref().err().map(ToString::to_string),
            key_index: c.key.as_ref().map(|(k, _)| *k),
            trial: c.trial,
            latency_ms: latency.as_secs_f64() * 1000.0,
        };
        let res = match res {
            Ok(out) => {
                d.ewma(call.kind()).observe(latency);
                self.on_success(d, c).await;
                if let Some(u) = out.usage() {
                    self.correct_tokens_chosen(m, d, c, &u).await;
                }
                Ok(match out {
                    // The stream corrects tokens and counts failures when it ends.
                    Out::Held(h) => Out::Stream(RoutedStream::into_chat_stream(
                        h,
                        StreamDone {
                            inner: self.clone(),
                            model: m.clone(),
                            deployment: d.clone(),
                            window: c.window,
                            tokens: c.tokens,
                            key: c.key.as_ref().map(|(k, _)| *k),
                        },
                    )),
                    other => other,
                })
            }
            Err(e) => {
                tracing::info!(parent: &span, error = %e, "attempt failed");
                if counts_as_failure(&e) {
                    d.ewma(call.kind()).observe(latency);
                }
                // A failed request keeps its token estimate charged: the upstream may have
                // counted it.
                self.on_failure(d, c, &e).await;
                Err(e)
            }
        };
        (res, attempt)
    }

    async fn call_deployment(
        &self,
        d: &Arc<Deployment>,
        call: Call<'_>,
        ctx: &RequestContext,
        guard: InFlight,
    ) -> Result<Out> {
        let p = &d.provider;
        match call {
            Call::Chat(r) => {
                let mut r = r.clone();
                r.model.clone_from(&d.model);
                let out = p.chat(&r, ctx).await.map(Out::Chat);
                drop(guard);
                out
            }
            Call::Complete(r) => {
                let mut r = r.clone();
                r.model.clone_from(&d.model);
                let out = p.complete(&r, ctx).await.map(Out::Complete);
                drop(guard);
                out
            }
            Call::Embed(r) => {
                let mut r = r.clone();
                r.model.clone_from(&d.model);
                let out = p.embed(&r, ctx).await.map(Out::Embed);
                drop(guard);
                out
            }
            Call::Rerank(r) => {
                let mut r = r.clone();
                r.model.clone_from(&d.model);
                let out = p.rerank(&r, ctx).await.map(Out::Rerank);
                drop(guard);
                out
            }
            Call::Stream(_) | Call::CompleteStream(_) => {
                let ttft = d.ttft_timeout;
                let open = async {
                    let s = match call {
                        Call::Stream(r) => {
                            let mut r = r.clone();
                            r.model.clone_from(&d.model);
                            p.chat_stream(&r, ctx).await?
                        }
                        Call::CompleteStream(r) => {
                            let mut r = r.clone();
                            r.model.clone_from(&d.model);
                            p.complete_stream(&r, ctx).await?
                        }
                        _ => return Err(Error::unsupported(&self.name, "stream")),
                    };
                    hold_back(
                        s,
                        self.defaults.stream_holdback_events,
                        self.defaults.stream_holdback_bytes,
                    )
                    .await
                };
                match tokio::time::timeout(ttft, open).await {
                    Ok(Ok((stream, held))) => Ok(Out::Held(HeldStream {
                        stream,
                        held,
                        guard,
                    })),
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(Error::Timeout {
                        provider: d.provider_name.clone(),
                        model: d.model.clone(),
                        phase: TimeoutPhase::FirstToken,
                        after: ttft,
                    }),
                }
            }
        }
    }

    async fn on_success(&self, d: &Deployment, c: &Chosen) {
        d.breaker.success();
        if c.trial {
            d.breaker.reset();
            tracing::info!(deployment = %d.name, "half-open trial succeeded; circuit closed");
            let _ = self
                .store
                .clear_flags(&[
                    d.skeys.trip.as_str(),
                    d.skeys.fail.as_str(),
                    d.skeys.trial.as_str(),
                ])
                .await;
        }
    }

    /// Replaces the token estimate by the real usage.
    pub(crate) async fn correct_tokens(
        &self,
        m: &LogicalModel,
        d: &Deployment,
        window: Option<u64>,
        estimate: u64,
        usage: &Usage,
    ) {
        let Some(w) = window else { return };
        if d.limits.tpm.is_none() {
            return;
        }
        let real = if usage.total_tokens > 0 {
            usage.total_tokens
        } else {
            usage.prompt_tokens + usage.completion_tokens
        };
        let delta = real as i64 - estimate as i64;
        if delta == 0 {
            return;
        }
        if let Err(e) = self.store.adjust_tokens(&d.skeys.rate, w, delta).await {
            tracing::warn!(error = %e, deployment = %d.name, "could not correct token count");
        }
        if delta < 0 {
            m.queue.notify.notify_waiters();
        }
    }

    pub(crate) async fn on_failure(&self, d: &Deployment, c: &Chosen, e: &Error) {
        self.failure(d, c.trial, c.key.as_ref().map(|(k, _)| *k), e)
            .await;
    }

    /// Passive health: dead keys, retry-after blocks, failure counting and cooldown.
    pub(crate) async fn failure(&self, d: &Deployment, trial: bool, key: Option<usize>, e: &Error) {
        d.recent_errors.push(e);
        let store = &self.store;
        if let (Some(k), Error::Authentication { .. } | Error::QuotaExhausted { .. }) = (key, e) {
            tracing::warn!(deployment = %d.name, key_index = k, error = %e, "key rejected; skipping it until the recheck");
            if let Some(name) = d.skeys.keys.get(k) {
                let _ = store.set_flag(name, self.defaults.dead_key_recheck).await;
            }
            self.release_trial(d, trial).await;
            return;
        }
        // A half-open trial that runs into the deadline failed its trial too.
        let trial_timeout = trial && matches!(e, Error::Timeout { .. });
        if !counts_as_failure(e) && !trial_timeout {
            self.release_trial(d, trial).await;
            return;
        }
        if let Some(ra) = e.retry_after() {
            // The upstream said when to come back (429, 503 with Retry-After): every router
            // sharing the store skips this deployment until then — for at most
            // `max_cooldown`, after which one half-open trial probes it (a `Retry-After:
            // 86400` must not take a deployment away for a day).
            let max = self.defaults.max_cooldown;
            let _ = store.set_flag(&d.skeys.cool, ra.min(max)).await;
            if ra > max {
                tracing::warn!(deployment = %d.name, asked_s = ra.as_secs_f64(), cooldown_s = max.as_secs_f64(), "upstream asked for a wait longer than max_cooldown; cooling down for max_cooldown, then a half-open trial");
                let _ = store.set_flag(&d.skeys.trip, trip_ttl(max)).await;
            }
        }
        let cooldown = self.defaults.cooldown;
        // A failed half-open trial opens the circuit again; otherwise the breaker decides
        // (failures in a row at low volume, the failure rate at volume).
        let trip = d.breaker.failure();
        if trial || trip.is_some() {
            let why = trip.map_or_else(|| "half-open trial failed".to_owned(), |t| t.to_string());
            tracing::warn!(deployment = %d.name, error = %e, cooldown_s = cooldown.as_secs_f64(), trial, why, "deployment cooled down (circuit open)");
            if trial {
                d.breaker.reset();
            }
            let _ = store.set_flag(&d.skeys.cool, cooldown).await;
            let _ = store.set_flag(&d.skeys.trip, trip_ttl(cooldown)).await;
            let _ = store
                .clear_flags(&[d.skeys.fail.as_str(), d.skeys.trial.as_str()])
                .await;
        }
    }
}

impl Inner {
    async fn correct_tokens_chosen(&self, m: &LogicalModel, d: &Deployment, c: &Chosen, u: &Usage) {
        self.correct_tokens(m, d, c.window, c.tokens, u).await;
    }
}

/// How long the "half-open" mark outlives a cooldown of `cooldown`.
fn trip_ttl(cooldown: Duration) -> Duration {
    (cooldown * 10).max(Duration::from_secs(600))
}

struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[async_trait]
impl Provider for Router {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::new().list_models(true);
        for m in self.inner.models.values() {
            for d in &m.deployments {
                let c = d.caps;
                caps.chat |= c.chat;
                caps.streaming |= c.streaming;
                caps.tools |= c.tools;
                caps.vision |= c.vision;
                caps.json_schema |= c.json_schema;
                caps.completion |= c.completion || c.chat;
                caps.embeddings |= c.embeddings;
                caps.rerank |= c.rerank;
                if c.embeddings {
                    caps.max_embedding_inputs =
                        match (caps.max_embedding_inputs, c.max_embedding_inputs) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                }
            }
        }
        caps
    }

    async fn chat(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatResponse> {
        self.chat_routed(req, ctx)
            .await
            .map(|r| r.value)
            .map_err(|e| e.report(ctx))
    }

    async fn chat_stream(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatStream> {
        self.chat_stream_routed(req, ctx)
            .await
            .map(|r| r.value)
            .map_err(|e| e.report(ctx))
    }

    async fn complete(
        &self,
        req: &CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<CompletionResponse> {
        match self.inner.route(Call::Complete(req), ctx).await {
            Ok((Out::Complete(r), _)) => Ok(r),
            Ok((_, a)) => Err(internal(a).error),
            Err(e) => Err(e.report(ctx)),
        }
    }

    async fn complete_stream(
        &self,
        req: &CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        match self.inner.route(Call::CompleteStream(req), ctx).await {
            Ok((Out::Stream(s), _)) => Ok(s),
            Ok((_, a)) => Err(internal(a).error),
            Err(e) => Err(e.report(ctx)),
        }
    }

    async fn embed(
        &self,
        req: &EmbeddingRequest,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        self.embed_routed(req, ctx)
            .await
            .map(|r| r.value)
            .map_err(|e| e.report(ctx))
    }

    /// The deployments of the logical model are asked in their configured order; the first
    /// that can count answers (counting spends nothing, so no routing state is touched).
    /// Deployments whose upstream cannot count are skipped; when none can, `Unsupported`.
    async fn count_tokens(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<u64> {
        let m = self.inner.model(&req.model)?;
        let mut last = None;
        for d in &m.deployments {
            let mut r = req.clone();
            r.model.clone_from(&d.model);
            let mut c = ctx.clone();
            if !d.keys.is_empty() {
                c.api_key = crate::health::first_live_key(&self.inner, d).await;
            }
            match d.provider.count_tokens(&r, &c).await {
                Ok(n) => return Ok(n),
                Err(Error::Unsupported { .. }) => {}
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::unsupported(&self.inner.name, "count_tokens")))
    }

    async fn rerank(&self, req: &RerankRequest, ctx: &RequestContext) -> Result<RerankResponse> {
        self.rerank_routed(req, ctx)
            .await
            .map(|r| r.value)
            .map_err(|e| e.report(ctx))
    }

    fn models(&self) -> Vec<ModelInfo> {
        self.inner
            .order
            .iter()
            .filter_map(|n| self.inner.models.get(n))
            .map(|m| self.model_info(m))
            .collect()
    }

    async fn list_models(&self, _ctx: &RequestContext) -> Result<Vec<ModelInfo>> {
        Ok(self.models())
    }

    /// Healthy when every logical model has at least one deployment that is neither down
    /// nor cooling down.
    async fn health(&self, _ctx: &RequestContext) -> Result<HealthStatus> {
        let start = std::time::Instant::now();
        let mut bad = Vec::new();
        for name in &self.inner.order {
            let Ok(m) = self.inner.model(name) else {
                continue;
            };
            let flags = self.inner.flags(&m).await;
            let up = (0..m.deployments.len())
                .filter(|i| flags[3 * i].is_none() && flags[3 * i + 2].is_none())
                .count();
            if up == 0 {
                bad.push(name.clone());
            }
        }
        Ok(HealthStatus {
            healthy: bad.is_empty(),
            latency: start.elapsed(),
            detail: if bad.is_empty() {
                format!("{} logical models routable", self.inner.order.len())
            } else {
                format!("no available deployment for: {}", bad.join(", "))
            },
        })
    }
}
