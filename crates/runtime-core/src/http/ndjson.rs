//! One newline-delimited JSON framer (Ollama streams), split-safe like the SSE decoder.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;

/// Incremental NDJSON framer: feed bytes, take non-empty lines (without `\r\n`).
#[derive(Debug, Default)]
pub struct NdjsonDecoder {
    buf: Vec<u8>,
}

impl NdjsonDecoder {
    /// A new decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds a chunk; complete lines are appended to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<String>) {
        let mut start = 0;
        while let Some(off) = memchr::memchr(b'\n', &chunk[start..]) {
            let end = start + off;
            if self.buf.is_empty() {
                emit(&chunk[start..end], out);
            } else {
                self.buf.extend_from_slice(&chunk[start..end]);
                emit(&self.buf, out);
                self.buf.clear();
            }
            start = end + 1;
        }
        self.buf.extend_from_slice(&chunk[start..]);
    }

    /// Ends the input: a last line without `\n` is returned when it is a whole JSON value, and
    /// discarded when the connection cut it short.
    pub fn finish(&mut self, out: &mut Vec<String>) {
        let rest = std::mem::take(&mut self.buf);
        if serde_json::from_slice::<serde::de::IgnoredAny>(&rest).is_ok() {
            emit(&rest, out);
        }
    }
}

fn emit(line: &[u8], out: &mut Vec<String>) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    out.push(match std::str::from_utf8(line) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(line).into_owned(),
    });
}

pin_project_lite::pin_project! {
    /// A stream of lines over a stream of byte chunks.
    pub struct NdjsonStream<S> {
        #[pin]
        inner: S,
        decoder: NdjsonDecoder,
        pending: std::collections::VecDeque<String>,
        scratch: Vec<String>,
        done: bool,
    }
}

impl<S> NdjsonStream<S> {
    /// Frames `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            decoder: NdjsonDecoder::new(),
            pending: Default::default(),
            scratch: Vec::new(),
            done: false,
        }
    }
}

impl<S, E> Stream for NdjsonStream<S>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    type Item = Result<String, E>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            if let Some(line) = this.pending.pop_front() {
                return Poll::Ready(Some(Ok(line)));
            }
            if *this.done {
                return Poll::Ready(None);
            }
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(chunk))) => this.decoder.push(&chunk, this.scratch),
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

    #[test]
    fn invalid_utf8_is_replaced_not_dropped() {
        let mut d = NdjsonDecoder::new();
        let mut out = Vec::new();
        d.push(b"{\"a\":\"x\xffy\"}\n{\"b\":1}\n", &mut out);
        assert_eq!(
            out,
            vec!["{\"a\":\"x\u{fffd}y\"}".to_owned(), "{\"b\":1}".to_owned()]
        );
    }

    #[test]
    fn a_cut_last_line_is_discarded() {
        let mut d = NdjsonDecoder::new();
        let mut out = Vec::new();
        d.push(b"{\"a\":1}\n{\"b\":", &mut out);
        d.finish(&mut out);
        assert_eq!(out, vec!["{\"a\":1}".to_owned()]);
    }

    #[test]
    fn every_split_point() {
        let input = "{\"a\":\"ü😀\"}\r\n\n{\"b\":2}\n{\"c\":3}".as_bytes();
        let mut whole = Vec::new();
        let mut d = NdjsonDecoder::new();
        d.push(input, &mut whole);
        d.finish(&mut whole);
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[0], "{\"a\":\"ü😀\"}");
        for i in 0..=input.len() {
            let mut d = NdjsonDecoder::new();
            let mut got = Vec::new();
            d.push(&input[..i], &mut got);
            d.push(&input[i..], &mut got);
            d.finish(&mut got);
            assert_eq!(got, whole, "split at {i}");
        }
    }
}
