//! Core [`StreamEvent`]s → the Messages API's SSE event sequence.
//!
//! ```text
//! message_start
//! (content_block_start, ping after the first, content_block_delta*, content_block_stop)*
//! message_delta            stop_reason, stop_sequence, cumulative usage
//! message_stop
//! ```
//!
//! `message_start` waits for the first event that is not the upstream's `Start` or an early
//! usage, so it carries the input usage an Anthropic upstream reports at the start (other
//! upstreams report usage only at the end: `message_delta` then carries every count, input
//! included, as Anthropic's own deltas may). Blocks are opened as content arrives and closed
//! when the next block begins: thinking (`thinking_delta`, `signature_delta`), redacted thinking
//! (whole, in its start event), text (`text_delta`, and `citations_delta` for the citations an
//! upstream's text block had, sent as that block's citations annotation arrives) and `tool_use`
//! (`input_json_delta`). Core
//! streams carry tool calls one after the other; a fragment of a call whose block was already
//! closed is still sent with that block's index (the SDKs accumulate by index), which only an
//! upstream that interleaves calls could cause.

use runtime_core::{FinishReason, StreamEvent, Usage, annotation};
use serde::Serialize;
use serde_json::{Map, Value};

use super::error::error_type;
use super::response::{OutUsage, StopDetails, stop_reason};
use crate::ErrorInfo;
use crate::sse::write_event;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking { signed: bool },
    Tool { call: usize },
}

/// The stateful encoder of one Messages stream.
#[derive(Debug)]
pub struct MessagesStreamEncoder {
    id: String,
    model: String,
    started: bool,
    usage: Option<Usage>,
    open: Option<(Open, usize)>,
    next_index: usize,
    tool_blocks: Vec<(usize, usize)>,
    pinged: bool,
    finish: Option<FinishReason>,
    annotations: Map<String, Value>,
    refusal: Option<String>,
    done: bool,
    /// How many citations went out as `citations_delta`.
    citations_sent: usize,
}

#[derive(Serialize)]
struct StartMessage<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    role: &'static str,
    model: &'a str,
    content: [(); 0],
    stop_reason: Option<()>,
    stop_sequence: Option<()>,
    usage: OutUsage,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Frame<'a> {
    MessageStart {
        message: StartMessage<'a>,
    },
    ContentBlockStart {
        index: usize,
        content_block: Value,
    },
    ContentBlockDelta {
        index: usize,
        delta: Delta<'a>,
    },
    ContentBlockStop {
        index: usize,
    },
    MessageDelta {
        delta: MessageDelta,
        usage: OutUsage,
    },
    MessageStop,
    Ping,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Delta<'a> {
    #[serde(rename = "text_delta")]
    Text { text: &'a str },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: &'a str },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: &'a str },
    #[serde(rename = "signature_delta")]
    Signature { signature: &'a str },
    #[serde(rename = "citations_delta")]
    Citations { citation: &'a Value },
}

#[derive(Serialize)]
struct MessageDelta {
    stop_reason: &'static str,
    stop_sequence: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_details: Option<StopDetails>,
}

impl Frame<'_> {
    fn name(&self) -> &'static str {
        match self {
            Frame::MessageStart { .. } => "message_start",
            Frame::ContentBlockStart { .. } => "content_block_start",
            Frame::ContentBlockDelta { .. } => "content_block_delta",
            Frame::ContentBlockStop { .. } => "content_block_stop",
            Frame::MessageDelta { .. } => "message_delta",
            Frame::MessageStop => "message_stop",
            Frame::Ping => "ping",
        }
    }
}

fn write(out: &mut Vec<u8>, f: &Frame<'_>) {
    write_event(out, f.name(), f);
}

const ZERO: OutUsage = OutUsage {
    input_tokens: 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    output_tokens: 0,
};

