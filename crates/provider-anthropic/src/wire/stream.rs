//! Messages streams: the SSE events and the decoder that turns them into core stream events.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use runtime_core::{Error, FinishReason, StreamEvent, annotation};

use super::errors::WireError;
use super::response::{
    Block, KnownBlock, StopDetails, WireUsage, citation_span, finish_reason, structured_finish,
    tool_input_text,
};

/// The message of a `message_start` event.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StartMessage {
    /// `msg_…`.
    #[serde(default)]
    pub id: String,
    /// The model.
    #[serde(default)]
    pub model: Option<String>,
    /// Input-side usage.
    #[serde(default)]
    pub usage: Option<WireUsage>,
}

/// The `delta` of a `message_delta` event.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MessageDelta {
    /// Why it stopped.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// Which stop sequence matched.
    #[serde(default)]
    pub stop_sequence: Option<String>,
    /// Refusal details.
    #[serde(default)]
    pub stop_details: Option<StopDetails>,
}

/// The `delta` of a `content_block_delta` event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockDelta {
    /// Text.
    TextDelta {
        /// The piece.
        #[serde(default)]
        text: String,
    },
    /// A fragment of a tool input's JSON.
    InputJsonDelta {
        /// The fragment.
        #[serde(default)]
        partial_json: String,
    },
    /// Thinking text.
    ThinkingDelta {
        /// The piece.
        #[serde(default)]
        thinking: String,
    },
    /// The signature of the thinking block.
    SignatureDelta {
        /// The signature.
        #[serde(default)]
        signature: String,
    },
    /// One citation of the current text block.
    CitationsDelta {
        /// The citation, as sent.
        citation: Value,
    },
    /// Future delta types (no core equivalent).
    #[serde(other)]
    Other,
}

/// One SSE event of a Messages stream (the JSON `type` decides, not the SSE `event:` line).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamWireEvent {
    /// The message's identity and input usage.
    MessageStart {
        /// The message.
        message: StartMessage,
    },
    /// A content block begins.
    ContentBlockStart {
        /// Block position.
        index: usize,
        /// The block (empty text / input).
        content_block: Block,
    },
    /// A piece of a block.
    ContentBlockDelta {
        /// Block position.
        index: usize,
        /// The piece.
        delta: BlockDelta,
    },
    /// A block ends.
    ContentBlockStop {
        /// Block position.
        index: usize,
    },
    /// Stop reason and cumulative usage.
    MessageDelta {
        /// Stop reason.
        #[serde(default)]
        delta: MessageDelta,
        /// Cumulative usage.
        #[serde(default)]
        usage: Option<WireUsage>,
    },
    /// The end.
    MessageStop,
    /// Keep-alive.
    Ping,
    /// A failure after HTTP 200.
    Error {
        /// What failed.
        #[serde(default)]
        error: WireError,
        /// The request id.
        #[serde(default)]
        request_id: Option<String>,
    },
    /// A future event type.
    #[serde(other)]
    Unknown,
}

#[derive(Debug)]
enum BlockState {
    /// A text block starting at byte `start` of the answer text, with its citations so far.
    Text {
        start: usize,
        citations: Vec<Value>,
    },
    Thinking,
    Tool {
        index: usize,
        args_sent: bool,
        initial: Value,
        closed: bool,
    },
    Structured {
        args_sent: bool,
        initial: Value,
        closed: bool,
    },
    Other,
}

/// Turns Messages SSE payloads into core stream events, keeping the state a stream needs.
#[derive(Debug)]
pub struct EventDecoder {
    provider: String,
    model: String,
    usage: WireUsage,
    blocks: BTreeMap<usize, BlockState>,
    tools: usize,
    finished: bool,
    done: bool,
    content_sent: bool,
    structured: Option<String>,
    /// Bytes of answer text sent so far (where the next text block starts).
    text_len: usize,
    /// The citation spans of the text blocks closed so far.
    cited: Vec<Value>,
}

