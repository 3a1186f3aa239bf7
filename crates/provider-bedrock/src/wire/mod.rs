//! The pure half of the provider: request and response mapping, stream decoding, error
//! mapping, embeddings and listings. No I/O here.

pub mod embed;
pub mod errors;
pub mod eventstream;
pub mod models;
pub mod request;
pub mod rerank;
pub mod response;
pub mod stream;
pub mod types;
pub mod url;

pub use embed::EmbedFamily;
pub use errors::{map_bedrock_error, stream_exception};
pub use eventstream::{EventStreamDecoder, EventStreamFrames, Frame, FrameKind, decode_all};
pub use request::converse_request;
pub use response::parse_converse;
pub use stream::StreamDecoder;
pub use types::{ConverseRequest, ConverseResponse};
pub use url::{base_model_id, encode_segment, model_path};
