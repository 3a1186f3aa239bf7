//! `POST /v2/chat` answers: text, tool calls, the tool plan and citations (kept as
//! annotations), the finish reason and usage (billed units; the model's own token counts are
//! an annotation).

use runtime_core::{
    AssistantMessage, ChatResponse, Content, Error, FinishReason, ResponseMeta, Result, ToolCall,
    Usage,
};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::annotation;

/// A chat answer.
#[derive(Debug, Deserialize)]
pub struct CohereChatResponse {
    /// Id.
    #[serde(default)]
    pub id: String,
    /// `COMPLETE`, `MAX_TOKENS`, `STOP_SEQUENCE`, `TOOL_CALL`, `ERROR`, `TIMEOUT`.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// The message.
    #[serde(default)]
    pub message: CohereMessageOut,
    /// Usage.
    #[serde(default)]
    pub usage: Option<CohereUsage>,
}

/// The answer's message.
#[derive(Debug, Default, Deserialize)]
pub struct CohereMessageOut {
    /// Content blocks.
    #[serde(default)]
    pub content: Vec<ContentBlock>,
    /// The plan stated before tool calls.
    #[serde(default)]
    pub tool_plan: Option<String>,
    /// Tool calls.
    #[serde(default)]
    pub tool_calls: Vec<CohereToolCall>,
    /// Citations.
    #[serde(default)]
    pub citations: Vec<Value>,
}

/// A content block.
#[derive(Debug, Deserialize)]
pub struct ContentBlock {
    /// `text` (others are skipped).
    #[serde(rename = "type", default)]
    pub kind: String,
    /// Text.
    #[serde(default)]
    pub text: Option<String>,
}

/// A tool call.
#[derive(Debug, Deserialize)]
pub struct CohereToolCall {
    /// Id.
    #[serde(default)]
    pub id: String,
    /// Name and arguments.
    pub function: CohereFunction,
}

/// A called function.
#[derive(Debug, Deserialize)]
pub struct CohereFunction {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Arguments, JSON text.
    #[serde(default)]
    pub arguments: String,
}

/// Usage.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct CohereUsage {
    /// What is billed.
    #[serde(default)]
    pub billed_units: Units,
    /// What the model saw (with Cohere's own prompt).
    #[serde(default)]
    pub tokens: Option<Units>,
    /// Prompt tokens read from cache (of `tokens.input_tokens`).
    #[serde(default)]
    pub cached_tokens: Option<u64>,
}

/// Token counts.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
pub struct Units {
    /// Input.
    #[serde(default)]
    pub input_tokens: f64,
    /// Output.
    #[serde(default)]
    pub output_tokens: f64,
}

impl CohereUsage {
    /// The core usage: the billed units (what Cohere charges; its price is per billed token).
    pub fn usage(&self) -> Usage {
        Usage::new(
            self.billed_units.input_tokens as u64,
            self.billed_units.output_tokens as u64,
        )
    }

    /// The model's own counts, kept as an annotation.
    pub fn tokens_annotation(&self) -> Option<Value> {
        let t = self.tokens?;
        Some(json!({
            "input_tokens": t.input_tokens as u64,
            "output_tokens": t.output_tokens as u64,
            "cached_tokens": self.cached_tokens.unwrap_or(0),
        }))
    }
}

/// Cohere's finish reason in OpenAI's vocabulary.
pub fn finish_reason(raw: Option<&str>) -> FinishReason {
    match raw {
        Some("COMPLETE") | Some("STOP_SEQUENCE") | None => FinishReason::Stop,
        Some("MAX_TOKENS") => FinishReason::Length,
        Some("TOOL_CALL") => FinishReason::ToolCalls,
        Some(other) => FinishReason::Other(other.to_ascii_lowercase()),
    }
}

/// Maps an answer.
pub fn parse_chat(body: &[u8], provider: &str, model: &str) -> Result<ChatResponse> {
    let r: CohereChatResponse = serde_json::from_slice(body).map_err(|e| {
        Error::decode(
            provider,
            model,
            "chat answer",
            e,
            &String::from_utf8_lossy(body),
        )
    })?;
    let text: String = r
        .message
        .content
        .iter()
        .filter(|b| b.kind == "text")
        .filter_map(|b| b.text.as_deref())
        .collect();
    let tool_calls: Vec<ToolCall> = r
        .message
        .tool_calls
        .iter()
        .map(|c| ToolCall::new(&c.id, &c.function.name, &c.function.arguments))
        .collect();
    let mut annotations = Map::new();
    if let Some(plan) = r.message.tool_plan.filter(|p| !p.is_empty()) {
        annotations.insert(annotation::TOOL_PLAN.into(), Value::String(plan));
    }
    if !r.message.citations.is_empty() {
        annotations.insert(
            annotation::CITATIONS.into(),
            Value::Array(r.message.citations),
        );
    }
    if let Some(t) = r.usage.as_ref().and_then(CohereUsage::tokens_annotation) {
        annotations.insert(annotation::TOKENS.into(), t);
    }
    Ok(ChatResponse {
        id: r.id,
        model: model.to_owned(),
        created: 0,
        message: AssistantMessage {
            content: (!text.is_empty() || tool_calls.is_empty()).then_some(Content::Text(text)),
            tool_calls,
            ..AssistantMessage::default()
        },
        finish_reason: finish_reason(r.finish_reason.as_deref()),
        usage: r.usage.as_ref().map(CohereUsage::usage),
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            annotations,
            ..ResponseMeta::default()
        },
    })
}
