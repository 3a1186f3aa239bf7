//! OpenAI's JSON wire format: request and response types, and the pure functions that map
//! core types to it and back. Azure OpenAI, local OpenAI-compatible servers and TGI's Messages
//! API reuse this module.
//!
//! One module per job: [`request`], [`response`], [`stream`], [`completion`], [`embeddings`],
//! [`models`]; everything is re-exported here except [`responses`] (the Responses API as an
//! upstream format, used for the models OpenAI serves only there).

pub mod completion;
pub mod embeddings;
pub mod foreign;
pub mod models;
pub mod request;
pub mod response;
pub mod responses;
pub mod stream;

pub use completion::*;
pub use embeddings::*;
pub use models::*;
pub use request::*;
pub use response::*;
pub use stream::*;
