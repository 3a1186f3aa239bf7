//! `POST /v1/messages/count_tokens`: the request, and the answer's body.
//!
//! An Anthropic upstream counts exactly; for any other the gateway answers with
//! [`crate::estimate::input_tokens`], and the body says so (`"estimated": true`, a field
//! Anthropic's clients ignore).

use serde::Serialize;

use super::types::CountTokensRequest;
use crate::error::parse_body;
use crate::{Converted, RequestError};

/// Parses a count_tokens body; errors name the field.
pub fn parse(body: &[u8]) -> Result<CountTokensRequest, RequestError> {
    parse_body(body)
}

/// The conversation as a core request (`max_tokens` 1).
pub fn to_core(req: &CountTokensRequest) -> Result<Converted, RequestError> {
    super::request::to_core(&req.to_messages_request())
}

#[derive(Serialize)]
struct Body {
    input_tokens: u64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    estimated: bool,
}

/// `{"input_tokens": n}`, with `"estimated": true` when the count is an estimate.
pub fn body(input_tokens: u64, estimated: bool) -> Vec<u8> {
    serde_json::to_vec(&Body {
        input_tokens,
        estimated,
    })
    .unwrap_or_default()
}
