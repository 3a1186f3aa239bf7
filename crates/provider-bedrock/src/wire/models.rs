//! The control plane's listings (`bedrock.<region>.amazonaws.com`): `GET /foundation-models`
//! and `GET /inference-profiles`, merged with the static catalog.

use runtime_core::{ModelInfo, ModelKind};
use serde::Deserialize;

use super::url::base_model_id;

/// `GET /foundation-models`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FoundationModels {
    /// The models.
    #[serde(default)]
    pub model_summaries: Vec<FoundationModel>,
}

/// One foundation model.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FoundationModel {
    /// Its id.
    pub model_id: String,
    /// Vendor (`Anthropic`, `Amazon`, …).
    #[serde(default)]
    pub provider_name: Option<String>,
    /// `TEXT`, `IMAGE`, …
    #[serde(default)]
    pub input_modalities: Vec<String>,
    /// `TEXT`, `EMBEDDING`, `IMAGE`, …
    #[serde(default)]
    pub output_modalities: Vec<String>,
    /// Streaming.
    #[serde(default)]
    pub response_streaming_supported: Option<bool>,
    /// `ON_DEMAND`, `PROVISIONED`, `INFERENCE_PROFILE`.
    #[serde(default)]
    pub inference_types_supported: Vec<String>,
    /// `{"status": "ACTIVE" | "LEGACY"}`.
    #[serde(default)]
    pub model_lifecycle: Option<Lifecycle>,
}

/// A model's lifecycle.
#[derive(Debug, Deserialize)]
pub struct Lifecycle {
    /// `ACTIVE` or `LEGACY`.
    #[serde(default)]
    pub status: String,
}

/// One page of `GET /inference-profiles`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InferenceProfiles {
    /// The profiles.
    #[serde(default)]
    pub inference_profile_summaries: Vec<InferenceProfile>,
    /// The next page.
    #[serde(default)]
    pub next_token: Option<String>,
}

/// One inference profile.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InferenceProfile {
    /// Its id (`us.anthropic.claude-…`), usable as a model id.
    pub inference_profile_id: String,
    /// `ACTIVE`.
    #[serde(default)]
    pub status: Option<String>,
}

/// The models callable by id: on-demand foundation models and active inference profiles,
/// with the catalog's limits where it knows the base model.
pub fn parse_models(
    models: FoundationModels,
    profiles: Vec<InferenceProfile>,
    provider: &str,
    catalog: &[ModelInfo],
) -> Vec<ModelInfo> {
    let known = |id: &str| {
        let base = base_model_id(id);
        catalog
            .iter()
            .find(|m| m.id == id || base_model_id(&m.id) == base)
            .cloned()
    };
    let mut out: Vec<ModelInfo> = Vec::new();
    let mut streaming = std::collections::HashMap::new();
    for m in models.model_summaries {
        streaming.insert(
            m.model_id.clone(),
            m.response_streaming_supported.unwrap_or(false),
        );
        let on_demand = m.inference_types_supported.iter().any(|t| t == "ON_DEMAND");
        let legacy = m
            .model_lifecycle
            .as_ref()
            .is_some_and(|l| l.status == "LEGACY");
        if !on_demand || legacy {
            continue;
        }
        let kind = if m.output_modalities.iter().any(|o| o == "EMBEDDING") {
            ModelKind::Embedding
        } else if m.output_modalities.iter().any(|o| o == "TEXT") {
            ModelKind::Chat
        } else {
            ModelKind::Other
        };
        let mut info = known(&m.model_id).unwrap_or_default();
        info.id = m.model_id.clone();
        info.provider = provider.to_owned();
        info.kind = kind;
        info.supports_streaming = m.response_streaming_supported.unwrap_or(false);
        info.supports_vision |= m.input_modalities.iter().any(|i| i == "IMAGE");
        info.owned_by = m.provider_name.map(|p| p.to_ascii_lowercase());
        out.push(info);
    }
    for p in profiles {
        if p.status.as_deref().is_some_and(|s| s != "ACTIVE") {
            continue;
        }
        let id = p.inference_profile_id;
        let mut info = known(&id).unwrap_or_else(|| ModelInfo {
            kind: ModelKind::Chat,
            supports_streaming: streaming.get(base_model_id(&id)).copied().unwrap_or(true),
            ..ModelInfo::default()
        });
        info.id = id.clone();
        info.provider = provider.to_owned();
        info.owned_by = Some(super::url::vendor(&id).to_owned());
        out.push(info);
    }
    out
}
