//! The storage behind the cache: one small trait, an in-memory and a Redis implementation.

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Buf, BufMut, Bytes, BytesMut};

/// One stored value with the times that decide whether a read may use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// When it was stored (Unix ms).
    pub stored_at_ms: u64,
    /// When it stops being served (Unix ms).
    pub expires_at_ms: u64,
    /// How long the upstream took to produce it (µs), for the latency-saved counter.
    pub upstream_us: u64,
    /// The serialized answer.
    pub value: Bytes,
    /// The answer already decoded, kept by in-process backends so a hit skips parsing
    /// (never stored by external backends).
    pub decoded: Option<Decoded>,
}

/// A decoded answer riding along an [`Entry`] in process memory. Compares equal to any other
/// (it is a copy of `value`, which decides equality).
#[derive(Clone)]
pub struct Decoded(pub Arc<dyn Any + Send + Sync>);

impl std::fmt::Debug for Decoded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Decoded(..)")
    }
}

impl PartialEq for Decoded {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Eq for Decoded {}

const ENTRY_MAGIC: u8 = 0xC1;
const HEADER_LEN: usize = 1 + 8 * 3;

impl Entry {
    /// The time to live it was stored with.
    pub fn ttl(&self) -> Duration {
        Duration::from_millis(self.expires_at_ms.saturating_sub(self.stored_at_ms))
    }

    /// Bytes this entry occupies: value plus header, counted twice when a decoded copy
    /// rides along.
    pub fn size(&self) -> usize {
        let one = self.value.len() + HEADER_LEN;
        if self.decoded.is_some() { 2 * one } else { one }
    }

    /// The binary form used by external stores: a magic byte, the three times as big-endian
    /// `u64`s, then the value.
    pub fn encode(&self) -> Bytes {
        let mut b = BytesMut::with_capacity(self.value.len() + HEADER_LEN);
        b.put_u8(ENTRY_MAGIC);
        b.put_u64(self.stored_at_ms);
        b.put_u64(self.expires_at_ms);
        b.put_u64(self.upstream_us);
        b.put_slice(&self.value);
        b.freeze()
    }

    /// Parses [`Entry::encode`]'s output (`None` for anything else).
    pub fn decode(mut raw: Bytes) -> Option<Self> {
        if raw.len() < HEADER_LEN || raw[0] != ENTRY_MAGIC {
            return None;
        }
        raw.advance(1);
        let stored_at_ms = raw.get_u64();
        let expires_at_ms = raw.get_u64();
        let upstream_us = raw.get_u64();
        Some(Self {
            stored_at_ms,
            expires_at_ms,
            upstream_us,
            value: raw,
            decoded: None,
        })
    }
}

/// A backend operation that failed; the cache turns it into a miss (or an unwritten entry)
/// and counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendError {
    /// The backend (`memory`, `redis`).
    pub backend: &'static str,
    /// What went wrong.
    pub message: String,
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} cache backend: {}", self.backend, self.message)
    }
}

impl std::error::Error for BackendError {}

/// Where cache entries live. Implementations must be quick to fail: the cache never waits
/// long on them (the Redis backend bounds every operation with a timeout).
///
/// Expiry is enforced twice: the backend drops entries after their TTL (to free space), and
/// the cache layer checks `expires_at_ms` against its clock on every read.
#[async_trait]
pub trait CacheBackend: Send + Sync + 'static {
    /// A short name for logs and errors.
    fn name(&self) -> &'static str;

    /// The entry stored under `key`.
    async fn get(&self, key: &str) -> Result<Option<Entry>, BackendError>;

    /// The entries under `keys`, in order (one round trip where the backend can).
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Entry>>, BackendError> {
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            out.push(self.get(k).await?);
        }
        Ok(out)
    }

    /// Stores `entry` under `key` for `entry.ttl()`.
    async fn put(&self, key: &str, entry: Entry) -> Result<(), BackendError>;

    /// Stores several entries (one round trip where the backend can).
    async fn put_many(&self, items: Vec<(String, Entry)>) -> Result<(), BackendError> {
        for (k, e) in items {
            self.put(&k, e).await?;
        }
        Ok(())
    }

    /// Removes the entry under `key`.
    async fn remove(&self, key: &str) -> Result<(), BackendError>;
}

#[async_trait]
impl<B: CacheBackend + ?Sized> CacheBackend for Arc<B> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    async fn get(&self, key: &str) -> Result<Option<Entry>, BackendError> {
        (**self).get(key).await
    }
    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Entry>>, BackendError> {
        (**self).get_many(keys).await
    }
    async fn put(&self, key: &str, entry: Entry) -> Result<(), BackendError> {
        (**self).put(key, entry).await
    }
    async fn put_many(&self, items: Vec<(String, Entry)>) -> Result<(), BackendError> {
        (**self).put_many(items).await
    }
    async fn remove(&self, key: &str) -> Result<(), BackendError> {
        (**self).remove(key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_round_trip() {
        let e = Entry {
            stored_at_ms: 1,
            expires_at_ms: 1001,
            upstream_us: 55,
            value: Bytes::from_static(b"hello"),
            decoded: None,
        };
        assert_eq!(Entry::decode(e.encode()), Some(e.clone()));
        assert_eq!(e.ttl(), Duration::from_secs(1));
        assert_eq!(Entry::decode(Bytes::from_static(b"short")), None);
        let mut bad = e.encode().to_vec();
        bad[0] = 0;
        assert_eq!(Entry::decode(Bytes::from(bad)), None);
    }
}
