//! The Hugging Face Inference API's feature-extraction pipeline: request body and the
//! shape-dependent decoding of its answer (pure functions).
//!
//! The answer is a bare JSON array whose nesting depends on the model and on whether `inputs`
//! was a string or a list:
//!
//! | inputs sent | answer | meaning |
//! |---|---|---|
//! | one string | `[f32]` | one pooled vector (sentence-embedding models) |
//! | one string | `[[f32]]` | one vector per token (plain encoders) |
//! | one string | `[[[f32]]]` with one element | per-token vectors with a batch dimension |
//! | list of n | `[[f32]]` with n rows | one pooled vector per input |
//! | list of n | `[[[f32]]]` with n elements | per-token vectors per input |
//!
//! One input is therefore sent as a string and several as a list, and the number of inputs
//! disambiguates `[[f32]]`. Token-level outputs are pooled per [`Pooling`]; vectors are
//! L2-normalized when asked.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use runtime_core::{Embedding, EmbeddingRequest, EmbeddingResponse, Error, ResponseMeta};

/// How per-token vectors become one vector per input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pooling {
    /// The mean over tokens (the usual choice for sentence embeddings).
    #[default]
    Mean,
    /// The first token's vector (`[CLS]`).
    Cls,
    /// No pooling: a token-level answer is an error naming `pooling`.
    None,
}

impl Pooling {
    /// Parses `mean`, `cls` or `none`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "mean" => Some(Pooling::Mean),
            "cls" => Some(Pooling::Cls),
            "none" => Some(Pooling::None),
            _ => None,
        }
    }
}

/// Top-level fields of the feature-extraction body a request may pass in its extra fields.
pub const EXTRA_FIELDS: &[&str] = &["truncate", "truncation_direction", "prompt_name"];

fn invalid(provider: &str, model: &str, param: &str, msg: impl Into<String>) -> Error {
    Error::invalid_request(provider, model, Some(param), msg)
}

/// The body of `POST …/pipeline/feature-extraction`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureExtractionRequest<'a> {
    /// One text, or several.
    pub inputs: Inputs<'a>,
    /// Fields from [`EXTRA_FIELDS`], passed through.
    #[serde(flatten)]
    pub extra: BTreeMap<&'a str, &'a Value>,
}

/// `inputs`: a string for one text (what the pipeline answers with one vector), else a list.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Inputs<'a> {
    /// One text.
    One(&'a str),
    /// Several.
    Many(&'a [String]),
}

/// The body of `POST …/pipeline/feature-extraction`: `{"inputs": "text" | ["a", "b"], …}`.
/// `model` (the body's or a re-targeted call's) names the request in errors.
pub fn embedding_request<'a>(
    req: &'a EmbeddingRequest,
    model: &str,
    provider: &str,
) -> Result<FeatureExtractionRequest<'a>, Error> {
    req.text_only(provider)?;
    if req.input.is_empty() {
        return Err(invalid(provider, model, "input", "no input texts"));
    }
    if req.dimensions.is_some() {
        return Err(invalid(
            provider,
            model,
            "dimensions",
            "the feature-extraction pipeline cannot shorten vectors",
        ));
    }
    if req.user.is_some() {
        return Err(invalid(
            provider,
            model,
            "user",
            "the feature-extraction pipeline has no end-user field",
        ));
    }
    let mut body = FeatureExtractionRequest {
        inputs: match req.input.as_slice() {
            [one] => Inputs::One(one),
            many => Inputs::Many(many),
        },
        extra: BTreeMap::new(),
    };
    for (k, v) in &req.extra {
        if !EXTRA_FIELDS.contains(&k.as_str()) {
            return Err(invalid(
                provider,
                model,
                k,
                format!(
                    "not a feature-extraction parameter; known extra parameters: {}",
                    EXTRA_FIELDS.join(", ")
                ),
            ));
        }
        body.extra.insert(k, v);
    }
    Ok(body)
}

