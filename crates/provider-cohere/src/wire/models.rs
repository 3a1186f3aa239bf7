//! The static catalog and `GET /v1/models` (`models[]` with `name`, `endpoints`,
//! `context_length`, `features`).

use runtime_core::{Error, ModelInfo, ModelKind, Result};
use serde::Deserialize;

/// `(id, context window, max output, vision)` of the main chat models.
const CHAT: &[(&str, u32, u32, bool)] = &[
    ("command-a-03-2025", 256_000, 8_000, false),
    ("command-a-vision-07-2025", 128_000, 8_000, true),
    ("command-r-plus-08-2024", 128_000, 4_000, false),
    ("command-r-08-2024", 128_000, 4_000, false),
    ("command-r7b-12-2024", 128_000, 4_000, false),
];

/// Embedding models.
const EMBED: &[(&str, u32)] = &[
    ("embed-v4.0", 128_000),
    ("embed-english-v3.0", 512),
    ("embed-multilingual-v3.0", 512),
];

/// Rerank models.
const RERANK: &[&str] = &[
    "rerank-v3.5",
    "rerank-english-v3.0",
    "rerank-multilingual-v3.0",
];

/// The static catalog.
pub fn catalog(provider: &str) -> Vec<ModelInfo> {
    let mut out: Vec<ModelInfo> = CHAT
        .iter()
        .map(|&(id, ctx, max, vision)| ModelInfo {
            supports_vision: vision,
            supports_json_schema: true,
            ..ModelInfo::chat(provider, id, ctx, max)
        })
        .collect();
    out.extend(
        EMBED
            .iter()
            .map(|&(id, ctx)| ModelInfo::embedding(provider, id, ctx)),
    );
    out.extend(RERANK.iter().map(|id| ModelInfo {
        id: (*id).to_owned(),
        provider: provider.to_owned(),
        kind: ModelKind::Other,
        ..ModelInfo::default()
    }));
    out
}

#[derive(Debug, Deserialize)]
struct List {
    models: Vec<WireModel>,
}

#[derive(Debug, Deserialize)]
struct WireModel {
    name: String,
    #[serde(default)]
    endpoints: Vec<String>,
    #[serde(default)]
    context_length: Option<f64>,
    #[serde(default)]
    features: Option<Vec<String>>,
}

/// Parses a `GET /v1/models` body.
pub fn parse_models(body: &[u8], provider: &str) -> Result<Vec<ModelInfo>> {
    let l: List = serde_json::from_slice(body).map_err(|e| {
        Error::decode(
            provider,
            "",
            "model list",
            e,
            &String::from_utf8_lossy(body),
        )
    })?;
    Ok(l.models
        .into_iter()
        .map(|m| {
            let has = |e: &str| m.endpoints.iter().any(|x| x == e);
            let feature = |f: &str| m.features.iter().flatten().any(|x| x == f);
            let kind = if has("chat") {
                ModelKind::Chat
            } else if has("embed") {
                ModelKind::Embedding
            } else {
                ModelKind::Other
            };
            let chat = kind == ModelKind::Chat;
            ModelInfo {
                id: m.name,
                provider: provider.to_owned(),
                kind,
                context_window: m.context_length.map(|c| c as u32),
                supports_streaming: chat,
                supports_tools: chat && feature("tools"),
                supports_vision: feature("vision"),
                supports_json_schema: chat && feature("json_schema"),
                ..ModelInfo::default()
            }
        })
        .collect())
}
