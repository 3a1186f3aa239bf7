//! The durable usage record of one request.

use serde::{Deserialize, Serialize};

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Answered (a stream ran to its end or its finish event).
    Ok,
    /// Failed with an error (see `error_kind`).
    Error,
    /// Dropped by the client before it ended: a stream (what was produced is recorded), or a
    /// non-streamed call whose caller went away before the answer (no usage known).
    Aborted,
}

impl Status {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Error => "error",
            Status::Aborted => "aborted",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ok" => Status::Ok,
            "error" => Status::Error,
            "aborted" => Status::Aborted,
            _ => return None,
        })
    }
}

/// One request's usage, cost and outcome, as stored (idempotent on `request_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageRecord {
    /// The request id (primary key: a second delivery is ignored).
    pub request_id: String,
    /// When the request started, Unix milliseconds.
    pub time_ms: i64,
    /// The gateway key that made it.
    pub key_id: Option<String>,
    /// The team of that key (absent in records written before teams existed).
    #[serde(default)]
    pub team_id: Option<String>,
    /// The end user the request was for (`user` field or gateway header).
    #[serde(default)]
    pub end_user: Option<String>,
    /// The provider instance that answered (or was called).
    pub provider: String,
    /// The router deployment, if any.
    pub deployment: Option<String>,
    /// The operation (`chat`, `chat_stream`, `completion`, `completion_stream`, `embedding`,
    /// `rerank`).
    pub operation: String,
    /// The model the client asked for.
    pub logical_model: String,
    /// The model the provider reported.
    pub provider_model: Option<String>,
    /// All input tokens.
    pub prompt_tokens: u64,
    /// All output tokens.
    pub completion_tokens: u64,
    /// Input tokens read from the provider's prompt cache.
    pub cached_tokens: u64,
    /// Input tokens written to the provider's prompt cache.
    pub cache_write_tokens: u64,
    /// Output tokens spent on reasoning.
    pub reasoning_tokens: u64,
    /// Total tokens.
    pub total_tokens: u64,
    /// Provider cost in US dollars; `None` when the price is unknown.
    pub cost_usd: Option<f64>,
    /// Cost avoided by our response cache.
    pub saved_usd: Option<f64>,
    /// Duration of the call in milliseconds.
    pub latency_ms: f64,
    /// Time to first content in milliseconds (streams).
    pub ttft_ms: Option<f64>,
    /// How it ended.
    pub status: Status,
    /// The error kind when it failed.
    pub error_kind: Option<String>,
    /// Served from our response cache.
    pub cache_hit: bool,
    /// Router attempts (1 without retries).
    pub attempts: u32,
    /// Search units billed (rerank); 0 for token-billed operations.
    #[serde(default)]
    pub search_units: u64,
}

impl UsageRecord {
    /// A successful record with zero counts (handy for tests and tools).
    pub fn new(request_id: impl Into<String>, time_ms: i64, provider: &str, model: &str) -> Self {
        Self {
            request_id: request_id.into(),
            time_ms,
            key_id: None,
            team_id: None,
            end_user: None,
            provider: provider.to_owned(),
            deployment: None,
            operation: "chat".to_owned(),
            logical_model: model.to_owned(),
            provider_model: None,
            prompt_tokens: 0,
            completion_tokens: 0,
            cached_tokens: 0,
            cache_write_tokens: 0,
            reasoning_tokens: 0,
            total_tokens: 0,
            cost_usd: None,
            saved_usd: None,
            latency_ms: 0.0,
            ttft_ms: None,
            status: Status::Ok,
            error_kind: None,
            cache_hit: false,
            attempts: 1,
            search_units: 0,
        }
    }
}

/// Where finished requests' records go (the [`crate::UsageWriter`], or a test sink).
pub trait UsageSink: Send + Sync + 'static {
    /// Hands a record over. Must not block the caller beyond a short bounded time.
    fn submit(&self, record: UsageRecord);
}
