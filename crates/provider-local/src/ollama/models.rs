//! `GET /api/tags`.

use serde::Deserialize;

use runtime_core::time::rfc3339_unix_seconds;
use runtime_core::{ModelInfo, ModelKind};

/// `details` of a listed model.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OllamaModelDetails {
    /// Model families (`bert`, `clip`…).
    #[serde(default)]
    pub families: Option<Vec<String>>,
    /// Main family.
    #[serde(default)]
    pub family: Option<String>,
}

/// One model of `/api/tags`.
#[derive(Debug, Clone, Deserialize)]
pub struct OllamaModel {
    /// Name (`qwen3:4b`).
    pub name: String,
    /// RFC 3339.
    #[serde(default)]
    pub modified_at: Option<String>,
    /// Details.
    #[serde(default)]
    pub details: OllamaModelDetails,
}

/// The body of `/api/tags`.
#[derive(Debug, Clone, Deserialize)]
pub struct OllamaTags {
    /// Models.
    #[serde(default)]
    pub models: Vec<OllamaModel>,
}

/// Maps `/api/tags`: embedding models by family (`bert`, `nomic-bert`) or name, vision by a
/// `clip` / `mllama` family.
pub fn parse_tags(t: OllamaTags, provider: &str) -> Vec<ModelInfo> {
    t.models
        .into_iter()
        .map(|m| {
            let families: Vec<String> = m
                .details
                .families
                .clone()
                .unwrap_or_default()
                .into_iter()
                .chain(m.details.family.clone())
                .map(|f| f.to_ascii_lowercase())
                .collect();
            let lower = m.name.to_ascii_lowercase();
            let embedding = families.iter().any(|f| f.contains("bert"))
                || lower.contains("embed")
                || lower.contains("minilm");
            let vision = families.iter().any(|f| f == "clip" || f == "mllama");
            let chat = !embedding;
            ModelInfo {
                id: m.name,
                provider: provider.to_owned(),
                kind: if embedding {
                    ModelKind::Embedding
                } else {
                    ModelKind::Chat
                },
                supports_streaming: chat,
                supports_tools: chat,
                supports_vision: vision,
                supports_json_schema: chat,
                owned_by: Some("ollama".into()),
                created: m.modified_at.as_deref().and_then(rfc3339_unix_seconds),
                ..ModelInfo::default()
            }
        })
        .collect()
}
