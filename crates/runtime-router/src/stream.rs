//! Streams: hold back the first events until content starts, then commit.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::{Stream, StreamExt};
use runtime_core::{ChatStream, Error, Result, StreamEvent, Usage};

use crate::deployment::{Deployment, InFlight};
use crate::inner::Inner;
use crate::model::LogicalModel;

/// A stream opened on a deployment whose first events were read but not yet sent.
pub(crate) struct HeldStream {
    pub stream: ChatStream,
    pub held: VecDeque<StreamEvent>,
    pub guard: InFlight,
}

fn event_bytes(e: &StreamEvent) -> usize {
    match e {
        StreamEvent::TextDelta { text }
        | StreamEvent::ReasoningDelta { text }
        | StreamEvent::RefusalDelta { text } => text.len(),
        StreamEvent::ToolCallDelta { arguments, .. } => arguments.len(),
        StreamEvent::Start { id, model, .. } => id.len() + model.len(),
        _ => 16,
    }
}

/// Reads events until the first content event, the end of the stream, or the hold-back bound
/// (`max_events` events or `max_bytes` bytes). An error before that is returned as the
/// attempt's error, so the router can still fail over.
pub(crate) async fn hold_back(
    mut s: ChatStream,
    max_events: usize,
    max_bytes: usize,
) -> Result<(ChatStream, VecDeque<StreamEvent>)> {
    let mut held = VecDeque::new();
    let mut bytes = 0;
    while let Some(ev) = s.next().await {
        let ev = ev?;
        let content = ev.is_content();
        bytes += event_bytes(&ev);
        held.push_back(ev);
        if content || held.len() >= max_events.max(1) || bytes >= max_bytes {
            break;
        }
    }
    Ok((s, held))
}

/// What a committed stream reports back to the router when it ends.
pub(crate) struct StreamDone {
    pub inner: Arc<Inner>,
    pub model: Arc<LogicalModel>,
    pub deployment: Arc<Deployment>,
    pub window: Option<u64>,
    pub tokens: u64,
    pub key: Option<usize>,
}

impl StreamDone {
    fn ended(self, usage: Option<Usage>) {
        let Some(u) = usage else { return };
        if self.window.is_none() {
            return;
        }
        spawn(async move {
            self.inner
                .correct_tokens(&self.model, &self.deployment, self.window, self.tokens, &u)
                .await;
        });
    }

    fn failed(self, e: Error) {
        spawn(async move {
            self.inner
                .failure(&self.deployment, false, self.key, &e)
                .await;
        });
    }
}

fn spawn(f: impl std::future::Future<Output = ()> + Send + 'static) {
    if let Ok(h) = tokio::runtime::Handle::try_current() {
        h.spawn(f);
    }
}

/// The committed stream handed to the caller: held events first, then the rest. It keeps
/// the deployment's in-flight count until it ends or is dropped; errors after the first
/// event are never retried (they are marked as after content).
pub(crate) struct RoutedStream {
    held: VecDeque<StreamEvent>,
    inner: Option<ChatStream>,
    sent: bool,
    guard: Option<InFlight>,
    done: Option<StreamDone>,
    usage: Option<Usage>,
}

impl RoutedStream {
    pub(crate) fn into_chat_stream(h: HeldStream, done: StreamDone) -> ChatStream {
        let meta = h.stream.meta().clone();
        ChatStream::new(RoutedStream {
            held: h.held,
            inner: Some(h.stream),
            sent: false,
            guard: Some(h.guard),
            done: Some(done),
            usage: None,
        })
        .with_meta(meta)
    }

    fn end(&mut self) {
        self.inner = None;
        self.guard = None;
        if let Some(d) = self.done.take() {
            d.ended(self.usage);
        }
    }

    fn track(&mut self, ev: &StreamEvent) {
        self.sent = true;
        if let StreamEvent::Usage(u) = ev {
            self.usage = Some(*u);
        }
    }
}

impl Stream for RoutedStream {
    type Item = Result<StreamEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(ev) = this.held.pop_front() {
            this.track(&ev);
            return Poll::Ready(Some(Ok(ev)));
        }
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(None);
        };
        match inner.poll_next_unpin(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(Ok(ev))) => {
                this.track(&ev);
                Poll::Ready(Some(Ok(ev)))
            }
            Poll::Ready(Some(Err(e))) => {
                let e = if this.sent { e.after_content() } else { e };
                this.inner = None;
                this.guard = None;
                if let Some(d) = this.done.take() {
                    d.failed(e.clone());
                }
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                this.end();
                Poll::Ready(None)
            }
        }
    }
}
