//! `/generate` answers → core responses.

use http::HeaderMap;
use serde::Deserialize;
use serde::de::IgnoredAny;

use runtime_core::{
    AssistantMessage, ChatResponse, CompletionResponse, Content, FinishReason, ResponseMeta, Usage,
};

/// TGI's finish reason: `eos_token` and `stop_sequence` are OpenAI's `stop`, `length` is
/// `length`.
pub fn finish_reason(raw: &str) -> FinishReason {
    match raw {
        "eos_token" | "stop_sequence" | "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// `details` of a `/generate` answer (the fields read).
#[derive(Debug, Clone, Deserialize)]
pub struct Details {
    /// `length`, `eos_token` or `stop_sequence`.
    pub finish_reason: String,
    /// Tokens generated.
    pub generated_tokens: u64,
    /// Prompt tokens, listed when `decoder_input_details` was asked for (only the count is kept).
    #[serde(default)]
    pub prefill: Vec<IgnoredAny>,
}

/// The body of a `/generate` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct GenerateResponse {
    /// The text (without the prompt: `return_full_text: false`).
    pub generated_text: String,
    /// Finish reason and counts (present because `details: true` is sent).
    #[serde(default)]
    pub details: Option<Details>,
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// Maps a `/generate` answer. Usage: completion tokens from `details.generated_tokens` (else the
/// `x-generated-tokens` header); prompt tokens from TGI's `x-prompt-tokens` header, else the
/// length of `details.prefill` (filled when `decoder_input_details` is on), else 0.
/// TGI has no response id or timestamp: `id` is empty and `created` is 0.
pub fn parse_generate(
    body: GenerateResponse,
    headers: &HeaderMap,
    provider: &str,
    model: &str,
) -> ChatResponse {
    let prompt = header_u64(headers, "x-prompt-tokens");
    let (finish, usage) = match &body.details {
        Some(d) => {
            let prefill = (!d.prefill.is_empty()).then_some(d.prefill.len() as u64);
            let prompt = prompt.or(prefill).unwrap_or(0);
            (
                finish_reason(&d.finish_reason),
                Some(Usage::new(prompt, d.generated_tokens)),
            )
        }
        None => (
            FinishReason::Other("unknown".into()),
            header_u64(headers, "x-generated-tokens").map(|g| Usage::new(prompt.unwrap_or(0), g)),
        ),
    };
    ChatResponse {
        id: String::new(),
        model: model.to_owned(),
        created: 0,
        message: AssistantMessage {
            content: Some(Content::Text(body.generated_text)),
            ..AssistantMessage::default()
        },
        finish_reason: finish,
        usage,
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            ..ResponseMeta::default()
        },
    }
}

/// The same answer as a completion.
pub fn parse_generate_completion(
    body: GenerateResponse,
    headers: &HeaderMap,
    provider: &str,
    model: &str,
) -> CompletionResponse {
    parse_generate(body, headers, provider, model).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn finish_reasons() {
        assert_eq!(finish_reason("eos_token"), FinishReason::Stop);
        assert_eq!(finish_reason("stop_sequence"), FinishReason::Stop);
        assert_eq!(finish_reason("length"), FinishReason::Length);
        assert_eq!(
            finish_reason("weird"),
            FinishReason::Other("weird".to_owned())
        );
    }
}
