//! [`SharedStore`]: Redis while it answers, this process's memory while it does not.
//!
//! Shared state is an optimisation: a router must keep routing, limiting and cooling down
//! when Redis is refused, hung, slow or flapping. Every operation goes to Redis through the
//! handle's breaker; when the breaker is open (or opens on this call) the same operation is
//! answered by a [`MemoryStore`] at once, so a dead Redis costs a request microseconds, not
//! a connect timeout. Each replica then enforces the limits on its own. When the handle
//! comes back up, the first operation pushes what was kept locally (flags with their time
//! left, this window's counts) to Redis and empties the local store: the fleet shares one
//! budget again, and what was served during the outage counts against it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use runtime_core::Result;
use runtime_redis::{RedisError, RedisState};

use crate::redis_store::RedisStore;
use crate::state::{Acquire, MemoryStore, RateLimits, StateStore, WindowUsage};

/// Shared state in Redis with a local fallback (what the router builds from a Redis handle).
#[derive(Debug)]
pub struct SharedStore {
    redis: RedisStore,
    local: MemoryStore,
    synced_epoch: AtomicU64,
    sync: tokio::sync::Mutex<()>,
}

impl SharedStore {
    /// Over `redis`, falling back to an empty local store.
    pub fn new(redis: RedisStore) -> Self {
        Self {
            redis,
            local: MemoryStore::new(),
            synced_epoch: AtomicU64::new(0),
            sync: tokio::sync::Mutex::new(()),
        }
    }

    /// The Redis side.
    pub fn redis(&self) -> &RedisStore {
        &self.redis
    }

    /// The local side (what answers while Redis is down).
    pub fn local(&self) -> &MemoryStore {
        &self.local
    }

    /// Pushes local state to Redis once per recovery (by the first call that sees it).
    async fn resync(&self) {
        let h = self.redis.redis();
        let epoch = h.epoch();
        if epoch == self.synced_epoch.load(Ordering::Acquire) || h.state() != RedisState::Up {
            return;
        }
        let _guard = self.sync.lock().await;
        if epoch == self.synced_epoch.load(Ordering::Acquire) {
            return;
        }
        if !self.local.is_empty() {
            let snap = self.local.take();
            match self.redis.merge(&snap).await {
                Ok(()) => tracing::info!(
                    flags = snap.flags.len(),
                    counters = snap.counters.len(),
                    "router state kept locally during the Redis outage was pushed back"
                ),
                Err(e) => {
                    tracing::debug!(error = %e, "router state re-sync failed; retried on recovery");
                    // Keep what was not pushed: the next recovery tries again.
                    for (k, ttl) in &snap.flags {
                        let _ = self.local.set_flag(k, *ttl).await;
                    }
                    return;
                }
            }
        }
        self.synced_epoch.store(epoch, Ordering::Release);
    }

    async fn either<T, FR, FL>(&self, shared: FR, local: FL) -> Result<T>
    where
        FR: Future<Output = std::result::Result<T, RedisError>>,
        FL: Future<Output = Result<T>>,
    {
        if self.redis.redis().state() == RedisState::Down {
            return local.await;
        }
        self.resync().await;
        match shared.await {
            Ok(v) => Ok(v),
            Err(_) => local.await,
        }
    }
}

#[async_trait]
impl StateStore for SharedStore {
    async fn set_flag(&self, key: &str, ttl: Duration) -> Result<()> {
        self.either(
            self.redis.try_set_flag(key, ttl),
            self.local.set_flag(key, ttl),
        )
        .await
    }

    async fn clear_flags(&self, keys: &[&str]) -> Result<()> {
        // Cleared on both sides: a flag set locally during an outage must not come back
        // with the next re-sync.
        let _ = self.local.clear_flags(keys).await;
        self.either(self.redis.try_clear_flags(keys), async { Ok(()) })
            .await
    }

    async fn flags(&self, keys: &[&str]) -> Result<Vec<Option<Duration>>> {
        self.either(self.redis.try_flags(keys), self.local.flags(keys))
            .await
    }

    async fn try_lock(&self, key: &str, ttl: Duration) -> Result<bool> {
        self.either(self.redis.try_lock(key, ttl), self.local.try_lock(key, ttl))
            .await
    }

    async fn record_failure(&self, key: &str, window: Duration) -> Result<u64> {
        self.either(
            self.redis.try_record_failure(key, window),
            self.local.record_failure(key, window),
        )
        .await
    }

    async fn acquire(&self, key: &str, limits: RateLimits, tokens: u64) -> Result<Acquire> {
        self.either(
            self.redis.try_acquire(key, limits, tokens),
            self.local.acquire(key, limits, tokens),
        )
        .await
    }

    async fn adjust_tokens(&self, key: &str, window: u64, delta: i64) -> Result<()> {
        // The window number says which side granted it: a local grant is corrected locally
        // (window numbers of the two sides never collide in practice: Redis counts minutes
        // since 1970, the local store minutes since start).
        if window < 1_000_000 {
            return self.local.adjust_tokens(key, window, delta).await;
        }
        self.either(self.redis.try_adjust_tokens(key, window, delta), async {
            Ok(())
        })
        .await
    }

    async fn usage(&self, key: &str) -> Result<WindowUsage> {
        self.either(self.redis.try_usage(key), self.local.usage(key))
            .await
    }
}
