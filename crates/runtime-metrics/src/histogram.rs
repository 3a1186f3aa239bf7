//! Bounded histograms over a sliding time window.
//!
//! A [`WindowedHistogram`] keeps a fixed number of time slots, each a fixed array of log-linear
//! buckets (16 sub-buckets per power of two, so any reported percentile is within about 3 % of
//! the true value). Memory is fixed at construction: no sample is ever kept. Recording is a few
//! relaxed atomic operations and never takes a lock.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// Sub-bucket bits: 2^4 = 16 linear sub-buckets per power of two.
const SUB_BITS: u32 = 4;
const SUB: u64 = 1 << SUB_BITS;
/// Largest recordable value (larger values are clamped): 2^32 - 1 (in microseconds: 71
/// minutes).
const MAX_VALUE: u64 = (1 << 32) - 1;
/// Number of buckets needed to cover `0..=MAX_VALUE`.
const NUM_BUCKETS: usize = bucket_index(MAX_VALUE) + 1;
/// Epoch marker of a slot never written.
const EMPTY: u64 = u64::MAX;

/// The bucket of `v` (already clamped).
const fn bucket_index(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let exp = 63 - v.leading_zeros(); // >= SUB_BITS
    let sub = (v >> (exp - SUB_BITS)) & (SUB - 1);
    (SUB + (exp - SUB_BITS) as u64 * SUB + sub) as usize
}

/// The half-open value range `[low, high)` of bucket `i`.
fn bucket_bounds(i: usize) -> (u64, u64) {
    let i = i as u64;
    if i < SUB {
        return (i, i + 1);
    }
    let exp = (i - SUB) / SUB + SUB_BITS as u64;
    let sub = (i - SUB) % SUB;
    let shift = exp - SUB_BITS as u64;
    ((SUB + sub) << shift, (SUB + sub + 1) << shift)
}

struct Slot {
    epoch: AtomicU64,
    sum: AtomicU64,
    /// Per-slot counts: a slot lasts window/slots, so 32 bits are plenty.
    buckets: Box<[AtomicU32]>,
}

impl Slot {
    fn new() -> Self {
        Self {
            epoch: AtomicU64::new(EMPTY),
            sum: AtomicU64::new(0),
            buckets: (0..NUM_BUCKETS).map(|_| AtomicU32::new(0)).collect(),
        }
    }
}

/// Percentiles and counts of a window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Quantiles {
    /// Samples in the window.
    pub count: u64,
    /// Mean value (0 when empty).
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

/// A histogram of `u64` values over a sliding time window, in fixed memory.
///
/// The window of length `window` is cut into `slots` time slots; a query covers the current
/// slot and the `slots - 1` before it, so it sees between `window - window/slots` and `window`
/// of history. Time is passed in by the caller as milliseconds since any fixed origin, which
/// keeps the type deterministic under test.
pub struct WindowedHistogram {
    slots: Box<[Slot]>,
    slot_ms: u64,
}

impl std::fmt::Debug for WindowedHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowedHistogram")
            .field("slots", &self.slots.len())
            .field("slot_ms", &self.slot_ms)
            .finish()
    }
}

impl WindowedHistogram {
    /// A histogram over `window`, cut into `slots` (at least 1) rotating slots.
    pub fn new(window: Duration, slots: usize) -> Self {
        let slots = slots.max(1);
        let slot_ms = (window.as_millis() as u64 / slots as u64).max(1);
        Self {
            slots: (0..slots).map(|_| Slot::new()).collect(),
            slot_ms,
        }
    }

    /// Memory held by the buckets, in bytes (fixed at construction).
    pub fn memory_bytes(&self) -> usize {
        self.slots.len()
            * (NUM_BUCKETS * std::mem::size_of::<AtomicU32>()
                + 2 * std::mem::size_of::<AtomicU64>())
    }

    fn slot_for(&self, now_ms: u64) -> &Slot {
        let epoch = now_ms / self.slot_ms;
        let slot = &self.slots[(epoch % self.slots.len() as u64) as usize];
        let seen = slot.epoch.load(Ordering::Acquire);
        if seen != epoch
            && (seen == EMPTY || seen < epoch)
            && slot
                .epoch
                .compare_exchange(seen, epoch, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            // This caller won the rotation: clear the old slot's contents. Samples recorded
            // concurrently by other callers during the clear may be lost; the window is
            // approximate at slot boundaries by design.
            for b in slot.buckets.iter() {
                b.store(0, Ordering::Relaxed);
            }
            slot.sum.store(0, Ordering::Relaxed);
        }
        slot
    }

    /// Records `value` at time `now_ms`.
    pub fn record(&self, value: u64, now_ms: u64) {
        let v = value.min(MAX_VALUE);
        let slot = self.slot_for(now_ms);
        slot.buckets[bucket_index(v)].fetch_add(1, Ordering::Relaxed);
        slot.sum.fetch_add(v, Ordering::Relaxed);
    }

    /// Percentiles of the samples of the window ending at `now_ms`.
    pub fn quantiles(&self, now_ms: u64) -> Quantiles {
        let epoch = now_ms / self.slot_ms;
        let oldest = epoch.saturating_sub(self.slots.len() as u64 - 1);
        let mut counts = vec![0u64; NUM_BUCKETS];
        let mut sum = 0u64;
        for slot in self.slots.iter() {
            let e = slot.epoch.load(Ordering::Acquire);
            if e == EMPTY || e < oldest || e > epoch {
                continue;
            }
            for (c, b) in counts.iter_mut().zip(slot.buckets.iter()) {
                *c += u64::from(b.load(Ordering::Relaxed));
            }
            sum = sum.saturating_add(slot.sum.load(Ordering::Relaxed));
        }
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return Quantiles::default();
        }
        Quantiles {
            count: total,
            mean: sum as f64 / total as f64,
            p50: quantile_of(&counts, total, 0.50),
            p95: quantile_of(&counts, total, 0.95),
            p99: quantile_of(&counts, total, 0.99),
        }
    }
}

