//! TGI's quirks of the OpenAI-compatible Messages API stream.

use std::collections::BTreeSet;

use provider_openai::wire::ChunkDecoder;
use runtime_core::{Error, FinishReason, StreamEvent};

use super::errors::{stream_error, tgi_error};

/// The OpenAI chunk decoder plus TGI's Messages API quirks:
///
/// - TGI's error object (`{"error": "...", "error_type": …}`) as a data payload →
///   [`stream_error`] (the OpenAI decoder only knows `error` objects);
/// - tool-call streams: TGI 3.x repeats `id: "0"` and `type` on every fragment with
///   `name: null` after the first (handled by the OpenAI decoder, which starts a call once per
///   index), and may end with `[DONE]` without any `finish_reason` (its tool-call state
///   machine swallows the last token, see the recorded `chat-stream-tool-call` transcript):
///   a stream that made tool calls and then says `[DONE]` finishes with `tool_calls`;
/// - `finish_reason: "stop"` with tool calls → `tool_calls` (done by the OpenAI decoder).
#[derive(Debug)]
pub struct MessagesChunkDecoder {
    inner: ChunkDecoder,
    provider: String,
    model: String,
    calls: BTreeSet<usize>,
    finished: bool,
    content_sent: bool,
    done: bool,
}

impl MessagesChunkDecoder {
    /// A decoder for one stream.
    pub fn new(provider: &str, model: &str) -> Self {
        Self {
            inner: ChunkDecoder::new(provider, model),
            provider: provider.to_owned(),
            model: model.to_owned(),
            calls: BTreeSet::new(),
            finished: false,
            content_sent: false,
            done: false,
        }
    }

    fn observe(&mut self, events: &[StreamEvent]) {
        for e in events {
            match e {
                StreamEvent::ToolCallStart { index, .. } => {
                    self.calls.insert(*index);
                }
                StreamEvent::Finish { .. } => self.finished = true,
                _ => {}
            }
            if e.is_content() {
                self.content_sent = true;
            }
        }
    }
}

impl runtime_core::FrameDecoder for MessagesChunkDecoder {
    fn decode(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        let data = data.trim();
        if let Some(e) = tgi_error(data) {
            return Err(stream_error(
                e,
                &self.provider,
                &self.model,
                self.content_sent,
            ));
        }
        let start = out.len();
        let r = self.inner.decode(data, out);
        self.observe(&out[start..]);
        r?;
        if self.inner.is_done() {
            self.done = true;
            if !self.finished && !self.calls.is_empty() {
                for index in &self.calls {
                    out.push(StreamEvent::ToolCallEnd { index: *index });
                }
                out.push(StreamEvent::Finish {
                    reason: FinishReason::ToolCalls,
                });
                self.finished = true;
            }
        }
        Ok(())
    }

    fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        if self.done {
            return Ok(());
        }
        let start = out.len();
        let r = self.inner.end(out);
        self.observe(&out[start..]);
        r
    }

    fn is_done(&self) -> bool {
        self.done
    }
}
