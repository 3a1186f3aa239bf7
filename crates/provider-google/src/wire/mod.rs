//! Gemini's JSON wire format and the pure functions that map core types to it and back.

pub mod embed;
pub mod request;
pub mod response;
pub mod schema;
pub mod types;

pub use embed::{
    BatchEmbedContentsRequest, BatchEmbedContentsResponse, EmbedContentRequest,
    EmbedContentResponse, MAX_BATCH, ModelsPage, batch_embed_request, embed_content_request,
    model_path, parse_embeddings, parse_models, unframe_error_body,
};
pub use request::{generate_request, is_synthetic_call_id, tool_response_value};
pub use response::{StreamDecoder, map_finish, map_usage, parse_generate};
pub use schema::to_gemini_schema;
pub use types::*;
