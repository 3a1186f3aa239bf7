//! `/generate_stream` events → core stream events.

use serde::Deserialize;

use runtime_core::{Error, FinishReason, StreamEvent, Usage};

use super::errors::{stream_error, tgi_error};
use super::response::finish_reason;

/// One `/generate_stream` event.
#[derive(Debug, Clone, Deserialize)]
pub struct StreamResponse {
    /// The token.
    #[serde(default)]
    pub token: Option<Token>,
    /// The whole text, on the last event only.
    #[serde(default)]
    pub generated_text: Option<String>,
    /// Finish reason and counts, on the last event only.
    #[serde(default)]
    pub details: Option<StreamDetails>,
}

/// A generated token.
#[derive(Debug, Clone, Deserialize)]
pub struct Token {
    /// Its text.
    #[serde(default)]
    pub text: String,
    /// Special tokens (`</s>`, `<|eot_id|>`) are not part of the answer text.
    #[serde(default)]
    pub special: bool,
}

/// `details` of the last `/generate_stream` event.
#[derive(Debug, Clone, Deserialize)]
pub struct StreamDetails {
    /// `length`, `eos_token` or `stop_sequence`.
    pub finish_reason: String,
    /// Tokens generated.
    pub generated_tokens: u64,
    /// Prompt tokens (TGI ≥ 2.1).
    #[serde(default)]
    pub input_length: Option<u64>,
}

/// Turns `/generate_stream` events into core stream events.
///
/// Non-special token texts are the text deltas; the last event (with `generated_text` and
/// `details`) gives the finish reason and usage. Should the token texts not add up to
/// `generated_text`, the missing tail is sent as a last delta so the fold equals `/generate`'s
/// answer.
#[derive(Debug)]
pub struct GenerateStreamDecoder {
    provider: String,
    model: String,
    started: bool,
    text: String,
    finished: bool,
}

impl GenerateStreamDecoder {
    /// A decoder for one stream.
    pub fn new(provider: &str, model: &str) -> Self {
        Self {
            provider: provider.to_owned(),
            model: model.to_owned(),
            started: false,
            text: String::new(),
            finished: false,
        }
    }
}

impl runtime_core::FrameDecoder for GenerateStreamDecoder {
    fn decode(&mut self, data: &str, out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        let data = data.trim();
        if data.is_empty() || self.finished {
            return Ok(());
        }
        if let Some(e) = tgi_error(data) {
            return Err(stream_error(
                e,
                &self.provider,
                &self.model,
                !self.text.is_empty(),
            ));
        }
        let ev: StreamResponse = serde_json::from_str(data)
            .map_err(|e| Error::decode(&self.provider, &self.model, "stream event", e, data))?;
        if !self.started {
            self.started = true;
            out.push(StreamEvent::Start {
                id: String::new(),
                model: self.model.clone(),
                created: 0,
            });
        }
        if let Some(tok) = ev.token {
            if !tok.special && !tok.text.is_empty() {
                self.text.push_str(&tok.text);
                out.push(StreamEvent::TextDelta { text: tok.text });
            }
        }
        if let Some(full) = ev.generated_text {
            if let Some(rest) = full.strip_prefix(self.text.as_str()) {
                if !rest.is_empty() {
                    self.text.push_str(rest);
                    out.push(StreamEvent::TextDelta {
                        text: rest.to_owned(),
                    });
                }
            }
            self.finished = true;
            match ev.details {
                Some(d) => {
                    out.push(StreamEvent::Finish {
                        reason: finish_reason(&d.finish_reason),
                    });
                    out.push(StreamEvent::Usage(Usage::new(
                        d.input_length.unwrap_or(0),
                        d.generated_tokens,
                    )));
                }
                None => out.push(StreamEvent::Finish {
                    reason: FinishReason::Other("unknown".into()),
                }),
            }
        }
        Ok(())
    }

    fn end(&mut self, _out: &mut Vec<StreamEvent>) -> Result<(), Error> {
        if self.finished {
            return Ok(());
        }
        Err(Error::Stream {
            provider: self.provider.clone(),
            model: self.model.clone(),
            error_type: None,
            message: "the stream ended before its last event (generated_text)".into(),
            transient: true,
            content_sent: !self.text.is_empty(),
        })
    }

    fn is_done(&self) -> bool {
        self.finished
    }
}
