//! The OpenAI Responses API (`POST /v1/responses`), as a client-facing dialect: [`request`]
//! turns a body into a core request (and puts a stored conversation before it), [`response`] a
//! core answer into a Response object, [`stream`] core stream events into the semantic events,
//! [`error`] any failure into OpenAI's envelope.

pub mod error;
pub mod reasoning;
pub mod request;
pub mod response;
pub mod stream;
pub mod types;

pub use stream::ResponsesStreamEncoder;
pub use types::{InputItem, ResponsesRequest};
