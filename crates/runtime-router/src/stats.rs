//! Router counters: attempts per deployment, retries, failovers and fallbacks per model.
//!
//! The router depends on no metrics crate: counters are atomics created with the models (no
//! lookup, lock or allocation per attempt beyond one map read); `metrics.rs` writes them in
//! the Prometheus text format.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::model::LogicalModel;

/// The counters of one logical model.
#[derive(Debug, Default)]
pub(crate) struct ModelStats {
    /// Attempts again at a deployment this request already tried.
    pub(crate) retries: AtomicU64,
    /// Attempts at another deployment after a failed one.
    pub(crate) failovers: AtomicU64,
    /// Times this model's requests moved to a fallback model.
    pub(crate) fallbacks: AtomicU64,
    /// Per deployment (same order as the model's): attempts that succeeded, that failed.
    pub(crate) attempts: Vec<[AtomicU64; 2]>,
}

/// The counters of every model, made once with the router.
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) models: HashMap<String, ModelStats>,
}

impl Stats {
    pub(crate) fn new(models: &HashMap<String, Arc<LogicalModel>>) -> Self {
        Self {
            models: models
                .iter()
                .map(|(name, m)| {
                    (
                        name.clone(),
                        ModelStats {
                            attempts: m.deployments.iter().map(|_| Default::default()).collect(),
                            ..ModelStats::default()
                        },
                    )
                })
                .collect(),
        }
    }

    /// One attempt at deployment `idx` of `model`; `again` is true when the request already
    /// tried that deployment (a retry), `first` when it is the request's first attempt at
    /// this model.
    pub(crate) fn attempt(&self, model: &str, idx: usize, ok: bool, first: bool, again: bool) {
        let Some(s) = self.models.get(model) else {
            return;
        };
        if let Some(a) = s.attempts.get(idx) {
            a[usize::from(!ok)].fetch_add(1, Ordering::Relaxed);
        }
        if !first {
            let c = if again { &s.retries } else { &s.failovers };
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A request of `model` moved to a fallback model.
    pub(crate) fn fallback(&self, model: &str) {
        if let Some(s) = self.models.get(model) {
            s.fallbacks.fetch_add(1, Ordering::Relaxed);
        }
    }
}
