//! Routes of the client-facing dialects other than OpenAI's chat completions, one module per
//! dialect; each translates with `runtime-dialects` and calls the chat path the OpenAI routes
//! use ([`crate::call::ChatCall`]), so keys, governance, routing, caching and metering
//! apply exactly as on `/v1/chat/completions`.

pub mod messages;
pub mod rerank;
