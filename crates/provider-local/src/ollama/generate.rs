//! `POST /api/generate`: text completion (native fill-in-the-middle).

use serde::Serialize;
use serde_json::{Map, Value};

use runtime_core::{Error, ResponseMeta, Result};

use super::request::{Sampling, invalid, options_and_extras};
use super::response::{OllamaChatResponse, created, error_message, finish_reason, usage};

/// Top-level `/api/generate` fields passed through from `CompletionRequest::extra`.
pub const GENERATE_TOP_LEVEL_KEYS: &[&str] = &["think", "keep_alive", "raw", "system", "template"];

/// The body of `POST /api/generate`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OllamaGenerateRequest {
    /// Model.
    pub model: String,
    /// Prompt.
    pub prompt: String,
    /// Text after the completion (fill-in-the-middle).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    /// `"json"` or a JSON Schema (from `extra.format`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<Value>,
    /// Sampling options.
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub options: Map<String, Value>,
    /// Always sent.
    pub stream: bool,
    /// `think`, `keep_alive`, `raw`, `system`, `template`.
    #[serde(flatten)]
    pub top_level: Map<String, Value>,
}

/// Maps a text completion for `model` (the body's or a re-targeted call's) to `/api/generate`:
/// `suffix` is native (fill-in-the-middle models); the model's prompt template applies unless
/// `extra.raw` is `true`.
pub fn generate_request(
    req: &runtime_core::CompletionRequest,
    model: &str,
    stream: bool,
    provider: &str,
) -> Result<OllamaGenerateRequest> {
    if req.user.is_some() {
        return Err(invalid(
            provider,
            model,
            "user",
            "Ollama has no end-user field",
        ));
    }
    let mut format = None;
    let (options, top_level) = options_and_extras(
        &req.extra,
        GENERATE_TOP_LEVEL_KEYS,
        "/api/generate",
        &mut format,
        Sampling {
            max_tokens: req.max_tokens,
            temperature: req.temperature,
            top_p: req.top_p,
            seed: req.seed,
            frequency_penalty: req.frequency_penalty,
            presence_penalty: req.presence_penalty,
            stop: &req.stop,
        },
        provider,
        model,
    )?;
    Ok(OllamaGenerateRequest {
        model: model.to_owned(),
        prompt: req.prompt.clone(),
        suffix: req.suffix.clone(),
        format,
        options,
        stream,
        top_level,
    })
}

/// Maps a non-streaming `/api/generate` answer. (Its `context` token array, Ollama's deprecated
/// conversation state, has no place in a completion and is not kept.)
pub fn parse_generate(
    r: OllamaChatResponse,
    provider: &str,
    model: &str,
) -> Result<runtime_core::CompletionResponse> {
    if let Some(e) = &r.error {
        return Err(Error::Api {
            provider: provider.to_owned(),
            model: model.to_owned(),
            status: 500,
            error_type: None,
            code: None,
            message: error_message(e),
            retry_after: None,
            should_retry: None,
        });
    }
    if !r.done {
        return Err(Error::decode(
            provider,
            model,
            "generate response",
            "the answer is not done (`done: false`)",
            "",
        ));
    }
    Ok(runtime_core::CompletionResponse {
        id: String::new(),
        model: r.model.clone().unwrap_or_else(|| model.to_owned()),
        created: created(&r),
        text: r.response.clone().unwrap_or_default(),
        finish_reason: finish_reason(r.done_reason.as_deref(), false),
        usage: usage(&r),
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            ..ResponseMeta::default()
        },
    })
}
