//! `POST /embeddings`, with vectors as floats or base64.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use runtime_core::{Embedding, EmbeddingRequest, EmbeddingResponse, Error, ResponseMeta, Usage};

/// The body of `POST /embeddings`.
#[derive(Debug, Serialize)]
pub struct EmbeddingWireRequest<'a> {
    /// Model.
    pub model: &'a str,
    /// Inputs: texts, or token-id lists.
    pub input: WireInput<'a>,
    /// `float` or `base64`.
    pub encoding_format: &'static str,
    /// Dimensions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// End user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<&'a str>,
    /// Provider-specific fields.
    #[serde(flatten)]
    pub extra: &'a Map<String, Value>,
}

/// `input` of `POST /embeddings`: texts, or token-id lists (`[[int]]`).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum WireInput<'a> {
    /// Texts.
    Texts(&'a [String]),
    /// Token ids, one list per input.
    Tokens(&'a [Vec<u32>]),
}

/// Maps an embedding request; vectors are asked for as base64 (exact and smaller), and either
/// form is accepted back.
pub fn embedding_request<'a>(
    req: &'a EmbeddingRequest,
    model: &'a str,
    base64: bool,
) -> EmbeddingWireRequest<'a> {
    EmbeddingWireRequest {
        model,
        input: if req.tokens.is_empty() {
            WireInput::Texts(&req.input)
        } else {
            WireInput::Tokens(&req.tokens)
        },
        encoding_format: if base64 { "base64" } else { "float" },
        dimensions: req.dimensions,
        user: req.user.as_deref(),
        extra: &req.extra,
    }
}

/// A vector as floats or base64.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum WireVector {
    /// Floats.
    Float(Vec<f32>),
    /// Base64 of little-endian f32.
    Base64(String),
}

/// One vector of an embedding response.
#[derive(Debug, Clone, Deserialize)]
pub struct WireEmbedding {
    /// Input index.
    #[serde(default)]
    pub index: Option<usize>,
    /// The vector.
    pub embedding: WireVector,
}

/// The body of an embedding response.
#[derive(Debug, Clone, Deserialize)]
pub struct EmbeddingList {
    /// Vectors.
    pub data: Vec<WireEmbedding>,
    /// Model.
    #[serde(default)]
    pub model: Option<String>,
    /// Usage.
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// Decodes base64 little-endian f32s.
pub fn decode_base64_f32(s: &str) -> Result<Vec<f32>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| e.to_string())?;
    if bytes.len() % 4 != 0 {
        return Err(format!(
            "{} bytes is not a whole number of f32s",
            bytes.len()
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// Encodes f32s as base64 little-endian (the gateway's `encoding_format: base64`).
pub fn encode_base64_f32(v: &[f32]) -> String {
    let mut bytes = Vec::with_capacity(v.len() * 4);
    for f in v {
        bytes.extend_from_slice(&f.to_le_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Maps an embedding response, ordered by index; the count must match the inputs.
pub fn parse_embeddings(
    body: EmbeddingList,
    inputs: usize,
    provider: &str,
    model: &str,
) -> Result<EmbeddingResponse, Error> {
    let mut data = Vec::with_capacity(body.data.len());
    for (pos, e) in body.data.into_iter().enumerate() {
        let embedding = match e.embedding {
            WireVector::Float(v) => v,
            WireVector::Base64(s) => decode_base64_f32(&s)
                .map_err(|m| Error::decode(provider, model, "base64 embedding", m, &s))?,
        };
        data.push(Embedding {
            index: e.index.unwrap_or(pos),
            embedding,
        });
    }
    data.sort_by_key(|e| e.index);
    if data.len() != inputs || data.iter().enumerate().any(|(i, e)| e.index != i) {
        return Err(Error::decode(
            provider,
            model,
            "embeddings",
            format!(
                "expected {inputs} vectors indexed 0..{inputs}, got {}",
                data.len()
            ),
            "",
        ));
    }
    Ok(EmbeddingResponse {
        model: body.model.unwrap_or_else(|| model.to_owned()),
        data,
        usage: body.usage,
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            ..ResponseMeta::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn base64_round_trip() {
        let v = vec![0.5f32, -1.25, 3.0e-7];
        assert_eq!(decode_base64_f32(&encode_base64_f32(&v)).unwrap(), v);
        assert!(decode_base64_f32("AAA=").is_err());
    }
}
