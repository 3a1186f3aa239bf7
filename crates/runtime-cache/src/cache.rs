//! The cache layer over a backend: expiry and max-age checks, counters, failure isolation.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use runtime_core::{Error, Result};

use crate::backend::{CacheBackend, Decoded, Entry};
use crate::clock::{Clock, SystemClock, duration_ms};
use crate::config::{BackendKind, CacheConfig};
use crate::key::CacheKey;
use crate::memory::MemoryBackend;
use crate::stats::CacheStats;

/// A backend plus the policy every read and write follows: entries past their TTL or older
/// than the request's `max_age` are misses; a failing backend is a miss (counted in
/// [`CacheStats`]), never an error for the caller.
#[derive(Clone)]
pub struct ResponseCache {
    backend: Arc<dyn CacheBackend>,
    clock: Arc<dyn Clock>,
    stats: Arc<CacheStats>,
    namespace: String,
    default_ttl: Duration,
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache")
            .field("backend", &self.backend.name())
            .field("namespace", &self.namespace)
            .field("default_ttl", &self.default_ttl)
            .finish_non_exhaustive()
    }
}

impl ResponseCache {
    /// A cache over `backend` with namespace `modelrt` and a default TTL of one hour.
    pub fn new(backend: Arc<dyn CacheBackend>) -> Self {
        Self {
            backend,
            clock: Arc::new(SystemClock),
            stats: Arc::new(CacheStats::new()),
            namespace: "modelrt".into(),
            default_ttl: Duration::from_secs(3600),
        }
    }

    /// An in-memory cache bounded by entries and bytes.
    pub fn memory(max_entries: u64, max_bytes: u64) -> Self {
        Self::new(Arc::new(MemoryBackend::new(max_entries, max_bytes)))
    }

    /// The cache the `[cache]` section describes. A Redis backend connects lazily, so a Redis
    /// that is down at start-up only makes every lookup a miss.
    pub fn from_config(config: &CacheConfig) -> Result<Self> {
        Self::build(config, None)
    }

    /// Like [`ResponseCache::from_config`], a Redis backend using `redis` (the runtime's
    /// shared connection) instead of making its own.
    #[cfg(feature = "redis")]
    pub fn from_config_with_redis(
        config: &CacheConfig,
        redis: Option<runtime_redis::Redis>,
    ) -> Result<Self> {
        Self::build(config, redis)
    }

    fn build(
        config: &CacheConfig,
        #[cfg(feature = "redis")] redis: Option<runtime_redis::Redis>,
        #[cfg(not(feature = "redis"))] _redis: Option<std::convert::Infallible>,
    ) -> Result<Self> {
        let backend: Arc<dyn CacheBackend> = match config.backend {
            BackendKind::Memory => {
                Arc::new(MemoryBackend::new(config.max_entries, config.max_bytes))
            }
            #[cfg(feature = "redis")]
            BackendKind::Redis => match redis {
                Some(h) => Arc::new(crate::redis::RedisBackend::with_handle(h)),
                None => {
                    let cfg = config.redis_config(None);
                    cfg.validate("cache")?;
                    let h = runtime_redis::Redis::new(&cfg)?;
                    h.add_user("cache");
                    Arc::new(crate::redis::RedisBackend::with_handle(h))
                }
            },
            #[cfg(not(feature = "redis"))]
            BackendKind::Redis => {
                return Err(Error::InvalidConfig {
                    provider: "cache".into(),
                    field: "cache.backend".into(),
                    reason: "the redis backend needs runtime-cache's `redis` feature".into(),
                });
            }
        };
        if config.namespace.contains(char::is_whitespace) {
            return Err(Error::InvalidConfig {
                provider: "cache".into(),
                field: "cache.namespace".into(),
                reason: "must not contain whitespace".into(),
            });
        }
        Ok(Self::new(backend)
            .with_namespace(config.namespace.clone())
            .with_default_ttl(config.default_ttl))
    }

