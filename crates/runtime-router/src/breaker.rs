//! When a deployment's circuit opens, judged from the outcomes of this router's attempts.
//!
//! Two rules, chosen by volume:
//!
//! - **low volume** (fewer than `failure_rate_min_requests` attempts in the last
//!   `failure_rate_window`): `cooldown_failures` failures in a row, with no success between
//!   them, open the circuit;
//! - **at volume**: the circuit opens when failures make up at least `failure_rate_threshold`
//!   of the attempts in the window. A deployment serving thousands of requests with a 1 %
//!   error rate stays in service; one failing half its requests is taken out.
//!
//! Each router (replica) judges from the attempts it made itself (like Envoy's outlier
//! detection), without a shared-store write per request; the open circuit (the cooldown) is
//! shared by the whole fleet through the state store.

use std::collections::VecDeque;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// Buckets per window: the window slides in steps of a tenth of its length.
const BUCKETS: u32 = 10;

/// The breaker's settings (from `[router]`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BreakerConfig {
    /// Failures in a row that open the circuit at low volume.
    pub consecutive: u32,
    /// Share of failed attempts (0–1] that opens the circuit at volume.
    pub rate: f64,
    /// Attempts in the window from which the rate rule applies.
    pub min_requests: u32,
    /// The window of the rate rule.
    pub window: Duration,
}

/// Why a circuit opened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Trip {
    /// `n` failures in a row at low volume.
    Consecutive(u32),
    /// `failures` of `requests` attempts in the window.
    Rate { failures: u64, requests: u64 },
}

impl std::fmt::Display for Trip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Trip::Consecutive(n) => write!(f, "{n} failures in a row"),
            Trip::Rate { failures, requests } => write!(
                f,
                "{failures} failures in {requests} attempts ({:.0} %)",
                *failures as f64 * 100.0 / (*requests).max(1) as f64
            ),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    consecutive: u32,
    /// `(bucket number, attempts, failures)`, oldest first.
    buckets: VecDeque<(u64, u64, u64)>,
}

/// The outcome counters of one deployment.
#[derive(Debug)]
pub(crate) struct Breaker {
    cfg: BreakerConfig,
    epoch: Instant,
    state: Mutex<State>,
}

impl Breaker {
    /// A breaker with nothing counted.
    pub fn new(cfg: BreakerConfig) -> Self {
        Self {
            cfg,
            epoch: Instant::now(),
            state: Mutex::new(State::default()),
        }
    }

    fn bucket_len(&self) -> Duration {
        (self.cfg.window / BUCKETS).max(Duration::from_millis(1))
    }

    /// Counts one outcome in the current bucket, dropping buckets out of the window; returns
    /// the window's attempts and failures.
    fn count(&self, st: &mut State, now: Instant, failed: bool) -> (u64, u64) {
        let bucket = (now.duration_since(self.epoch).as_nanos()
            / self.bucket_len().as_nanos().max(1)) as u64;
        let oldest = bucket.saturating_sub(u64::from(BUCKETS) - 1);
        while st.buckets.front().is_some_and(|b| b.0 < oldest) {
            st.buckets.pop_front();
        }
        match st.buckets.back_mut() {
            Some(b) if b.0 == bucket => {
                b.1 += 1;
                b.2 += u64::from(failed);
            }
            _ => st.buckets.push_back((bucket, 1, u64::from(failed))),
        }
        st.buckets
            .iter()
            .fold((0, 0), |(r, f), b| (r + b.1, f + b.2))
    }

    /// A successful attempt.
    pub fn success(&self) {
        self.success_at(Instant::now());
    }

    fn success_at(&self, now: Instant) {
        let mut st = self.state.lock();
        st.consecutive = 0;
        self.count(&mut st, now, false);
    }

    /// A failed attempt (one that counts against the deployment); `Some` when it opens the
    /// circuit. The counters then start again from zero.
    pub fn failure(&self) -> Option<Trip> {
        self.failure_at(Instant::now())
    }

    fn failure_at(&self, now: Instant) -> Option<Trip> {
        let mut st = self.state.lock();
        st.consecutive = st.consecutive.saturating_add(1);
        let (requests, failures) = self.count(&mut st, now, true);
        let trip = if requests >= u64::from(self.cfg.min_requests.max(1)) {
            (failures as f64 >= self.cfg.rate * requests as f64)
                .then_some(Trip::Rate { failures, requests })
        } else {
            (st.consecutive >= self.cfg.consecutive.max(1))
                .then_some(Trip::Consecutive(st.consecutive))
        };
        if trip.is_some() {
            *st = State::default();
        }
        trip
    }

