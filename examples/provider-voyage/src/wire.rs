//! Voyage's `POST /v1/embeddings` wire format: pure functions from the core request to the
//! typed body, and from the answer back to the core response.

use std::collections::BTreeMap;

use runtime_core::{Embedding, EmbeddingRequest, EmbeddingResponse, Error, ResponseMeta, Usage};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Request fields Voyage has that the core request carries in `extra`.
pub const EXTRA_FIELDS: &[&str] = &["input_type", "output_dtype", "truncation"];

/// The body of `POST /v1/embeddings`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EmbedRequest<'a> {
    /// The texts.
    pub input: &'a [String],
    /// The model.
    pub model: &'a str,
    /// Shorter vectors, for the models that offer them (the core `dimensions`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_dimension: Option<u32>,
    /// `input_type`, `output_dtype`, `truncation`, passed through from `extra`.
    #[serde(flatten)]
    pub extra: BTreeMap<&'a str, &'a Value>,
}

fn invalid(provider: &str, model: &str, field: &str, why: impl Into<String>) -> Error {
    Error::invalid_request(provider, model, Some(field), why)
}

/// Maps a core embedding request for `model` (the request's own, or the one a router
/// deployment or `voyage/<model>` re-targeted it to). What Voyage cannot express (`user`, unknown extra fields,
/// no input at all) is an `InvalidRequest` naming the field.
pub fn embed_request<'a>(
    req: &'a EmbeddingRequest,
    model: &'a str,
    provider: &str,
) -> Result<EmbedRequest<'a>, Error> {
    req.text_only(provider)?;
    if req.input.is_empty() {
        return Err(invalid(provider, model, "input", "no input texts"));
    }
    if req.user.is_some() {
        return Err(invalid(
            provider,
            model,
            "user",
            "Voyage has no end-user field",
        ));
    }
    let mut extra = BTreeMap::new();
    for (k, v) in &req.extra {
        if !EXTRA_FIELDS.contains(&k.as_str()) {
            return Err(invalid(
                provider,
                model,
                k,
                format!(
                    "not a Voyage embeddings field; known: {}",
                    EXTRA_FIELDS.join(", ")
                ),
            ));
        }
        extra.insert(k.as_str(), v);
    }
    Ok(EmbedRequest {
        input: &req.input,
        model,
        output_dimension: req.dimensions,
        extra,
    })
}

/// One vector of an answer.
#[derive(Debug, Clone, Deserialize)]
pub struct WireEmbedding {
    /// The vector (integers for the integer `output_dtype`s, as numbers).
    pub embedding: Vec<f32>,
    /// Its input's position.
    pub index: usize,
}

/// Voyage's usage: one count.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct WireUsage {
    /// Tokens of all inputs.
    pub total_tokens: u64,
}

/// The body of an answer.
#[derive(Debug, Clone, Deserialize)]
pub struct EmbedResponse {
    /// The vectors.
    pub data: Vec<WireEmbedding>,
    /// The model that answered.
    #[serde(default)]
    pub model: Option<String>,
    /// Token count.
    #[serde(default)]
    pub usage: Option<WireUsage>,
}

/// Maps an answer: vectors in input order, one per input, the token count as prompt tokens.
pub fn parse_response(
    body: EmbedResponse,
    inputs: usize,
    provider: &str,
    model: &str,
) -> Result<EmbeddingResponse, Error> {
    let mut data: Vec<Embedding> = body
        .data
        .into_iter()
        .map(|d| Embedding {
            index: d.index,
            embedding: d.embedding,
        })
        .collect();
    data.sort_by_key(|d| d.index);
    if data.len() != inputs || data.iter().enumerate().any(|(i, d)| d.index != i) {
        return Err(Error::decode(
            provider,
            model,
            "embeddings",
            format!("{} vectors for {inputs} inputs", data.len()),
            "",
        ));
    }
    Ok(EmbeddingResponse {
        model: body.model.unwrap_or_else(|| model.to_owned()),
        data,
        usage: body.usage.map(|u| Usage::new(u.total_tokens, 0)),
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            ..ResponseMeta::default()
        },
    })
}
