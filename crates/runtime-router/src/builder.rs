//! Building a [`Router`]: configuration, validation, provider resolution, the state store
//! and the start of active health checks.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use parking_lot::Mutex;
use runtime_core::http::HttpClient;
use runtime_core::{Error, Provider, ProviderService, Result, Secret, Service};

use crate::breaker::{Breaker, BreakerConfig};
use crate::config::{DeploymentConfig, ModelConfig, RouterConfig, RouterDefaults, expand_env};
use crate::deployment::{Deployment, Ewma, HealthProbe, state_keys};
use crate::inner::Inner;
use crate::model::{LogicalModel, Queue};
use crate::router::Router;
use crate::state::{MemoryStore, RateLimits, StateStore};
use crate::stats::Stats;

/// Resolves a provider instance name to the service a deployment calls (the facade passes
/// its registry lookup, each provider wrapped in the attempt meter).
pub type Resolver = Arc<dyn Fn(&str) -> Result<Arc<dyn Service>> + Send + Sync>;

/// Builds a [`Router`].
pub struct RouterBuilder {
    name: String,
    config: RouterConfig,
    resolver: Option<Resolver>,
    providers: HashMap<String, Arc<dyn Service>>,
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
        f: impl Fn(&str) -> Result<Arc<dyn Service>> + Send + Sync + 'static,
    ) -> Self {
        self.resolver = Some(Arc::new(f));
        self
    }

    /// Gives a provider instance directly, under `name`.
    pub fn provider(self, name: impl Into<String>, p: Arc<dyn Provider>) -> Self {
        self.service(name, ProviderService::shared(p))
    }

    /// Gives a deployment's service directly (a provider behind layers of its own), under
    /// `name`.
    pub fn service(mut self, name: impl Into<String>, s: Arc<dyn Service>) -> Self {
        self.providers.insert(name.into(), s);
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
                    queue: Queue::new(),
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
        let stats = Stats::new(&models);
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
        resolver: impl Fn(&str) -> Result<Arc<dyn Service>> + Send + Sync + 'static,
    ) -> Result<Router> {
        Router::builder()
            .config(config)
            .resolver(resolver)
            .build_async()
            .await
    }
}
