//! Embeddings (`:embedContent`, `:batchEmbedContents`) and the model list (`GET /models`).

use serde::{Deserialize, Serialize};

use runtime_core::{
    Embedding, EmbeddingRequest, EmbeddingResponse, Error, ModelInfo, ModelKind, ResponseMeta,
    Usage,
};

use super::types::{WireContent, WirePart};

/// The `extra` fields of an embedding request this provider understands.
pub const EMBED_EXTRA_FIELDS: &[&str] = &["task_type", "title"];

/// Most texts one `:batchEmbedContents` call accepts.
pub const MAX_BATCH: usize = 100;

/// One `embedContent` request (also an entry of `batchEmbedContents.requests`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmbedContentRequest {
    /// `models/{model}` (batch entries only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// The text.
    pub content: WireContent,
    /// `RETRIEVAL_QUERY`, `RETRIEVAL_DOCUMENT`, `SEMANTIC_SIMILARITY`…
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task_type: Option<String>,
    /// Document title (with `RETRIEVAL_DOCUMENT`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Shortened vector size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_dimensionality: Option<u32>,
}

/// The body of `:batchEmbedContents`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BatchEmbedContentsRequest {
    /// One entry per text.
    pub requests: Vec<EmbedContentRequest>,
}

struct Options {
    task_type: Option<String>,
    title: Option<String>,
}

fn options(req: &EmbeddingRequest, model: &str, provider: &str) -> Result<Options, Error> {
    let invalid = |k: &str, m: String| Error::invalid_request(provider, model, Some(k), m);
    if req.user.is_some() {
        return Err(invalid("user", "Gemini has no end-user id field".into()));
    }
    let mut o = Options {
        task_type: None,
        title: None,
    };
    for (k, v) in &req.extra {
        let s = || {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| invalid(k, format!("`{k}` must be a string")))
        };
        match k.as_str() {
            "task_type" => o.task_type = Some(s()?),
            "title" => o.title = Some(s()?),
            _ => {
                return Err(invalid(
                    k,
                    format!(
                        "`{k}` cannot be expressed in a Gemini embedding request; supported extra \
                         fields: {}",
                        EMBED_EXTRA_FIELDS.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(o)
}

fn entry(
    text: &str,
    model: Option<String>,
    req: &EmbeddingRequest,
    o: &Options,
) -> EmbedContentRequest {
    EmbedContentRequest {
        model,
        content: WireContent {
            role: None,
            parts: vec![WirePart {
                text: Some(text.to_owned()),
                ..WirePart::default()
            }],
        },
        task_type: o.task_type.clone(),
        title: o.title.clone(),
        output_dimensionality: req.dimensions,
    }
}

/// The `:embedContent` body for one text: `taskType` from `extra.task_type`, `title` from
/// `extra.title`, `outputDimensionality` from `dimensions`; errors name `model` (the URL's).
pub fn embed_content_request(
    req: &EmbeddingRequest,
    model: &str,
    text: &str,
    provider: &str,
) -> Result<EmbedContentRequest, Error> {
    let o = options(req, model, provider)?;
    Ok(entry(text, None, req, &o))
}

/// The `:batchEmbedContents` body for `texts` and `model`; `model_path` is `models/{model}`.
pub fn batch_embed_request(
    req: &EmbeddingRequest,
    model: &str,
    texts: &[String],
    model_path: &str,
    provider: &str,
) -> Result<BatchEmbedContentsRequest, Error> {
    let o = options(req, model, provider)?;
    Ok(BatchEmbedContentsRequest {
        requests: texts
            .iter()
            .map(|t| entry(t, Some(model_path.to_owned()), req, &o))
            .collect(),
    })
}

/// `{values: [...]}`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ContentEmbedding {
    /// The vector.
    #[serde(default)]
    pub values: Vec<f32>,
}

/// Token counts some embedding responses carry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmbedUsage {
    /// Input tokens.
    #[serde(default)]
    pub prompt_token_count: Option<u64>,
    /// Total.
    #[serde(default)]
    pub total_token_count: Option<u64>,
}

/// The `:embedContent` answer.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmbedContentResponse {
    /// The vector.
    pub embedding: ContentEmbedding,
    /// Token counts, when sent.
    #[serde(default)]
    pub usage_metadata: Option<EmbedUsage>,
}

/// The `:batchEmbedContents` answer.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchEmbedContentsResponse {
    /// One vector per text, in order.
    #[serde(default)]
    pub embeddings: Vec<ContentEmbedding>,
    /// Token counts, when sent.
    #[serde(default)]
    pub usage_metadata: Option<EmbedUsage>,
}

impl From<EmbedContentResponse> for BatchEmbedContentsResponse {
    fn from(r: EmbedContentResponse) -> Self {
        Self {
            embeddings: vec![r.embedding],
            usage_metadata: r.usage_metadata,
        }
    }
}

fn embed_usage(u: &EmbedUsage) -> Usage {
    let p = u.prompt_token_count.unwrap_or(0);
    Usage {
        total_tokens: u.total_token_count.unwrap_or(p),
        ..Usage::new(p, 0)
    }
}

/// Joins the answers of one or more calls (in input order) into the core response. The vector
/// count must equal the number of inputs; usage is summed when every call reported it.
pub fn parse_embeddings(
    parts: Vec<BatchEmbedContentsResponse>,
    inputs: usize,
    provider: &str,
    model: &str,
) -> Result<EmbeddingResponse, Error> {
    let mut usage: Option<Usage> = Some(Usage::default());
    let mut data = Vec::with_capacity(inputs);
    for p in parts {
        usage = match (usage, &p.usage_metadata) {
            (Some(mut acc), Some(u)) => {
                acc.add(&embed_usage(u));
                Some(acc)
            }
            _ => None,
        };
        for e in p.embeddings {
            data.push(Embedding {
                index: data.len(),
                embedding: e.values,
            });
        }
    }
    if data.len() != inputs {
        return Err(Error::decode(
            provider,
            model,
            "embeddings",
            format!("expected {inputs} vectors, got {}", data.len()),
            "",
        ));
    }
    Ok(EmbeddingResponse {
        model: model.to_owned(),
        data,
        usage,
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            ..ResponseMeta::default()
        },
    })
}

