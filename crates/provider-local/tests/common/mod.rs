//! Shared by this crate's mapping tests: fixture folders, request options, stream decoding.
#![allow(dead_code, clippy::unwrap_used, clippy::result_large_err)]

use provider_local::ollama::OllamaStreamDecoder;
use provider_local::openai::LocalChunkDecoder;
use provider_openai::wire::{MaxTokensField, RequestOptions};
use runtime_core::{ChatResponse, Error, StreamEvent};
use runtime_testkit::fixtures;

pub const COMPAT: &str = "openai-compatible";
pub const OLLAMA: &str = "ollama";

pub fn opts() -> RequestOptions {
    RequestOptions {
        max_tokens_field: MaxTokensField::MaxTokens,
        stream_usage: true,
        reasoning_content: false,
    }
}

pub fn meta_status(dir: &str, name: &str) -> u16 {
    let m = fixtures::json(dir, &name.replace(".response.json", ".meta.json"));
    u16::try_from(m["status"].as_u64().unwrap()).unwrap()
}

pub fn fold(events: &[StreamEvent]) -> ChatResponse {
    runtime_testkit::stream::fold(events)
}

pub fn decode_sse(pieces: &[Vec<u8>]) -> Result<Vec<StreamEvent>, Error> {
    runtime_testkit::stream::decode_sse(pieces, &mut LocalChunkDecoder::new("local", "m"))
        .into_result()
}

pub fn decode_ndjson(pieces: &[Vec<u8>]) -> Result<Vec<StreamEvent>, Error> {
    runtime_testkit::stream::decode_ndjson(pieces, &mut OllamaStreamDecoder::new("local", "m"))
        .into_result()
}
