//! One Server-Sent Events decoder for every provider.
//!
//! Works on bytes and decodes UTF-8 only once a whole line is framed, so an event, a line or a
//! multi-byte character split across network chunks decodes exactly as if it arrived whole.
//! Lines may end in `\n`, `\r\n` or `\r` (Gemini frames with `\r\n\r\n`), `data:` with or
//! without a space, `:` comment lines and unknown fields are ignored.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;

/// One dispatched event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` name, if any.
    pub event: Option<String>,
    /// The `data:` lines joined by `\n`.
    pub data: String,
    /// The `id:` field, if any.
    pub id: Option<String>,
}

/// Incremental SSE parser: feed bytes, take events.
#[derive(Debug, Default)]
pub struct SseDecoder {
    buf: Vec<u8>,
    skip_lf: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    id: Option<String>,
}

impl SseDecoder {
    /// A new decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a chunk; complete events are appended to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<SseEvent>) {
        let mut input = chunk;
        if self.skip_lf {
            if let Some((&b'\n', rest)) = input.split_first() {
                input = rest;
            }
            if !input.is_empty() {
                self.skip_lf = false;
            }
        }
        let mut start = 0;
        while let Some(off) = memchr::memchr2(b'\n', b'\r', &input[start..]) {
            let end = start + off;
            let line_end_is_cr = input[end] == b'\r';
            if self.buf.is_empty() {
                self.line(&input[start..end], out);
            } else {
                self.buf.extend_from_slice(&input[start..end]);
                let line = std::mem::take(&mut self.buf);
                self.line(&line, out);
                self.buf = line;
                self.buf.clear();
            }
            start = end + 1;
            if line_end_is_cr {
                if start < input.len() {
                    if input[start] == b'\n' {
                        start += 1;
                    }
                } else {
                    self.skip_lf = true;
                }
            }
        }
        self.buf.extend_from_slice(&input[start..]);
    }

    /// Ends the input. A final event whose lines are complete but that lacks its blank line is
    /// still dispatched; an event cut inside a line (the connection dropped mid-event) is
    /// discarded, so a truncated payload never reaches a JSON parser as if it were whole.
    pub fn finish(&mut self, out: &mut Vec<SseEvent>) {
        if self.buf.is_empty() {
            self.dispatch(out);
        } else {
            self.buf.clear();
            self.event = None;
            self.data.clear();
            self.has_data = false;
            self.id = None;
        }
    }

    fn line(&mut self, line: &[u8], out: &mut Vec<SseEvent>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        // Valid UTF-8 (the norm) is checked by the fast validator; only a broken line pays for
        // the lossy pass (`from_utf8_lossy` alone walked every line chunk by chunk: ~5 % of a
        // stream's CPU).
        let value = match std::str::from_utf8(value) {
            Ok(v) => std::borrow::Cow::Borrowed(v),
            Err(_) => String::from_utf8_lossy(value),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(&value);
                self.has_data = true;
            }
            b"event" => self.event = Some(value.into_owned()),
            b"id" => self.id = Some(value.into_owned()),
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseEvent>) {
        if self.has_data {
            out.push(SseEvent {
                event: self.event.take(),
                data: std::mem::take(&mut self.data),
                id: self.id.take(),
            });
        } else {
            self.event = None;
        }
        self.has_data = false;
    }
}

pin_project_lite::pin_project! {
    /// A stream of [`SseEvent`]s over a stream of byte chunks.
    pub struct SseStream<S> {
        #[pin]
        inner: S,
        decoder: SseDecoder,
        pending: std::collections::VecDeque<SseEvent>,
        scratch: Vec<SseEvent>,
        done: bool,
    }
}

impl<S> SseStream<S> {
    /// Decodes `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            decoder: SseDecoder::new(),
            pending: Default::default(),
            scratch: Vec::new(),
            done: false,
        }
    }
}

impl<S, E> Stream for SseStream<S>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    type Item = Result<SseEvent, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            if let Some(ev) = this.pending.pop_front() {
                return Poll::Ready(Some(Ok(ev)));
            }
            if *this.done {
                return Poll::Ready(None);
            }
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(chunk))) => {
                    this.decoder.push(&chunk, this.scratch);
                }
                Poll::Ready(None) => {
                    this.decoder.finish(this.scratch);
                    *this.done = true;
                }
            }
            this.pending.extend(this.scratch.drain(..));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(chunks: &[&[u8]]) -> Vec<SseEvent> {
        let mut d = SseDecoder::new();
        let mut out = Vec::new();
        for c in chunks {
            d.push(c, &mut out);
        }
        d.finish(&mut out);
        out
    }

    const SAMPLE: &str = "event: message_start\ndata: {\"a\":1}\n\n: comment\ndata:{\"b\":\"é😀\"}\r\n\r\ndata: x\rdata: y\r\r\nevent: ping\ndata: {}\n\n";

    #[test]
    fn invalid_utf8_is_replaced_not_dropped() {
        let ev = decode_all(&[b"data: a\xffb\n\n", b"data: ok\n\n"]);
        assert_eq!(ev.len(), 2, "{ev:?}");
        assert_eq!(ev[0].data, "a\u{fffd}b");
        assert_eq!(ev[1].data, "ok");
    }

    #[test]
    fn whole_input() {
        let ev = decode_all(&[SAMPLE.as_bytes()]);
        assert_eq!(ev.len(), 4, "{ev:?}");
        assert_eq!(ev[0].event.as_deref(), Some("message_start"));
        assert_eq!(ev[1].data, "{\"b\":\"é😀\"}");
        assert_eq!(ev[2].data, "x\ny");
        assert_eq!(ev[3].event.as_deref(), Some("ping"));
    }

    #[test]
    fn every_split_point_gives_the_same_events() {
        let bytes = SAMPLE.as_bytes();
        let whole = decode_all(&[bytes]);
        for i in 0..=bytes.len() {
            for j in i..=bytes.len() {
                let got = decode_all(&[&bytes[..i], &bytes[i..j], &bytes[j..]]);
                assert_eq!(got, whole, "split at {i},{j}");
            }
        }
    }

    #[test]
    fn byte_at_a_time() {
        let bytes = SAMPLE.as_bytes();
        let chunks: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(decode_all(&chunks), decode_all(&[bytes]));
    }

    #[test]
    fn last_event_without_blank_line_is_kept_but_a_cut_line_is_not() {
        let ev = decode_all(&[b"data: a\n\ndata: b\n"]);
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[1].data, "b");
        let ev = decode_all(&[b"data: a\n\ndata: {\"b\":"]);
        assert_eq!(ev.len(), 1, "{ev:?}");
    }

    #[test]
    fn event_without_data_is_not_dispatched() {
        let ev = decode_all(&[b"event: x\n\ndata: y\n\n"]);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].event, None);
    }
}