/// One entry of `GET /models`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WireModel {
    /// `models/{id}`.
    pub name: String,
    /// Human name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Input-token limit.
    #[serde(default)]
    pub input_token_limit: Option<u32>,
    /// Output-token limit.
    #[serde(default)]
    pub output_token_limit: Option<u32>,
    /// `generateContent`, `embedContent`, …
    #[serde(default)]
    pub supported_generation_methods: Vec<String>,
}

/// One page of `GET /models`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelsPage {
    /// Models.
    #[serde(default)]
    pub models: Vec<WireModel>,
    /// The token of the next page, if any.
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// Maps listed models: kind from `supportedGenerationMethods`, limits from the token limits,
/// capabilities from `catalog` when the id is known (else Gemini chat models are assumed to
/// stream, call tools, read images and follow schemas).
pub fn parse_models(
    models: Vec<WireModel>,
    provider: &str,
    catalog: &[ModelInfo],
) -> Vec<ModelInfo> {
    models
        .into_iter()
        .map(|m| {
            let id = m.name.strip_prefix("models/").unwrap_or(&m.name).to_owned();
            let has = |x: &str| m.supported_generation_methods.iter().any(|s| s == x);
            let kind = if has("embedContent") || has("batchEmbedContents") {
                ModelKind::Embedding
            } else if has("generateContent") {
                ModelKind::Chat
            } else {
                ModelKind::Other
            };
            let mut info = catalog
                .iter()
                .find(|c| c.id == id)
                .cloned()
                .unwrap_or_else(|| {
                    let gemini_chat = kind == ModelKind::Chat
                        && id.starts_with("gemini")
                        && !["tts", "image", "audio"].iter().any(|k| id.contains(k));
                    ModelInfo {
                        supports_streaming: kind == ModelKind::Chat,
                        supports_tools: gemini_chat,
                        supports_vision: gemini_chat,
                        supports_json_schema: gemini_chat,
                        ..ModelInfo::default()
                    }
                });
            info.id = id;
            info.provider = provider.to_owned();
            info.kind = kind;
            info.context_window = m.input_token_limit.or(info.context_window);
            info.max_output_tokens = match kind {
                ModelKind::Embedding => None,
                _ => m.output_token_limit.or(info.max_output_tokens),
            };
            info.owned_by = Some("google".into());
            info
        })
        .collect()
}

/// A model's id as a resource path: `gemini-2.5-flash` → `models/gemini-2.5-flash`;
/// `models/…` and `tunedModels/…` are kept. Anything that could alter the URL is rejected.
pub fn model_path(model: &str, provider: &str) -> Result<String, Error> {
    let ok = !model.is_empty()
        && model
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'/'))
        && !model.contains("..");
    let invalid = |m: &str| Error::invalid_request(provider, model, Some("model"), m);
    if !ok {
        return Err(invalid(
            "a Gemini model id may hold only letters, digits, `-`, `.`, `_` and `/`",
        ));
    }
    match model.split_once('/') {
        None => Ok(format!("models/{model}")),
        Some(("models" | "tunedModels", rest)) if !rest.is_empty() && !rest.contains('/') => {
            Ok(model.to_owned())
        }
        Some(_) => Err(invalid(
            "expected `name`, `models/name` or `tunedModels/name`",
        )),
    }
}

/// The error body of a failed call, with SSE framing removed (a failed `alt=sse` call may
/// frame its JSON error as an event).
pub fn unframe_error_body(body: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(body);
    let trimmed = text.trim_start();
    if !trimmed.starts_with("data:") {
        return body.to_vec();
    }
    let joined: Vec<&str> = trimmed
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim_start)
        .collect();
    joined.join("\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_paths() {
        assert_eq!(
            model_path("gemini-2.5-flash", "g").unwrap(),
            "models/gemini-2.5-flash"
        );
        assert_eq!(model_path("models/x", "g").unwrap(), "models/x");
        assert_eq!(
            model_path("tunedModels/t-1", "g").unwrap(),
            "tunedModels/t-1"
        );
        for bad in ["", "a?key=1", "a:b", "../x", "other/x", "models/a/b", "a b"] {
            assert!(model_path(bad, "g").is_err(), "{bad}");
        }
    }

    #[test]
    fn sse_framed_errors_are_unframed() {
        let b = unframe_error_body(b"data: {\"error\":{\"code\":404}}\r\n\r\n");
        assert_eq!(b, b"{\"error\":{\"code\":404}}");
        assert_eq!(unframe_error_body(b"{\"a\":1}"), b"{\"a\":1}");
    }
}
