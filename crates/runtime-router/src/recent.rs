//! The last errors of a deployment, for the live routing view (`/admin/routing`).

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use serde::Serialize;

/// Errors kept per deployment.
const KEPT: usize = 5;

/// One error a deployment answered with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecentError {
    /// When, Unix milliseconds.
    pub at_ms: u64,
    /// The error kind (`rate_limited`, `server`, `timeout`, …).
    pub kind: String,
    /// The error message (credentials redacted by runtime-core), cut to 256 bytes.
    pub message: String,
}

/// A small ring of the last [`KEPT`] errors.
#[derive(Debug, Default)]
pub(crate) struct RecentErrors(Mutex<VecDeque<RecentError>>);

impl RecentErrors {
    pub fn push(&self, e: &runtime_core::Error) {
        let at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let message = runtime_core::error::truncate(&e.to_string(), 256);
        let mut ring = self.0.lock();
        if ring.len() == KEPT {
            ring.pop_front();
        }
        ring.push_back(RecentError {
            at_ms,
            kind: e.kind().to_owned(),
            message,
        });
    }

    /// Newest first.
    pub fn snapshot(&self) -> Vec<RecentError> {
        self.0.lock().iter().rev().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_last_five_newest_first() {
        let r = RecentErrors::default();
        for i in 0..7 {
            r.push(&runtime_core::Error::Connect {
                provider: "p".into(),
                model: "m".into(),
                message: format!("boom {i}"),
            });
        }
        let s = r.snapshot();
        assert_eq!(s.len(), 5);
        assert!(s[0].message.contains("boom 6") && s[4].message.contains("boom 2"));
        assert_eq!(s[0].kind, "connect");
    }
}
