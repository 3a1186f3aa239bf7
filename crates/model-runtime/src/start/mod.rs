//! Assembling a [`Runtime`] from its configuration: one module per layer, each a builder that
//! reads its own section and yields its part (a [`Layer`](runtime_core::layer::Layer), the
//! router, the meter), stacked in one place:
//!
//! ```text
//! Stack::new(Dispatcher(registry, router))   provider/model → provider; logical → router
//!     .layer(cache)                          [cache]: response cache and embedding batcher
//!     .layer(meter)                          [metrics] + [storage]: metrics, cost, usage rows
//! ```
//!
//! A module whose feature is off still checks its section: one that asks for the feature is
//! an error naming it, never silently ignored.

mod cache;
mod metering;
mod providers;
mod redis;
mod router;
mod section;

use std::path::Path;
use std::sync::Arc;

use runtime_core::layer::Stack;

use crate::config::{Config, ConfigError};
use crate::dispatch::Dispatcher;
use crate::ready_state::Tracker;
use crate::runtime::Runtime;

/// Builds every layer `config` describes.
///
/// With a feature off, its stage's value is `()` (the types in each module say so). `offline`: validate only (no Redis connection, no
/// database migration, no health probe).
#[allow(clippy::let_unit_value)]
pub(crate) async fn assemble(mut config: Config, offline: bool) -> Result<Runtime, ConfigError> {
    let redis = redis::Hub::from_config(&config)?;
    let registry = providers::build(&mut config)?;
    let pricing = metering::pricing(&config)?;
    let (routes, pricing) = router::config(&config, pricing)?;
    let metering = metering::start(&config, pricing, offline).await?;
    let router = router::build(&config, routes, &registry, &metering, &redis, offline).await?;
    let (logical_provider, logical) = router::logical(&router);
    let cache = cache::layer(&config, &redis)?;
    #[cfg(feature = "cache")]
    let cache_stats = cache.as_ref().map(|c| c.stats().clone());
    let stack = Stack::new(Arc::new(Dispatcher::new(
        registry.clone(),
        logical_provider,
        logical.clone(),
    )))
    .layer(cache)
    .layer(metering::layer(&metering))
    .into_service();
    redis.warm(offline);
    Ok(Runtime {
        registry,
        stack,
        config,
        logical,
        #[cfg(feature = "router")]
        router,
        #[cfg(feature = "cache")]
        cache_stats,
        #[cfg(feature = "metrics")]
        metering,
        #[cfg(feature = "redis")]
        redis: redis.into_shared(),
        ready_state: Tracker::default(),
    })
}

impl Runtime {
    /// Reads a TOML file and starts the runtime.
    pub async fn load(path: &Path) -> std::result::Result<Self, ConfigError> {
        Self::start(Config::from_file(path)?).await
    }

    /// Parses TOML text (`source` names it in errors) and starts the runtime.
    pub async fn from_toml_str(text: &str, source: &str) -> std::result::Result<Self, ConfigError> {
        Self::start(Config::from_toml_str(text, source)?).await
    }

    /// Builds everything a configuration describes: every `[providers.*]` instance is validated
    /// and built now (a bad config fails at start, naming the key), then the router, the cache
    /// and metrics (usage store and writer) when their features are enabled.
    pub async fn start(config: Config) -> std::result::Result<Self, ConfigError> {
        Self::start_with(config, false).await
    }

    /// Validates a configuration the way [`Runtime::start`] does, building every layer,
    /// without connecting to anything: no Redis connection, no usage-database migration, no
    /// health probe. Shut the result down (or drop it) when done.
    pub async fn check(config: Config) -> std::result::Result<Self, ConfigError> {
        Self::start_with(config, true).await
    }

    async fn start_with(config: Config, offline: bool) -> std::result::Result<Self, ConfigError> {
        assemble(config, offline).await
    }
}
