//! The binary AWS event-stream framing (`application/vnd.amazon.eventstream`) of
//! ConverseStream, decoded with `aws-smithy-eventstream` into frames for the core
//! [`FrameDecoder`](runtime_core::FrameDecoder) machinery.
//!
//! Each message becomes one text frame: its kind (`event`, `exception` or `error`), its type
//! (`:event-type`, `:exception-type` or `:error-code`) and its payload, joined by newlines
//! ([`Frame::encode`]); [`Frame::parse`] splits it again. The decoder keeps partial messages
//! across chunks, so a message split at any byte decodes the same.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::{HeaderValue, Message};
use bytes::BytesMut;
use futures::Stream;

use runtime_core::http::ByteStream;
use runtime_core::{Error, Result};

/// What a message is, from its `:message-type` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// A modeled event (`messageStart`, `contentBlockDelta`, …).
    Event,
    /// A modeled exception (`throttlingException`, `modelStreamErrorException`, …).
    Exception,
    /// An unmodeled error (`:error-code`, `:error-message`).
    Error,
}

impl FrameKind {
    fn as_str(self) -> &'static str {
        match self {
            FrameKind::Event => "event",
            FrameKind::Exception => "exception",
            FrameKind::Error => "error",
        }
    }
}

/// One decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Event, exception or error.
    pub kind: FrameKind,
    /// The event type, exception type or error code.
    pub name: String,
    /// The payload (JSON for events and exceptions; the `:error-message` for errors).
    pub payload: String,
}

impl Frame {
    /// The frame as one string (`kind\nname\npayload`).
    pub fn encode(&self) -> String {
        format!("{}\n{}\n{}", self.kind.as_str(), self.name, self.payload)
    }

    /// Splits a string made by [`Frame::encode`].
    pub fn parse(s: &str) -> Option<Frame> {
        let mut it = s.splitn(3, '\n');
        let kind = match it.next()? {
            "event" => FrameKind::Event,
            "exception" => FrameKind::Exception,
            "error" => FrameKind::Error,
            _ => return None,
        };
        Some(Frame {
            kind,
            name: it.next()?.to_owned(),
            payload: it.next().unwrap_or_default().to_owned(),
        })
    }

    /// The frame of a decoded message.
    pub fn from_message(m: &Message) -> std::result::Result<Frame, String> {
        let header = |name: &str| {
            m.headers()
                .iter()
                .find(|h| h.name().as_str() == name)
                .and_then(|h| match h.value() {
                    HeaderValue::String(s) => Some(s.as_str().to_owned()),
                    _ => None,
                })
        };
        let payload = String::from_utf8_lossy(m.payload()).into_owned();
        let kind = header(":message-type").unwrap_or_else(|| "event".into());
        Ok(match kind.as_str() {
            "event" => Frame {
                kind: FrameKind::Event,
                name: header(":event-type").ok_or("an event message without :event-type")?,
                payload,
            },
            "exception" => Frame {
                kind: FrameKind::Exception,
                name: header(":exception-type")
                    .ok_or("an exception message without :exception-type")?,
                payload,
            },
            "error" => Frame {
                kind: FrameKind::Error,
                name: header(":error-code").unwrap_or_else(|| "UnknownError".into()),
                payload: header(":error-message").unwrap_or(payload),
            },
            other => return Err(format!("unknown :message-type `{other}`")),
        })
    }
}

/// Incremental decoder: bytes in, encoded frames out.
#[derive(Debug, Default)]
pub struct EventStreamDecoder {
    buf: BytesMut,
    dec: MessageFrameDecoder,
    /// Bytes of the current message consumed by the decoder (its prelude).
    pending: bool,
}

impl EventStreamDecoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a chunk; appends every message it completes.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<Frame>) -> std::result::Result<(), String> {
        self.buf.extend_from_slice(chunk);
        loop {
            let before = self.buf.len();
            match self.dec.decode_frame(&mut self.buf) {
                Ok(DecodedFrame::Complete(m)) => {
                    self.pending = false;
                    out.push(Frame::from_message(&m)?);
                }
                Ok(DecodedFrame::Incomplete) => {
                    if self.buf.len() != before {
                        self.pending = true;
                    }
                    return Ok(());
                }
                Err(e) => return Err(format!("event stream framing: {e}")),
            }
        }
    }

    /// The end of the bytes: an error when a message was cut off.
    pub fn finish(&mut self) -> std::result::Result<(), String> {
        if self.pending || !self.buf.is_empty() {
            Err(format!(
                "event stream ended inside a message ({} bytes left over)",
                self.buf.len()
            ))
        } else {
            Ok(())
        }
    }
}

/// Decodes a whole body (tests, recorded fixtures).
pub fn decode_all(body: &[u8]) -> std::result::Result<Vec<Frame>, String> {
    let mut d = EventStreamDecoder::new();
    let mut out = Vec::new();
    d.push(body, &mut out)?;
    d.finish()?;
    Ok(out)
}

