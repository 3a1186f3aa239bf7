//! A scripted provider for router, cache and metrics tests.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use runtime_core::{
    AssistantMessage, Capabilities, ChatRequest, ChatResponse, ChatStream, Content, Embedding,
    EmbeddingRequest, EmbeddingResponse, Error, FinishReason, ModelInfo, Provider, RequestContext,
    Result, StreamEvent, Usage,
};

/// What the fake does on one call.
#[derive(Debug, Clone)]
pub enum Step {
    /// Answer with this text after `delay`.
    Reply {
        /// The answer text.
        text: String,
        /// Its usage.
        usage: Usage,
        /// Wait before answering (or before the first stream event).
        delay: Duration,
    },
    /// Fail with this error after `delay`.
    Fail(Error, Duration),
    /// Stream these events with `gap` between them; `Err` items end the stream with that error.
    Stream(Vec<std::result::Result<StreamEvent, Error>>, Duration),
    /// Never answer.
    Hang,
}

impl Step {
    /// An immediate text answer.
    pub fn text(text: &str) -> Self {
        Step::Reply {
            text: text.to_owned(),
            usage: Usage::new(10, 5),
            delay: Duration::ZERO,
        }
    }

    /// An immediate failure.
    pub fn fail(e: Error) -> Self {
        Step::Fail(e, Duration::ZERO)
    }
}

/// A provider that plays [`Step`]s: queued steps first, then the default step forever.
pub struct FakeProvider {
    name: String,
    caps: Capabilities,
    queue: Mutex<VecDeque<Step>>,
    default: Mutex<Step>,
    calls: AtomicUsize,
    in_flight: Arc<AtomicUsize>,
    requests: Mutex<Vec<ChatRequest>>,
    embed_requests: Mutex<Vec<EmbeddingRequest>>,
}

impl FakeProvider {
    /// A fake named `name` that answers "ok".
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            caps: Capabilities::default()
                .embeddings(true)
                .max_embedding_inputs(Some(2048)),
            queue: Mutex::new(VecDeque::new()),
            default: Mutex::new(Step::text("ok")),
            calls: AtomicUsize::new(0),
            in_flight: Arc::new(AtomicUsize::new(0)),
            requests: Mutex::new(Vec::new()),
            embed_requests: Mutex::new(Vec::new()),
        }
    }

    /// Sets the capabilities.
    pub fn with_capabilities(mut self, caps: Capabilities) -> Self {
        self.caps = caps;
        self
    }

    /// Sets the step played when the queue is empty.
    pub fn with_default(self, step: Step) -> Self {
        *self.default.lock() = step;
        self
    }

    /// Queues a step.
    pub fn push(&self, step: Step) -> &Self {
        self.queue.lock().push_back(step);
        self
    }

    /// Replaces the default step.
    pub fn set_default(&self, step: Step) {
        *self.default.lock() = step;
    }

    /// Calls made (chat, stream and embed).
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// Calls under way now (streams count until dropped or finished).
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Chat requests received.
    pub fn requests(&self) -> Vec<ChatRequest> {
        self.requests.lock().clone()
    }

    /// Embedding requests received.
    pub fn embed_requests(&self) -> Vec<EmbeddingRequest> {
        self.embed_requests.lock().clone()
    }

    fn next(&self) -> Step {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.queue
            .lock()
            .pop_front()
            .unwrap_or_else(|| self.default.lock().clone())
    }

    fn response(&self, req_model: &str, text: String, usage: Usage) -> ChatResponse {
        ChatResponse {
            id: format!("fake-{}", self.calls()),
            model: req_model.to_owned(),
            created: 1,
            message: AssistantMessage {
                content: Some(Content::Text(text)),
                ..AssistantMessage::default()
            },
            finish_reason: FinishReason::Stop,
            usage: Some(usage),
            meta: runtime_core::ResponseMeta {
                provider: Some(self.name.clone()),
                ..Default::default()
            },
        }
    }
}

struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    fn new(c: &Arc<AtomicUsize>) -> Self {
        c.fetch_add(1, Ordering::SeqCst);
        Self(c.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl Provider for FakeProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        self.caps
    }

    async fn chat(&self, req: &ChatRequest, _ctx: &RequestContext) -> Result<ChatResponse> {
        let _g = InFlight::new(&self.in_flight);
        self.requests.lock().push(req.clone());
        match self.next() {
            Step::Reply { text, usage, delay } => {
                tokio::time::sleep(delay).await;
                Ok(self.response(&req.model, text, usage))
            }
            Step::Fail(e, delay) => {
                tokio::time::sleep(delay).await;
                Err(e)
            }
            Step::Stream(events, _) => {
                let mut acc = runtime_core::StreamAccumulator::default();
                for e in events {
                    acc.push(e?);
                }
                Ok(acc.finish())
            }
            Step::Hang => {
                futures::future::pending::<()>().await;
                Err(Error::Cancelled)
            }
        }
    }

    async fn chat_stream(&self, req: &ChatRequest, _ctx: &RequestContext) -> Result<ChatStream> {
        let guard = InFlight::new(&self.in_flight);
        self.requests.lock().push(req.clone());
        let (events, gap, delay) = match self.next() {
            Step::Reply { text, usage, delay } => (
                self.response(&req.model, text, usage)
                    .to_events()
                    .into_iter()
                    .map(Ok)
                    .collect(),
                Duration::ZERO,
                delay,
            ),
            Step::Fail(e, delay) => {
                tokio::time::sleep(delay).await;
                return Err(e);
            }
            Step::Stream(events, gap) => (events, gap, Duration::ZERO),
            Step::Hang => {
                futures::future::pending::<()>().await;
                return Err(Error::Cancelled);
            }
        };
        tokio::time::sleep(delay).await;
        let s = futures::stream::unfold(
            (VecDeque::from(events), guard, true),
            move |(mut q, guard, first)| async move {
                let item = q.pop_front()?;
                if !first {
                    tokio::time::sleep(gap).await;
                }
                Some((item, (q, guard, false)))
            },
        );
        Ok(ChatStream::new(s).with_meta(runtime_core::ResponseMeta {
            provider: Some(self.name.clone()),
            ..Default::default()
        }))
    }

    async fn embed(
        &self,
        req: &EmbeddingRequest,
        _ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        let _g = InFlight::new(&self.in_flight);
        self.embed_requests.lock().push(req.clone());
        match self.next() {
            Step::Fail(e, delay) => {
                tokio::time::sleep(delay).await;
                Err(e)
            }
            Step::Hang => {
                futures::future::pending::<()>().await;
                Err(Error::Cancelled)
            }
            Step::Reply { delay, .. } | Step::Stream(_, delay) => {
                tokio::time::sleep(delay).await;
                // A deterministic vector per text: its length and its first byte.
                let data = req
                    .input
                    .iter()
                    .enumerate()
                    .map(|(index, t)| Embedding {
                        index,
                        embedding: vec![t.len() as f32, t.bytes().next().unwrap_or(0) as f32],
                    })
                    .collect();
                let tokens: u64 = req.input.iter().map(|t| t.len() as u64).sum();
                Ok(EmbeddingResponse {
                    model: req.model.clone(),
                    data,
                    usage: Some(Usage::new(tokens, 0)),
                    meta: Default::default(),
                })
            }
        }
    }

    fn models(&self) -> Vec<ModelInfo> {
        vec![ModelInfo::chat(&self.name, "fake-model", 8192, 1024)]
    }
}
