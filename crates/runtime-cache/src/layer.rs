//! [`CacheLayer`]: the `[cache]` section as a [`Layer`] of the runtime's stack.

use std::sync::Arc;

use runtime_core::layer::Layer;
use runtime_core::{Result, Service};

use crate::{
    BatchConfig, CacheConfig, CacheStats, CachedProvider, EmbeddingBatcher, ResponseCache,
};

/// Wraps a service in a [`CachedProvider`]: the response cache (when `enabled`) and the
/// embedding batcher (when `embedding_batch.enabled`), counting into one [`CacheStats`].
#[derive(Debug, Clone)]
pub struct CacheLayer {
    cache: Option<ResponseCache>,
    batcher: Option<EmbeddingBatcher>,
    stats: Arc<CacheStats>,
}

impl CacheLayer {
    /// The layer the section describes, or `None` when it turns both the cache and the
    /// batcher off. A bad section is an error naming the field.
    pub fn from_config(config: &CacheConfig) -> Result<Option<Self>> {
        let cache = if config.enabled {
            Some(ResponseCache::from_config(config)?)
        } else {
            None
        };
        Ok(Self::assemble(cache, config))
    }

    /// Like [`CacheLayer::from_config`], a Redis backend on `redis` (the runtime's shared
    /// connection) instead of one of its own.
    #[cfg(feature = "redis")]
    pub fn from_config_with_redis(
        config: &CacheConfig,
        redis: Option<runtime_redis::Redis>,
    ) -> Result<Option<Self>> {
        let cache = if config.enabled {
            Some(ResponseCache::from_config_with_redis(config, redis)?)
        } else {
            None
        };
        Ok(Self::assemble(cache, config))
    }

    fn assemble(cache: Option<ResponseCache>, config: &CacheConfig) -> Option<Self> {
        let batch: Option<BatchConfig> = config
            .embedding_batch
            .enabled
            .then_some(config.embedding_batch);
        if cache.is_none() && batch.is_none() {
            return None;
        }
        let stats = cache
            .as_ref()
            .map(|c| c.stats().clone())
            .unwrap_or_default();
        let batcher = batch.map(|b| EmbeddingBatcher::with_stats(b, stats.clone()));
        Some(Self {
            cache,
            batcher,
            stats,
        })
    }

    /// The counters every service this layer wraps counts into.
    pub fn stats(&self) -> &Arc<CacheStats> {
        &self.stats
    }
}

impl Layer for CacheLayer {
    fn layer(&self, inner: Arc<dyn Service>) -> Arc<dyn Service> {
        let mut cached =
            CachedProvider::from_parts_with_stats(inner, self.cache.clone(), self.stats.clone());
        if let Some(b) = &self.batcher {
            cached = cached.with_batcher(b.clone());
        }
        Arc::new(cached)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_that_turns_everything_off_is_no_layer() {
        let mut off = CacheConfig {
            enabled: false,
            ..CacheConfig::default()
        };
        off.embedding_batch.enabled = false;
        let none = CacheLayer::from_config(&off).unwrap_or_else(|e| panic!("{e}"));
        assert!(none.is_none());
        // The batcher alone is a layer (no response cache).
        off.embedding_batch.enabled = true;
        let batching = CacheLayer::from_config(&off).unwrap_or_else(|e| panic!("{e}"));
        assert!(batching.is_some_and(|l| l.cache.is_none() && l.batcher.is_some()));
    }
}
