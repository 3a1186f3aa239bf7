//! The store's public vocabulary: its error, the batch-writer trait, the grouping of cost
//! queries and their rows.

use async_trait::async_trait;

use crate::record::UsageRecord;

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database said no, or could not be reached.
    #[error("usage database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The URL is neither `sqlite:` nor `postgres:`.
    #[error("unsupported database_url `{0}`: use sqlite://file or postgres://…")]
    UnsupportedUrl(String),
    /// Background tasks need a Tokio runtime, and there is none on this thread.
    #[error("the usage store and writer must be started inside a Tokio runtime")]
    NoRuntime,
    /// Usage storage is disabled in the config.
    #[error("usage storage is disabled ([storage] enabled = false)")]
    Disabled,
    /// A spill-file failure.
    #[error("spill file error: {0}")]
    Io(#[from] std::io::Error),
    /// The SQLite file was deleted or replaced while a write was under way: the write may
    /// have gone to the old file, so it counts as failed (and is written again).
    #[error("usage database file {} was deleted or replaced while open", .0.display())]
    Replaced(std::path::PathBuf),
}

/// Where batches of records go. [`UsageStore`] is the real one; tests may inject faults.
#[async_trait]
pub trait BatchStore: Send + Sync + 'static {
    /// Makes the store ready (runs migrations); called before the first write and again
    /// after a failure until it succeeds.
    async fn prepare(&self) -> Result<(), StoreError>;
    /// Writes records (idempotent on request id). Returns how many were new.
    async fn write(&self, records: &[UsageRecord]) -> Result<u64, StoreError>;
}

/// A grouping column of a cost query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupBy {
    /// Provider instance.
    Provider,
    /// Requested (logical) model.
    Model,
    /// Router deployment.
    Deployment,
    /// Gateway key.
    Key,
}

impl GroupBy {
    pub(crate) fn rollup_column(self) -> &'static str {
        match self {
            GroupBy::Provider => "provider",
            GroupBy::Model => "model",
            GroupBy::Deployment => "deployment",
            GroupBy::Key => "key_id",
        }
    }

    pub(crate) fn record_column(self) -> &'static str {
        match self {
            GroupBy::Provider => "provider",
            GroupBy::Model => "logical_model",
            GroupBy::Deployment => "COALESCE(deployment, '')",
            GroupBy::Key => "COALESCE(key_id, '')",
        }
    }
}

/// One row of a cost query: the group's values (for the grouped columns) and its totals.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SummaryRow {
    /// Provider, when grouped by it.
    pub provider: Option<String>,
    /// Model, when grouped by it.
    pub model: Option<String>,
    /// Deployment, when grouped by it (empty: none).
    pub deployment: Option<String>,
    /// Gateway key id, when grouped by it (empty: none).
    pub key_id: Option<String>,
    /// Requests.
    pub requests: u64,
    /// Requests that did not end `ok`.
    pub errors: u64,
    /// Requests served from our cache.
    pub cache_hits: u64,
    /// Requests with tokens but no known price (their cost is not in `cost_usd`).
    pub unpriced_requests: u64,
    /// Input tokens.
    pub prompt_tokens: u64,
    /// Output tokens.
    pub completion_tokens: u64,
    /// Cached input tokens.
    pub cached_tokens: u64,
    /// Cache-write tokens.
    pub cache_write_tokens: u64,
    /// Reasoning tokens.
    pub reasoning_tokens: u64,
    /// Provider cost of the priced requests, USD.
    pub cost_usd: f64,
    /// Saved by our cache, USD.
    pub saved_usd: f64,
    /// Sum of latencies, ms (divide by `requests` for the mean).
    pub latency_ms_sum: f64,
}

impl SummaryRow {
    pub(crate) fn add(&mut self, o: &SummaryRow) {
        self.requests += o.requests;
        self.errors += o.errors;
        self.cache_hits += o.cache_hits;
        self.unpriced_requests += o.unpriced_requests;
        self.prompt_tokens += o.prompt_tokens;
        self.completion_tokens += o.completion_tokens;
        self.cached_tokens += o.cached_tokens;
        self.cache_write_tokens += o.cache_write_tokens;
        self.reasoning_tokens += o.reasoning_tokens;
        self.cost_usd += o.cost_usd;
        self.saved_usd += o.saved_usd;
        self.latency_ms_sum += o.latency_ms_sum;
    }

    pub(crate) fn group_key(&self) -> [Option<String>; 4] {
        [
            self.provider.clone(),
            self.model.clone(),
            self.deployment.clone(),
            self.key_id.clone(),
        ]
    }
}
