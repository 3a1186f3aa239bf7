//! The Anthropic Messages API (`POST /v1/messages`, `POST /v1/messages/count_tokens`), as a
//! client-facing dialect: [`request`] turns a body into a core request, [`response`] a core
//! answer into a Messages response, [`stream`] core stream events into Anthropic's SSE event
//! sequence, [`error`] any failure into Anthropic's envelope and status.

pub mod count_tokens;
pub mod error;
pub mod request;
pub mod response;
pub mod stream;
pub mod types;

pub use stream::MessagesStreamEncoder;
pub use types::{CountTokensRequest, MessagesRequest};
