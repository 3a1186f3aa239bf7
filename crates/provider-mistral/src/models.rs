//! The static catalog and `GET /v1/models`, whose entries say more than OpenAI's: context
//! length and capabilities (`completion_chat`, `completion_fim`, `function_calling`, `vision`).

use runtime_core::{Error, ModelInfo, ModelKind, Result};
use serde::Deserialize;

/// `(id, context window, tools, vision)` of the main chat models (from `GET /v1/models`).
const CHAT: &[(&str, u32, bool, bool)] = &[
    ("mistral-large-latest", 262_144, true, true),
    ("mistral-medium-latest", 131_072, true, true),
    ("mistral-small-latest", 262_144, true, true),
    ("magistral-small-latest", 262_144, true, true),
    ("ministral-8b-latest", 262_144, true, true),
    ("ministral-3b-latest", 131_072, true, true),
    ("codestral-latest", 256_000, true, false),
    ("devstral-latest", 262_144, true, false),
];

/// `(id, context window)` of the embedding models.
const EMBEDDING: &[(&str, u32)] = &[("mistral-embed", 8_192), ("codestral-embed", 8_192)];

/// The static catalog; `extra` ids are added as chat models.
pub fn catalog(provider: &str, extra: &[String]) -> Vec<ModelInfo> {
    let mut out: Vec<ModelInfo> = CHAT
        .iter()
        .map(|&(id, ctx, tools, vision)| ModelInfo {
            supports_tools: tools,
            supports_vision: vision,
            supports_json_schema: true,
            max_output_tokens: None,
            ..ModelInfo::chat(provider, id, ctx, 0)
        })
        .collect();
    out.extend(
        EMBEDDING
            .iter()
            .map(|&(id, ctx)| ModelInfo::embedding(provider, id, ctx)),
    );
    for id in extra {
        if !out.iter().any(|m| &m.id == id) {
            let mut m = ModelInfo::chat(provider, id, 0, 0);
            m.context_window = None;
            m.max_output_tokens = None;
            out.push(m);
        }
    }
    out
}

#[derive(Debug, Deserialize)]
struct ModelList {
    data: Vec<WireModel>,
}

#[derive(Debug, Default, Deserialize)]
struct Capabilities {
    #[serde(default)]
    completion_chat: bool,
    #[serde(default)]
    function_calling: bool,
    #[serde(default)]
    vision: bool,
}

#[derive(Debug, Deserialize)]
struct WireModel {
    id: String,
    #[serde(default)]
    created: Option<i64>,
    #[serde(default)]
    owned_by: Option<String>,
    #[serde(default)]
    max_context_length: Option<u32>,
    #[serde(default)]
    capabilities: Capabilities,
}

/// Parses a `GET /v1/models` body.
pub fn parse_models(provider: &str, model: &str, body: &[u8]) -> Result<Vec<ModelInfo>> {
    let list: ModelList = serde_json::from_slice(body).map_err(|e| {
        Error::decode(
            provider,
            model,
            "model list",
            e,
            &String::from_utf8_lossy(body),
        )
    })?;
    Ok(list
        .data
        .into_iter()
        .map(|m| {
            let kind = if m.id.contains("embed") {
                ModelKind::Embedding
            } else if m.capabilities.completion_chat {
                ModelKind::Chat
            } else {
                ModelKind::Other
            };
            let chat = kind == ModelKind::Chat;
            ModelInfo {
                provider: provider.to_owned(),
                kind,
                context_window: m.max_context_length,
                max_output_tokens: None,
                supports_streaming: chat,
                supports_tools: m.capabilities.function_calling,
                supports_vision: m.capabilities.vision,
                supports_json_schema: chat,
                owned_by: m.owned_by,
                created: m.created.filter(|c| *c > 0),
                id: m.id,
            }
        })
        .collect())
}