impl EventDecoder {
    /// A decoder for one stream.
    pub fn new(provider: &str, model: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            model: model.to_owned(),
            usage: WireUsage::default(),
            blocks: BTreeMap::new(),
            tools: 0,
            finished: false,
            done: false,
            content_sent: false,
            structured: None,
            text_len: 0,
            cited: Vec::new(),
        }
    }

    /// Streams the input of the `response_format` tool (see [`structured_output_tool`]) as
    /// answer text.
    pub fn with_structured_output(mut self, tool: Option<&str>) -> Self {
        self.structured = tool.map(str::to_owned);
        self
    }

    /// True after `message_stop`.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Decodes one SSE `data` payload, appending events to `out`.
    pub fn decode(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        let data = data.trim();
        if data.is_empty() {
            return Ok(());
        }
        let ev: StreamWireEvent = serde_json::from_str(data)
            .map_err(|e| Error::decode(&self.provider, &self.model, "stream event", e, data))?;
        self.decode_event(ev, out)
    }

    fn content(&mut self, out: &mut Vec<StreamEvent>, ev: StreamEvent) {
        self.content_sent = true;
        if let StreamEvent::TextDelta { text } = &ev {
            self.text_len += text.len();
        }
        out.push(ev);
    }

    /// A text block ended: its citations join [`annotation::CITATIONS`] (the whole list so
    /// far, as the non-streamed answer has it).
    fn close_text(&mut self, start: usize, citations: Vec<Value>, out: &mut Vec<StreamEvent>) {
        if citations.is_empty() {
            return;
        }
        self.cited
            .push(citation_span(start, self.text_len, citations));
        out.push(StreamEvent::Annotation {
            key: annotation::CITATIONS.into(),
            value: Value::Array(self.cited.clone()),
        });
    }

    /// Decodes one parsed event.
    pub fn decode_event(
        &mut self,
        ev: StreamWireEvent,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), Error> {
        match ev {
            StreamWireEvent::MessageStart { message } => {
                out.push(StreamEvent::Start {
                    id: message.id,
                    model: message.model.unwrap_or_else(|| self.model.clone()),
                    created: 0,
                });
                if let Some(u) = message.usage {
                    self.usage.overwrite(&u);
                    out.push(StreamEvent::Usage(self.usage.to_core()));
                }
            }
            StreamWireEvent::ContentBlockStart {
                index,
                content_block,
            } => {
                let state = match content_block {
                    Block::Known(KnownBlock::Text { text, citations }) => {
                        let start = self.text_len;
                        if !text.is_empty() {
                            self.content(out, StreamEvent::TextDelta { text });
                        }
                        BlockState::Text {
                            start,
                            citations: citations.unwrap_or_default(),
                        }
                    }
                    Block::Known(KnownBlock::Thinking {
                        thinking,
                        signature,
                    }) => {
                        if !thinking.is_empty() {
                            self.content(out, StreamEvent::ReasoningDelta { text: thinking });
                        }
                        if let Some(signature) = signature.filter(|s| !s.is_empty()) {
                            self.content(out, StreamEvent::ReasoningSignature { signature });
                        }
                        BlockState::Thinking
                    }
                    Block::Known(KnownBlock::RedactedThinking { data }) => {
                        self.content(out, StreamEvent::RedactedReasoning { data });
                        BlockState::Other
                    }
                    Block::Known(KnownBlock::ToolUse { name, input, .. })
                        if self.structured.as_deref() == Some(name.as_str()) =>
                    {
                        BlockState::Structured {
                            args_sent: false,
                            initial: input,
                            closed: false,
                        }
                    }
                    Block::Known(KnownBlock::ToolUse { id, name, input }) => {
                        let tool_index = self.tools;
                        self.tools += 1;
                        self.content(
                            out,
                            StreamEvent::ToolCallStart {
                                index: tool_index,
                                id,
                                name,
                                thought_signature: None,
                            },
                        );
                        BlockState::Tool {
                            index: tool_index,
                            args_sent: false,
                            initial: input,
                            closed: false,
                        }
                    }
                    Block::Other(_) => BlockState::Other,
                };
                self.blocks.insert(index, state);
            }
            StreamWireEvent::ContentBlockDelta { index, delta } => match delta {
                BlockDelta::TextDelta { text } => {
                    if !text.is_empty() {
                        self.content(out, StreamEvent::TextDelta { text });
                    }
                }
                BlockDelta::ThinkingDelta { thinking } => {
                    if !thinking.is_empty() {
                        self.content(out, StreamEvent::ReasoningDelta { text: thinking });
                    }
                }
                BlockDelta::SignatureDelta { signature } => {
                    if !signature.is_empty() {
                        self.content(out, StreamEvent::ReasoningSignature { signature });
                    }
                }
                BlockDelta::InputJsonDelta { partial_json } => {
                    if let Some(BlockState::Structured { args_sent, .. }) =
                        self.blocks.get_mut(&index)
                    {
                        if !partial_json.is_empty() {
                            *args_sent = true;
                            self.content(out, StreamEvent::TextDelta { text: partial_json });
                        }
                        return Ok(());
                    }
                    let (tool_index, args_sent) = match self.blocks.get_mut(&index) {
                        Some(BlockState::Tool {
                            index: tool_index,
                            args_sent,
                            ..
                        }) => (tool_index, args_sent),
                        // Server-tool blocks (`server_tool_use`) have no core equivalent.
                        Some(_) => return Ok(()),
                        None => {
                            return Err(Error::decode(
                                &self.provider,
                                &self.model,
                                "stream event",
                                format!("input_json_delta for block {index}, which never started"),
                                &partial_json,
                            ));
                        }
                    };
                    if !partial_json.is_empty() {
                        *args_sent = true;
                        let tool_index = *tool_index;
                        self.content(
                            out,
                            StreamEvent::ToolCallDelta {
                                index: tool_index,
                                arguments: partial_json,
                            },
                        );
                    }
                }
                BlockDelta::CitationsDelta { citation } => {
                    if let Some(BlockState::Text { citations, .. }) = self.blocks.get_mut(&index) {
                        citations.push(citation);
                    }
                }
                BlockDelta::Other => {}
            },
            StreamWireEvent::ContentBlockStop { index } => {
                if let Some(BlockState::Text { start, citations }) = self.blocks.get_mut(&index) {
                    let (start, citations) = (*start, std::mem::take(citations));
                    self.close_text(start, citations, out);
                } else if let Some(state) = self.blocks.get_mut(&index) {
                    close_tool(state, out);
                }
            }
            StreamWireEvent::MessageDelta { delta, usage } => {
                if let Some(text) = delta
                    .stop_details
                    .and_then(|d| d.explanation)
                    .filter(|s| !s.is_empty())
                {
                    self.content(out, StreamEvent::RefusalDelta { text });
                }
                if let Some(u) = usage {
                    self.usage.overwrite(&u);
                    out.push(StreamEvent::Usage(self.usage.to_core()));
                }
                if let Some(s) = delta.stop_sequence {
                    // As a non-streamed answer keeps it in `meta.annotations`.
                    out.push(StreamEvent::Annotation {
                        key: "stop_sequence".into(),
                        value: Value::String(s),
                    });
                }
                if let Some(reason) = delta.stop_reason {
                    let reason = structured_finish(
                        finish_reason(Some(&reason)),
                        self.structured.is_some() && self.tools == 0,
                    );
                    self.flush_finish(reason, out);
                }
            }
            StreamWireEvent::MessageStop => {
                self.flush_finish(FinishReason::Other("unknown".into()), out);
                self.done = true;
            }
            StreamWireEvent::Ping | StreamWireEvent::Unknown => {}
            StreamWireEvent::Error { error, request_id } => {
                let kind = error.kind.unwrap_or_default();
                let transient = matches!(
                    kind.as_str(),
                    "overloaded_error" | "api_error" | "rate_limit_error"
                );
                let message = match request_id {
                    Some(id) => format!("{} (request {id})", error.message),
                    None => error.message,
                };
                return Err(Error::Stream {
                    provider: self.provider.clone(),
                    model: self.model.clone(),
                    error_type: (!kind.is_empty()).then_some(kind),
                    message,
                    transient,
                    content_sent: self.content_sent,
                });
            }
        }
        Ok(())
    }

    fn flush_finish(&mut self, reason: FinishReason, out: &mut Vec<StreamEvent>) {
        if self.finished {
            return;
        }
        self.finished = true;
        for state in self.blocks.values_mut() {
            close_tool(state, out);
        }
        out.push(StreamEvent::Finish { reason });
    }

    /// The error for a byte stream that ended inside an event (the connection was cut): the
    /// unparsable tail is not the provider's answer, so it is a transient stream error.
    pub fn truncated(&self) -> Error {
        Error::Stream {
            provider: self.provider.clone(),
            model: self.model.clone(),
            error_type: None,
            message: "the stream was cut inside an event".into(),
            transient: true,
            content_sent: self.content_sent,
        }
    }

    /// Called when the byte stream ends: a stream that ended before its stop reason is an error.
    pub fn end(&mut self, _out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        if self.finished {
            return Ok(());
        }
        Err(Error::Stream {
            provider: self.provider.clone(),
            model: self.model.clone(),
            error_type: None,
            message: "the stream ended before message_delta / message_stop".into(),
            transient: true,
            content_sent: self.content_sent,
        })
    }
}

