//! The gateway's shared state ([`Gateway`], one `Arc` every handler holds) and the request id
//! a request carries ([`RequestId`]); below every route, so any module may import it.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::http::HeaderMap;
use model_runtime::{Client, RequestContext, Runtime};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::auth::{Auth, Principal};
use crate::config::GatewayConfig;
use crate::listener::Connections;

/// The request id of the request being served (the client's `x-request-id` or a new one).
#[derive(Debug, Clone)]
pub struct RequestId(pub Arc<str>);

/// Everything a request handler needs, shared behind one `Arc` (never cloned per request).
pub struct Gateway {
    pub(crate) runtime: Runtime,
    pub(crate) provider: Client,
    pub(crate) config: GatewayConfig,
    pub(crate) auth: Auth,
    pub(crate) logical: Vec<String>,
    /// The client connections (limits, counters, drain state).
    pub(crate) conns: Arc<Connections>,
    /// In-flight requests and streams (the drain waits for them).
    pub(crate) tracker: TaskTracker,
    /// Cancelled when the drain deadline passes: what still runs ends.
    pub(crate) hard_stop: CancellationToken,
    /// True once `hard_stop` is cancelled (a cheap check for the streaming hot path).
    pub(crate) stopping: Arc<AtomicBool>,
    /// Database keys, teams and budgets (`[gateway.governance]`), set once at start.
    pub(crate) governor: std::sync::OnceLock<Arc<crate::govern::Governor>>,
    /// HTTP metrics and the access log (`observe`).
    pub(crate) observe: Arc<crate::observe::HttpMetrics>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// A gateway serving `runtime`'s stack with these settings.
    pub fn new(runtime: Runtime, config: GatewayConfig) -> Arc<Self> {
        // Key limits share the runtime's Redis handle (one connection with the router and the
        // cache when they use the same Redis); nothing connects here.
        let redis = config.redis.as_ref().and_then(|r| {
            runtime
                .redis_handle(&r.config, "gateway")
                .map_err(|e| tracing::warn!(error = %e, "gateway Redis unusable; key limits count per process"))
                .ok()
        });
        Arc::new(Self {
            provider: runtime.client(),
            auth: Auth::new(&config, redis),
            logical: runtime.logical_models(),
            conns: Connections::new(config.connections),
            runtime,
            config,
            tracker: TaskTracker::new(),
            hard_stop: CancellationToken::new(),
            stopping: Arc::new(AtomicBool::new(false)),
            governor: std::sync::OnceLock::new(),
            observe: Arc::default(),
        })
    }

    /// Turns governance on: database keys are accepted from now on.
    pub fn set_governor(&self, g: Arc<crate::govern::Governor>) {
        self.auth.set_governance(g.gov.clone());
        let _ = self.governor.set(g);
    }

    /// Governance, when on.
    pub fn governor(&self) -> Option<&Arc<crate::govern::Governor>> {
        self.governor.get()
    }

    /// The key checks (master, TOML and database keys).
    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// The `/metrics` exposition as the OTLP metrics export reads it at every interval
    /// ([`crate::otel::start_metrics`]).
    pub fn metrics_source(self: &Arc<Self>) -> crate::otel::MetricsSource {
        let gw = self.clone();
        Arc::new(move || {
            let gw = gw.clone();
            Box::pin(async move { gw.metrics_text().await })
        })
    }

    /// The Prometheus text `GET /metrics` answers: the runtime's families, the connections',
    /// the HTTP server's and the OTLP exporters'. The OTLP metrics export reads the same.
    pub async fn metrics_text(&self) -> String {
        let mut text = self.runtime.render_metrics().await;
        self.conns.render_metrics(&mut text);
        self.observe.render(&mut text);
        crate::otel::render(&mut text);
        text
    }

    /// The runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The settings.
    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    /// The client connections: counters, the cap in force, whether draining.
    pub fn connections(&self) -> &Arc<Connections> {
        &self.conns
    }

    /// The stack every call goes through (dispatcher, router, cache, metrics).
    pub(crate) fn stack(&self) -> &Client {
        &self.provider
    }

    /// The per-request context of a call (see `context`).
    pub(crate) fn request_context(
        &self,
        id: &RequestId,
        who: &Principal,
        headers: &HeaderMap,
    ) -> RequestContext {
        self.context(id, who, headers)
    }

    pub(crate) fn context(
        &self,
        id: &RequestId,
        who: &Principal,
        headers: &HeaderMap,
    ) -> RequestContext {
        let mut ctx = RequestContext::with_id(&*id.0).with_timeout(self.config.request_timeout);
        ctx.key_id.clone_from(&who.key_id);
        ctx.cache = cache_control(headers);
        crate::observe::attach(&mut ctx);
        ctx
    }
}

fn cache_control(headers: &HeaderMap) -> model_runtime::CacheControl {
    model_runtime::cache::cache_control_from_headers(headers)
}
