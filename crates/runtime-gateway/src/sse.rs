//! Server-sent event answers: the shared SSE body of every streamed endpoint (chat and legacy
//! completions in OpenAI chunks, `/v1/responses` in the Responses API's semantic events),
//! generic over the [`SseEncoder`] that turns core stream events into the dialect's frames.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;
use bytes::Bytes;
use futures::future::BoxFuture;
use futures::{Stream, StreamExt};
use model_runtime::{ChatStream, StreamEvent};
use tokio_util::sync::{CancellationToken, DropGuard, WaitForCancellationFutureOwned};
use tokio_util::task::task_tracker::TaskTrackerToken;

use crate::encode::ChunkEncoder;
use crate::error::ApiError;
use crate::http::{meta_headers, shutting_down};
use crate::state::Gateway;

/// Turns core stream events into one dialect's SSE frames, appended to a buffer.
pub trait SseEncoder: Send + Unpin + 'static {
    /// Appends the frames for one event (possibly none).
    fn event(&mut self, event: StreamEvent, out: &mut Vec<u8>);
    /// The upstream stream ended: appends the closing frames.
    fn finish(&mut self, out: &mut Vec<u8>);
    /// The stream failed: appends the error frames and ends the stream.
    fn fail(&mut self, err: &ApiError, out: &mut Vec<u8>);
    /// Work to complete after [`SseEncoder::finish`] and before the last frames go out (the
    /// Responses endpoint stores the finished response here, so a client that reads
    /// `response.completed` can continue from it at once).
    fn before_last(&mut self) -> Option<BoxFuture<'static, ()>> {
        None
    }
}

impl SseEncoder for ChunkEncoder {
    fn event(&mut self, event: StreamEvent, out: &mut Vec<u8>) {
        ChunkEncoder::event(self, event, out);
    }
    fn finish(&mut self, out: &mut Vec<u8>) {
        ChunkEncoder::finish(self, out);
    }
    fn fail(&mut self, err: &ApiError, out: &mut Vec<u8>) {
        ChunkEncoder::fail(self, err, out);
    }
}

/// Answers with the SSE body of `stream`.
///
/// The response waits for the stream's first event: an upstream failure before any event is
/// answered with its own HTTP status and error envelope (not `200` and an error frame), and
/// the head goes out in one write with the first events (see [`SseBody`]).
pub(crate) async fn sse_response<E: SseEncoder>(
    gw: &Gateway,
    mut stream: ChatStream,
    enc: E,
    cancel: CancellationToken,
) -> Result<Response, ApiError> {
    let meta = stream.meta().clone();
    // Hold the events that carry no content (the answer's id, usage so far, annotations): an
    // error before
    // any content is answered with its own status, as when the router held it back, so one
    // condition gets one answer whether or not a `message_start` preceded it.
    let mut held = Vec::new();
    let first = loop {
        match stream.next().await {
            Some(Ok(ev))
                if held.len() < HOLD_BEFORE_CONTENT
                    && !ev.is_content()
                    && !matches!(ev, StreamEvent::Finish { .. }) =>
            {
                held.push(ev);
            }
            other => break other,
        }
    };
    let mut body = SseBody {
        inner: Some(stream),
        enc,
        hard_stop: Box::pin(gw.hard_stop.clone().cancelled_owned()),
        stopping: gw.stopping.clone(),
        buf: Vec::with_capacity(1024),
        turns: 0,
        idle: 0,
        first: None,
        last: None,
        _inflight: gw.tracker.token(),
        _cancel: cancel.drop_guard(),
    };
    let first = match first {
        Some(Err(e)) => return Err(ApiError::from(&e)),
        Some(Ok(ev)) => Some(ev),
        None => None,
    };
    for ev in held {
        body.enc.event(ev, &mut body.buf);
    }
    match first {
        Some(ev) => body.enc.event(ev, &mut body.buf),
        None => {
            body.inner = None;
            body.enc.finish(&mut body.buf);
            body.last = body.enc.before_last();
        }
    }
    // Gather the first write (the events the upstream has already sent) before the head.
    body.first = match body.next().await {
        Some(Ok(bytes)) => Some(bytes),
        Some(Err(never)) => match never {},
        None => None,
    };
    let mut resp = Response::new(Body::from_stream(body));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    meta_headers(h, &meta);
    Ok(resp)
}

/// Most events without content held before the response head (see [`sse_response`]).
const HOLD_BEFORE_CONTENT: usize = 8;

