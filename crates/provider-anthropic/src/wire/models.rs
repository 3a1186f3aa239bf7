//! `GET /v1/models`.

use serde::Deserialize;

use runtime_core::time::rfc3339_unix_seconds;
use runtime_core::{ModelInfo, ModelKind};

/// One entry of `GET /v1/models`.
#[derive(Debug, Clone, Deserialize)]
pub struct WireModel {
    /// The id (`claude-sonnet-4-5-20250929`).
    pub id: String,
    /// A human name.
    #[serde(default)]
    pub display_name: Option<String>,
    /// RFC 3339 release time.
    #[serde(default)]
    pub created_at: Option<String>,
}

/// The body of `GET /v1/models` (one page).
#[derive(Debug, Clone, Deserialize)]
pub struct ModelPage {
    /// Models.
    #[serde(default)]
    pub data: Vec<WireModel>,
    /// More pages follow.
    #[serde(default)]
    pub has_more: bool,
    /// First id of the page.
    #[serde(default)]
    pub first_id: Option<String>,
    /// Last id of the page (the next page's `after_id`).
    #[serde(default)]
    pub last_id: Option<String>,
}

/// Maps listed models, taking context window and limits from `catalog` where the id (or its
/// undated alias) is known.
pub fn parse_models(
    models: Vec<WireModel>,
    provider: &str,
    catalog: &[ModelInfo],
) -> Vec<ModelInfo> {
    models
        .into_iter()
        .map(|m| {
            let known = catalog
                .iter()
                .filter(|c| {
                    let base =
                        c.id.strip_suffix("-latest")
                            .or_else(|| c.id.strip_suffix("-0"))
                            .unwrap_or(&c.id);
                    m.id == c.id || m.id == base || m.id.starts_with(&format!("{base}-"))
                })
                .max_by_key(|c| c.id.len());
            let mut info = known.cloned().unwrap_or_else(|| ModelInfo {
                kind: ModelKind::Chat,
                supports_streaming: true,
                supports_tools: true,
                supports_vision: true,
                supports_json_schema: true,
                ..ModelInfo::default()
            });
            info.id = m.id;
            info.provider = provider.to_owned();
            info.owned_by = Some("anthropic".into());
            info.created = m.created_at.as_deref().and_then(rfc3339_unix_seconds);
            info
        })
        .collect()
}