/// Closes a tool block: a tool that streamed no argument fragment gets its start `input`
/// (`{}` for a no-argument tool).
fn close_tool(state: &mut BlockState, out: &mut Vec<StreamEvent>) {
    if let BlockState::Structured {
        args_sent,
        initial,
        closed,
    } = state
    {
        if !*closed && !*args_sent {
            out.push(StreamEvent::TextDelta {
                text: match initial {
                    Value::Object(m) if m.is_empty() => "{}".to_owned(),
                    v => tool_input_text(v),
                },
            });
        }
        *closed = true;
        return;
    }
    if let BlockState::Tool {
        index,
        args_sent,
        initial,
        closed,
    } = state
    {
        if *closed {
            return;
        }
        *closed = true;
        if !*args_sent {
            let args = match initial {
                Value::Object(m) if m.is_empty() => "{}".to_owned(),
                v => tool_input_text(v),
            };
            out.push(StreamEvent::ToolCallDelta {
                index: *index,
                arguments: args,
            });
        }
        out.push(StreamEvent::ToolCallEnd { index: *index });
    }
}

impl runtime_core::FrameDecoder for EventDecoder {
    fn decode(&mut self, frame: &str, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        EventDecoder::decode(self, frame, out)
    }

    fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        EventDecoder::end(self, out)
    }

    fn is_done(&self) -> bool {
        EventDecoder::is_done(self)
    }
}