/// Most bytes of ready events coalesced into one write.
const COALESCE_BYTES: usize = 16 * 1024;

/// Most scheduler turns one write waits for more upstream events (see [`SseBody`]).
const COALESCE_TURNS: u8 = 64;

/// Consecutive turns that bring no event before the buffered events are written. Two, because
/// hyper's client needs two turns to hand over the next chunk (measured: with one, every event
/// went out in a write of its own).
const COALESCE_IDLE_TURNS: u8 = 2;

/// The SSE body of a streamed answer. Dropping it (the client went away) drops the upstream
/// [`ChatStream`], which cancels the upstream request; the metrics layer records the usage of
/// what was produced. It also cancels the request's token.
///
/// **Coalescing.** The upstream body reaches us one HTTP chunk per task wake-up (hyper's
/// client hands each decoded chunk over through a one-slot channel), so "write what is ready"
/// would mean one socket write per SSE event even when the whole answer is already in our
/// receive buffer. Instead, when the upstream runs dry, the body yields scheduler turns (the
/// connection task runs and hands over the next chunk) before writing; it writes once
/// [`COALESCE_IDLE_TURNS`] turns in a row brought nothing, the buffer reaches
/// [`COALESCE_BYTES`], or [`COALESCE_TURNS`] turns passed. A token from a real, slow upstream
/// thus costs two extra polls, never a wait.
struct SseBody<E> {
    inner: Option<ChatStream>,
    enc: E,
    hard_stop: Pin<Box<WaitForCancellationFutureOwned>>,
    /// Set with `hard_stop`; read on every poll (an atomic load).
    stopping: Arc<AtomicBool>,
    /// Encoded bytes not written yet.
    buf: Vec<u8>,
    /// Scheduler turns yielded for the bytes in `buf`.
    turns: u8,
    /// Consecutive yielded turns that brought no event.
    idle: u8,
    /// The first write, gathered before the response head was sent.
    first: Option<Bytes>,
    /// Work the encoder asked to finish before the last bytes go out.
    last: Option<BoxFuture<'static, ()>>,
    _inflight: TaskTrackerToken,
    _cancel: DropGuard,
}