    /// Sets the key prefix.
    pub fn with_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Sets the TTL used when a request does not give one.
    pub fn with_default_ttl(mut self, ttl: Duration) -> Self {
        self.default_ttl = ttl;
        self
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Shares counters with another component.
    pub fn with_stats(mut self, stats: Arc<CacheStats>) -> Self {
        self.stats = stats;
        self
    }

    /// The counters.
    pub fn stats(&self) -> &Arc<CacheStats> {
        &self.stats
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn CacheBackend> {
        &self.backend
    }

    /// The key prefix.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The default TTL.
    pub fn default_ttl(&self) -> Duration {
        self.default_ttl
    }

    /// The storage key of `key`.
    pub fn storage_key(&self, key: &CacheKey) -> String {
        key.storage_key(&self.namespace)
    }

    fn usable(&self, e: &Entry, now: u64, max_age: Option<Duration>) -> bool {
        if now >= e.expires_at_ms {
            return false;
        }
        match max_age {
            Some(age) => now.saturating_sub(e.stored_at_ms) <= duration_ms(age),
            None => true,
        }
    }

    /// The value under `key` if it is fresh enough; counts a hit or a miss.
    pub async fn get(&self, key: &CacheKey, max_age: Option<Duration>) -> Option<Entry> {
        let got = match self.backend.get(&self.storage_key(key)).await {
            Ok(e) => e,
            Err(err) => {
                tracing::debug!(error = %err, "cache read failed; treating as a miss");
                self.stats.error();
                None
            }
        };
        let now = self.clock.now_ms();
        match got.filter(|e| self.usable(e, now, max_age)) {
            Some(e) => {
                self.stats.hit(e.upstream_us);
                Some(e)
            }
            None => {
                self.stats.misses(1);
                None
            }
        }
    }

    /// The values under `keys` (in order) that are fresh enough; counts each.
    pub async fn get_many(
        &self,
        keys: &[CacheKey],
        max_age: Option<Duration>,
    ) -> Vec<Option<Entry>> {
        let skeys: Vec<String> = keys.iter().map(|k| self.storage_key(k)).collect();
        let got = match self.backend.get_many(&skeys).await {
            Ok(v) if v.len() == keys.len() => v,
            Ok(_) => {
                self.stats.error();
                vec![None; keys.len()]
            }
            Err(err) => {
                tracing::debug!(error = %err, "cache read failed; treating as misses");
                self.stats.error();
                vec![None; keys.len()]
            }
        };
        let now = self.clock.now_ms();
        got.into_iter()
            .map(|e| match e.filter(|e| self.usable(e, now, max_age)) {
                Some(e) => {
                    self.stats.hit(e.upstream_us);
                    Some(e)
                }
                None => {
                    self.stats.misses(1);
                    None
                }
            })
            .collect()
    }

    fn entry(
        &self,
        value: Bytes,
        decoded: Option<Decoded>,
        ttl: Option<Duration>,
        upstream: Duration,
    ) -> Entry {
        let now = self.clock.now_ms();
        let ttl = ttl.unwrap_or(self.default_ttl);
        Entry {
            stored_at_ms: now,
            expires_at_ms: now.saturating_add(duration_ms(ttl)),
            upstream_us: u64::try_from(upstream.as_micros()).unwrap_or(u64::MAX),
            value,
            decoded,
        }
    }

    /// Stores `value` under `key` for `ttl` (else the default). Returns whether it was
    /// stored; a failure is counted, never returned.
    pub async fn put(
        &self,
        key: &CacheKey,
        value: Bytes,
        ttl: Option<Duration>,
        upstream: Duration,
    ) -> bool {
        self.put_decoded(key, value, None, ttl, upstream).await
    }

    /// [`ResponseCache::put`] with the decoded answer attached: in-process backends keep it
    /// so a hit can skip parsing `value` (see [`Entry::decoded`]).
    pub async fn put_decoded(
        &self,
        key: &CacheKey,
        value: Bytes,
        decoded: Option<Decoded>,
        ttl: Option<Duration>,
        upstream: Duration,
    ) -> bool {
        let entry = self.entry(value, decoded, ttl, upstream);
        if entry.ttl().is_zero() {
            return false;
        }
        match self.backend.put(&self.storage_key(key), entry).await {
            Ok(()) => {
                self.stats.stores(1);
                true
            }
            Err(err) => {
                tracing::debug!(error = %err, "cache write failed");
                self.stats.error();
                false
            }
        }
    }

    /// Stores several values with the same TTL; `upstream` is each one's share of the
    /// upstream latency.
    pub async fn put_many(
        &self,
        items: Vec<(CacheKey, Bytes)>,
        ttl: Option<Duration>,
        upstream: Duration,
    ) -> bool {
        if items.is_empty() {
            return true;
        }
        let n = items.len() as u64;
        let items: Vec<(String, Entry)> = items
            .into_iter()
            .map(|(k, v)| (self.storage_key(&k), self.entry(v, None, ttl, upstream)))
            .filter(|(_, e)| !e.ttl().is_zero())
            .collect();
        if items.is_empty() {
            return false;
        }
        match self.backend.put_many(items).await {
            Ok(()) => {
                self.stats.stores(n);
                true
            }
            Err(err) => {
                tracing::debug!(error = %err, "cache write failed");
                self.stats.error();
                false
            }
        }
    }

    /// Removes the entry under `key` (best effort).
    pub async fn remove(&self, key: &CacheKey) {
        if self.backend.remove(&self.storage_key(key)).await.is_err() {
            self.stats.error();
        }
    }
}
