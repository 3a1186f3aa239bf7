//! Anthropic's Messages API wire format: the pure functions that map core requests to request
//! bodies, response bodies to core responses, and SSE events to core stream events.
//!
//! Nothing here does I/O; [`crate::AnthropicProvider`] sends what these functions build.
//!
//! One module per job: [`request`] (core → [`MessagesRequest`], typed in [`body`]),
//! [`response`] (a whole answer), [`stream`] (SSE events), [`errors`] (the error envelope and
//! rate-limit headers), [`models`] (the model list).

pub mod body;
pub mod count;
pub mod errors;
pub mod models;
pub mod request;
pub mod response;
pub mod stream;

pub use body::MessagesRequest;
pub use count::{TokenCount, count_tokens_body};
pub use errors::{WireError, map_error, ratelimit_retry_after};
pub use models::{ModelPage, WireModel, parse_models};
pub use request::{JSON_OBJECT_TOOL, RequestOptions, messages_request, structured_output_tool};
pub use response::{
    Block, KnownBlock, MessagesResponse, StopDetails, WireUsage, finish_reason, parse_response,
    tool_input_text,
};
pub use stream::{BlockDelta, EventDecoder, MessageDelta, StartMessage, StreamWireEvent};
