//! Streamed chat completion chunks → core stream events.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::Value;

use runtime_core::{Error, StreamEvent, Usage};

use super::response::{WireToolCall, finish_reason, reasoning_of};

/// One streamed chunk.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ChatCompletionChunk {
    /// Id (empty on Azure's filter chunks).
    #[serde(default)]
    pub id: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub created: Option<i64>,
    /// Model.
    #[serde(default)]
    pub model: Option<String>,
    /// Choices (empty on usage and annotation chunks).
    #[serde(default)]
    pub choices: Vec<WireChunkChoice>,
    /// Usage (last chunk with `include_usage`).
    #[serde(default)]
    pub usage: Option<Usage>,
    /// A mid-stream error (an object, or a string with `error_type` beside it as TGI sends).
    #[serde(default)]
    pub error: Option<Value>,
    /// TGI's error type, beside a string `error`.
    #[serde(default)]
    pub error_type: Option<String>,
    /// Legacy completions put `text` on choices; see [`WireChunkChoice::text`].
    #[serde(default)]
    pub object: Option<String>,
}

/// One choice of a chunk.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireChunkChoice {
    /// Index.
    #[serde(default)]
    pub index: u32,
    /// The delta.
    #[serde(default)]
    pub delta: WireDelta,
    /// Legacy completion text.
    #[serde(default)]
    pub text: Option<String>,
    /// Finish reason.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// A chunk's delta.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireDelta {
    /// Text.
    #[serde(default)]
    pub content: Option<String>,
    /// Refusal.
    #[serde(default)]
    pub refusal: Option<String>,
    /// Reasoning (vLLM, DeepSeek, llama.cpp).
    #[serde(default)]
    pub reasoning_content: Option<String>,
    /// Reasoning (newer vLLM).
    #[serde(default)]
    pub reasoning: Option<String>,
    /// Tool-call fragments.
    #[serde(default)]
    pub tool_calls: Option<Vec<WireToolCall>>,
}

/// Turns OpenAI chunks into core stream events, keeping the state a stream needs.
#[derive(Debug)]
pub struct ChunkDecoder {
    provider: String,
    model: String,
    started: bool,
    finished: bool,
    pending_finish: Option<String>,
    calls: BTreeSet<usize>,
    content_sent: bool,
    done: bool,
}

