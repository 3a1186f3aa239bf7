//! NDJSON streams of `/api/chat` and `/api/generate` → core stream events.

use runtime_core::{Error, FrameDecoder, Result, StreamEvent};

use super::response::{
    DURATIONS, OllamaChatResponse, arguments_text, call_id, created, durations, error_message,
    finish_reason, usage,
};

/// Decodes an `/api/chat` (or `/api/generate`) NDJSON stream: content, thinking and whole tool
/// calls per line (`response` / `thinking` for generate); the
/// `done: true` line carries the counts and `done_reason`; an `{"error": …}` line is an
/// [`Error::Stream`].
#[derive(Debug)]
pub struct OllamaStreamDecoder {
    provider: String,
    model: String,
    started: bool,
    done: bool,
    calls: usize,
    content_sent: bool,
}

impl OllamaStreamDecoder {
    /// A decoder for one stream.
    pub fn new(provider: &str, model: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            model: model.to_owned(),
            started: false,
            done: false,
            calls: 0,
            content_sent: false,
        }
    }

    fn stream_error(&self, message: String) -> Error {
        Error::Stream {
            provider: self.provider.clone(),
            model: self.model.clone(),
            error_type: None,
            message,
            transient: false,
            content_sent: self.content_sent,
        }
    }
}

impl FrameDecoder for OllamaStreamDecoder {
    fn decode(&mut self, line: &str, out: &mut Vec<StreamEvent>) -> Result<()> {
        if self.done || line.trim().is_empty() {
            return Ok(());
        }
        let r: OllamaChatResponse = serde_json::from_str(line)
            .map_err(|e| Error::decode(&self.provider, &self.model, "stream line", e, line))?;
        if let Some(e) = &r.error {
            return Err(self.stream_error(error_message(e)));
        }
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start {
                id: String::new(),
                model: r.model.clone().unwrap_or_else(|| self.model.clone()),
                created: created(&r),
            });
        }
        if let Some(m) = &r.message {
            if let Some(t) = m.thinking.as_ref().filter(|t| !t.is_empty()) {
                self.content_sent = true;
                out.push(StreamEvent::ReasoningDelta { text: t.clone() });
            }
            if let Some(t) = m.content.as_ref().filter(|t| !t.is_empty()) {
                self.content_sent = true;
                out.push(StreamEvent::TextDelta { text: t.clone() });
            }
            for c in m.tool_calls.iter().flatten() {
                let index = self.calls;
                self.calls += 1;
                self.content_sent = true;
                out.push(StreamEvent::ToolCallStart {
                    index,
                    id: call_id(c, index),
                    name: c.function.name.clone(),
                    thought_signature: None,
                });
                out.push(StreamEvent::ToolCallDelta {
                    index,
                    arguments: arguments_text(&c.function.arguments),
                });
                out.push(StreamEvent::ToolCallEnd { index });
            }
        }
        if let Some(t) = r.thinking.as_ref().filter(|t| !t.is_empty()) {
            self.content_sent = true;
            out.push(StreamEvent::ReasoningDelta { text: t.clone() });
        }
        if let Some(t) = r.response.as_ref().filter(|t| !t.is_empty()) {
            self.content_sent = true;
            out.push(StreamEvent::TextDelta { text: t.clone() });
        }
        if r.done {
            self.done = true;
            if let Some(u) = usage(&r) {
                out.push(StreamEvent::Usage(u));
            }
            out.push(StreamEvent::Finish {
                reason: finish_reason(r.done_reason.as_deref(), self.calls > 0),
            });
            if let Some(value) = durations(&r) {
                out.push(StreamEvent::Annotation {
                    key: DURATIONS.into(),
                    value,
                });
            }
        }
        Ok(())
    }

    fn end(&mut self, _out: &mut Vec<StreamEvent>) -> Result<()> {
        if self.done {
            return Ok(());
        }
        let mut e = self.stream_error("the stream ended before the final `done: true` line".into());
        if let Error::Stream { transient, .. } = &mut e {
            *transient = true;
        }
        Err(e)
    }

    fn is_done(&self) -> bool {
        self.done
    }
}
