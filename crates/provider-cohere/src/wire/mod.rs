//! Cohere's v2 wire format, one module per job: [`request`] (chat bodies), [`response`] (chat
//! answers, finish reasons, usage, citations), [`stream`] (the SSE event types), [`embed`],
//! [`rerank`] and [`models`]. Pure functions over typed bodies.

pub mod embed;
pub mod models;
pub mod request;
pub mod rerank;
pub mod response;
pub mod stream;

/// Annotation keys of the answer (`ResponseMeta::annotations`).
pub mod annotation {
    /// Cohere's citations: spans of the answer and the documents or tool results they cite.
    pub const CITATIONS: &str = "cohere.citations";
    /// The plan Cohere states before calling tools.
    pub const TOOL_PLAN: &str = "cohere.tool_plan";
    /// Token counts as the model saw them (`tokens`, `cached_tokens`); `usage` carries the
    /// billed units.
    pub const TOKENS: &str = "cohere.tokens";
}
