//! Wire fields pinned to one element of a chat request, for the fields core has no place for.
//!
//! Anthropic's Messages API puts a prompt-cache breakpoint (`cache_control`) on any system
//! block, content block, tool use or tool definition, marks a failed tool result with
//! `is_error`, and replays `citations` on the text blocks of earlier answers. Core messages keep
//! content as text and image parts, so these fields travel beside the messages, each naming the
//! element it belongs to by its position in the core request. A provider that knows a field
//! writes it onto the block it emits for that position; the others ignore it (a cache
//! breakpoint is a billing hint, not content).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One element of a [`ChatRequest`](super::ChatRequest), by position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "on", rename_all = "snake_case")]
pub enum ElementRef {
    /// The request as a whole (Anthropic's top-level `cache_control`: the provider places the
    /// breakpoint on the last cacheable block itself).
    Request,
    /// `tools[tool]`.
    Tool {
        /// Index into `tools`.
        tool: usize,
    },
    /// `messages[message]` as a whole: the one block of a string content, or the
    /// `tool_result` block of a tool message.
    Message {
        /// Index into `messages`.
        message: usize,
    },
    /// `messages[message].content[part]` (of a message whose content is a list of parts).
    Part {
        /// Index into `messages`.
        message: usize,
        /// Index into the message's content parts.
        part: usize,
    },
    /// `messages[message].tool_calls[call]` (an assistant message's tool call).
    ToolCall {
        /// Index into `messages`.
        message: usize,
        /// Index into the message's tool calls.
        call: usize,
    },
}

/// A prompt-cache breakpoint: Anthropic's `cache_control` object (`{"type": "ephemeral"}`,
/// optionally with `"ttl": "5m" | "1h"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptCacheMark {
    /// Always `ephemeral` today.
    #[serde(rename = "type")]
    pub kind: String,
    /// How long the cached prefix lives (`5m`, `1h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<String>,
    /// Fields added by later API versions, kept as sent.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl PromptCacheMark {
    /// `{"type": "ephemeral"}`.
    pub fn ephemeral() -> Self {
        Self {
            kind: "ephemeral".to_owned(),
            ttl: None,
            other: Map::new(),
        }
    }
}

/// The fields core has no place for, of one element.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ElementExtra {
    /// Which element.
    pub at: ElementRef,
    /// A prompt-cache breakpoint on the element.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_control: Option<PromptCacheMark>,
    /// The element is a tool result that reports a failure (Anthropic `is_error`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_error: Option<bool>,
    /// Citations of a replayed answer's text block, kept as the provider sent them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub citations: Option<Vec<Value>>,
    /// Opt-in upstream API features the caller asked for (Anthropic's `anthropic-beta`
    /// header, one feature name each), on [`ElementRef::Request`] only. Part of the request
    /// (so of its cache key); providers with such switches send them, the others ignore them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beta_features: Option<Vec<String>>,
}

impl ElementExtra {
    /// No fields yet, for `at`.
    pub fn new(at: ElementRef) -> Self {
        Self {
            at,
            cache_control: None,
            is_error: None,
            citations: None,
            beta_features: None,
        }
    }

    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        self.cache_control.is_none()
            && self.is_error.is_none()
            && self.citations.is_none()
            && self.beta_features.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{ChatRequest, Message};
    use serde_json::json;

    #[test]
    fn serde_shape_and_lookup() {
        let mut req = ChatRequest::new("m", vec![Message::user("hi")]);
        req.element_extra_mut(ElementRef::Part {
            message: 0,
            part: 1,
        })
        .cache_control = Some(PromptCacheMark {
            ttl: Some("1h".into()),
            ..PromptCacheMark::ephemeral()
        });
        req.element_extra_mut(ElementRef::Message { message: 2 })
            .is_error = Some(true);
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(
            v["element_extras"],
            json!([
                {"at": {"on": "part", "message": 0, "part": 1},
                 "cache_control": {"type": "ephemeral", "ttl": "1h"}},
                {"at": {"on": "message", "message": 2}, "is_error": true}
            ])
        );
        let back: ChatRequest = serde_json::from_value(v).unwrap();
        assert_eq!(back, req);
        assert_eq!(
            back.element_extra(ElementRef::Message { message: 2 })
                .and_then(|e| e.is_error),
            Some(true)
        );
        assert!(back.element_extra(ElementRef::Request).is_none());
    }

    #[test]
    fn absent_when_empty() {
        let req = ChatRequest::new("m", vec![Message::user("hi")]);
        let v = serde_json::to_value(&req).unwrap();
        assert!(v.get("element_extras").is_none(), "{v}");
    }
}
