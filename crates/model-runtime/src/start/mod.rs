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

use std::sync::Arc;

use runtime_core::layer::Stack;

use crate::config::{Config, ConfigError};
use crate::{Dispatcher, Runtime, readiness};

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
        ready_state: readiness::Tracker::default(),
    })
}

/// A section's table as `T` (its default when absent), an error naming `key` otherwise.
#[cfg(any(feature = "cache", feature = "metrics"))]
pub(crate) fn section<T: serde::de::DeserializeOwned + Default>(
    config: &Config,
    key: &str,
    table: Option<&toml::Table>,
) -> Result<T, ConfigError> {
    match table {
        None => Ok(T::default()),
        Some(t) => toml::Value::Table(t.clone())
            .try_into()
            .map_err(|e: toml::de::Error| config.invalid(key, e.message().to_owned())),
    }
}

/// Refuses a section that is present and not `enabled = false` when the feature is off.
#[cfg(any(not(feature = "cache"), not(feature = "metrics")))]
fn refuse_if_on(
    config: &Config,
    key: &str,
    table: Option<&toml::Table>,
    why: &str,
) -> Result<(), ConfigError> {
    if table.is_some_and(|c| c.get("enabled") != Some(&toml::Value::Boolean(false))) {
        return Err(config.invalid(key, why));
    }
    Ok(())
}
