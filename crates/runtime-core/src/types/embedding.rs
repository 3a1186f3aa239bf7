//! Embeddings.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::usage::Usage;

/// An embedding request (OpenAI `POST /v1/embeddings`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingRequest {
    /// The model.
    pub model: String,
    /// Texts to embed (a string or a list of strings on the wire).
    #[serde(deserialize_with = "input_list")]
    pub input: Vec<String>,
    /// Output dimensions, for models that can shorten their vectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// How the gateway encodes vectors for its client (`float` or `base64`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_format: Option<EncodingFormat>,
    /// End-user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Provider-specific fields (e.g. Gemini `task_type`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl EmbeddingRequest {
    /// A request for these texts.
    pub fn new(model: impl Into<String>, input: Vec<String>) -> Self {
        Self {
            model: model.into(),
            input,
            ..Self::default()
        }
    }
}

fn input_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Input {
        One(String),
        Many(Vec<String>),
    }
    match Input::deserialize(d) {
        Ok(Input::One(s)) => Ok(vec![s]),
        Ok(Input::Many(v)) => Ok(v),
        Err(_) => Err(serde::de::Error::custom(
            "`input` must be a string or a list of strings",
        )),
    }
}

/// Vector encoding on the gateway's wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncodingFormat {
    /// JSON numbers.
    Float,
    /// Base64 of little-endian `f32`s.
    Base64,
}

/// Vectors, one per input, in input order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EmbeddingResponse {
    /// The model that answered.
    pub model: String,
    /// One vector per input.
    pub data: Vec<Embedding>,
    /// Token counts (prompt only).
    pub usage: Option<Usage>,
    /// Where it came from.
    #[serde(default)]
    pub meta: super::chat::ResponseMeta,
}

/// One vector.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Embedding {
    /// Position of its input in the request.
    pub index: usize,
    /// The vector.
    pub embedding: Vec<f32>,
}