impl MessagesStreamEncoder {
    /// An encoder; `id` and `model` are used unless the upstream's `Start` event names its own.
    pub fn new(id: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            model: model.into(),
            started: false,
            usage: None,
            open: None,
            next_index: 0,
            tool_blocks: Vec::new(),
            pinged: false,
            finish: None,
            annotations: Map::new(),
            refusal: None,
            done: false,
            citations_sent: 0,
        }
    }

    /// The usage seen so far.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// True once the stream was closed by [`finish`](Self::finish) or [`fail`](Self::fail).
    pub fn is_done(&self) -> bool {
        self.done
    }

    fn ensure_started(&mut self, out: &mut Vec<u8>) {
        if self.started {
            return;
        }
        self.started = true;
        let usage = self.usage.as_ref().map(OutUsage::from).unwrap_or(ZERO);
        write(
            out,
            &Frame::MessageStart {
                message: StartMessage {
                    id: &self.id,
                    kind: "message",
                    role: "assistant",
                    model: &self.model,
                    content: [],
                    stop_reason: None,
                    stop_sequence: None,
                    usage,
                },
            },
        );
    }

    fn close(&mut self, out: &mut Vec<u8>) {
        if let Some((_, index)) = self.open.take() {
            write(out, &Frame::ContentBlockStop { index });
        }
    }

    fn start_block(&mut self, kind: Option<Open>, block: Value, out: &mut Vec<u8>) -> usize {
        self.ensure_started(out);
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        write(
            out,
            &Frame::ContentBlockStart {
                index,
                content_block: block,
            },
        );
        if !self.pinged {
            self.pinged = true;
            write(out, &Frame::Ping);
        }
        match kind {
            Some(k) => self.open = Some((k, index)),
            None => write(out, &Frame::ContentBlockStop { index }),
        }
        index
    }

    fn delta(&mut self, index: usize, delta: Delta<'_>, out: &mut Vec<u8>) {
        write(out, &Frame::ContentBlockDelta { index, delta });
    }

    fn tool_block(&self, call: usize) -> Option<usize> {
        self.tool_blocks
            .iter()
            .find(|(c, _)| *c == call)
            .map(|(_, b)| *b)
    }

    /// Appends the frames for one event (possibly none).
    pub fn event(&mut self, event: StreamEvent, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        match event {
            StreamEvent::Start { id, model, .. } if !self.started => {
                if !id.is_empty() {
                    self.id = id;
                }
                if !model.is_empty() {
                    self.model = model;
                }
            }
            StreamEvent::Start { .. } => {}
            StreamEvent::Usage(u) => self.usage = Some(u),
            StreamEvent::TextDelta { text } => {
                let index = match self.open {
                    Some((Open::Text, index)) => index,
                    _ => self.start_block(
                        Some(Open::Text),
                        serde_json::json!({"type": "text", "text": ""}),
                        out,
                    ),
                };
                if !text.is_empty() {
                    self.delta(index, Delta::Text { text: &text }, out);
                }
            }
            StreamEvent::ReasoningDelta { text } => {
                let index = match self.open {
                    Some((Open::Thinking { signed: false }, index)) => index,
                    _ => self.start_block(
                        Some(Open::Thinking { signed: false }),
                        serde_json::json!({"type": "thinking", "thinking": "", "signature": ""}),
                        out,
                    ),
                };
                if !text.is_empty() {
                    self.delta(index, Delta::Thinking { thinking: &text }, out);
                }
            }
            StreamEvent::ReasoningSignature { signature } => {
                let index = match self.open {
                    Some((Open::Thinking { signed: false }, index)) => index,
                    _ => self.start_block(
                        Some(Open::Thinking { signed: false }),
                        serde_json::json!({"type": "thinking", "thinking": "", "signature": ""}),
                        out,
                    ),
                };
                self.open = Some((Open::Thinking { signed: true }, index));
                self.delta(
                    index,
                    Delta::Signature {
                        signature: &signature,
                    },
                    out,
                );
            }
            StreamEvent::RedactedReasoning { data } => {
                self.start_block(
                    None,
                    serde_json::json!({"type": "redacted_thinking", "data": data}),
                    out,
                );
            }
            StreamEvent::RefusalDelta { text } => {
                self.refusal.get_or_insert_with(String::new).push_str(&text);
            }
            StreamEvent::ToolCallStart {
                index: call,
                id,
                name,
                ..
            } => {
                if self.tool_block(call).is_some() {
                    return;
                }
                let block = self.start_block(
                    Some(Open::Tool { call }),
                    serde_json::json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                    out,
                );
                self.tool_blocks.push((call, block));
            }
            StreamEvent::ToolCallDelta {
                index: call,
                arguments,
            } => {
                let block = match self.tool_block(call) {
                    Some(b) => b,
                    None => {
                        let b = self.start_block(
                            Some(Open::Tool { call }),
                            serde_json::json!({"type": "tool_use", "id": "", "name": "", "input": {}}),
                            out,
                        );
                        self.tool_blocks.push((call, b));
                        b
                    }
                };
                if !arguments.is_empty() {
                    self.delta(
                        block,
                        Delta::InputJson {
                            partial_json: &arguments,
                        },
                        out,
                    );
                }
            }
            StreamEvent::ToolCallEnd { index: call } => {
                if matches!(self.open, Some((Open::Tool { call: c }, _)) if c == call) {
                    self.close(out);
                }
            }
            StreamEvent::Finish { reason } => {
                self.ensure_started(out);
                self.close(out);
                self.finish = Some(reason);
            }
            StreamEvent::Annotation { key, value } => {
                if key == annotation::CITATIONS {
                    self.citations(&value, out);
                }
                self.annotations.insert(key, value);
            }
            // An event kind core adds later carries nothing this dialect can say.
            _ => {}
        }
    }

    /// The citations of [`annotation::CITATIONS`] (the whole list so far) not yet sent, as
    /// `citations_delta` events of the open text block (the text they cite was just sent on
    /// it). Without an open text block there is nothing to attach them to.
    fn citations(&mut self, spans: &Value, out: &mut Vec<u8>) {
        let Some((Open::Text, index)) = self.open else {
            return;
        };
        let all: Vec<&Value> = spans
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.get("citations").and_then(Value::as_array))
            .flatten()
            .collect();
        for c in all.iter().skip(self.citations_sent) {
            self.delta(index, Delta::Citations { citation: c }, out);
        }
        self.citations_sent = self.citations_sent.max(all.len());
    }

    /// Sends a keep-alive `ping` (for an idle upstream).
    pub fn ping(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.ensure_started(out);
        write(out, &Frame::Ping);
    }

    /// The upstream stream ended: closes the open block, then `message_delta` (stop reason,
    /// cumulative usage) and `message_stop`.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.ensure_started(out);
        self.close(out);
        self.done = true;
        let finish = self.finish.clone().unwrap_or(FinishReason::Stop);
        let refusal = self.refusal.take();
        let delta = MessageDelta {
            stop_reason: stop_reason(&finish, &self.annotations, refusal.is_some()),
            stop_sequence: self
                .annotations
                .get(annotation::STOP_SEQUENCE)
                .and_then(Value::as_str)
                .map(str::to_owned),
            stop_details: refusal.map(|explanation| StopDetails {
                kind: "refusal",
                category: None,
                explanation: Some(explanation),
            }),
        };
        let usage = self.usage.as_ref().map(OutUsage::from).unwrap_or(ZERO);
        write(out, &Frame::MessageDelta { delta, usage });
        write(out, &Frame::MessageStop);
    }

    /// The stream failed after the response head was sent: an `error` event, as Anthropic
    /// sends one after HTTP 200 (after `message_start`, which is written first if it was not
    /// yet); nothing follows it.
    pub fn fail(&mut self, err: &ErrorInfo, out: &mut Vec<u8>) {
        if self.done {
            return;
        }
        self.ensure_started(out);
        self.done = true;
        #[derive(Serialize)]
        struct Inner<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            message: &'a str,
        }
        #[derive(Serialize)]
        struct ErrorFrame<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            error: Inner<'a>,
        }
        write_event(
            out,
            "error",
            &ErrorFrame {
                kind: "error",
                error: Inner {
                    kind: error_type(err.category),
                    message: &err.message,
                },
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(bytes: &[u8]) -> Vec<String> {
        String::from_utf8_lossy(bytes)
            .lines()
            .filter_map(|l| l.strip_prefix("event: "))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn message_start_carries_the_early_input_usage() {
        let mut enc = MessagesStreamEncoder::new("msg_x", "m");
        let mut out = Vec::new();
        enc.event(
            StreamEvent::Start {
                id: "msg_up".into(),
                model: "claude".into(),
                created: 0,
            },
            &mut out,
        );
        enc.event(StreamEvent::Usage(Usage::new(25, 1)), &mut out);
        assert!(out.is_empty(), "message_start waits for content");
        enc.event(StreamEvent::TextDelta { text: "Hi".into() }, &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains(r#""id":"msg_up""#) && text.contains(r#""input_tokens":25"#),
            "{text}"
        );
    }

    #[test]
    fn tool_calls_close_the_previous_block() {
        let mut enc = MessagesStreamEncoder::new("msg_x", "m");
        let mut out = Vec::new();
        for e in [
            StreamEvent::TextDelta { text: "ok".into() },
            StreamEvent::ToolCallStart {
                index: 0,
                id: "a".into(),
                name: "f".into(),
                thought_signature: None,
            },
            StreamEvent::ToolCallDelta {
                index: 0,
                arguments: "{}".into(),
            },
            StreamEvent::ToolCallStart {
                index: 1,
                id: "b".into(),
                name: "g".into(),
                thought_signature: None,
            },
            StreamEvent::ToolCallEnd { index: 0 },
            StreamEvent::ToolCallEnd { index: 1 },
            StreamEvent::Finish {
                reason: FinishReason::ToolCalls,
            },
        ] {
            enc.event(e, &mut out);
        }
        enc.finish(&mut out);
        assert_eq!(
            names(&out),
            [
                "message_start",
                "content_block_start",
                "ping",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert!(String::from_utf8_lossy(&out).contains(r#""stop_reason":"tool_use""#));
    }
}
