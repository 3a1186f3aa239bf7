//! Embeddings through InvokeModel: Amazon Titan Text Embeddings (one text a call) and Cohere
//! Embed on Bedrock (up to 96 texts a call). Each family has its own body; the model id says
//! which.

use runtime_core::{EmbeddingRequest, EncodingFormat, Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Most texts in one Cohere Embed call.
pub const COHERE_MAX_TEXTS: usize = 96;

/// The body family of an embedding model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbedFamily {
    /// `amazon.titan-embed-text-v2:0` (dimensions, normalize).
    TitanV2,
    /// `amazon.titan-embed-text-v1`, `amazon.titan-embed-g1-text-02` (text only).
    TitanV1,
    /// `cohere.embed-english-v3`, `cohere.embed-multilingual-v3`, `cohere.embed-v4:0`.
    Cohere,
}

impl EmbedFamily {
    /// The family of a model id (inference-profile prefixes and ARNs allowed).
    pub fn of(model: &str) -> Option<EmbedFamily> {
        let base = super::url::base_model_id(model);
        if base.starts_with("amazon.titan-embed-text-v2") {
            Some(EmbedFamily::TitanV2)
        } else if base.starts_with("amazon.titan-embed") && !base.contains("image") {
            Some(EmbedFamily::TitanV1)
        } else if base.starts_with("cohere.embed") {
            Some(EmbedFamily::Cohere)
        } else {
            None
        }
    }

    /// How many texts one call takes.
    pub fn batch(self) -> usize {
        match self {
            EmbedFamily::Cohere => COHERE_MAX_TEXTS,
            _ => 1,
        }
    }
}

/// A Titan Text Embeddings body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TitanRequest<'a> {
    /// The text.
    pub input_text: &'a str,
    /// Output size (v2: 256, 512 or 1024).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// Unit-length vectors (v2).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub normalize: Option<bool>,
}

/// A Titan Text Embeddings answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TitanResponse {
    /// The vector.
    pub embedding: Vec<f32>,
    /// Tokens read.
    #[serde(default)]
    pub input_text_token_count: u64,
}

/// A Cohere Embed body.
#[derive(Debug, Serialize)]
pub struct CohereRequest<'a> {
    /// The texts.
    pub texts: &'a [String],
    /// `search_document`, `search_query`, `classification` or `clustering`.
    pub input_type: String,
    /// Passed through when given (`NONE`, `START`, `END`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncate: Option<Value>,
    /// Output size (Embed v4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_dimension: Option<u32>,
}

/// A Cohere Embed answer: `embeddings` is a list of vectors (`embeddings_floats`) or an object
/// of them by type (`embeddings_by_type`).
#[derive(Debug, Deserialize)]
pub struct CohereResponse {
    /// The vectors.
    pub embeddings: Value,
}

/// The Titan body of one text for `model`; what Titan cannot express is refused by name.
pub fn titan_request<'a>(
    req: &'a EmbeddingRequest,
    model: &str,
    text: &'a str,
    family: EmbedFamily,
    provider: &str,
) -> Result<TitanRequest<'a>> {
    let invalid = |f: &str, why: &str| Error::invalid_request(provider, model, Some(f), why);
    let mut normalize = None;
    for (k, v) in &req.extra {
        match (k.as_str(), family) {
            ("normalize", EmbedFamily::TitanV2) => {
                normalize = Some(v.as_bool().ok_or_else(|| invalid(k, "must be a boolean"))?)
            }
            _ => return Err(invalid(k, "not a Titan Text Embeddings field")),
        }
    }
    if family == EmbedFamily::TitanV1 && req.dimensions.is_some() {
        return Err(invalid(
            "dimensions",
            "Titan Text Embeddings v1 has a fixed size",
        ));
    }
    check_format(req, model, provider)?;
    Ok(TitanRequest {
        input_text: text,
        dimensions: req.dimensions,
        normalize,
    })
}

/// The Cohere body of a batch for `model`; `input_type` defaults to `search_document`.
pub fn cohere_request<'a>(
    req: &'a EmbeddingRequest,
    model: &str,
    texts: &'a [String],
    provider: &str,
) -> Result<CohereRequest<'a>> {
    let invalid = |f: &str, why: &str| Error::invalid_request(provider, model, Some(f), why);
    let mut input_type = "search_document".to_owned();
    let mut truncate = None;
    let extra: &Map<String, Value> = &req.extra;
    for (k, v) in extra {
        match k.as_str() {
            "input_type" => {
                input_type = v
                    .as_str()
                    .ok_or_else(|| invalid(k, "must be a string"))?
                    .to_owned()
            }
            "truncate" => truncate = Some(v.clone()),
            _ => return Err(invalid(k, "not a Cohere Embed (Bedrock) field")),
        }
    }
    check_format(req, model, provider)?;
    Ok(CohereRequest {
        texts,
        input_type,
        truncate,
        output_dimension: req.dimensions,
    })
}

fn check_format(req: &EmbeddingRequest, model: &str, provider: &str) -> Result<()> {
    if req.encoding_format == Some(EncodingFormat::Base64) {
        return Err(Error::invalid_request(
            provider,
            model,
            Some("encoding_format"),
            "Bedrock embeddings are floats only",
        ));
    }
    Ok(())
}

/// The float vectors of a Cohere answer, whichever shape.
pub fn cohere_vectors(r: CohereResponse, provider: &str, model: &str) -> Result<Vec<Vec<f32>>> {
    let list = match r.embeddings {
        Value::Object(mut m) => m.remove("float").unwrap_or(Value::Null),
        other => other,
    };
    serde_json::from_value(list)
        .map_err(|e| Error::decode(provider, model, "Cohere embeddings", e, ""))
}
