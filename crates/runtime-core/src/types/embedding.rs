//! Embeddings.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::usage::Usage;

/// An embedding request (OpenAI `POST /v1/embeddings`).
///
/// On the wire `input` is a string, a list of strings, a list of token ids (`[int]`) or a
/// list of such lists (`[[int]]`, what `langchain-openai`'s `OpenAIEmbeddings` sends by
/// default). Texts land in [`input`](Self::input), token ids in [`tokens`](Self::tokens); one
/// of them is empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "WireEmbeddingRequest")]
pub struct EmbeddingRequest {
    /// The model.
    pub model: String,
    /// Texts to embed (a string or a list of strings on the wire). Empty when the client sent
    /// token ids ([`tokens`](Self::tokens)).
    pub input: Vec<String>,
    /// Token ids to embed, one list per input, in the model's own tokenization (the client
    /// sent `input` as `[int]` or `[[int]]`). Empty for a text request. Only providers whose
    /// upstream accepts token ids forward them; the others answer
    /// [`Error::InvalidRequest`](crate::Error) naming the limitation (see
    /// [`EmbeddingRequest::text_only`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tokens: Vec<Vec<u32>>,
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

    /// A request for these token-id lists (one vector per list).
    pub fn from_tokens(model: impl Into<String>, tokens: Vec<Vec<u32>>) -> Self {
        Self {
            model: model.into(),
            tokens,
            ..Self::default()
        }
    }

    /// How many vectors the request asks for (texts or token-id lists).
    pub fn len(&self) -> usize {
        if self.tokens.is_empty() {
            self.input.len()
        } else {
            self.tokens.len()
        }
    }

    /// Whether the request has no input at all.
    pub fn is_empty(&self) -> bool {
        self.input.is_empty() && self.tokens.is_empty()
    }

    /// `Ok` for a text request; for token ids, the `InvalidRequest` a provider whose upstream
    /// takes only text answers (it names `provider` and the limitation, so the client knows to
    /// send text).
    pub fn text_only(&self, provider: &str) -> crate::Result<()> {
        if self.tokens.is_empty() {
            return Ok(());
        }
        Err(crate::Error::invalid_request(
            provider,
            &self.model,
            Some("input"),
            format!(
                "provider `{provider}` embeds text only and cannot take `input` as token ids; \
                 send the text (with langchain-openai: `OpenAIEmbeddings(check_embedding_ctx_length=False)`)"
            ),
        ))
    }
}

/// The wire form of [`EmbeddingRequest`]: `input` in any of its four shapes.
#[derive(Deserialize)]
struct WireEmbeddingRequest {
    model: String,
    #[serde(deserialize_with = "input_any")]
    input: Input,
    #[serde(default)]
    tokens: Vec<Vec<u32>>,
    #[serde(default)]
    dimensions: Option<u32>,
    #[serde(default)]
    encoding_format: Option<EncodingFormat>,
    #[serde(default)]
    user: Option<String>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

impl From<WireEmbeddingRequest> for EmbeddingRequest {
    fn from(w: WireEmbeddingRequest) -> Self {
        let (input, mut tokens) = match w.input {
            Input::One(s) => (vec![s], Vec::new()),
            Input::Many(v) => (v, Vec::new()),
            Input::Tokens(t) => (Vec::new(), vec![t]),
            Input::TokenLists(t) => (Vec::new(), t),
        };
        if tokens.is_empty() {
            // A serialized request (cache keys, tests) carries its token ids here.
            tokens = w.tokens;
        }
        Self {
            model: w.model,
            input,
            tokens,
            dimensions: w.dimensions,
            encoding_format: w.encoding_format,
            user: w.user,
            extra: w.extra,
        }
    }
}

/// `input` on the wire.
#[derive(Deserialize)]
#[serde(untagged)]
enum Input {
    One(String),
    Many(Vec<String>),
    Tokens(Vec<u32>),
    TokenLists(Vec<Vec<u32>>),
}

fn input_any<'de, D: Deserializer<'de>>(d: D) -> Result<Input, D::Error> {
    Input::deserialize(d).map_err(|_| {
        serde::de::Error::custom(
            "`input` must be a string, a list of strings, a list of token ids or a list of \
             lists of token ids",
        )
    })
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(input: &str) -> Result<EmbeddingRequest, serde_json::Error> {
        serde_json::from_str(&format!(r#"{{"model":"m","input":{input}}}"#))
    }

    #[test]
    fn input_takes_all_four_wire_shapes() {
        assert_eq!(parse(r#""a""#).unwrap().input, vec!["a"]);
        assert_eq!(parse(r#"["a","b"]"#).unwrap().input, vec!["a", "b"]);
        let one = parse("[1,2,3]").unwrap();
        assert!(one.input.is_empty());
        assert_eq!(one.tokens, vec![vec![1, 2, 3]]);
        assert_eq!(one.len(), 1);
        let many = parse("[[1,2],[3]]").unwrap();
        assert_eq!(many.tokens, vec![vec![1, 2], vec![3]]);
        assert_eq!(many.len(), 2);
        assert!(!many.is_empty());
    }

    #[test]
    fn other_input_shapes_are_named_errors() {
        for bad in ["1", "[-1]", r#"[1,"a"]"#, "{}", "[[1],\"a\"]"] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains("`input` must be"), "{bad}: {e}");
        }
    }

    #[test]
    fn token_requests_round_trip_through_serde() {
        let req = EmbeddingRequest::from_tokens("m", vec![vec![7, 8]]);
        let back: EmbeddingRequest =
            serde_json::from_value(serde_json::to_value(&req).unwrap()).unwrap();
        assert_eq!(back, req);
        let text = EmbeddingRequest::new("m", vec!["x".into()]);
        let back: EmbeddingRequest =
            serde_json::from_value(serde_json::to_value(&text).unwrap()).unwrap();
        assert_eq!(back, text);
    }

    #[test]
    fn text_only_providers_name_the_limitation() {
        assert!(
            EmbeddingRequest::new("m", vec!["x".into()])
                .text_only("g")
                .is_ok()
        );
        let e = EmbeddingRequest::from_tokens("m", vec![vec![1]])
            .text_only("gemini")
            .unwrap_err()
            .to_string();
        assert!(e.contains("gemini") && e.contains("token ids"), "{e}");
    }
}
