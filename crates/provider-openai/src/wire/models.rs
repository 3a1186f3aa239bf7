//! `GET /models`.

use serde::Deserialize;

use runtime_core::{ModelInfo, ModelKind};

/// `GET /models` entry.
#[derive(Debug, Clone, Deserialize)]
pub struct WireModel {
    /// Id.
    pub id: String,
    /// Unix seconds.
    #[serde(default)]
    pub created: Option<i64>,
    /// Owner.
    #[serde(default)]
    pub owned_by: Option<String>,
}

/// `GET /models` body.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelList {
    /// Models.
    #[serde(default)]
    pub data: Vec<WireModel>,
}

/// Maps a model list, taking capabilities from `catalog` where the id is known.
pub fn parse_models(body: ModelList, provider: &str, catalog: &[ModelInfo]) -> Vec<ModelInfo> {
    body.data
        .into_iter()
        .map(|m| {
            let mut info = catalog
                .iter()
                .find(|c| c.id == m.id)
                .cloned()
                .unwrap_or_else(|| ModelInfo {
                    kind: guess_kind(&m.id),
                    supports_streaming: guess_kind(&m.id) == ModelKind::Chat,
                    ..ModelInfo::default()
                });
            info.id = m.id;
            info.provider = provider.to_owned();
            info.owned_by = m.owned_by;
            info.created = m.created;
            info
        })
        .collect()
}

/// Guesses a model's kind from its id.
pub fn guess_kind(id: &str) -> ModelKind {
    let id = id.to_ascii_lowercase();
    if id.contains("embed") {
        ModelKind::Embedding
    } else if id.contains("instruct") && id.starts_with("gpt-3.5")
        || id.starts_with("babbage")
        || id.starts_with("davinci")
    {
        ModelKind::Completion
    } else if ["whisper", "tts", "dall-e", "moderation", "sora", "image"]
        .iter()
        .any(|k| id.contains(k))
    {
        ModelKind::Other
    } else {
        ModelKind::Chat
    }
}
