//! Vertex AI text embeddings: `:predict` on `publishers/google/models/{model}` with
//! `{"instances": [{"content", "task_type", "title"}], "parameters": {"outputDimensionality",
//! "autoTruncate"}}`, answered by `{"predictions": [{"embeddings": {"values", "statistics":
//! {"token_count", "truncated"}}}]}` (`text-embedding-005`, `text-multilingual-embedding-002`,
//! `gemini-embedding-001`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use runtime_core::{Embedding, EmbeddingRequest, EmbeddingResponse, Error, ResponseMeta, Usage};

/// The `extra` fields of an embedding request this provider understands.
pub const EMBED_EXTRA_FIELDS: &[&str] = &["task_type", "title", "auto_truncate"];

/// Most instances one `:predict` call takes (the text-embedding models' documented limit).
pub const MAX_INSTANCES: usize = 250;

/// The most instances `model` takes per call: `gemini-embedding-001` takes one.
pub fn batch_size(model: &str) -> usize {
    if model.starts_with("gemini-embedding") {
        1
    } else {
        MAX_INSTANCES
    }
}

/// The body of `:predict`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PredictRequest<'a> {
    /// One per text.
    pub instances: Vec<Instance<'a>>,
    /// Options for all of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Parameters>,
}

/// One text to embed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Instance<'a> {
    /// The text.
    pub content: &'a str,
    /// `RETRIEVAL_QUERY`, `RETRIEVAL_DOCUMENT`, `SEMANTIC_SIMILARITY`, `CLASSIFICATION`,
    /// `CLUSTERING`, `QUESTION_ANSWERING`, `FACT_VERIFICATION`, `CODE_RETRIEVAL_QUERY`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_type: Option<&'a str>,
    /// A document title (with `RETRIEVAL_DOCUMENT`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<&'a str>,
}

/// `parameters`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Parameters {
    /// Shortened vector size (`dimensions`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_dimensionality: Option<u32>,
    /// Truncate over-long input instead of failing (`extra.auto_truncate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_truncate: Option<bool>,
}

/// The answer of `:predict`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct PredictResponse {
    /// One per instance, in order.
    #[serde(default)]
    pub predictions: Vec<Prediction>,
}

/// One vector.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Prediction {
    /// The vector and its statistics.
    pub embeddings: Embeddings,
}

/// `embeddings`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Embeddings {
    /// The vector.
    #[serde(default)]
    pub values: Vec<f32>,
    /// Token count and truncation.
    #[serde(default)]
    pub statistics: Option<Statistics>,
}

/// `statistics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
pub struct Statistics {
    /// Input tokens (a JSON number, sometimes written as a float).
    #[serde(default)]
    pub token_count: f64,
    /// Whether the input was cut.
    #[serde(default)]
    pub truncated: bool,
}

struct Options<'a> {
    task_type: Option<&'a str>,
    title: Option<&'a str>,
    auto_truncate: Option<bool>,
}

fn options<'a>(
    req: &'a EmbeddingRequest,
    model: &str,
    provider: &str,
) -> Result<Options<'a>, Error> {
    let invalid = |k: &str, m: String| Error::invalid_request(provider, model, Some(k), m);
    if req.user.is_some() {
        return Err(invalid(
            "user",
            "Vertex AI embeddings have no end-user id".into(),
        ));
    }
    let mut o = Options {
        task_type: None,
        title: None,
        auto_truncate: None,
    };
    for (k, v) in &req.extra {
        let text = || {
            v.as_str()
                .ok_or_else(|| invalid(k, format!("`{k}` must be a string")))
        };
        match (k.as_str(), v) {
            ("task_type", _) => o.task_type = Some(text()?),
            ("title", _) => o.title = Some(text()?),
            ("auto_truncate", Value::Bool(b)) => o.auto_truncate = Some(*b),
            ("auto_truncate", _) => {
                return Err(invalid(k, "`auto_truncate` must be true or false".into()));
            }
            _ => {
                return Err(invalid(
                    k,
                    format!(
                        "`{k}` cannot be expressed in a Vertex AI embedding request; supported \
                         extra fields: {}",
                        EMBED_EXTRA_FIELDS.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(o)
}

/// The `:predict` body for `texts` (a slice of the request's input) sent to `model` (errors
/// name it).
pub fn predict_request<'a>(
    req: &'a EmbeddingRequest,
    model: &str,
    texts: &'a [String],
    provider: &str,
) -> Result<PredictRequest<'a>, Error> {
    let o = options(req, model, provider)?;
    let parameters = Parameters {
        output_dimensionality: req.dimensions,
        auto_truncate: o.auto_truncate,
    };
    Ok(PredictRequest {
        instances: texts
            .iter()
            .map(|t| Instance {
                content: t,
                task_type: o.task_type,
                title: o.title,
            })
            .collect(),
        parameters: (parameters.output_dimensionality.is_some()
            || parameters.auto_truncate.is_some())
        .then_some(parameters),
    })
}

/// The vectors of every batch, in input order; usage is the sum of `token_count`.
pub fn parse_predictions(
    parts: Vec<PredictResponse>,
    inputs: usize,
    provider: &str,
    model: &str,
) -> Result<EmbeddingResponse, Error> {
    let mut data = Vec::with_capacity(inputs);
    let mut tokens: Option<u64> = Some(0);
    for p in parts {
        for pred in p.predictions {
            tokens = match (tokens, pred.embeddings.statistics) {
                (Some(t), Some(s)) if s.token_count >= 0.0 => Some(t + s.token_count as u64),
                _ => None,
            };
            data.push(Embedding {
                index: data.len(),
                embedding: pred.embeddings.values,
            });
        }
    }
    if data.len() != inputs {
        return Err(Error::decode(
            provider,
            model,
            "predictions",
            format!("expected {inputs} vectors, got {}", data.len()),
            "",
        ));
    }
    Ok(EmbeddingResponse {
        model: model.to_owned(),
        data,
        usage: tokens.map(|t| Usage::new(t, 0)),
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            ..ResponseMeta::default()
        },
    })
}
