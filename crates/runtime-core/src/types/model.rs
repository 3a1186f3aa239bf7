//! What a provider says about its models.

use serde::{Deserialize, Serialize};

/// What a model is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ModelKind {
    /// Chat / messages.
    #[default]
    Chat,
    /// Legacy text completion only.
    Completion,
    /// Embeddings.
    Embedding,
    /// Something else (image, audio, moderation…).
    Other,
}

/// One model of a provider.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The id to send.
    pub id: String,
    /// The provider instance serving it.
    pub provider: String,
    /// What it is for.
    pub kind: ModelKind,
    /// Input plus output tokens it can hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_window: Option<u32>,
    /// Most output tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    /// Streams.
    #[serde(default)]
    pub supports_streaming: bool,
    /// Calls tools.
    #[serde(default)]
    pub supports_tools: bool,
    /// Reads images.
    #[serde(default)]
    pub supports_vision: bool,
    /// Follows a JSON schema.
    #[serde(default)]
    pub supports_json_schema: bool,
    /// Who owns it, as the provider says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<String>,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<i64>,
}

impl ModelInfo {
    /// A chat model with streaming and tools.
    pub fn chat(provider: &str, id: &str, context_window: u32, max_output: u32) -> Self {
        Self {
            id: id.to_owned(),
            provider: provider.to_owned(),
            kind: ModelKind::Chat,
            context_window: Some(context_window),
            max_output_tokens: Some(max_output),
            supports_streaming: true,
            supports_tools: true,
            ..Self::default()
        }
    }

    /// An embedding model.
    pub fn embedding(provider: &str, id: &str, context_window: u32) -> Self {
        Self {
            id: id.to_owned(),
            provider: provider.to_owned(),
            kind: ModelKind::Embedding,
            context_window: Some(context_window),
            ..Self::default()
        }
    }

    /// Marks vision and JSON-schema support.
    pub fn with_vision_and_schema(mut self, vision: bool, schema: bool) -> Self {
        self.supports_vision = vision;
        self.supports_json_schema = schema;
        self
    }
}
