//! `POST /v1/embeddings`: OpenAI's shape (`model`, `input`, `dimensions`) plus Jina's own
//! fields from the request's extra fields (`task`, `late_chunking`, `truncate`, `normalized`).
//! `embedding_type` is not sent: Jina's default is `float`, the core's vectors (`base64`,
//! `binary` and `ubinary` would need other decoding; asking for them is refused by name).
//! Answered with `data[]` of `index` and `embedding`, and `usage.total_tokens`.

use runtime_core::{
    Embedding, EmbeddingRequest, EmbeddingResponse, Error, ResponseMeta, Result, Usage,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::rerank::WireUsage;

/// Extra fields passed through, with the JSON type each must have.
const EXTRAS: &[(&str, &str)] = &[
    ("task", "string"),
    ("late_chunking", "boolean"),
    ("truncate", "boolean"),
    ("normalized", "boolean"),
];

/// The body of `POST /v1/embeddings`.
#[derive(Debug, Serialize)]
pub struct JinaEmbedRequest<'a> {
    /// Model.
    pub model: &'a str,
    /// Texts.
    pub input: &'a [String],
    /// Output dimensions (Matryoshka truncation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// Jina's fields (`task`, `late_chunking`, `truncate`, `normalized`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Maps a core request for `model` (the body's or a re-targeted call's); token-id input and
/// unknown extra fields are refused by name.
pub fn embed_request<'a>(
    req: &'a EmbeddingRequest,
    model: &'a str,
    provider: &str,
) -> Result<JinaEmbedRequest<'a>> {
    req.text_only(provider)?;
    let invalid =
        |field: &str, why: &str| Error::invalid_request(provider, model, Some(field), why);
    if req.input.is_empty() {
        return Err(invalid("input", "no input texts"));
    }
    let mut extra = Map::new();
    for (k, v) in &req.extra {
        let Some((_, kind)) = EXTRAS.iter().find(|(name, _)| name == k) else {
            return Err(invalid(k, "not a field of Jina's embeddings"));
        };
        let ok = match *kind {
            "string" => v.is_string(),
            _ => v.is_boolean(),
        };
        if !ok {
            return Err(invalid(k, &format!("must be a {kind}")));
        }
        extra.insert(k.clone(), v.clone());
    }
    Ok(JinaEmbedRequest {
        model,
        input: &req.input,
        dimensions: req.dimensions,
        extra,
    })
}

#[derive(Debug, Deserialize)]
struct Answer {
    data: Vec<WireEmbedding>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Debug, Deserialize)]
struct WireEmbedding {
    index: usize,
    embedding: Vec<f32>,
}

/// Maps the answer; one vector per input, in input order.
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
            "embeddings answer",
            e,
            &String::from_utf8_lossy(body),
        )
    };
    let a: Answer = serde_json::from_slice(body).map_err(|e| decode(&e))?;
    let mut data: Vec<Embedding> = a
        .data
        .into_iter()
        .map(|d| Embedding {
            index: d.index,
            embedding: d.embedding,
        })
        .collect();
    data.sort_by_key(|d| d.index);
    if data.len() != inputs || data.iter().enumerate().any(|(i, d)| d.index != i) {
        return Err(decode(&format!(
            "{} vectors (indexes {:?}) for {inputs} inputs",
            data.len(),
            data.iter().map(|d| d.index).collect::<Vec<_>>()
        )));
    }
    Ok(EmbeddingResponse {
        model: model.to_owned(),
        data,
        usage: a.usage.map(|u| Usage::new(u.input(), 0)),
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            ..ResponseMeta::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jina_fields_pass_and_others_are_refused_by_name() {
        let mut req = EmbeddingRequest::new("jina-embeddings-v3", vec!["a".into()]);
        req.extra.insert("task".into(), json!("retrieval.query"));
        req.extra.insert("normalized".into(), json!(true));
        let body = serde_json::to_value(embed_request(&req, &req.model, "jina").unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"model": "jina-embeddings-v3", "input": ["a"], "task": "retrieval.query", "normalized": true})
        );
        req.extra.insert("late_chunking".into(), json!("yes"));
        let e = embed_request(&req, &req.model, "jina").unwrap_err();
        assert!(e.to_string().contains("late_chunking"), "{e}");
        req.extra.remove("late_chunking");
        req.extra.insert("embedding_type".into(), json!("binary"));
        let e = embed_request(&req, &req.model, "jina").unwrap_err();
        assert!(e.to_string().contains("embedding_type"), "{e}");
        let tokens = EmbeddingRequest::from_tokens("jina-embeddings-v3", vec![vec![1, 2]]);
        assert!(embed_request(&tokens, &tokens.model, "jina").is_err());
    }

    #[test]
    fn a_short_answer_is_a_decode_error() {
        let body = br#"{"data": [{"index": 0, "embedding": [0.5]}], "usage": {"total_tokens": 3}}"#;
        let ok = parse_embed(body, 1, "jina", "m").unwrap();
        assert_eq!(ok.usage.unwrap().prompt_tokens, 3);
        assert!(parse_embed(body, 2, "jina", "m").is_err());
    }
}