impl<E: SseEncoder> SseBody<E> {
    /// The stream ended: the encoder's last work, then what is left to write, then the end.
    fn end(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Infallible>>> {
        if let Some(f) = self.last.as_mut() {
            if f.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.last = None;
        }
        if self.buf.is_empty() {
            Poll::Ready(None)
        } else {
            self.take()
        }
    }

    fn take(&mut self) -> Poll<Option<Result<Bytes, Infallible>>> {
        self.turns = 0;
        self.idle = 0;
        let out = std::mem::replace(&mut self.buf, Vec::with_capacity(1024));
        Poll::Ready(Some(Ok(Bytes::from(out))))
    }
}

impl<E: SseEncoder> Stream for SseBody<E> {
    type Item = Result<Bytes, Infallible>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(first) = this.first.take() {
            return Poll::Ready(Some(Ok(first)));
        }
        if this.inner.is_none() {
            // Ended (or failed): what is left to write, then the end of the body.
            return this.end(cx);
        }
        if this.stopping.load(Ordering::Relaxed) {
            this.inner = None;
            this.enc.fail(&shutting_down(), &mut this.buf);
            return this.take();
        }
        let before = this.buf.len();
        while let Some(inner) = this.inner.as_mut() {
            match inner.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(ev))) => {
                    this.enc.event(ev, &mut this.buf);
                    if this.buf.len() >= COALESCE_BYTES {
                        return this.take();
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.inner = None;
                    this.enc.fail(&ApiError::from(&e), &mut this.buf);
                }
                Poll::Ready(None) => {
                    this.inner = None;
                    this.enc.finish(&mut this.buf);
                    this.last = this.enc.before_last();
                }
                Poll::Pending => {
                    if this.buf.is_empty() {
                        // Going idle: make sure a hard stop wakes us (a registration that
                        // stays; polling it per event would cost a lock each time).
                        if this.hard_stop.as_mut().poll(cx).is_ready() {
                            this.inner = None;
                            this.enc.fail(&shutting_down(), &mut this.buf);
                            return this.take();
                        }
                        return Poll::Pending;
                    }
                    if this.buf.len() > before {
                        this.idle = 0;
                    } else {
                        this.idle += 1;
                    }
                    if this.idle < COALESCE_IDLE_TURNS && this.turns < COALESCE_TURNS {
                        // Give the upstream connection task a turn to hand over more.
                        this.turns += 1;
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    return this.take();
                }
            }
        }
        this.end(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::ChunkKind;
    use model_runtime::{FinishReason, StreamEvent};
    use std::time::Duration;
    use tokio_util::task::TaskTracker;

    fn body(stream: ChatStream) -> SseBody<ChunkEncoder> {
        let stop = CancellationToken::new();
        SseBody {
            inner: Some(stream),
            enc: ChunkEncoder::new(ChunkKind::Chat, "id".into(), "m".into(), false),
            hard_stop: Box::pin(stop.clone().cancelled_owned()),
            stopping: Arc::new(AtomicBool::new(false)),
            buf: Vec::new(),
            turns: 0,
            idle: 0,
            first: None,
            last: None,
            _inflight: TaskTracker::new().token(),
            _cancel: CancellationToken::new().drop_guard(),
        }
    }

    fn events(n: usize) -> Vec<StreamEvent> {
        let mut v = vec![StreamEvent::Start {
            id: "c1".into(),
            model: "m".into(),
            created: 1,
        }];
        v.extend((0..n).map(|i| StreamEvent::TextDelta {
            text: format!("t{i}"),
        }));
        v.push(StreamEvent::Finish {
            reason: FinishReason::Stop,
        });
        v
    }

    /// Like hyper's client body: every event needs the other task to run once more, so the
    /// stream is `Pending` (and wakes itself) between events.
    fn one_event_per_turn(evs: Vec<StreamEvent>) -> ChatStream {
        let mut evs = evs.into_iter();
        let mut ready = false;
        ChatStream::new(futures::stream::poll_fn(move |cx| {
            if !ready {
                ready = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            ready = false;
            Poll::Ready(evs.next().map(Ok))
        }))
    }

    #[tokio::test]
    async fn events_already_sent_go_out_in_one_write() {
        let mut b = body(one_event_per_turn(events(20)));
        let mut writes = Vec::new();
        while let Some(Ok(bytes)) = b.next().await {
            writes.push(bytes);
        }
        assert_eq!(writes.len(), 1, "{writes:?}");
        let text = std::str::from_utf8(&writes[0]).unwrap();
        assert!(
            text.contains("\"t0\"") && text.contains("\"t19\""),
            "{text}"
        );
        assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    }

    #[tokio::test]
    async fn a_slow_upstream_is_written_event_by_event_without_waiting() {
        let (tx, rx) = futures::channel::mpsc::unbounded::<model_runtime::Result<StreamEvent>>();
        let mut b = body(ChatStream::new(rx));
        for ev in events(1).into_iter().take(2) {
            tx.unbounded_send(Ok(ev)).unwrap();
        }
        // Nothing more is coming for now: what arrived is written at once.
        let first = tokio::time::timeout(Duration::from_secs(5), b.next())
            .await
            .expect("written without waiting for more events")
            .unwrap()
            .unwrap();
        assert!(std::str::from_utf8(&first).unwrap().contains("\"t0\""));
        tx.unbounded_send(Ok(StreamEvent::TextDelta { text: "t1".into() }))
            .unwrap();
        let second = tokio::time::timeout(Duration::from_secs(5), b.next())
            .await
            .expect("the next token is written too")
            .unwrap()
            .unwrap();
        assert!(std::str::from_utf8(&second).unwrap().contains("\"t1\""));
        drop(tx);
        let last = b.next().await.unwrap().unwrap();
        assert!(last.ends_with(b"data: [DONE]\n\n"));
        assert!(b.next().await.is_none());
    }

    #[tokio::test]
    async fn a_hard_stop_ends_an_idle_stream_with_an_error_frame() {
        let (_tx, rx) = futures::channel::mpsc::unbounded::<model_runtime::Result<StreamEvent>>();
        let stop = CancellationToken::new();
        let mut b = body(ChatStream::new(rx));
        b.hard_stop = Box::pin(stop.clone().cancelled_owned());
        let stopping = b.stopping.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            stopping.store(true, Ordering::Relaxed);
            stop.cancel();
        });
        let frame = tokio::time::timeout(Duration::from_secs(5), b.next())
            .await
            .expect("the hard stop wakes an idle stream")
            .unwrap()
            .unwrap();
        assert!(
            std::str::from_utf8(&frame)
                .unwrap()
                .contains("shutting_down")
        );
        assert!(b.next().await.is_none());
    }
}
