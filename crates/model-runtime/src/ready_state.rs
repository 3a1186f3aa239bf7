//! What readiness reports and remembers, below the runtime that holds it and the stores that
//! report it.

use std::time::Duration;

/// One readiness check: a provider instance or a store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyCheck {
    /// What was checked (`provider:openai`, `usage-store`, `cache`…).
    pub name: String,
    /// Whether it is usable.
    pub ok: bool,
    /// Usable, but degraded: e.g. shared state answered locally while Redis is down.
    pub degraded: bool,
    /// What was seen.
    pub detail: String,
}

/// When the usage-store probe began failing (for the grace period of a database that no write
/// has found down yet).
#[derive(Debug, Default)]
pub(crate) struct Tracker {
    usage_ping_failing: parking_lot::Mutex<Option<std::time::Instant>>,
}

impl Tracker {
    /// Records a probe result; returns how long the probe has been failing.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn usage_ping(&self, ok: bool) -> Option<Duration> {
        let mut since = self.usage_ping_failing.lock();
        if ok {
            *since = None;
            return None;
        }
        Some(since.get_or_insert_with(std::time::Instant::now).elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_tracker_measures_a_run_of_failures() {
        let t = Tracker::default();
        assert_eq!(t.usage_ping(true), None);
        let first = t.usage_ping(false).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        assert!(t.usage_ping(false).unwrap() > first);
        assert_eq!(t.usage_ping(true), None);
        assert!(t.usage_ping(false).unwrap() < Duration::from_millis(5));
    }
}
