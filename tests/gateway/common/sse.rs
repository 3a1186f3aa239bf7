//! One SSE event of a gateway stream, as the tests and runtime-dialects' grammar checker read it.

use serde_json::Value;

/// One SSE event (the shape runtime-dialects' grammar checker reads).
#[derive(Debug, Clone, PartialEq)]
pub struct Sse {
    /// The `event:` line.
    pub event: String,
    /// The `data:` payload.
    pub data: Value,
}
