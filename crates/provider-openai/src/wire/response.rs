//! Chat completions → core responses.

use serde::Deserialize;
use serde_json::{Map, Value};

use runtime_core::{
    AssistantMessage, ChatResponse, Content, Error, FinishReason, ReasoningBlock, ResponseMeta,
    ToolCall, Usage,
};

/// Tool-call arguments: a JSON string (OpenAI) or an object (some compatible servers).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(untagged)]
pub enum Arguments {
    /// A JSON text.
    Text(String),
    /// Anything else, re-serialized.
    Json(Value),
    /// Absent.
    #[default]
    #[serde(skip)]
    None,
}

impl Arguments {
    /// The arguments as JSON text.
    pub fn into_text(self) -> String {
        match self {
            Arguments::Text(s) => s,
            Arguments::Json(Value::Null) | Arguments::None => String::new(),
            Arguments::Json(v) => v.to_string(),
        }
    }
}

/// A function name and arguments in a response.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireFunction {
    /// Name.
    #[serde(default)]
    pub name: Option<String>,
    /// Arguments.
    #[serde(default)]
    pub arguments: Arguments,
}

/// A tool call in a response.
#[derive(Debug, Clone, Deserialize)]
pub struct WireToolCall {
    /// Position (streams).
    #[serde(default)]
    pub index: Option<usize>,
    /// Id.
    #[serde(default)]
    pub id: Option<String>,
    /// Name and arguments.
    #[serde(default)]
    pub function: WireFunction,
}

/// `choices[].message`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireResponseMessage {
    /// Text.
    #[serde(default)]
    pub content: Option<String>,
    /// Refusal.
    #[serde(default)]
    pub refusal: Option<String>,
    /// Tool calls.
    #[serde(default)]
    pub tool_calls: Option<Vec<WireToolCall>>,
    /// Reasoning text (vLLM, DeepSeek, llama.cpp).
    #[serde(default)]
    pub reasoning_content: Option<String>,
    /// Reasoning text (newer vLLM).
    #[serde(default)]
    pub reasoning: Option<String>,
}

/// One choice of a response.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireChoice {
    /// Index.
    #[serde(default)]
    pub index: u32,
    /// The message.
    #[serde(default)]
    pub message: WireResponseMessage,
    /// Finish reason.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// Azure content-filter annotations.
    #[serde(default)]
    pub content_filter_results: Option<Value>,
}

/// The body of a chat completion.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChatCompletion {
    /// Id (missing on some servers).
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
    pub choices: Vec<WireChoice>,
    /// Usage.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// Azure prompt-filter annotations.
    #[serde(default)]
    pub prompt_filter_results: Option<Value>,
}

pub(super) fn reasoning_of(content: Option<String>, alt: Option<String>) -> Option<String> {
    content.or(alt).filter(|s| !s.is_empty())
}

/// Maps a chat completion to the core response. A missing choice is a decode error.
pub fn parse_chat(
    body: ChatCompletion,
    provider: &str,
    model: &str,
) -> Result<ChatResponse, Error> {
    let mut annotations = Map::new();
    if let Some(p) = body.prompt_filter_results {
        annotations.insert("prompt_filter_results".into(), p);
    }
    let Some(choice) = body.choices.into_iter().next() else {
        return Err(Error::decode(
            provider,
            model,
            "chat completion",
            "the response has no choices",
            "",
        ));
    };
    if let Some(c) = choice.content_filter_results {
        annotations.insert("content_filter_results".into(), c);
    }
    let msg = choice.message;
    let tool_calls: Vec<ToolCall> = msg
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            ToolCall::new(
                c.id.filter(|s| !s.is_empty())
                    .unwrap_or_else(|| format!("call_{i}")),
                c.function.name.unwrap_or_default(),
                c.function.arguments.into_text(),
            )
        })
        .collect();
    let finish_reason = finish_reason(choice.finish_reason.as_deref(), !tool_calls.is_empty());
    let reasoning = reasoning_of(msg.reasoning_content, msg.reasoning)
        .map(|t| vec![ReasoningBlock::text(t)])
        .unwrap_or_default();
    Ok(ChatResponse {
        id: body.id.unwrap_or_default(),
        model: body.model.unwrap_or_else(|| model.to_owned()),
        created: body.created.unwrap_or_default(),
        message: AssistantMessage {
            content: msg.content.map(Content::Text),
            reasoning,
            tool_calls,
            refusal: msg.refusal,
            name: None,
        },
        finish_reason,
        usage: body.usage,
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            annotations,
            ..ResponseMeta::default()
        },
    })
}

/// OpenAI's finish reason; `stop` with tool calls (TGI, Ollama) is reported as `tool_calls`.
pub fn finish_reason(raw: Option<&str>, has_tool_calls: bool) -> FinishReason {
    match raw.map(FinishReason::from_openai) {
        Some(FinishReason::Stop) | None if has_tool_calls => FinishReason::ToolCalls,
        Some(r) => r,
        None => FinishReason::Stop,
    }
}
