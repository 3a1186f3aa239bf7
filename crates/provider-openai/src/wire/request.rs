//! `POST /chat/completions` bodies: core chat requests → OpenAI messages, tools and options.

use serde::Serialize;
use serde_json::{Map, Value};

use runtime_core::{ChatRequest, Content, Message, ResponseFormat, ToolChoice, ToolDefinition};

/// Which field carries the output-token limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MaxTokensField {
    /// `max_completion_tokens` (OpenAI; required by reasoning models).
    #[default]
    MaxCompletionTokens,
    /// `max_tokens` (most compatible servers).
    MaxTokens,
    /// OpenAI's own rule, per model: `max_completion_tokens` for the models that reject
    /// `max_tokens` ([`requires_max_completion_tokens`]: o-series, gpt-5, codex-mini),
    /// `max_tokens` for the others.
    ByModel,
}

/// True for the OpenAI models that reject `max_tokens` and take only `max_completion_tokens`
/// (reasoning models: `o1`, `o3`, `o4-mini`, the `gpt-5` family, `codex-mini`), fine-tuned
/// ones (`ft:o4-mini:…`) included.
pub fn requires_max_completion_tokens(model: &str) -> bool {
    let m = model.strip_prefix("ft:").unwrap_or(model);
    ["o1", "o3", "o4", "gpt-5", "codex-mini"]
        .iter()
        .any(|p| m.starts_with(p))
}

/// Options of the request mapping.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestOptions {
    /// Where `max_tokens` goes.
    pub max_tokens_field: MaxTokensField,
    /// Ask for the usage chunk on streams (`stream_options.include_usage`).
    pub stream_usage: bool,
    /// Send an assistant message's reasoning as `reasoning_content` (what llama.cpp and vLLM
    /// read back; OpenAI itself has no such field).
    pub reasoning_content: bool,
}

/// A message as OpenAI accepts it.
#[derive(Debug, Serialize)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum WireMessage<'a> {
    /// System.
    System {
        /// Content.
        content: &'a Content,
        /// Name.
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<&'a str>,
    },
    /// User.
    User {
        /// Content.
        content: &'a Content,
        /// Name.
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<&'a str>,
    },
    /// Assistant.
    Assistant {
        /// Content (`null` with tool calls).
        content: Option<&'a Content>,
        /// Tool calls.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        tool_calls: Vec<WireToolCallOut<'a>>,
        /// Refusal.
        #[serde(skip_serializing_if = "Option::is_none")]
        refusal: Option<&'a str>,
        /// Earlier reasoning (compatible servers only, see [`RequestOptions::reasoning_content`]).
        #[serde(skip_serializing_if = "Option::is_none")]
        reasoning_content: Option<String>,
        /// Name.
        #[serde(skip_serializing_if = "Option::is_none")]
        name: Option<&'a str>,
    },
    /// Tool result.
    Tool {
        /// Content.
        content: &'a Content,
        /// The call answered.
        tool_call_id: &'a str,
    },
    /// A kind of message newer than this mapping: the core type is OpenAI-shaped, so it is
    /// sent as the core serializes it (never dropped).
    #[serde(untagged)]
    Other(&'a Message),
}

/// A tool call in a request's assistant message.
#[derive(Debug, Serialize)]
pub struct WireToolCallOut<'a> {
    /// Id.
    pub id: &'a str,
    /// Always `function`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Name and arguments.
    pub function: WireFunctionOut<'a>,
}

/// Name and arguments.
#[derive(Debug, Serialize)]
pub struct WireFunctionOut<'a> {
    /// Name.
    pub name: &'a str,
    /// Arguments JSON text.
    pub arguments: &'a str,
}

/// `stream_options`.
#[derive(Debug, Serialize)]
pub struct WireStreamOptions {
    /// Ask for the usage chunk.
    pub include_usage: bool,
}

