//! A logical model: its deployments, routing settings and rate-limit queue.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

use crate::config::{ModelType, RequestKind, Strategy};
use crate::deployment::Deployment;

/// A logical model's FIFO queue of requests waiting while every deployment is at its
/// rate limit.
pub(crate) struct Queue {
    pub(crate) lock: tokio::sync::Mutex<()>,
    pub(crate) waiting: AtomicUsize,
    pub(crate) notify: Notify,
    pub(crate) last_retry_ms: AtomicU64,
}

impl Queue {
    /// An empty queue.
    pub(crate) fn new() -> Self {
        Self {
            lock: tokio::sync::Mutex::new(()),
            waiting: AtomicUsize::new(0),
            notify: Notify::new(),
            last_retry_ms: AtomicU64::new(0),
        }
    }
}

/// A logical model: the deployments that serve it and how it routes between them.
pub(crate) struct LogicalModel {
    pub name: String,
    pub model_type: ModelType,
    pub(crate) strategy: Strategy,
    pub(crate) strategies: HashMap<RequestKind, Strategy>,
    pub(crate) max_attempts: u32,
    pub(crate) timeout: Duration,
    pub(crate) fallbacks: Vec<String>,
    pub(crate) cw_fallbacks: Vec<String>,
    pub(crate) cf_fallbacks: Vec<String>,
    pub deployments: Vec<Arc<Deployment>>,
    pub(crate) flag_keys: Vec<String>,
    pub(crate) rr: AtomicUsize,
    pub(crate) queue: Queue,
}

impl LogicalModel {
    pub(crate) fn strategy_for(&self, kind: RequestKind) -> Strategy {
        self.strategies.get(&kind).copied().unwrap_or(self.strategy)
    }

    /// Requests waiting in this model's queue.
    pub(crate) fn queue_waiting(&self) -> usize {
        self.queue.waiting.load(Ordering::Relaxed)
    }
}
