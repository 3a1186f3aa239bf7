//! Shared HTTP plumbing: one client, request specs built by pure functions, status mapping,
//! and the SSE / NDJSON decoders.

mod call;
mod client;
pub mod ndjson;
mod propagation;
pub mod sse;
pub mod status;

/// The header map error mappers read (re-exported so a provider needs no `http` dependency).
pub use http::HeaderMap;

pub use call::{CallInfo, ErrorMapper};
pub use client::{ByteStream, HttpClient, HttpClientConfig, HttpRequestSpec};
pub use ndjson::{NdjsonDecoder, NdjsonStream};
pub use propagation::{HeaderInjector, set_header_injector};
pub use sse::{SseDecoder, SseEvent, SseStream};
pub use status::{
    ErrorBody, ErrorContext, RateLimitInfo, classify, format_go_duration, map_status,
    parse_error_body, parse_go_duration, retry_after_header,
};