    /// Forgets everything counted (the circuit closed after a half-open trial).
    pub fn reset(&self) {
        *self.state.lock() = State::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(consecutive: u32, rate: f64, min_requests: u32) -> Breaker {
        Breaker::new(BreakerConfig {
            consecutive,
            rate,
            min_requests,
            window: Duration::from_secs(10),
        })
    }

    #[test]
    fn low_volume_trips_on_failures_in_a_row_only() {
        let b = breaker(3, 0.5, 20);
        let t = b.epoch;
        assert_eq!(b.failure_at(t), None);
        assert_eq!(b.failure_at(t), None);
        // A success between failures resets the streak.
        b.success_at(t);
        assert_eq!(b.failure_at(t), None);
        assert_eq!(b.failure_at(t), None);
        assert_eq!(b.failure_at(t), Some(Trip::Consecutive(3)));
        // Counting starts again after a trip.
        assert_eq!(b.failure_at(t), None);
    }

    #[test]
    fn one_percent_errors_at_volume_never_trip() {
        let b = breaker(3, 0.5, 20);
        let mut t = b.epoch;
        // 20 000 attempts over 200 s, every 100th failing, and bursts of three failures in a
        // row now and then (which would trip the low-volume rule).
        for i in 0..20_000u32 {
            t += Duration::from_millis(10);
            if i % 100 == 0 || (i % 1000 < 3 && i > 1000) {
                assert_eq!(b.failure_at(t), None, "attempt {i}");
            } else {
                b.success_at(t);
            }
        }
    }

    #[test]
    fn a_failure_rate_over_the_threshold_trips_at_volume() {
        let b = breaker(3, 0.5, 20);
        let mut t = b.epoch;
        // 10 s of successes at 100/s fill the window.
        for _ in 0..1000 {
            t += Duration::from_millis(10);
            b.success_at(t);
        }
        // Then the deployment fails every request: the circuit opens once failures are half
        // of the window, within about half the window.
        let start = t;
        let trip = loop {
            t += Duration::from_millis(10);
            if let Some(trip) = b.failure_at(t) {
                break trip;
            }
            assert!(t - start < Duration::from_secs(6), "never tripped");
        };
        match trip {
            Trip::Rate { failures, requests } => {
                assert!(failures * 2 >= requests, "{failures}/{requests}");
                assert!(requests >= 20);
            }
            other => panic!("{other:?}"),
        }
        assert!(t - start >= Duration::from_secs(4), "{:?}", t - start);
    }

    #[test]
    fn the_rate_rule_needs_the_minimum_volume() {
        // Below the minimum, a 50 % failure rate alone does not trip (no streak of three).
        let b = breaker(3, 0.5, 20);
        let t = b.epoch;
        for _ in 0..9 {
            b.success_at(t);
            assert_eq!(b.failure_at(t), None);
        }
        // 18 attempts; the 20th is a failure and 10 of 20 failed: trips.
        b.success_at(t);
        assert!(matches!(
            b.failure_at(t),
            Some(Trip::Rate {
                failures: 10,
                requests: 20
            })
        ));
    }

    #[test]
    fn old_outcomes_leave_the_window() {
        let b = breaker(100, 0.5, 10);
        let mut t = b.epoch;
        for _ in 0..9 {
            assert_eq!(b.failure_at(t), None);
        }
        // 11 s later the 9 failures are gone: 9 successes and 1 failure do not trip.
        t += Duration::from_secs(11);
        for _ in 0..9 {
            b.success_at(t);
        }
        assert_eq!(b.failure_at(t), None);
        // Within the window everything counts: 7 more failures make 8 of 17, the next one 9
        // of 18 (half).
        for _ in 0..7 {
            assert_eq!(b.failure_at(t), None);
        }
        assert_eq!(
            b.failure_at(t),
            Some(Trip::Rate {
                failures: 9,
                requests: 18
            })
        );
    }

    #[test]
    fn reset_forgets_the_streak() {
        let b = breaker(2, 0.5, 20);
        assert_eq!(b.failure(), None);
        b.reset();
        assert_eq!(b.failure(), None);
        assert!(b.failure().is_some());
    }
}