/// The answer, by nesting depth.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Features {
    /// `[f32]`.
    Flat(Vec<f32>),
    /// `[[f32]]`.
    Matrix(Vec<Vec<f32>>),
    /// `[[[f32]]]`.
    Tensor(Vec<Vec<Vec<f32>>>),
}

/// Why an answer could not be turned into vectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShapeError {
    /// The answer does not fit the number of inputs.
    Shape(String),
    /// The model returned per-token vectors and `pooling` is `none`.
    NeedsPooling,
}

fn pool(tokens: Vec<Vec<f32>>, pooling: Pooling) -> Result<Vec<f32>, ShapeError> {
    let dim = tokens
        .first()
        .map(Vec::len)
        .ok_or_else(|| ShapeError::Shape("a token-level answer without any token vector".into()))?;
    if tokens.iter().any(|t| t.len() != dim) {
        return Err(ShapeError::Shape(
            "token vectors of different lengths".into(),
        ));
    }
    match pooling {
        Pooling::None => Err(ShapeError::NeedsPooling),
        Pooling::Cls => Ok(tokens.into_iter().next().unwrap_or_default()),
        Pooling::Mean => {
            let n = tokens.len() as f64;
            let mut sum = vec![0f64; dim];
            for t in &tokens {
                for (s, x) in sum.iter_mut().zip(t) {
                    *s += f64::from(*x);
                }
            }
            Ok(sum.into_iter().map(|s| (s / n) as f32).collect())
        }
    }
}

/// Scales `v` to unit length (a zero vector stays zero).
pub fn l2_normalize(v: &mut [f32]) {
    let norm = v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    if norm > 0.0 {
        for x in v.iter_mut() {
            *x = (f64::from(*x) / norm) as f32;
        }
    }
}

/// One vector per input, in input order, from an answer of any of the shapes above.
pub fn vectors(
    features: Features,
    inputs: usize,
    pooling: Pooling,
    normalize: bool,
) -> Result<Vec<Vec<f32>>, ShapeError> {
    let mut out = match (inputs, features) {
        (1, Features::Flat(v)) => vec![v],
        (1, Features::Matrix(tokens)) => vec![pool(tokens, pooling)?],
        (n, Features::Matrix(rows)) if rows.len() == n => rows,
        (n, Features::Tensor(batch)) if batch.len() == n => batch
            .into_iter()
            .map(|tokens| pool(tokens, pooling))
            .collect::<Result<_, _>>()?,
        (n, Features::Flat(v)) => {
            return Err(ShapeError::Shape(format!(
                "one flat vector of {} numbers for {n} inputs",
                v.len()
            )));
        }
        (n, Features::Matrix(rows)) => {
            return Err(ShapeError::Shape(format!(
                "{} vectors for {n} inputs",
                rows.len()
            )));
        }
        (n, Features::Tensor(batch)) => {
            return Err(ShapeError::Shape(format!(
                "{} token-level outputs for {n} inputs",
                batch.len()
            )));
        }
    };
    if let Some(first) = out.first() {
        let dim = first.len();
        if dim == 0 || out.iter().any(|v| v.len() != dim) {
            return Err(ShapeError::Shape(
                "empty vectors or vectors of different lengths".into(),
            ));
        }
    }
    if normalize {
        out.iter_mut().for_each(|v| l2_normalize(v));
    }
    Ok(out)
}