impl ChunkDecoder {
    /// A decoder for one stream.
    pub fn new(provider: &str, model: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            model: model.to_owned(),
            started: false,
            finished: false,
            pending_finish: None,
            calls: BTreeSet::new(),
            content_sent: false,
            done: false,
        }
    }

    /// True after `[DONE]`.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Decodes one SSE `data` payload, appending events to `out`.
    pub fn decode(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        let data = data.trim();
        if data == "[DONE]" {
            self.flush_finish(out);
            self.done = true;
            return Ok(());
        }
        if data.is_empty() {
            return Ok(());
        }
        let chunk: ChatCompletionChunk = serde_json::from_str(data)
            .map_err(|e| Error::decode(&self.provider, &self.model, "stream chunk", e, data))?;
        self.decode_chunk(chunk, out)
    }

    /// Decodes one parsed chunk.
    pub fn decode_chunk(
        &mut self,
        chunk: ChatCompletionChunk,
        out: &mut Vec<StreamEvent>,
    ) -> Result<(), Error> {
        if let Some(err) = chunk.error {
            return Err(self.stream_error(err, chunk.error_type));
        }
        let id = chunk.id.unwrap_or_default();
        if !self.started && (!id.is_empty() || !chunk.choices.is_empty()) {
            self.started = true;
            out.push(StreamEvent::Start {
                id,
                model: chunk.model.unwrap_or_else(|| self.model.clone()),
                created: chunk.created.unwrap_or_default(),
            });
        }
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            let d = choice.delta;
            if let Some(t) = reasoning_of(d.reasoning_content, d.reasoning) {
                self.content_sent = true;
                out.push(StreamEvent::ReasoningDelta { text: t });
            }
            if let Some(t) = d.content.or(choice.text).filter(|t| !t.is_empty()) {
                self.content_sent = true;
                out.push(StreamEvent::TextDelta { text: t });
            }
            if let Some(t) = d.refusal.filter(|t| !t.is_empty()) {
                self.content_sent = true;
                out.push(StreamEvent::RefusalDelta { text: t });
            }
            for (pos, call) in d.tool_calls.unwrap_or_default().into_iter().enumerate() {
                let index = call.index.unwrap_or(pos);
                if self.calls.insert(index) {
                    self.content_sent = true;
                    out.push(StreamEvent::ToolCallStart {
                        index,
                        id: call
                            .id
                            .filter(|s| !s.is_empty())
                            .unwrap_or_else(|| format!("call_{index}")),
                        name: call.function.name.unwrap_or_default(),
                        thought_signature: None,
                    });
                }
                let args = call.function.arguments.into_text();
                if !args.is_empty() {
                    out.push(StreamEvent::ToolCallDelta {
                        index,
                        arguments: args,
                    });
                }
            }
            if let Some(r) = choice.finish_reason {
                self.pending_finish = Some(r);
                self.flush_finish(out);
            }
        }
        if let Some(u) = chunk.usage {
            out.push(StreamEvent::Usage(u));
        }
        Ok(())
    }

    fn flush_finish(&mut self, out: &mut Vec<StreamEvent>) {
        if self.finished {
            return;
        }
        let Some(raw) = self.pending_finish.take() else {
            return;
        };
        self.finished = true;
        for index in &self.calls {
            out.push(StreamEvent::ToolCallEnd { index: *index });
        }
        out.push(StreamEvent::Finish {
            reason: finish_reason(Some(&raw), !self.calls.is_empty()),
        });
    }

    /// Called when the byte stream ends: a stream that never finished is an error.
    pub fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        self.flush_finish(out);
        if self.finished {
            return Ok(());
        }
        Err(Error::Stream {
            provider: self.provider.clone(),
            model: self.model.clone(),
            error_type: None,
            message: "the stream ended before a finish reason".into(),
            transient: true,
            content_sent: self.content_sent,
        })
    }

    fn stream_error(&self, err: Value, error_type: Option<String>) -> Error {
        let mut envelope = serde_json::json!({ "error": err });
        if let Some(t) = error_type {
            envelope["error_type"] = Value::String(t);
        }
        let body = runtime_core::http::parse_error_body(envelope.to_string().as_bytes());
        let kind = format!(
            "{} {}",
            body.error_type.as_deref().unwrap_or(""),
            body.code.as_deref().unwrap_or("")
        );
        if body.code.as_deref() == Some("content_filter") {
            return Error::ContentFiltered {
                provider: self.provider.clone(),
                model: self.model.clone(),
                message: body.message,
            };
        }
        let transient = [
            "server_error",
            "rate_limit",
            "overloaded",
            "timeout",
            "unavailable",
            "500",
            "503",
            "429",
        ]
        .iter()
        .any(|k| kind.contains(k));
        Error::Stream {
            provider: self.provider.clone(),
            model: self.model.clone(),
            error_type: body.error_type.or(body.code),
            message: body.message,
            transient,
            content_sent: self.content_sent,
        }
    }
}

impl runtime_core::FrameDecoder for ChunkDecoder {
    fn decode(&mut self, frame: &str, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        ChunkDecoder::decode(self, frame, out)
    }

    fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        ChunkDecoder::end(self, out)
    }

    fn is_done(&self) -> bool {
        self.done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn decoder_handles_error_chunk() {
        let mut d = ChunkDecoder::new("openai", "m");
        let mut out = Vec::new();
        let e = d
            .decode(
                r#"{"error":{"message":"boom","type":"server_error"}}"#,
                &mut out,
            )
            .unwrap_err();
        assert!(e.is_retryable(), "{e:?}");
    }

    #[test]
    fn string_error_keeps_its_error_type() {
        let mut d = ChunkDecoder::new("tgi", "m");
        let mut out = Vec::new();
        let e = d
            .decode(
                r#"{"error":"Request failed during generation","error_type":"overloaded"}"#,
                &mut out,
            )
            .unwrap_err();
        assert!(
            matches!(&e, Error::Stream { error_type: Some(t), transient: true, .. } if t == "overloaded"),
            "{e:?}"
        );
    }

    #[test]
    fn stream_without_finish_is_an_error() {
        let mut d = ChunkDecoder::new("openai", "m");
        let mut out = Vec::new();
        d.decode(
            r#"{"id":"x","choices":[{"index":0,"delta":{"content":"hi"}}]}"#,
            &mut out,
        )
        .unwrap();
        let e = d.end(&mut out).unwrap_err();
        assert!(matches!(
            e,
            Error::Stream {
                content_sent: true,
                ..
            }
        ));
    }
}