/// The body of `POST /chat/completions`.
#[derive(Debug, Serialize)]
pub struct ChatCompletionRequest<'a> {
    /// Model.
    pub model: &'a str,
    /// Messages.
    pub messages: Vec<WireMessage<'a>>,
    /// Tools.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub tools: &'a [ToolDefinition],
    /// Tool choice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<&'a ToolChoice>,
    /// Parallel tool calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// Response format.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_format: Option<&'a ResponseFormat>,
    /// Temperature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Top-p.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// `max_tokens` (compatible servers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// `max_completion_tokens` (OpenAI).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    /// Stop sequences.
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

/// Maps a core request to OpenAI's body. `model` is the model to send (deployments may rename).
pub fn chat_request<'a>(
    req: &'a ChatRequest,
    model: &'a str,
    stream: bool,
    opts: RequestOptions,
) -> ChatCompletionRequest<'a> {
    let messages = req
        .messages
        .iter()
        .map(|m| match m {
            Message::System { content, name } => WireMessage::System {
                content,
                name: name.as_deref(),
            },
            Message::User { content, name } => WireMessage::User {
                content,
                name: name.as_deref(),
            },
            Message::Assistant(a) => WireMessage::Assistant {
                content: a.content.as_ref(),
                tool_calls: a
                    .tool_calls
                    .iter()
                    .map(|c| WireToolCallOut {
                        id: &c.id,
                        kind: "function",
                        function: WireFunctionOut {
                            name: &c.function.name,
                            arguments: &c.function.arguments,
                        },
                    })
                    .collect(),
                refusal: a.refusal.as_deref(),
                reasoning_content: if opts.reasoning_content {
                    a.reasoning_text()
                } else {
                    None
                },
                name: a.name.as_deref(),
            },
            Message::Tool {
                content,
                tool_call_id,
                ..
            } => WireMessage::Tool {
                content,
                tool_call_id,
            },
            other => WireMessage::Other(other),
        })
        .collect();
    let (max_tokens, max_completion_tokens) = match opts.max_tokens_field {
        MaxTokensField::MaxTokens => (req.max_tokens, None),
        MaxTokensField::MaxCompletionTokens => (None, req.max_tokens),
        MaxTokensField::ByModel if requires_max_completion_tokens(model) => (None, req.max_tokens),
        MaxTokensField::ByModel => (req.max_tokens, None),
    };
    ChatCompletionRequest {
        model,
        messages,
        tools: &req.tools,
        tool_choice: req.tool_choice.as_ref(),
        parallel_tool_calls: req.parallel_tool_calls,
        response_format: req.response_format.as_ref(),
        temperature: req.temperature,
        top_p: req.top_p,
        max_tokens,
        max_completion_tokens,
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

#[cfg(test)]
mod tests {
    use super::*;
    use runtime_core::Message;

    fn limits(model: &str, field: MaxTokensField) -> (Option<u32>, Option<u32>) {
        let mut req = ChatRequest::new(model, vec![Message::user("hi")]);
        req.max_tokens = Some(7);
        let opts = RequestOptions {
            max_tokens_field: field,
            ..RequestOptions::default()
        };
        let b = chat_request(&req, model, false, opts);
        (b.max_tokens, b.max_completion_tokens)
    }

    #[test]
    fn by_model_renames_only_for_models_that_require_it() {
        assert_eq!(limits("o3", MaxTokensField::ByModel), (None, Some(7)));
        assert_eq!(
            limits("gpt-5-nano", MaxTokensField::ByModel),
            (None, Some(7))
        );
        assert_eq!(
            limits("ft:o4-mini-2025-04-16:acme::x", MaxTokensField::ByModel),
            (None, Some(7))
        );
        assert_eq!(limits("gpt-4o", MaxTokensField::ByModel), (Some(7), None));
        assert_eq!(limits("gpt-4o", MaxTokensField::MaxTokens), (Some(7), None));
        assert_eq!(
            limits("gpt-4o", MaxTokensField::MaxCompletionTokens),
            (None, Some(7))
        );
    }
}
