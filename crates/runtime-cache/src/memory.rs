//! The in-memory backend (moka), bounded by entry count and by bytes.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use moka::Expiry;
use moka::sync::Cache;

use crate::backend::{BackendError, CacheBackend, Entry};

struct TtlExpiry;

impl Expiry<String, Entry> for TtlExpiry {
    fn expire_after_create(&self, _key: &String, value: &Entry, _now: Instant) -> Option<Duration> {
        Some(value.ttl())
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Entry,
        _now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.ttl())
    }
}

/// An in-process cache for one replica: the default backend. Its operations never wait
/// (moka's concurrent `sync` cache), so they run inline on the async caller.
///
/// Both bounds hold at once: every entry weighs at least `max_bytes / max_entries`, so the
/// total weight limit of `max_bytes` also caps the count at `max_entries`. Least recently
/// and least frequently used entries are evicted first (moka's TinyLFU).
#[derive(Clone)]
pub struct MemoryBackend {
    cache: Cache<String, Entry>,
    max_entries: u64,
    max_bytes: u64,
}

impl std::fmt::Debug for MemoryBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBackend")
            .field("max_entries", &self.max_entries)
            .field("max_bytes", &self.max_bytes)
            .field("entries", &self.cache.entry_count())
            .finish()
    }
}

impl MemoryBackend {
    /// A cache holding at most `max_entries` entries and `max_bytes` bytes.
    pub fn new(max_entries: u64, max_bytes: u64) -> Self {
        let max_entries = max_entries.max(1);
        let max_bytes = max_bytes.max(1);
        let min_weight = max_bytes.div_ceil(max_entries).max(1);
        let cache = Cache::builder()
            .max_capacity(max_bytes)
            .weigher(move |k: &String, e: &Entry| {
                let bytes = (k.len() + e.size()) as u64;
                u32::try_from(bytes.max(min_weight)).unwrap_or(u32::MAX)
            })
            .expire_after(TtlExpiry)
            .build();
        Self {
            cache,
            max_entries,
            max_bytes,
        }
    }

    /// Entries held now (approximate until pending maintenance has run).
    pub fn entry_count(&self) -> u64 {
        self.cache.entry_count()
    }

    /// Total weight held now (approximate until pending maintenance has run).
    pub fn weighted_size(&self) -> u64 {
        self.cache.weighted_size()
    }

    /// Runs pending evictions now (tests).
    pub fn run_pending_tasks(&self) {
        self.cache.run_pending_tasks();
    }
}

#[async_trait]
impl CacheBackend for MemoryBackend {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn get(&self, key: &str) -> Result<Option<Entry>, BackendError> {
        Ok(self.cache.get(key))
    }

    async fn put(&self, key: &str, entry: Entry) -> Result<(), BackendError> {
        if entry.ttl().is_zero() {
            return Ok(());
        }
        self.cache.insert(key.to_owned(), entry);
        Ok(())
    }

    async fn remove(&self, key: &str) -> Result<(), BackendError> {
        self.cache.invalidate(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn entry(n: usize) -> Entry {
        Entry {
            stored_at_ms: 0,
            expires_at_ms: 3_600_000,
            upstream_us: 0,
            value: Bytes::from(vec![b'x'; n]),
            decoded: None,
        }
    }

    #[tokio::test]
    async fn bounded_by_entries() {
        let m = MemoryBackend::new(10, 1 << 30);
        for i in 0..100 {
            m.put(&format!("k{i}"), entry(10)).await.unwrap();
        }
        m.run_pending_tasks();
        assert!(m.entry_count() <= 10, "{} entries", m.entry_count());
    }

    #[tokio::test]
    async fn bounded_by_bytes() {
        let m = MemoryBackend::new(1_000_000, 10_000);
        for i in 0..100 {
            m.put(&format!("k{i}"), entry(1_000)).await.unwrap();
        }
        m.run_pending_tasks();
        assert!(m.weighted_size() <= 10_000, "{} bytes", m.weighted_size());
        assert!(m.entry_count() <= 10);
        // An entry larger than the whole cache is not kept.
        m.put("big", entry(20_000)).await.unwrap();
        m.run_pending_tasks();
        assert_eq!(m.get("big").await.unwrap(), None);
    }

    #[tokio::test]
    async fn get_put_remove() {
        let m = MemoryBackend::new(10, 1 << 20);
        m.put("a", entry(3)).await.unwrap();
        assert_eq!(m.get("a").await.unwrap(), Some(entry(3)));
        let many = m.get_many(&["a".into(), "b".into()]).await.unwrap();
        assert_eq!(many, vec![Some(entry(3)), None]);
        m.remove("a").await.unwrap();
        assert_eq!(m.get("a").await.unwrap(), None);
    }
}
