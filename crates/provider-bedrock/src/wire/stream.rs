//! ConverseStream events → core stream events.
//!
//! The events, in order: `messageStart`, per block `contentBlockStart` (tool calls only),
//! `contentBlockDelta`s and `contentBlockStop`, then `messageStop` (the stop reason) and
//! `metadata` (usage, metrics, trace). An exception frame (`throttlingException`,
//! `modelStreamErrorException`, …) ends the stream with its typed error.

use std::collections::BTreeMap;

use runtime_core::types::annotation;
use runtime_core::{Error, FrameDecoder, Result, StreamEvent};
use serde::Deserialize;
use serde_json::Value;

use super::errors::stream_exception;
use super::eventstream::{Frame, FrameKind};
use super::response::{ADDITIONAL_FIELDS, TRACE, finish_reason};
use super::types::WireUsage;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockStart {
    content_block_index: usize,
    #[serde(default)]
    start: Option<StartBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartBody {
    #[serde(default)]
    tool_use: Option<StartToolUse>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartToolUse {
    tool_use_id: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockDelta {
    content_block_index: usize,
    #[serde(default)]
    delta: Option<DeltaBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeltaBody {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    tool_use: Option<ToolUseDelta>,
    #[serde(default)]
    reasoning_content: Option<ReasoningDelta>,
}

#[derive(Deserialize)]
struct ToolUseDelta {
    #[serde(default)]
    input: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReasoningDelta {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    signature: Option<String>,
    #[serde(default)]
    redacted_content: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BlockStop {
    content_block_index: usize,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageStop {
    #[serde(default)]
    stop_reason: Option<String>,
    #[serde(default)]
    additional_model_response_fields: Option<Value>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    trace: Option<Value>,
}

/// Decodes ConverseStream frames (made by
/// [`EventStreamFrames`](super::eventstream::EventStreamFrames)).
#[derive(Debug)]
pub struct StreamDecoder {
    provider: String,
    model: String,
    started: bool,
    /// Content block index → tool call index.
    tools: BTreeMap<usize, usize>,
    stopped: bool,
    done: bool,
}

impl StreamDecoder {
    /// A decoder for an answer of `model`.
    pub fn new(provider: &str, model: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            model: model.to_owned(),
            started: false,
            tools: BTreeMap::new(),
            stopped: false,
            done: false,
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(&self, what: &str, payload: &str) -> Result<T> {
        serde_json::from_str(payload)
            .map_err(|e| Error::decode(&self.provider, &self.model, what, e, payload))
    }

    fn start(&mut self, out: &mut Vec<StreamEvent>) {
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start {
                id: String::new(),
                model: self.model.clone(),
                created: 0,
            });
        }
    }

    fn tool_index(&mut self, block: usize) -> usize {
        let next = self.tools.len();
        *self.tools.entry(block).or_insert(next)
    }
}

impl FrameDecoder for StreamDecoder {
    fn decode(&mut self, frame: &str, out: &mut Vec<StreamEvent>) -> Result<()> {
        let Some(f) = Frame::parse(frame) else {
            return Err(Error::decode(
                &self.provider,
                &self.model,
                "stream frame",
                "unframed",
                frame,
            ));
        };
        if f.kind != FrameKind::Event {
            return Err(stream_exception(&self.provider, &self.model, &f));
        }
        match f.name.as_str() {
            "messageStart" => self.start(out),
            "contentBlockStart" => {
                self.start(out);
                let s: BlockStart = self.parse("contentBlockStart", &f.payload)?;
                if let Some(t) = s.start.and_then(|b| b.tool_use) {
                    let index = self.tool_index(s.content_block_index);
                    out.push(StreamEvent::ToolCallStart {
                        index,
                        id: t.tool_use_id,
                        name: t.name,
                        thought_signature: None,
                    });
                }
            }
            "contentBlockDelta" => {
                self.start(out);
                let d: BlockDelta = self.parse("contentBlockDelta", &f.payload)?;
                let Some(delta) = d.delta else { return Ok(()) };
                if let Some(text) = delta.text {
                    out.push(StreamEvent::TextDelta { text });
                }
                if let Some(t) = delta.tool_use {
                    let index = self.tool_index(d.content_block_index);
                    out.push(StreamEvent::ToolCallDelta {
                        index,
                        arguments: t.input,
                    });
                }
                if let Some(r) = delta.reasoning_content {
                    if let Some(text) = r.text {
                        out.push(StreamEvent::ReasoningDelta { text });
                    }
                    if let Some(signature) = r.signature {
                        out.push(StreamEvent::ReasoningSignature { signature });
                    }
                    if let Some(data) = r.redacted_content {
                        out.push(StreamEvent::RedactedReasoning { data });
                    }
                }
            }
            "contentBlockStop" => {
                let s: BlockStop = self.parse("contentBlockStop", &f.payload)?;
                if let Some(&index) = self.tools.get(&s.content_block_index) {
                    out.push(StreamEvent::ToolCallEnd { index });
                }
            }
            "messageStop" => {
                self.start(out);
                let s: MessageStop = self.parse("messageStop", &f.payload)?;
                let stop = s.stop_reason.unwrap_or_default();
                out.push(StreamEvent::Annotation {
                    key: annotation::STOP_REASON.into(),
                    value: Value::String(stop.clone()),
                });
                if let Some(v) = s.additional_model_response_fields.filter(|v| !v.is_null()) {
                    out.push(StreamEvent::Annotation {
                        key: ADDITIONAL_FIELDS.into(),
                        value: v,
                    });
                }
                out.push(StreamEvent::Finish {
                    reason: finish_reason(&stop),
                });
                self.stopped = true;
            }
            "metadata" => {
                let m: Metadata = self.parse("metadata", &f.payload)?;
                if let Some(u) = m.usage {
                    out.push(StreamEvent::Usage(u.to_core()));
                }
                if let Some(v) = m.trace.filter(|v| !v.is_null()) {
                    out.push(StreamEvent::Annotation {
                        key: TRACE.into(),
                        value: v,
                    });
                }
                self.done = self.stopped;
            }
            // Events added later are skipped, never fatal.
            _ => {}
        }
        Ok(())
    }

    fn end(&mut self, _out: &mut Vec<StreamEvent>) -> Result<()> {
        if self.stopped {
            Ok(())
        } else {
            Err(Error::decode(
                &self.provider,
                &self.model,
                "stream",
                "the event stream ended before messageStop",
                "",
            ))
        }
    }

    fn is_done(&self) -> bool {
        self.done
    }
}
