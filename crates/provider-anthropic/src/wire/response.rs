//! Messages responses: usage, content blocks, stop reasons, and the whole-answer mapping.

use serde::Deserialize;
use serde_json::{Map, Value};

use runtime_core::{
    AssistantMessage, ChatResponse, Content, FinishReason, ReasoningBlock, ResponseMeta, ToolCall,
    Usage, annotation,
};

/// Anthropic's `usage` object. Every count is optional: stream deltas carry some of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct WireUsage {
    /// Uncached input tokens.
    #[serde(default)]
    pub input_tokens: Option<u64>,
    /// Output tokens (thinking included).
    #[serde(default)]
    pub output_tokens: Option<u64>,
    /// Input tokens written to the prompt cache.
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    /// Input tokens read from the prompt cache.
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
}

impl WireUsage {
    /// Overwrites every count `newer` carries (stream usage is cumulative, not additive).
    pub fn overwrite(&mut self, newer: &WireUsage) {
        if newer.input_tokens.is_some() {
            self.input_tokens = newer.input_tokens;
        }
        if newer.output_tokens.is_some() {
            self.output_tokens = newer.output_tokens;
        }
        if newer.cache_creation_input_tokens.is_some() {
            self.cache_creation_input_tokens = newer.cache_creation_input_tokens;
        }
        if newer.cache_read_input_tokens.is_some() {
            self.cache_read_input_tokens = newer.cache_read_input_tokens;
        }
    }

    /// The core usage: prompt = input + cache writes + cache reads (Anthropic's `input_tokens`
    /// excludes both), completion = output.
    pub fn to_core(&self) -> Usage {
        let input = self.input_tokens.unwrap_or(0);
        let created = self.cache_creation_input_tokens.unwrap_or(0);
        let read = self.cache_read_input_tokens.unwrap_or(0);
        let prompt = input + created + read;
        let completion = self.output_tokens.unwrap_or(0);
        Usage {
            prompt_tokens: prompt,
            completion_tokens: completion,
            total_tokens: prompt + completion,
            cached_prompt_tokens: read,
            cache_creation_tokens: created,
            reasoning_tokens: 0,
        }
    }
}

/// A content block of a response (or of a `content_block_start` event).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KnownBlock {
    /// Text.
    Text {
        /// The text.
        #[serde(default)]
        text: String,
        /// What the text cites (documents, search results), as sent.
        #[serde(default)]
        citations: Option<Vec<Value>>,
    },
    /// A call of one of the request's tools.
    ToolUse {
        /// `toolu_…`.
        id: String,
        /// The tool.
        name: String,
        /// Arguments (an object).
        #[serde(default)]
        input: Value,
    },
    /// Extended thinking.
    Thinking {
        /// The thinking text.
        #[serde(default)]
        thinking: String,
        /// Anthropic's signature over it.
        #[serde(default)]
        signature: Option<String>,
    },
    /// Thinking the safety system encrypted.
    RedactedThinking {
        /// Encrypted content.
        data: String,
    },
}

/// A content block: one this crate maps, or any other (kept as JSON).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Block {
    /// A block type with a core equivalent.
    Known(KnownBlock),
    /// Anything else (server tool results, future types).
    Other(Value),
}

/// `stop_details` (sent with refusals).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct StopDetails {
    /// Why the model refused, in words.
    #[serde(default)]
    pub explanation: Option<String>,
}

/// The body of a Messages response.
#[derive(Debug, Clone, Deserialize)]
pub struct MessagesResponse {
    /// `msg_…`.
    #[serde(default)]
    pub id: String,
    /// The model that answered (a dated snapshot).
    #[serde(default)]
    pub model: Option<String>,
    /// The content blocks.
    #[serde(default)]
    pub content: Vec<Block>,
    /// Why it stopped.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// Which stop sequence matched.
    #[serde(default)]
    pub stop_sequence: Option<String>,
    /// Refusal details.
    #[serde(default)]
    pub stop_details: Option<StopDetails>,
    /// Token counts.
    #[serde(default)]
    pub usage: Option<WireUsage>,
}

/// Anthropic's stop reason in core terms.
pub fn finish_reason(stop_reason: Option<&str>) -> FinishReason {
    match stop_reason {
        Some("end_turn" | "stop_sequence" | "pause_turn") => FinishReason::Stop,
        Some("max_tokens" | "model_context_window_exceeded") => FinishReason::Length,
        Some("tool_use") => FinishReason::ToolCalls,
        Some("refusal") => FinishReason::ContentFilter,
        Some(other) => FinishReason::Other(other.to_owned()),
        None => FinishReason::Other("unknown".into()),
    }
}

