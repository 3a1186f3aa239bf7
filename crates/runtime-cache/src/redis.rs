//! The Redis backend (feature `redis`): one cache shared by many replicas.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use runtime_core::{Error, Result};

use crate::backend::{BackendError, CacheBackend, Entry};

/// Entries in Redis under their storage key, as [`Entry::encode`] bytes, with a `PX` expiry.
///
/// The connection is made lazily and re-made in the background (redis' connection
/// manager); every operation is bounded by `timeout`, so a Redis that is down or slow makes
/// the cache miss quickly instead of failing or stalling the request.
#[derive(Clone)]
pub struct RedisBackend {
    conn: ConnectionManager,
    timeout: Duration,
}

impl std::fmt::Debug for RedisBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBackend")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

fn err(message: impl std::fmt::Display) -> BackendError {
    BackendError {
        backend: "redis",
        message: message.to_string(),
    }
}

impl RedisBackend {
    /// A backend for the server at `url` (`redis://host:port/db`), each operation bounded by
    /// `timeout`. Does not connect yet; an unparsable URL is a config error.
    pub fn new(url: &str, timeout: Duration) -> Result<Self> {
        let client = redis::Client::open(url).map_err(|e| Error::InvalidConfig {
            provider: "cache".into(),
            field: "cache.redis_url".into(),
            reason: e.to_string(),
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(10))
            .set_max_delay(Duration::from_secs(1));
        let conn = ConnectionManager::new_lazy_with_config(client, config).map_err(|e| {
            Error::InvalidConfig {
                provider: "cache".into(),
                field: "cache.redis_url".into(),
                reason: e.to_string(),
            }
        })?;
        Ok(Self { conn, timeout })
    }

    /// The bound on each operation.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn run<T, F>(&self, f: F) -> Result<T, BackendError>
    where
        F: Future<Output = redis::RedisResult<T>>,
    {
        match tokio::time::timeout(self.timeout, f).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(err(e)),
            Err(_) => Err(err(format!("timed out after {:?}", self.timeout))),
        }
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
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("GET").arg(key).clone();
        let raw: Option<Vec<u8>> = self.run(cmd.query_async(&mut conn)).await?;
        Ok(raw.and_then(|r| Entry::decode(Bytes::from(r))))
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Entry>>, BackendError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("MGET").arg(keys).clone();
        let raw: Vec<Option<Vec<u8>>> = self.run(cmd.query_async(&mut conn)).await?;
        Ok(raw
            .into_iter()
            .map(|r| r.and_then(|r| Entry::decode(Bytes::from(r))))
            .collect())
    }

    async fn put(&self, key: &str, entry: Entry) -> Result<(), BackendError> {
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("SET")
            .arg(key)
            .arg(entry.encode().as_ref())
            .arg("PX")
            .arg(px(&entry))
            .clone();
        self.run(cmd.query_async::<()>(&mut conn)).await
    }

    async fn put_many(&self, items: Vec<(String, Entry)>) -> Result<(), BackendError> {
        if items.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn.clone();
        let mut pipe = redis::pipe();
        for (k, e) in &items {
            pipe.cmd("SET")
                .arg(k)
                .arg(e.encode().as_ref())
                .arg("PX")
                .arg(px(e))
                .ignore();
        }
        self.run(pipe.query_async::<()>(&mut conn)).await
    }

    async fn remove(&self, key: &str) -> Result<(), BackendError> {
        let mut conn = self.conn.clone();
        let cmd = redis::cmd("DEL").arg(key).clone();
        self.run(cmd.query_async::<()>(&mut conn)).await
    }
}
