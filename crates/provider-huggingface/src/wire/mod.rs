//! Text Generation Inference's native wire format (`/generate`, `/generate_stream`), its error
//! object, and the TGI quirks of its OpenAI-compatible Messages API stream. Pure functions only:
//! the provider sends what they build.
//!
//! The Messages API itself is OpenAI's format and is mapped by `provider_openai::wire`; this
//! module only adds what TGI does differently there (see [`MessagesChunkDecoder`]).
//!
//! One module per job: [`generate`] (request bodies), [`response`], [`stream`], [`errors`],
//! [`messages`]; everything is re-exported here.

pub mod errors;
pub mod generate;
pub mod messages;
pub mod response;
pub mod stream;

pub use errors::*;
pub use generate::*;
pub use messages::*;
pub use response::*;
pub use stream::*;