/// Maps a Messages response to the core response. `structured` is the request's
/// [`structured_output_tool`]: that tool's input becomes the answer's text (JSON) and its
/// `tool_use` stop a plain stop.
///
/// Text blocks are joined; `tool_use` blocks become tool calls with their `toolu_…` ids;
/// `thinking` / `redacted_thinking` blocks become reasoning blocks. Blocks without a core
/// equivalent are kept in `meta.annotations["content_blocks"]`, the matched stop sequence in
/// `meta.annotations["stop_sequence"]`, the text blocks' citations (with the byte span of the
/// joined text each belongs to) in `meta.annotations["citations"]`.
pub fn parse_response(
    body: MessagesResponse,
    provider: &str,
    model: &str,
    structured: Option<&str>,
) -> ChatResponse {
    let mut text = String::new();
    let mut reasoning = Vec::new();
    let mut tool_calls = Vec::new();
    let mut other = Vec::new();
    let mut cited = Vec::new();
    for b in body.content {
        match b {
            Block::Known(KnownBlock::Text { text: t, citations }) => {
                let start = text.len();
                text.push_str(&t);
                if let Some(c) = citations.filter(|c| !c.is_empty()) {
                    cited.push(citation_span(start, text.len(), c));
                }
            }
            Block::Known(KnownBlock::ToolUse { name, input, .. })
                if structured == Some(name.as_str()) =>
            {
                text.push_str(&tool_input_text(&input));
            }
            Block::Known(KnownBlock::ToolUse { id, name, input }) => {
                tool_calls.push(ToolCall::new(id, name, tool_input_text(&input)));
            }
            Block::Known(KnownBlock::Thinking {
                thinking,
                signature,
            }) => reasoning.push(ReasoningBlock {
                signature: signature.filter(|s| !s.is_empty()),
                ..ReasoningBlock::text(thinking)
            }),
            Block::Known(KnownBlock::RedactedThinking { data }) => {
                reasoning.push(ReasoningBlock {
                    kind: "redacted_thinking".into(),
                    text: None,
                    signature: None,
                    data: Some(data),
                });
            }
            Block::Other(v) => other.push(v),
        }
    }
    let finish = structured_finish(
        finish_reason(body.stop_reason.as_deref()),
        structured.is_some() && tool_calls.is_empty(),
    );
    let mut annotations = Map::new();
    if !other.is_empty() {
        annotations.insert("content_blocks".into(), Value::Array(other));
    }
    if let Some(s) = body.stop_sequence {
        annotations.insert("stop_sequence".into(), Value::String(s));
    }
    if !cited.is_empty() {
        annotations.insert(annotation::CITATIONS.into(), Value::Array(cited));
    }
    ChatResponse {
        id: body.id,
        model: body.model.unwrap_or_else(|| model.to_owned()),
        created: 0,
        message: AssistantMessage {
            content: (!text.is_empty()).then_some(Content::Text(text)),
            reasoning,
            tool_calls,
            refusal: body
                .stop_details
                .and_then(|d| d.explanation)
                .filter(|s| !s.is_empty()),
            name: None,
        },
        finish_reason: finish,
        usage: body.usage.map(|u| u.to_core()),
        meta: ResponseMeta {
            provider: Some(provider.to_owned()),
            annotations,
            ..ResponseMeta::default()
        },
    }
}

/// One entry of [`annotation::CITATIONS`]: the answer text's bytes `start..end` (one text
/// block) and the citations Anthropic sent for it.
pub fn citation_span(start: usize, end: usize, citations: Vec<Value>) -> Value {
    serde_json::json!({"start": start, "end": end, "citations": citations})
}

/// A structured answer ends with a `tool_use` stop; for the caller it is a plain stop.
pub(crate) fn structured_finish(reason: FinishReason, structured_only: bool) -> FinishReason {
    match reason {
        FinishReason::ToolCalls if structured_only => FinishReason::Stop,
        other => other,
    }
}

/// A tool input object as the JSON text of core tool-call arguments (`null` → `{}`).
pub fn tool_input_text(input: &Value) -> String {
    match input {
        Value::Null => "{}".to_owned(),
        v => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_reasons() {
        for (raw, want) in [
            ("end_turn", FinishReason::Stop),
            ("stop_sequence", FinishReason::Stop),
            ("pause_turn", FinishReason::Stop),
            ("max_tokens", FinishReason::Length),
            ("model_context_window_exceeded", FinishReason::Length),
            ("tool_use", FinishReason::ToolCalls),
            ("refusal", FinishReason::ContentFilter),
        ] {
            assert_eq!(finish_reason(Some(raw)), want, "{raw}");
        }
        assert_eq!(
            finish_reason(Some("new_reason")),
            FinishReason::Other("new_reason".into())
        );
    }
}
