//! Core [`ChatResponse`] → Messages response body.
//!
//! Content blocks come in Anthropic's order: thinking (with its signature) and redacted
//! thinking, then text (split into cited blocks where the answer carries
//! [`annotation::CITATIONS`]), then `tool_use` (the input parsed back into an object). Usage is
//! Anthropic's: `input_tokens` excludes cache reads and writes, which have their own counts.

use runtime_core::{ChatResponse, FinishReason, Usage, annotation};
use serde::Serialize;
use serde_json::{Map, Value};

/// A content block of an answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutBlock {
    /// Text, with its citations when it has any.
    Text {
        /// The text.
        text: String,
        /// Citations of this span.
        #[serde(skip_serializing_if = "Option::is_none")]
        citations: Option<Vec<Value>>,
    },
    /// Thinking.
    Thinking {
        /// The thinking text.
        thinking: String,
        /// Anthropic's signature over it (empty when the upstream signs nothing).
        signature: String,
    },
    /// Encrypted thinking.
    RedactedThinking {
        /// The encrypted thinking.
        data: String,
    },
    /// A tool call.
    ToolUse {
        /// The call id.
        id: String,
        /// The tool.
        name: String,
        /// The input object.
        input: Value,
    },
}

/// Anthropic's `usage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OutUsage {
    /// Input tokens not read from or written to the prompt cache.
    pub input_tokens: u64,
    /// Input tokens written to the prompt cache.
    pub cache_creation_input_tokens: u64,
    /// Input tokens read from the prompt cache.
    pub cache_read_input_tokens: u64,
    /// Output tokens (thinking included).
    pub output_tokens: u64,
}

impl From<&Usage> for OutUsage {
    fn from(u: &Usage) -> Self {
        Self {
            input_tokens: u
                .prompt_tokens
                .saturating_sub(u.cached_prompt_tokens + u.cache_creation_tokens),
            cache_creation_input_tokens: u.cache_creation_tokens,
            cache_read_input_tokens: u.cached_prompt_tokens,
            output_tokens: u.completion_tokens,
        }
    }
}

/// `stop_details` of a refusal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StopDetails {
    /// Always `refusal`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The policy category, when known.
    pub category: Option<String>,
    /// Why, in words.
    pub explanation: Option<String>,
}

/// A Messages response body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageBody {
    /// `msg_…` (the upstream's id, or the gateway's).
    pub id: String,
    /// Always `message`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Always `assistant`.
    pub role: &'static str,
    /// The model that answered.
    pub model: String,
    /// The answer.
    pub content: Vec<OutBlock>,
    /// Why it stopped.
    pub stop_reason: Option<&'static str>,
    /// The stop sequence that matched.
    pub stop_sequence: Option<String>,
    /// Refusal details.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_details: Option<StopDetails>,
    /// Token counts.
    pub usage: OutUsage,
}

const STOP_REASONS: &[&str] = &[
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
];

fn known(reason: &str) -> Option<&'static str> {
    STOP_REASONS.iter().copied().find(|r| *r == reason)
}

/// Anthropic's `stop_reason` for a core finish, with the upstream's own reason (from
/// [`annotation::STOP_REASON`]) and matched stop sequence taking precedence.
pub fn stop_reason(
    finish: &FinishReason,
    annotations: &Map<String, Value>,
    refused: bool,
) -> &'static str {
    if let Some(r) = annotations
        .get(annotation::STOP_REASON)
        .and_then(Value::as_str)
        .and_then(known)
    {
        return r;
    }
    if refused {
        return "refusal";
    }
    match finish {
        FinishReason::Stop if annotations.contains_key(annotation::STOP_SEQUENCE) => {
            "stop_sequence"
        }
        FinishReason::Stop => "end_turn",
        FinishReason::Length => "max_tokens",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::ContentFilter => "refusal",
        FinishReason::Other(s) => known(s).unwrap_or("end_turn"),
        // A reason core adds later: the neutral end.
        _ => "end_turn",
    }
}

