//! `POST /v2/embed`: `texts`, `input_type` (`search_document`, `search_query`,
//! `classification`, `clustering`), `embedding_types`, `output_dimension`, `truncate`;
//! answered with `embeddings` by type (`float`, `int8`, …) and billed input tokens.

use runtime_core::{
    Embedding, EmbeddingRequest, EmbeddingResponse, Error, ResponseMeta, Result, Usage,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `input_type` when the request gives none: what documents stored for search are.
pub const DEFAULT_INPUT_TYPE: &str = "search_document";

/// The body of `POST /v2/embed`.
#[derive(Debug, Serialize)]
pub struct CohereEmbedRequest<'a> {
    /// Model.
    pub model: &'a str,
    /// Texts.
    pub texts: &'a [String],
    /// What the texts are for.
    pub input_type: String,
    /// Vector types asked for; always includes `float` (the core's vectors).
    pub embedding_types: Vec<String>,
    /// Output dimensions (embed-v4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_dimension: Option<u32>,
    /// `NONE`, `START` or `END`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truncate: Option<String>,
}

/// Maps a core request for `model` (the body's or a re-targeted call's): `input_type`, `embedding_types` and `truncate` come from `extra`.
pub fn embed_request<'a>(
    req: &'a EmbeddingRequest,
    model: &'a str,
    provider: &str,
) -> Result<CohereEmbedRequest<'a>> {
    let invalid =
        |field: &str, why: &str| Error::invalid_request(provider, model, Some(field), why);
    let string = |k: &str| -> Result<Option<String>> {
        match req.extra.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(invalid(k, "must be a string")),
        }
    };
    let mut types = vec!["float".to_owned()];
    match req.extra.get("embedding_types") {
        None | Some(Value::Null) => {}
        Some(Value::Array(a)) => {
            for t in a {
                let Some(t) = t.as_str() else {
                    return Err(invalid("embedding_types", "must be a list of strings"));
                };
                if !types.iter().any(|x| x == t) {
                    types.push(t.to_owned());
                }
            }
        }
        Some(_) => return Err(invalid("embedding_types", "must be a list of strings")),
    }
    if let Some(k) = req
        .extra
        .keys()
        .find(|k| !matches!(k.as_str(), "input_type" | "embedding_types" | "truncate"))
    {
        return Err(invalid(k, "not a field of Cohere's embed"));
    }
    Ok(CohereEmbedRequest {
        model,
        texts: &req.input,
        input_type: string("input_type")?.unwrap_or_else(|| DEFAULT_INPUT_TYPE.to_owned()),
        embedding_types: types,
        output_dimension: req.dimensions,
        truncate: string("truncate")?,
    })
}

#[derive(Debug, Deserialize)]
struct EmbedAnswer {
    #[serde(default)]
    id: Option<String>,
    embeddings: Map<String, Value>,
    #[serde(default)]
    meta: Option<Meta>,
}

#[derive(Debug, Deserialize)]
struct Meta {
    #[serde(default)]
    billed_units: Option<Billed>,
}

#[derive(Debug, Deserialize)]
struct Billed {
    #[serde(default)]
    input_tokens: f64,
}

/// Annotation: the vectors of the other `embedding_types` asked for (`int8`, `binary`, …), by
/// type, in input order.
pub const OTHER_TYPES: &str = "cohere.embeddings";

/// Maps the answer: the `float` vectors, in input order.
pub fn parse_embed(
    body: &[u8],
    inputs: usize,
    provider: &str,
    model: &str,
) -> Result<EmbeddingResponse> {
    let decode = |e: &dyn std::fmt::Display| {
        Error::decode(
            provider,
            model,
            "embed answer",
            e,
            &String::from_utf8_lossy(body),
        )
    };
    let mut a: EmbedAnswer = serde_json::from_slice(body).map_err(|e| decode(&e))?;
    let floats: Vec<Vec<f32>> = match a.embeddings.remove("float") {
        Some(v) => serde_json::from_value(v).map_err(|e| decode(&e))?,
        None => return Err(decode(&"no `float` embeddings in the answer")),
    };
    if floats.len() != inputs {
        return Err(decode(&format!(
            "{} vectors for {inputs} inputs",
            floats.len()
        )));
    }
    let mut annotations = Map::new();
    if !a.embeddings.is_empty() {
        annotations.insert(OTHER_TYPES.into(), Value::Object(a.embeddings));
    }
    let billed = a
        .meta
        .and_then(|m| m.billed_units)
        .map(|b| b.input_tokens as u64);
    Ok(EmbeddingResponse {
        model: model.to_owned(),
        data: floats
            .into_iter()
            .enumerate()
            .map(|(index, embedding)| Embedding { index, embedding })
            .collect(),
        usage: billed.map(|n| Usage::new(n, 0)),
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            upstream_request_id: a.id.take(),
            annotations,
            ..ResponseMeta::default()
        },
    })
}
