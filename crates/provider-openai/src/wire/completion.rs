//! `POST /completions` (legacy text completion).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use runtime_core::{CompletionRequest, CompletionResponse, Error, ResponseMeta, Usage};

use super::request::{RequestOptions, WireStreamOptions};
use super::response::finish_reason;

/// The body of `POST /completions`.
#[derive(Debug, Serialize)]
pub struct CompletionWireRequest<'a> {
    /// Model.
    pub model: &'a str,
    /// Prompt.
    pub prompt: &'a str,
    /// Suffix.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suffix: Option<&'a str>,
    /// Most tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Top-p.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Stop.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub stop: &'a [String],
    /// Seed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Frequency penalty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// Presence penalty.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// End user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<&'a str>,
    /// Streaming.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stream: bool,
    /// Stream options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<WireStreamOptions>,
    /// Provider-specific fields.
    #[serde(flatten)]
    pub extra: &'a Map<String, Value>,
}

/// Maps a completion request.
pub fn completion_request<'a>(
    req: &'a CompletionRequest,
    model: &'a str,
    stream: bool,
    opts: RequestOptions,
) -> CompletionWireRequest<'a> {
    CompletionWireRequest {
        model,
        prompt: &req.prompt,
        suffix: req.suffix.as_deref(),
        max_tokens: req.max_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        stop: &req.stop,
        seed: req.seed,
        frequency_penalty: req.frequency_penalty,
        presence_penalty: req.presence_penalty,
        user: req.user.as_deref(),
        stream,
        stream_options: (stream && opts.stream_usage).then_some(WireStreamOptions {
            include_usage: true,
        }),
        extra: &req.extra,
    }
}

/// A legacy completion choice.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireCompletionChoice {
    /// Text.
    #[serde(default)]
    pub text: String,
    /// Finish reason.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// The body of a legacy completion.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TextCompletion {
    /// Id.
    #[serde(default)]
    pub id: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub created: Option<i64>,
    /// Model.
    #[serde(default)]
    pub model: Option<String>,
    /// Choices.
    #[serde(default)]
    pub choices: Vec<WireCompletionChoice>,
    /// Usage.
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// Maps a legacy completion.
pub fn parse_completion(
    body: TextCompletion,
    provider: &str,
    model: &str,
) -> Result<CompletionResponse, Error> {
    let Some(choice) = body.choices.into_iter().next() else {
        return Err(Error::decode(
            provider,
            model,
            "completion",
            "no choices",
            "",
        ));
    };
    Ok(CompletionResponse {
        id: body.id.unwrap_or_default(),
        model: body.model.unwrap_or_else(|| model.to_owned()),
        created: body.created.unwrap_or_default(),
        text: choice.text,
        finish_reason: finish_reason(choice.finish_reason.as_deref(), false),
        usage: body.usage,
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            ..ResponseMeta::default()
        },
    })
}