/// A tool call's JSON-text arguments as Anthropic's `input`: the parsed value; `{}` for empty
/// arguments; the raw text as a JSON string when it is not JSON (never dropped).
pub fn tool_input(arguments: &str) -> Value {
    let trimmed = arguments.trim();
    if trimmed.is_empty() {
        return Value::Object(Map::new());
    }
    serde_json::from_str(trimmed).unwrap_or_else(|_| Value::String(arguments.to_owned()))
}

/// The text split into blocks at the cited spans of [`annotation::CITATIONS`]
/// (`[{"start", "end", "citations"}]`, byte offsets). Spans that overlap, run past the text or
/// cut a character are not applied: the text then stays one block.
pub fn cited_text_blocks(text: &str, annotations: &Map<String, Value>) -> Vec<OutBlock> {
    let plain = || {
        vec![OutBlock::Text {
            text: text.to_owned(),
            citations: None,
        }]
    };
    let Some(Value::Array(spans)) = annotations.get(annotation::CITATIONS) else {
        return plain();
    };
    let mut parsed = Vec::with_capacity(spans.len());
    for s in spans {
        let start = s.get("start").and_then(Value::as_u64);
        let end = s.get("end").and_then(Value::as_u64);
        let cites = s.get("citations").and_then(Value::as_array);
        match (start, end, cites) {
            (Some(a), Some(b), Some(c)) => {
                let (Ok(a), Ok(b)) = (usize::try_from(a), usize::try_from(b)) else {
                    return plain();
                };
                parsed.push((a, b, c.clone()));
            }
            _ => return plain(),
        }
    }
    parsed.sort_by_key(|p| p.0);
    let mut blocks = Vec::new();
    let mut at = 0;
    for (a, b, c) in parsed {
        if a < at
            || b < a
            || b > text.len()
            || !text.is_char_boundary(a)
            || !text.is_char_boundary(b)
        {
            return plain();
        }
        if a > at {
            blocks.push(OutBlock::Text {
                text: text[at..a].to_owned(),
                citations: None,
            });
        }
        blocks.push(OutBlock::Text {
            text: text[a..b].to_owned(),
            citations: Some(c),
        });
        at = b;
    }
    if at < text.len() || blocks.is_empty() {
        blocks.push(OutBlock::Text {
            text: text[at..].to_owned(),
            citations: None,
        });
    }
    blocks
}

/// The content blocks of an answer, in Anthropic's order.
pub fn content_blocks(resp: &ChatResponse) -> Vec<OutBlock> {
    let m = &resp.message;
    let mut blocks = Vec::new();
    for r in &m.reasoning {
        if r.is_redacted() {
            blocks.push(OutBlock::RedactedThinking {
                data: r.data.clone().unwrap_or_default(),
            });
        } else {
            blocks.push(OutBlock::Thinking {
                thinking: r.text.clone().unwrap_or_default(),
                signature: r.signature.clone().unwrap_or_default(),
            });
        }
    }
    if let Some(text) = m.text().filter(|t| !t.is_empty()) {
        blocks.extend(cited_text_blocks(&text, &resp.meta.annotations));
    }
    for c in &m.tool_calls {
        blocks.push(OutBlock::ToolUse {
            id: c.id.clone(),
            name: c.function.name.clone(),
            input: tool_input(&c.function.arguments),
        });
    }
    blocks
}

