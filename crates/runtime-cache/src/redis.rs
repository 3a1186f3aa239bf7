//! The Redis backend (feature `redis`): one cache shared by many replicas.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use runtime_core::{Error, Result};
use runtime_redis::redis;
use runtime_redis::{Redis, RedisConfig, RedisError};

use crate::backend::{BackendError, CacheBackend, Entry};

/// Entries in Redis under their storage key, as [`Entry::encode`] bytes, with a `PX` expiry.
///
/// It talks through a [`Redis`] handle (standalone, cluster or sentinel): the connection is
/// made lazily in the background, every operation is bounded by the handle's timeout, and
/// while the handle's breaker is open every operation fails at once, so a Redis that is
/// down or slow makes the cache miss immediately instead of failing or stalling a request.
#[derive(Clone)]
pub struct RedisBackend {
    redis: Redis,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("redis", &self.redis)
            .finish()
    }
}

fn err(e: RedisError) -> BackendError {
    BackendError {
        backend: "redis",
        message: e.to_string(),
    }
}

impl RedisBackend {
    /// A backend for the standalone server at `url` (`redis://host:port/db`), each operation
    /// bounded by `timeout`. Does not connect yet; an unparsable URL is a config error.
    pub fn new(url: &str, timeout: Duration) -> Result<Self> {
        let cfg = RedisConfig::standalone(url).with_timeout(timeout);
        cfg.validate("cache").map_err(|e| match e {
            Error::InvalidConfig { reason, .. } => Error::InvalidConfig {
                provider: "cache".into(),
                field: "cache.redis_url".into(),
                reason,
            },
            other => other,
        })?;
        let redis = Redis::new(&cfg)?;
        redis.add_user("cache");
        Ok(Self { redis })
    }

    /// A backend over a shared handle.
    pub fn with_handle(redis: Redis) -> Self {
        Self { redis }
    }

    /// The handle.
    pub fn handle(&self) -> &Redis {
        &self.redis
    }

    /// The bound on each operation.
    pub fn timeout(&self) -> Duration {
        self.redis.config().timeout
    }
}

fn px(entry: &Entry) -> u64 {
    u64::try_from(entry.ttl().as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

#[async_trait]
impl CacheBackend for RedisBackend {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn get(&self, key: &str) -> Result<Option<Entry>, BackendError> {
        let raw: Option<Vec<u8>> = self
            .redis
            .run(|mut c| async move { redis::cmd("GET").arg(key).query_async(&mut c).await })
            .await
            .map_err(err)?;
        Ok(raw.and_then(|r| Entry::decode(Bytes::from(r))))
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Entry>>, BackendError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // MGET: a cluster connection splits it by slot and reassembles the answer in order.
        let raw: Vec<Option<Vec<u8>>> = self
            .redis
            .run(|mut c| async move { redis::cmd("MGET").arg(keys).query_async(&mut c).await })
            .await
            .map_err(err)?;
        Ok(raw
            .into_iter()
            .map(|r| r.and_then(|r| Entry::decode(Bytes::from(r))))
            .collect())
    }

    async fn put(&self, key: &str, entry: Entry) -> Result<(), BackendError> {
        let value = entry.encode();
        let ms = px(&entry);
        self.redis
            .run(|mut c| async move {
                redis::cmd("SET")
                    .arg(key)
                    .arg(value.as_ref())
                    .arg("PX")
                    .arg(ms)
                    .query_async::<()>(&mut c)
                    .await
            })
            .await
            .map_err(err)
    }

    async fn put_many(&self, items: Vec<(String, Entry)>) -> Result<(), BackendError> {
        if items.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for (k, e) in &items {
            pipe.cmd("SET")
                .arg(k)
                .arg(e.encode().as_ref())
                .arg("PX")
                .arg(px(e))
                .ignore();
        }
        if self.redis.is_cluster() {
            // A cluster pipeline must stay on one slot: the entries go one by one,
            // concurrently.
            let sets = items.iter().map(|(k, e)| self.put(k, e.clone()));
            for r in futures::future::join_all(sets).await {
                r?;
            }
            return Ok(());
        }
        self.redis
            .run(|mut c| async move { pipe.query_async::<()>(&mut c).await })
            .await
            .map_err(err)
    }

    async fn remove(&self, key: &str) -> Result<(), BackendError> {
        self.redis
            .run(|mut c| async move { redis::cmd("DEL").arg(key).query_async::<()>(&mut c).await })
            .await
            .map_err(err)
    }
}
