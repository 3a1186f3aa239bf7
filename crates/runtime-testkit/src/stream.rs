//! Offline stream decoding for tests: a transcript cut into pieces goes through the real SSE or
//! NDJSON framer and a provider's [`FrameDecoder`], with the delivery rules of
//! [`ChatStream::decode_frames`](runtime_core::ChatStream::decode_frames): stop once the decoder
//! is done, stop at the first error (keeping the events before it), call `end` when the bytes
//! run out. Re-chunking tests compare what this returns for every cutting.

use runtime_core::http::{NdjsonDecoder, SseDecoder};
use runtime_core::{ChatResponse, Error, FrameDecoder, StreamAccumulator, StreamEvent};

/// What a transcript decoded to.
#[derive(Debug)]
pub struct Decoded {
    /// Every event, in order.
    pub events: Vec<StreamEvent>,
    /// The error that ended the stream, if any.
    pub error: Option<Error>,
}

impl PartialEq for Decoded {
    fn eq(&self, other: &Self) -> bool {
        // `Error` has no `PartialEq`; two errors are the same when they print the same.
        self.events == other.events
            && self.error.as_ref().map(|e| format!("{e:?}"))
                == other.error.as_ref().map(|e| format!("{e:?}"))
    }
}

impl Decoded {
    /// The events folded into a response (up to the error, if any).
    pub fn response(&self) -> ChatResponse {
        fold(&self.events)
    }

    /// The events, or the error that ended the stream.
    pub fn into_result(self) -> Result<Vec<StreamEvent>, Error> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.events),
        }
    }
}

/// Folds events with the one [`StreamAccumulator`].
pub fn fold(events: &[StreamEvent]) -> ChatResponse {
    let mut acc = StreamAccumulator::default();
    for e in events {
        acc.push(e.clone());
    }
    acc.finish()
}

/// Decodes an SSE transcript cut into `pieces`.
pub fn decode_sse<D: FrameDecoder>(pieces: &[Vec<u8>], dec: &mut D) -> Decoded {
    let mut sse = SseDecoder::new();
    let mut frames = Vec::new();
    for p in pieces {
        sse.push(p, &mut frames);
    }
    sse.finish(&mut frames);
    drive(frames.into_iter().map(|f| f.data), dec)
}

/// Decodes an NDJSON transcript cut into `pieces`.
pub fn decode_ndjson<D: FrameDecoder>(pieces: &[Vec<u8>], dec: &mut D) -> Decoded {
    let mut nd = NdjsonDecoder::new();
    let mut lines = Vec::new();
    for p in pieces {
        nd.push(p, &mut lines);
    }
    nd.finish(&mut lines);
    drive(lines.into_iter(), dec)
}

fn drive<D: FrameDecoder>(frames: impl Iterator<Item = String>, dec: &mut D) -> Decoded {
    let mut events = Vec::new();
    for frame in frames {
        if dec.is_done() {
            return Decoded {
                events,
                error: None,
            };
        }
        if let Err(e) = dec.decode(&frame, &mut events) {
            return Decoded {
                events,
                error: Some(e),
            };
        }
    }
    let error = if dec.is_done() {
        None
    } else {
        dec.end(&mut events).err()
    };
    Decoded { events, error }
}
