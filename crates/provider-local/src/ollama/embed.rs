//! `POST /api/embed`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use runtime_core::{
    Embedding, EmbeddingRequest, EmbeddingResponse, Error, ResponseMeta, Result, Usage,
};

use super::request::invalid;

/// The body of `POST /api/embed`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OllamaEmbedRequest {
    /// Model.
    pub model: String,
    /// Texts.
    pub input: Vec<String>,
    /// Output dimensions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// `truncate`, `keep_alive`, `options`.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Maps an embedding request for `model` (the body's or a re-targeted call's); `user` and
/// unknown `extra` keys are invalid.
pub fn embed_request(
    req: &EmbeddingRequest,
    model: &str,
    provider: &str,
) -> Result<OllamaEmbedRequest> {
    if req.user.is_some() {
        return Err(invalid(
            provider,
            model,
            "user",
            "Ollama has no end-user field",
        ));
    }
    let mut extra = Map::new();
    for (k, v) in &req.extra {
        match k.as_str() {
            "truncate" | "keep_alive" | "options" => {
                extra.insert(k.clone(), v.clone());
            }
            other => {
                return Err(invalid(
                    provider,
                    model,
                    other,
                    format!("`{other}` is not an Ollama /api/embed field"),
                ));
            }
        }
    }
    Ok(OllamaEmbedRequest {
        model: model.to_owned(),
        input: req.input.clone(),
        dimensions: req.dimensions,
        extra,
    })
}

/// The body of an `/api/embed` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct OllamaEmbedResponse {
    /// Model.
    #[serde(default)]
    pub model: Option<String>,
    /// One vector per input.
    pub embeddings: Vec<Vec<f32>>,
    /// Prompt tokens.
    #[serde(default)]
    pub prompt_eval_count: Option<u64>,
}

/// Maps an `/api/embed` answer; the vector count must match the inputs.
pub fn parse_embed(
    r: OllamaEmbedResponse,
    inputs: usize,
    provider: &str,
    model: &str,
) -> Result<EmbeddingResponse> {
    if r.embeddings.len() != inputs {
        return Err(Error::decode(
            provider,
            model,
            "embeddings",
            format!("expected {inputs} vectors, got {}", r.embeddings.len()),
            "",
        ));
    }
    Ok(EmbeddingResponse {
        model: r.model.unwrap_or_else(|| model.to_owned()),
        data: r
            .embeddings
            .into_iter()
            .enumerate()
            .map(|(index, embedding)| Embedding { index, embedding })
            .collect(),
        usage: r.prompt_eval_count.map(|p| Usage::new(p, 0)),
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            ..ResponseMeta::default()
        },
    })
}