/// The Messages response for a core answer. `fallback_id` / `fallback_model` fill what the
/// provider left empty.
pub fn message(resp: &ChatResponse, fallback_id: &str, fallback_model: &str) -> MessageBody {
    let ann = &resp.meta.annotations;
    let refusal = resp.message.refusal.clone();
    MessageBody {
        id: if resp.id.is_empty() {
            fallback_id.to_owned()
        } else {
            resp.id.clone()
        },
        kind: "message",
        role: "assistant",
        model: if resp.model.is_empty() {
            fallback_model.to_owned()
        } else {
            resp.model.clone()
        },
        content: content_blocks(resp),
        stop_reason: Some(stop_reason(&resp.finish_reason, ann, refusal.is_some())),
        stop_sequence: ann
            .get(annotation::STOP_SEQUENCE)
            .and_then(Value::as_str)
            .map(str::to_owned),
        stop_details: refusal.map(|explanation| StopDetails {
            kind: "refusal",
            category: None,
            explanation: Some(explanation),
        }),
        usage: resp.usage.as_ref().map(OutUsage::from).unwrap_or(OutUsage {
            input_tokens: 0,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 0,
            output_tokens: 0,
        }),
    }
}

/// [`message`] as JSON bytes.
pub fn body(resp: &ChatResponse, fallback_id: &str, fallback_model: &str) -> Vec<u8> {
    serde_json::to_vec(&message(resp, fallback_id, fallback_model)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn usage_splits_cache_counts_out_of_input() {
        let mut u = Usage::new(100, 7);
        u.cached_prompt_tokens = 60;
        u.cache_creation_tokens = 30;
        let out = OutUsage::from(&u);
        assert_eq!(
            (
                out.input_tokens,
                out.cache_read_input_tokens,
                out.cache_creation_input_tokens
            ),
            (10, 60, 30)
        );
    }

    #[test]
    fn stop_reasons() {
        let none = Map::new();
        let seq: Map<String, Value> = [("stop_sequence".to_owned(), json!("END"))]
            .into_iter()
            .collect();
        let pause: Map<String, Value> = [("stop_reason".to_owned(), json!("pause_turn"))]
            .into_iter()
            .collect();
        assert_eq!(stop_reason(&FinishReason::Stop, &none, false), "end_turn");
        assert_eq!(
            stop_reason(&FinishReason::Stop, &seq, false),
            "stop_sequence"
        );
        assert_eq!(
            stop_reason(&FinishReason::Stop, &pause, false),
            "pause_turn"
        );
        assert_eq!(
            stop_reason(&FinishReason::Length, &none, false),
            "max_tokens"
        );
        assert_eq!(
            stop_reason(&FinishReason::ToolCalls, &none, false),
            "tool_use"
        );
        assert_eq!(
            stop_reason(&FinishReason::ContentFilter, &none, false),
            "refusal"
        );
        assert_eq!(stop_reason(&FinishReason::Stop, &none, true), "refusal");
        assert_eq!(
            stop_reason(&FinishReason::Other("weird".into()), &none, false),
            "end_turn"
        );
    }

    #[test]
    fn citations_split_text_and_bad_spans_are_not_applied() {
        let ann: Map<String, Value> = [(
            "citations".to_owned(),
            json!([{"start": 4, "end": 9, "citations": [{"type": "char_location", "cited_text": "grass"}]}]),
        )]
        .into_iter()
        .collect();
        let blocks = cited_text_blocks("The grass is green", &ann);
        assert_eq!(blocks.len(), 3);
        assert_eq!(
            serde_json::to_value(&blocks[1]).unwrap(),
            json!({"type": "text", "text": "grass", "citations": [{"type": "char_location", "cited_text": "grass"}]})
        );
        let bad: Map<String, Value> = [(
            "citations".to_owned(),
            json!([{"start": 4, "end": 99, "citations": []}]),
        )]
        .into_iter()
        .collect();
        assert_eq!(cited_text_blocks("short", &bad).len(), 1);
    }

    #[test]
    fn tool_input_never_drops_arguments() {
        assert_eq!(tool_input(""), json!({}));
        assert_eq!(tool_input(r#"{"a":1}"#), json!({"a": 1}));
        assert_eq!(tool_input("{oops"), json!("{oops"));
    }
}
