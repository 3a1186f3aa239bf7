//! `/api/chat` and `/api/generate` answers → core responses.

use serde::Deserialize;
use serde_json::{Map, Value};

use runtime_core::time::rfc3339_unix_seconds;
use runtime_core::{
    AssistantMessage, ChatResponse, Content, Error, FinishReason, ReasoningBlock, ResponseMeta,
    Result, ToolCall, Usage,
};

/// A tool call in a response: `arguments` is an object.
#[derive(Debug, Clone, Deserialize)]
pub struct OllamaToolCall {
    /// Id (newer Ollama).
    #[serde(default)]
    pub id: Option<String>,
    /// Name and arguments.
    pub function: OllamaFunction,
}

/// Name and arguments object.
#[derive(Debug, Clone, Deserialize)]
pub struct OllamaFunction {
    /// Position.
    #[serde(default)]
    pub index: Option<usize>,
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Arguments (an object).
    #[serde(default)]
    pub arguments: Value,
}

/// `message` of a response line.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OllamaResponseMessage {
    /// Text.
    #[serde(default)]
    pub content: Option<String>,
    /// Reasoning.
    #[serde(default)]
    pub thinking: Option<String>,
    /// Tool calls (arrive whole).
    #[serde(default)]
    pub tool_calls: Option<Vec<OllamaToolCall>>,
}

/// An `/api/chat` or `/api/generate` response, or one line of their streams.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct OllamaChatResponse {
    /// Model.
    #[serde(default)]
    pub model: Option<String>,
    /// RFC 3339 time.
    #[serde(default)]
    pub created_at: Option<String>,
    /// The (partial) message (`/api/chat`).
    #[serde(default)]
    pub message: Option<OllamaResponseMessage>,
    /// The (partial) text (`/api/generate`).
    #[serde(default)]
    pub response: Option<String>,
    /// The (partial) reasoning (`/api/generate`).
    #[serde(default)]
    pub thinking: Option<String>,
    /// True on the last line.
    #[serde(default)]
    pub done: bool,
    /// `stop`, `length`, `load`, `unload`.
    #[serde(default)]
    pub done_reason: Option<String>,
    /// Prompt tokens.
    #[serde(default)]
    pub prompt_eval_count: Option<u64>,
    /// Output tokens.
    #[serde(default)]
    pub eval_count: Option<u64>,
    /// Nanoseconds.
    #[serde(default)]
    pub total_duration: Option<u64>,
    /// Nanoseconds.
    #[serde(default)]
    pub load_duration: Option<u64>,
    /// Nanoseconds.
    #[serde(default)]
    pub prompt_eval_duration: Option<u64>,
    /// Nanoseconds.
    #[serde(default)]
    pub eval_duration: Option<u64>,
    /// A mid-stream (or HTTP 200) error.
    #[serde(default)]
    pub error: Option<Value>,
}

pub(super) fn created(r: &OllamaChatResponse) -> i64 {
    r.created_at
        .as_deref()
        .and_then(rfc3339_unix_seconds)
        .unwrap_or_default()
}

pub(super) fn usage(r: &OllamaChatResponse) -> Option<Usage> {
    (r.prompt_eval_count.is_some() || r.eval_count.is_some()).then(|| {
        Usage::new(
            r.prompt_eval_count.unwrap_or_default(),
            r.eval_count.unwrap_or_default(),
        )
    })
}

/// Ollama's `done_reason` in OpenAI's vocabulary: tool calls reported with `stop` are
/// `tool_calls`; `length` is `length`; other values are kept as they are.
pub fn finish_reason(done_reason: Option<&str>, has_tool_calls: bool) -> FinishReason {
    match done_reason {
        None | Some("stop") if has_tool_calls => FinishReason::ToolCalls,
        None | Some("stop") => FinishReason::Stop,
        Some("length") => FinishReason::Length,
        Some(other) => FinishReason::Other(other.to_owned()),
    }
}

pub(super) fn call_id(c: &OllamaToolCall, index: usize) -> String {
    c.id.clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("call_{index}"))
}

pub(super) fn arguments_text(v: &Value) -> String {
    match v {
        Value::Null => "{}".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub(super) fn error_message(e: &Value) -> String {
    match e {
        Value::String(s) => s.clone(),
        other => other
            .get("message")
            .and_then(Value::as_str)
            .map_or_else(|| other.to_string(), str::to_owned),
    }
}

/// The annotation holding a final answer's durations (ns).
pub(super) const DURATIONS: &str = "ollama";

/// The durations (ns) of a final (`done: true`) answer or line, when it has any.
pub(super) fn durations(r: &OllamaChatResponse) -> Option<Value> {
    let d: Map<String, Value> = [
        ("total_duration", r.total_duration),
        ("load_duration", r.load_duration),
        ("prompt_eval_duration", r.prompt_eval_duration),
        ("eval_duration", r.eval_duration),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.map(|v| (k.to_owned(), Value::from(v))))
    .collect();
    (!d.is_empty()).then_some(Value::Object(d))
}

/// Maps a non-streaming `/api/chat` answer. Durations (ns) are kept in
/// `meta.annotations["ollama"]` (a stream's last line carries them the same way).
pub fn parse_chat(r: OllamaChatResponse, provider: &str, model: &str) -> Result<ChatResponse> {
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
            "chat response",
            "the answer is not done (`done: false`)",
            "",
        ));
    }
    let msg = r.message.clone().unwrap_or_default();
    let tool_calls: Vec<ToolCall> = msg
        .tool_calls
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            ToolCall::new(
                call_id(c, i),
                &c.function.name,
                arguments_text(&c.function.arguments),
            )
        })
        .collect();
    let mut annotations = Map::new();
    if let Some(d) = durations(&r) {
        annotations.insert(DURATIONS.into(), d);
    }
    Ok(ChatResponse {
        id: String::new(),
        model: r.model.clone().unwrap_or_else(|| model.to_owned()),
        created: created(&r),
        message: AssistantMessage {
            content: msg.content.filter(|c| !c.is_empty()).map(Content::Text),
            reasoning: msg
                .thinking
                .filter(|t| !t.is_empty())
                .map(|t| vec![ReasoningBlock::text(t)])
                .unwrap_or_default(),
            tool_calls: tool_calls.clone(),
            refusal: None,
            name: None,
        },
        finish_reason: finish_reason(r.done_reason.as_deref(), !tool_calls.is_empty()),
        usage: usage(&r),
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            annotations,
            ..ResponseMeta::default()
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        let created_at = |t: &str| {
            created(&serde_json::from_value(serde_json::json!({"created_at": t})).unwrap())
        };
        assert_eq!(created_at("1970-01-01T00:00:00Z"), 0);
        assert_eq!(created_at("2026-07-28T06:38:03.222822Z"), 1_785_220_683);
        assert_eq!(
            created_at("2026-06-19T17:15:40.188240254-07:00"),
            created_at("2026-06-20T00:15:40Z")
        );
        assert_eq!(created_at("yesterday"), 0);
    }

    #[test]
    fn finish_reasons() {
        assert_eq!(finish_reason(Some("stop"), true), FinishReason::ToolCalls);
        assert_eq!(finish_reason(Some("length"), true), FinishReason::Length);
        assert_eq!(
            finish_reason(Some("unload"), false),
            FinishReason::Other("unload".into())
        );
    }
}
