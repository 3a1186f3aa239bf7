//! Counters for the metrics crate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

/// Cache and batcher counters. Shared (`Arc`) between the cache layer, the batcher and
/// whoever exports metrics; every counter only grows.
///
/// A lookup is one key: a chat or completion request is one lookup, an embedding request is
/// one lookup per input text.
#[derive(Debug, Default)]
pub struct CacheStats {
    hits: AtomicU64,
    misses: AtomicU64,
    stores: AtomicU64,
    errors: AtomicU64,
    bypassed: AtomicU64,
    latency_saved_us: AtomicU64,
    upstream_batches: AtomicU64,
    batched_requests: AtomicU64,
    batched_inputs: AtomicU64,
    merged: AtomicU64,
}

/// A copy of the counters at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CacheStatsSnapshot {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups that found nothing usable (absent, expired, too old, backend failed).
    pub misses: u64,
    /// Entries written.
    pub stores: u64,
    /// Backend operations that failed or timed out (each also counts as a miss or an
    /// unwritten entry; never as an error for the caller).
    pub errors: u64,
    /// Requests the cache did not consult (mode `off`, non-deterministic sampling, disabled).
    pub bypassed: u64,
    /// Sum of the upstream latency of the answers served from the cache, in microseconds.
    pub latency_saved_us: u64,
    /// Upstream embedding calls the batcher made.
    pub upstream_batches: u64,
    /// Caller chunks the batcher coalesced into those calls.
    pub batched_requests: u64,
    /// Input texts sent in those calls.
    pub batched_inputs: u64,
    /// Misses answered by an identical request already upstream (no call of their own).
    pub merged: u64,
}

impl CacheStats {
    /// Fresh counters.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counters now.
    pub fn snapshot(&self) -> CacheStatsSnapshot {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CacheStatsSnapshot {
            hits: l(&self.hits),
            misses: l(&self.misses),
            stores: l(&self.stores),
            errors: l(&self.errors),
            bypassed: l(&self.bypassed),
            latency_saved_us: l(&self.latency_saved_us),
            upstream_batches: l(&self.upstream_batches),
            batched_requests: l(&self.batched_requests),
            batched_inputs: l(&self.batched_inputs),
            merged: l(&self.merged),
        }
    }

    /// The latency saved so far.
    pub fn latency_saved(&self) -> Duration {
        Duration::from_micros(self.latency_saved_us.load(Ordering::Relaxed))
    }

    pub(crate) fn hit(&self, saved_us: u64) {
        self.hits.fetch_add(1, Ordering::Relaxed);
        self.latency_saved_us.fetch_add(saved_us, Ordering::Relaxed);
    }

    pub(crate) fn misses(&self, n: u64) {
        self.misses.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn stores(&self, n: u64) {
        self.stores.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn merged(&self) {
        self.merged.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn bypass(&self) {
        self.bypassed.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn batch(&self, requests: u64, inputs: u64) {
        self.upstream_batches.fetch_add(1, Ordering::Relaxed);
        self.batched_requests.fetch_add(requests, Ordering::Relaxed);
        self.batched_inputs.fetch_add(inputs, Ordering::Relaxed);
    }
}
