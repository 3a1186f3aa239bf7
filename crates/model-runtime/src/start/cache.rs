//! The `[cache]` section as a layer: the response cache and the embedding batcher.

use crate::config::{Config, ConfigError};

use super::redis::Hub;

/// The cache layer (with the `cache` feature; otherwise the layer that changes nothing).
#[cfg(feature = "cache")]
pub(super) type CacheLayer = runtime_cache::CacheLayer;
/// The cache layer (with the `cache` feature; otherwise the layer that changes nothing).
#[cfg(not(feature = "cache"))]
pub(super) type CacheLayer = runtime_core::layer::Identity;

/// The layer `[cache]` describes, `None` when it is off. A Redis backend takes the runtime's
/// shared connection.
#[cfg(feature = "cache")]
pub(super) fn layer(config: &Config, redis: &Hub) -> Result<Option<CacheLayer>, ConfigError> {
    let cc: runtime_cache::CacheConfig =
        super::section::section(config, "cache", config.cache.as_ref())?;
    let invalid = |e: runtime_core::Error| config.invalid("cache", e.to_string());
    #[cfg(feature = "redis")]
    {
        let handle = if cc.enabled && cc.backend == runtime_cache::BackendKind::Redis {
            let base = config.redis_config()?;
            let rcfg = cc.redis_config(base.as_ref());
            rcfg.validate("cache").map_err(invalid)?;
            Some(redis.get(config, &rcfg, "cache")?)
        } else {
            None
        };
        CacheLayer::from_config_with_redis(&cc, handle).map_err(invalid)
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = redis;
        CacheLayer::from_config(&cc).map_err(invalid)
    }
}

/// Without the `cache` feature: no layer, and a `[cache]` that asks for one is an error.
#[cfg(not(feature = "cache"))]
pub(super) fn layer(config: &Config, _redis: &Hub) -> Result<Option<CacheLayer>, ConfigError> {
    super::section::refuse_if_on(
        config,
        "cache",
        config.cache.as_ref(),
        "the response cache needs the `cache` feature",
    )?;
    Ok(None)
}