/// A body stream framed as event-stream messages, each as an encoded [`Frame`].
pub struct EventStreamFrames {
    inner: ByteStream,
    dec: EventStreamDecoder,
    queue: VecDeque<String>,
    provider: String,
    model: String,
    error: Option<Error>,
    done: bool,
}

impl EventStreamFrames {
    /// Frames of `inner`; errors name `provider` and `model`.
    pub fn new(inner: ByteStream, provider: &str, model: &str) -> Self {
        Self {
            inner,
            dec: EventStreamDecoder::new(),
            queue: VecDeque::new(),
            provider: provider.to_owned(),
            model: model.to_owned(),
            error: None,
            done: false,
        }
    }

    fn decode_error(&self, why: String) -> Error {
        Error::decode(&self.provider, &self.model, "event stream", why, "")
    }
}

impl Stream for EventStreamFrames {
    type Item = Result<String>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(f) = self.queue.pop_front() {
                return Poll::Ready(Some(Ok(f)));
            }
            // Frames decoded before bad bytes go first, then the error.
            if let Some(e) = self.error.take() {
                return Poll::Ready(Some(Err(e)));
            }
            if self.done {
                return Poll::Ready(None);
            }
            match std::task::ready!(self.inner.as_mut().poll_next(cx)) {
                Some(Ok(chunk)) => {
                    let mut frames = Vec::new();
                    let r = self.dec.push(&chunk, &mut frames);
                    self.queue.extend(frames.iter().map(Frame::encode));
                    if let Err(why) = r {
                        self.done = true;
                        self.error = Some(self.decode_error(why));
                    }
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    self.done = true;
                    if let Err(why) = self.dec.finish() {
                        self.error = Some(self.decode_error(why));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_eventstream::frame::write_message_to;
    use aws_smithy_types::event_stream::Header;

    fn message(kind: &str, type_header: &'static str, name: &str, payload: &str) -> Vec<u8> {
        let m = Message::new(payload.as_bytes().to_vec())
            .add_header(Header::new(
                ":message-type",
                HeaderValue::String(kind.to_owned().into()),
            ))
            .add_header(Header::new(
                type_header,
                HeaderValue::String(name.to_owned().into()),
            ))
            .add_header(Header::new(
                ":content-type",
                HeaderValue::String("application/json".into()),
            ));
        let mut out = Vec::new();
        write_message_to(&m, &mut out).unwrap();
        out
    }

    #[test]
    fn frames_round_trip_through_text() {
        let f = Frame {
            kind: FrameKind::Exception,
            name: "throttlingException".into(),
            payload: "{\"message\":\"a\nb\"}".into(),
        };
        assert_eq!(Frame::parse(&f.encode()), Some(f));
        assert_eq!(Frame::parse("nonsense"), None);
    }

    #[test]
    fn split_at_every_offset_decodes_the_same() {
        let mut body = message(
            "event",
            ":event-type",
            "messageStart",
            r#"{"role":"assistant"}"#,
        );
        body.extend(message(
            "exception",
            ":exception-type",
            "modelStreamErrorException",
            r#"{"message":"boom","originalStatusCode":500}"#,
        ));
        let whole = decode_all(&body).unwrap();
        assert_eq!(whole.len(), 2);
        assert_eq!(whole[1].kind, FrameKind::Exception);
        for at in 0..=body.len() {
            let mut d = EventStreamDecoder::new();
            let mut out = Vec::new();
            d.push(&body[..at], &mut out).unwrap();
            d.push(&body[at..], &mut out).unwrap();
            d.finish().unwrap();
            assert_eq!(out, whole, "split at {at}");
        }
    }

    #[test]
    fn a_cut_off_message_is_an_error() {
        let body = message("event", ":event-type", "messageStart", "{}");
        for at in 1..body.len() {
            let mut d = EventStreamDecoder::new();
            let mut out = Vec::new();
            d.push(&body[..at], &mut out).unwrap();
            assert!(d.finish().is_err(), "cut at {at}");
        }
    }

    #[test]
    fn a_corrupt_checksum_is_an_error() {
        let mut body = message("event", ":event-type", "messageStart", "{}");
        let last = body.len() - 1;
        body[last] ^= 0xff;
        assert!(decode_all(&body).is_err());
    }

    #[test]
    fn unmodeled_errors_carry_their_code_and_message() {
        let m = Message::new(Vec::new())
            .add_header(Header::new(
                ":message-type",
                HeaderValue::String("error".into()),
            ))
            .add_header(Header::new(
                ":error-code",
                HeaderValue::String("InternalFailure".into()),
            ))
            .add_header(Header::new(
                ":error-message",
                HeaderValue::String("oops".into()),
            ));
        let mut body = Vec::new();
        write_message_to(&m, &mut body).unwrap();
        let f = decode_all(&body).unwrap();
        assert_eq!(
            f,
            vec![Frame {
                kind: FrameKind::Error,
                name: "InternalFailure".into(),
                payload: "oops".into()
            }]
        );
    }
}
