//! Cohere's chat stream: SSE events `message-start`, `content-start` / `content-delta` /
//! `content-end`, `tool-plan-delta`, `tool-call-start` / `tool-call-delta` / `tool-call-end`,
//! `citation-start` / `citation-end`, `message-end` (finish reason and usage), then `[DONE]`.
//! The tool plan and citations are gathered and sent as annotations at `message-end`, so the
//! folded stream equals the whole answer.

use runtime_core::{Error, FrameDecoder, Result, StreamEvent};
use serde::Deserialize;
use serde_json::Value;

use super::annotation;
use super::response::{CohereUsage, finish_reason};

#[derive(Debug, Deserialize)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    index: Option<usize>,
    #[serde(default)]
    delta: Option<Delta>,
}

#[derive(Debug, Default, Deserialize)]
struct Delta {
    #[serde(default)]
    message: Option<DeltaMessage>,
    #[serde(default)]
    finish_reason: Option<String>,
    #[serde(default)]
    usage: Option<CohereUsage>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct DeltaMessage {
    #[serde(default)]
    content: Option<Value>,
    #[serde(default)]
    tool_plan: Option<String>,
    #[serde(default)]
    tool_calls: Option<DeltaToolCall>,
    #[serde(default)]
    citations: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
struct DeltaToolCall {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    function: Option<DeltaFunction>,
}

#[derive(Debug, Default, Deserialize)]
struct DeltaFunction {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

/// Decodes Cohere's chat events.
#[derive(Debug)]
pub struct CohereDecoder {
    provider: String,
    model: String,
    tool_plan: String,
    citations: Vec<Value>,
    finished: bool,
    done: bool,
    content_sent: bool,
}

impl CohereDecoder {
    /// A decoder for one stream.
    pub fn new(provider: &str, model: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            model: model.to_owned(),
            tool_plan: String::new(),
            citations: Vec::new(),
            finished: false,
            done: false,
            content_sent: false,
        }
    }

    fn delta_message(ev: &mut Event) -> DeltaMessage {
        ev.delta
            .as_mut()
            .and_then(|d| d.message.take())
            .unwrap_or_default()
    }
}

impl FrameDecoder for CohereDecoder {
    fn decode(&mut self, frame: &str, out: &mut Vec<StreamEvent>) -> Result<()> {
        let frame = frame.trim();
        if frame == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        if frame.is_empty() {
            return Ok(());
        }
        let mut ev: Event = serde_json::from_str(frame)
            .map_err(|e| Error::decode(&self.provider, &self.model, "stream event", e, frame))?;
        match ev.kind.as_str() {
            "message-start" => out.push(StreamEvent::Start {
                id: ev.id.take().unwrap_or_default(),
                model: self.model.clone(),
                created: 0,
            }),
            "content-delta" => {
                let m = Self::delta_message(&mut ev);
                let text = m
                    .content
                    .as_ref()
                    .and_then(|c| c.get("text"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if !text.is_empty() {
                    self.content_sent = true;
                    out.push(StreamEvent::TextDelta {
                        text: text.to_owned(),
                    });
                }
            }
            "tool-plan-delta" => {
                if let Some(p) = Self::delta_message(&mut ev).tool_plan {
                    self.tool_plan.push_str(&p);
                }
            }
            "tool-call-start" => {
                let index = ev.index.unwrap_or(0);
                let call = Self::delta_message(&mut ev).tool_calls.unwrap_or_default();
                let f = call.function.unwrap_or_default();
                self.content_sent = true;
                out.push(StreamEvent::ToolCallStart {
                    index,
                    id: call.id.unwrap_or_default(),
                    name: f.name.unwrap_or_default(),
                    thought_signature: None,
                });
                if let Some(a) = f.arguments.filter(|a| !a.is_empty()) {
                    out.push(StreamEvent::ToolCallDelta {
                        index,
                        arguments: a,
                    });
                }
            }
            "tool-call-delta" => {
                let index = ev.index.unwrap_or(0);
                let call = Self::delta_message(&mut ev).tool_calls.unwrap_or_default();
                if let Some(a) = call
                    .function
                    .and_then(|f| f.arguments)
                    .filter(|a| !a.is_empty())
                {
                    out.push(StreamEvent::ToolCallDelta {
                        index,
                        arguments: a,
                    });
                }
            }
            "tool-call-end" => out.push(StreamEvent::ToolCallEnd {
                index: ev.index.unwrap_or(0),
            }),
            "citation-start" => {
                if let Some(c) = Self::delta_message(&mut ev).citations {
                    self.citations.push(c);
                }
            }
            "message-end" => {
                let d = ev.delta.take().unwrap_or_default();
                if let Some(msg) = d.error {
                    return Err(Error::Stream {
                        provider: self.provider.clone(),
                        model: self.model.clone(),
                        error_type: None,
                        message: msg,
                        transient: false,
                        content_sent: self.content_sent,
                    });
                }
                if !self.tool_plan.is_empty() {
                    out.push(StreamEvent::Annotation {
                        key: annotation::TOOL_PLAN.into(),
                        value: Value::String(std::mem::take(&mut self.tool_plan)),
                    });
                }
                if !self.citations.is_empty() {
                    out.push(StreamEvent::Annotation {
                        key: annotation::CITATIONS.into(),
                        value: Value::Array(std::mem::take(&mut self.citations)),
                    });
                }
                if let Some(u) = &d.usage {
                    if let Some(t) = u.tokens_annotation() {
                        out.push(StreamEvent::Annotation {
                            key: annotation::TOKENS.into(),
                            value: t,
                        });
                    }
                    out.push(StreamEvent::Usage(u.usage()));
                }
                self.finished = true;
                out.push(StreamEvent::Finish {
                    reason: finish_reason(d.finish_reason.as_deref()),
                });
            }
            // content-start / content-end / citation-end / debug: nothing to say.
            _ => {}
        }
        Ok(())
    }

    fn end(&mut self, _out: &mut Vec<StreamEvent>) -> Result<()> {
        if self.finished {
            return Ok(());
        }
        Err(Error::Stream {
            provider: self.provider.clone(),
            model: self.model.clone(),
            error_type: None,
            message: "the stream ended before `message-end`".into(),
            transient: true,
            content_sent: self.content_sent,
        })
    }

    /// Done at `[DONE]` (a stream that closes after `message-end` without it is fine too).
    fn is_done(&self) -> bool {
        self.done
    }
}