/// The `q` quantile of bucket `counts` holding `total` samples, interpolated in its bucket.
fn quantile_of(counts: &[u64], total: u64, q: f64) -> f64 {
    let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
    let mut before = 0u64;
    for (i, &c) in counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        if before + c >= rank {
            let (low, high) = bucket_bounds(i);
            if high - low == 1 {
                return low as f64;
            }
            let frac = ((rank - before) as f64 - 0.5) / c as f64;
            return low as f64 + (high - low) as f64 * frac;
        }
        before += c;
    }
    bucket_bounds(counts.len() - 1).1 as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= want.abs() * rel
    }

    #[test]
    fn buckets_cover_the_range_contiguously() {
        let mut prev_high = 0;
        for i in 0..NUM_BUCKETS {
            let (low, high) = bucket_bounds(i);
            assert_eq!(low, prev_high, "bucket {i}");
            assert!(high > low);
            assert_eq!(bucket_index(low), i);
            assert_eq!(bucket_index(high - 1), i);
            prev_high = high;
        }
        assert!(prev_high > MAX_VALUE);
    }

    #[test]
    fn uniform_distribution_percentiles() {
        let h = WindowedHistogram::new(Duration::from_secs(60), 6);
        // 1..=100_000, each once: p50 = 50_000, p95 = 95_000, p99 = 99_000.
        for v in 1..=100_000u64 {
            h.record(v, 1_000);
        }
        let q = h.quantiles(1_000);
        assert_eq!(q.count, 100_000);
        assert!(within(q.p50, 50_000.0, 0.035), "{q:?}");
        assert!(within(q.p95, 95_000.0, 0.035), "{q:?}");
        assert!(within(q.p99, 99_000.0, 0.035), "{q:?}");
        assert!(within(q.mean, 50_000.5, 1e-9), "{q:?}");
    }

    #[test]
    fn exponential_distribution_percentiles() {
        // Deterministic quantile sampling of Exp(mean 200): x_i = -200 ln(1 - (i+0.5)/n).
        let n = 200_000;
        let h = WindowedHistogram::new(Duration::from_secs(60), 6);
        for i in 0..n {
            let u = (i as f64 + 0.5) / n as f64;
            h.record((-200.0 * (1.0 - u).ln() * 1000.0) as u64, 5);
        }
        let q = h.quantiles(5);
        let want = |p: f64| -200.0 * (1.0 - p).ln() * 1000.0;
        assert!(within(q.p50, want(0.50), 0.035), "{q:?} {}", want(0.5));
        assert!(within(q.p95, want(0.95), 0.035), "{q:?} {}", want(0.95));
        assert!(within(q.p99, want(0.99), 0.035), "{q:?} {}", want(0.99));
    }

    #[test]
    fn bimodal_distribution_percentiles() {
        // 90 % fast (10 ms), 10 % slow (2 s): p50 fast, p95 and p99 slow.
        let h = WindowedHistogram::new(Duration::from_secs(60), 6);
        for i in 0..10_000u64 {
            let v = if i % 10 == 0 { 2_000_000 } else { 10_000 };
            h.record(v, 0);
        }
        let q = h.quantiles(0);
        assert!(within(q.p50, 10_000.0, 0.035), "{q:?}");
        assert!(within(q.p95, 2_000_000.0, 0.035), "{q:?}");
        assert!(within(q.p99, 2_000_000.0, 0.035), "{q:?}");
    }

    #[test]
    fn small_values_are_exact() {
        let h = WindowedHistogram::new(Duration::from_secs(10), 2);
        for v in [3, 3, 3, 7] {
            h.record(v, 0);
        }
        let q = h.quantiles(0);
        assert_eq!(q.p50, 3.0);
        assert_eq!(q.p99, 7.0);
    }

    #[test]
    fn old_samples_leave_the_window() {
        // 60 s window in 6 slots of 10 s.
        let h = WindowedHistogram::new(Duration::from_secs(60), 6);
        for _ in 0..100 {
            h.record(1_000_000, 0); // slow, at t = 0
        }
        for _ in 0..100 {
            h.record(1_000, 30_000); // fast, at t = 30 s
        }
        let q = h.quantiles(30_000);
        assert_eq!(q.count, 200);
        assert!(within(q.p99, 1_000_000.0, 0.035));
        // At t = 65 s the slot of t = 0 is out of the window; the fast samples remain.
        let q = h.quantiles(65_000);
        assert_eq!(q.count, 100);
        assert!(within(q.p99, 1_000.0, 0.035), "{q:?}");
        // Recording at t = 60 s reuses the slot of t = 0 and clears it first.
        h.record(5, 60_000);
        let q = h.quantiles(60_000);
        assert_eq!(q.count, 101);
        // Long after, nothing is left.
        assert_eq!(h.quantiles(1_000_000).count, 0);
    }

    #[test]
    fn memory_is_fixed() {
        let h = WindowedHistogram::new(Duration::from_secs(300), 6);
        let before = h.memory_bytes();
        for i in 0..1_000_000u64 {
            h.record(i * 7919 % 10_000_000, i / 1000);
        }
        assert_eq!(h.memory_bytes(), before);
        assert!(before < 12 * 1024, "{before}");
    }

    #[test]
    fn huge_values_are_clamped() {
        let h = WindowedHistogram::new(Duration::from_secs(1), 1);
        h.record(u64::MAX, 0);
        let q = h.quantiles(0);
        assert_eq!(q.count, 1);
        assert!(q.p50 >= MAX_VALUE as f64 * 0.9);
    }
}
