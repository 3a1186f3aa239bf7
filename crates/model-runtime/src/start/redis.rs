//! The `[redis]` section: one connection per distinct configuration, shared by the router,
//! the cache and the gateway's key limits (`shared_redis`).

use crate::config::{Config, ConfigError};

/// The runtime's Redis connections (nothing without the `redis` feature).
pub(super) struct Hub {
    #[cfg(feature = "redis")]
    shared: std::sync::Arc<crate::shared_redis::SharedRedis>,
}

impl Hub {
    /// Validates `[redis]`; refuses it without the `redis` feature.
    pub(super) fn from_config(config: &Config) -> Result<Self, ConfigError> {
        #[cfg(feature = "redis")]
        {
            config.redis_config()?;
            Ok(Self {
                shared: std::sync::Arc::default(),
            })
        }
        #[cfg(not(feature = "redis"))]
        {
            if config.redis.is_some() {
                return Err(
                    config.invalid("redis", "shared state in Redis needs the `redis` feature")
                );
            }
            Ok(Self {})
        }
    }

    /// The handle for `cfg`, shared with every component using the same configuration.
    #[cfg(feature = "redis")]
    #[cfg_attr(not(any(feature = "router", feature = "cache")), allow(dead_code))]
    pub(super) fn get(
        &self,
        config: &Config,
        cfg: &runtime_redis::RedisConfig,
        component: &str,
    ) -> Result<runtime_redis::Redis, ConfigError> {
        self.shared
            .get(cfg, component)
            .map_err(|e| config.invalid(component, e.to_string()))
    }

    /// Connects in the background (unless validating only), so `/ready` and the first
    /// request see the real state.
    pub(super) fn warm(&self, offline: bool) {
        #[cfg(feature = "redis")]
        if !offline {
            self.shared.warm();
        }
        let _ = offline;
    }

    /// The connections, kept by the runtime.
    #[cfg(feature = "redis")]
    pub(super) fn into_shared(self) -> std::sync::Arc<crate::shared_redis::SharedRedis> {
        self.shared
    }
}