/// Maps a feature-extraction answer (raw body) to the core response. The API reports no token
/// counts, so `usage` is `None`.
pub fn parse_embeddings(
    body: &[u8],
    inputs: usize,
    pooling: Pooling,
    normalize: bool,
    provider: &str,
    model: &str,
) -> Result<EmbeddingResponse, Error> {
    let text = || String::from_utf8_lossy(body).into_owned();
    let features: Features = serde_json::from_slice(body).map_err(|_| {
        Error::decode(
            provider,
            model,
            "feature-extraction answer",
            "expected a JSON array of numbers nested 1 to 3 deep",
            &text(),
        )
    })?;
    let vectors = vectors(features, inputs, pooling, normalize).map_err(|e| match e {
        ShapeError::NeedsPooling => invalid(
            provider,
            model,
            "pooling",
            "the model returns one vector per token and pooling = \"none\"; set pooling to \
             \"mean\" or \"cls\"",
        ),
        ShapeError::Shape(m) => {
            Error::decode(provider, model, "feature-extraction answer", m, &text())
        }
    })?;
    Ok(EmbeddingResponse {
        model: model.to_owned(),
        data: vectors
            .into_iter()
            .enumerate()
            .map(|(index, embedding)| Embedding { index, embedding })
            .collect(),
        usage: None,
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            ..ResponseMeta::default()
        },
    })
}

/// The embeddings URL of a model: `{model}` in the template replaced by the model id. Model ids
/// are `owner/name` with letters, digits, `-`, `_`, `.`; anything else is rejected rather than
/// put into a URL unescaped.
pub fn embeddings_url(template: &str, model: &str, provider: &str) -> Result<String, Error> {
    let ok = !model.is_empty()
        && !model.starts_with('/')
        && !model.contains("..")
        && model
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/' | ':'));
    if !ok {
        return Err(invalid(
            provider,
            model,
            "model",
            "not a Hugging Face model id (owner/name of letters, digits, -, _, .)",
        ));
    }
    Ok(template.replace("{model}", model))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(json: &str) -> Features {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn shapes_disambiguated_by_input_count() {
        assert_eq!(
            vectors(f("[1.0, 2.0]"), 1, Pooling::Mean, false).unwrap(),
            vec![vec![1.0, 2.0]]
        );
        // one input, token level: mean and cls
        assert_eq!(
            vectors(f("[[1.0, 2.0], [3.0, 4.0]]"), 1, Pooling::Mean, false).unwrap(),
            vec![vec![2.0, 3.0]]
        );
        assert_eq!(
            vectors(f("[[1.0, 2.0], [3.0, 4.0]]"), 1, Pooling::Cls, false).unwrap(),
            vec![vec![1.0, 2.0]]
        );
        // two inputs, pooled
        assert_eq!(
            vectors(f("[[1.0, 2.0], [3.0, 4.0]]"), 2, Pooling::Mean, false).unwrap(),
            vec![vec![1.0, 2.0], vec![3.0, 4.0]]
        );
        // batch of one, token level
        assert_eq!(
            vectors(f("[[[1.0, 0.0], [3.0, 2.0]]]"), 1, Pooling::Mean, false).unwrap(),
            vec![vec![2.0, 1.0]]
        );
        assert_eq!(
            vectors(f("[[1.0, 2.0]]"), 1, Pooling::None, false),
            Err(ShapeError::NeedsPooling)
        );
        assert!(matches!(
            vectors(f("[1.0, 2.0]"), 2, Pooling::Mean, false),
            Err(ShapeError::Shape(_))
        ));
        assert!(matches!(
            vectors(f("[[1.0], [2.0, 3.0]]"), 2, Pooling::Mean, false),
            Err(ShapeError::Shape(_))
        ));
    }

    #[test]
    fn normalizes() {
        let v = vectors(f("[3.0, 4.0]"), 1, Pooling::Mean, true).unwrap();
        assert_eq!(v, vec![vec![0.6, 0.8]]);
        let mut z = vec![0.0, 0.0];
        l2_normalize(&mut z);
        assert_eq!(z, vec![0.0, 0.0]);
    }

    #[test]
    fn url_template() {
        assert_eq!(
            embeddings_url("https://h/models/{model}/x", "BAAI/bge-small-en-v1.5", "hf").unwrap(),
            "https://h/models/BAAI/bge-small-en-v1.5/x"
        );
        assert!(embeddings_url("https://h/{model}", "a?b", "hf").is_err());
        assert!(embeddings_url("https://h/{model}", "../x", "hf").is_err());
    }
}
