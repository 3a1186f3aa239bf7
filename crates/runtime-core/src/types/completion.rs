//! Legacy text completion.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::chat::{ChatRequest, ChatResponse, FinishReason, Message, StreamOptions};
use super::serde_util::one_or_many;
use super::usage::Usage;

/// A text completion request (OpenAI `POST /v1/completions`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionRequest {
    /// The model.
    pub model: String,
    /// The prompt.
    pub prompt: String,
    /// Text after the completion, for fill-in-the-middle models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    /// Most tokens to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Stop sequences.
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub stop: Vec<String>,
    /// Seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Frequency penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// Presence penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// End-user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Whether the caller wants a stream (read by the gateway).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// OpenAI's `stream_options`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Provider-specific fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CompletionRequest {
    /// The same request as a one-message chat, for providers without a completion endpoint.
    ///
    /// `suffix` cannot be expressed over chat; callers check it first.
    pub fn to_chat(&self) -> ChatRequest {
        ChatRequest {
            model: self.model.clone(),
            messages: vec![Message::user(self.prompt.clone())],
            max_tokens: self.max_tokens,
            temperature: self.temperature,
            top_p: self.top_p,
            stop: self.stop.clone(),
            seed: self.seed,
            frequency_penalty: self.frequency_penalty,
            presence_penalty: self.presence_penalty,
            user: self.user.clone(),
            extra: self.extra.clone(),
            ..ChatRequest::default()
        }
    }
}

/// A text completion answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionResponse {
    /// The provider's id.
    pub id: String,
    /// The model that answered.
    pub model: String,
    /// Unix seconds.
    pub created: i64,
    /// The generated text.
    pub text: String,
    /// Why generation stopped.
    pub finish_reason: FinishReason,
    /// Token counts.
    pub usage: Option<Usage>,
    /// Where it came from.
    #[serde(default)]
    pub meta: super::chat::ResponseMeta,
}

impl From<ChatResponse> for CompletionResponse {
    fn from(r: ChatResponse) -> Self {
        CompletionResponse {
            text: r.message.text().unwrap_or_default(),
            id: r.id,
            model: r.model,
            created: r.created,
            finish_reason: r.finish_reason,
            usage: r.usage,
            meta: r.meta,
        }
    }
}
