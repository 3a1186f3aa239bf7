//! Streamed answers: typed events, the stream type, and the one fold back into a response.

use std::collections::{BTreeMap, VecDeque};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::{Stream, StreamExt};

use crate::error::Result;
use crate::types::{
    AssistantMessage, ChatResponse, Content, FinishReason, FunctionCall, ReasoningBlock,
    ResponseMeta, ToolCall, Usage,
};

/// One event of a streamed chat answer, provider-neutral.
///
/// `#[non_exhaustive]`: new kinds of events come (annotations came late); a consumer that
/// matches events keeps a `_ =>` arm, and [`StreamAccumulator`] folds every kind.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StreamEvent {
    /// The answer's identity, sent first.
    Start {
        /// Response id.
        id: String,
        /// The model answering.
        model: String,
        /// Unix seconds.
        created: i64,
    },
    /// A piece of answer text.
    TextDelta {
        /// The text.
        text: String,
    },
    /// A piece of reasoning text.
    ReasoningDelta {
        /// The text.
        text: String,
    },
    /// The signature closing the current reasoning block.
    ReasoningSignature {
        /// The signature.
        signature: String,
    },
    /// A redacted (encrypted) reasoning block.
    RedactedReasoning {
        /// Encrypted content.
        data: String,
    },
    /// A piece of refusal text.
    RefusalDelta {
        /// The text.
        text: String,
    },
    /// A tool call begins.
    ToolCallStart {
        /// Position of the call in the answer.
        index: usize,
        /// The call id.
        id: String,
        /// The function name.
        name: String,
        /// Gemini's thought signature on the call.
        thought_signature: Option<String>,
    },
    /// A fragment of a tool call's JSON arguments.
    ToolCallDelta {
        /// Which call.
        index: usize,
        /// The fragment, to append.
        arguments: String,
    },
    /// A tool call is complete.
    ToolCallEnd {
        /// Which call.
        index: usize,
    },
    /// Token counts for the whole answer so far (replaces any earlier usage event).
    Usage(Usage),
    /// Why generation stopped.
    Finish {
        /// The reason.
        reason: FinishReason,
    },
    /// A provider-specific annotation of the answer (Azure's content-filter results, …):
    /// sets `ResponseMeta::annotations[key]` of the folded answer, a later value for the same
    /// key replacing an earlier one. Not content: it never commits a router to a deployment.
    Annotation {
        /// The annotation's name.
        key: String,
        /// Its value.
        value: serde_json::Value,
    },
}

impl StreamEvent {
    /// True for events that carry answer content (text, reasoning, refusal or tool calls).
    ///
    /// The router commits to a deployment at the first such event.
    pub fn is_content(&self) -> bool {
        !matches!(
            self,
            StreamEvent::Start { .. }
                | StreamEvent::Usage(_)
                | StreamEvent::Finish { .. }
                | StreamEvent::Annotation { .. }
        )
    }
}

/// A boxed stream of events with the metadata of whoever serves it.
pub struct ChatStream {
    inner: Pin<Box<dyn Stream<Item = Result<StreamEvent>> + Send>>,
    meta: ResponseMeta,
}

impl std::fmt::Debug for ChatStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatStream")
            .field("meta", &self.meta)
            .finish()
    }
}

impl ChatStream {
    /// Wraps a stream of events.
    pub fn new(stream: impl Stream<Item = Result<StreamEvent>> + Send + 'static) -> Self {
        Self {
            inner: Box::pin(stream),
            meta: ResponseMeta::default(),
        }
    }

    /// A stream of fixed events (a cached answer, a test).
    pub fn from_events(events: Vec<StreamEvent>) -> Self {
        Self::new(futures::stream::iter(events.into_iter().map(Ok)))
    }

    /// Who serves this stream.
    pub fn meta(&self) -> &ResponseMeta {
        &self.meta
    }

    /// Changes who serves this stream.
    pub fn meta_mut(&mut self) -> &mut ResponseMeta {
        &mut self.meta
    }

    /// Sets the metadata.
    pub fn with_meta(mut self, meta: ResponseMeta) -> Self {
        self.meta = meta;
        self
    }

    /// Reads the whole stream and folds it into the response a non-streaming call returns.
    pub async fn collect_response(mut self) -> Result<ChatResponse> {
        let mut acc = StreamAccumulator::default();
        while let Some(ev) = self.inner.next().await {
            acc.push(ev?);
        }
        Ok(acc.finish_with_meta(self.meta))
    }
}

impl Stream for ChatStream {
    type Item = Result<StreamEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// Turns a provider's stream frames (SSE `data` payloads, NDJSON lines) into [`StreamEvent`]s.
///
/// Each provider writes one; [`ChatStream::decode_frames`] and [`ChatStream::decode_sse`] drive
/// it, so the delivery rules live in one place.
pub trait FrameDecoder: Send + 'static {
    /// Decodes one frame, appending events to `out`.
    fn decode(&mut self, frame: &str, out: &mut Vec<StreamEvent>) -> Result<()>;

    /// Called when the byte stream ends; a stream that ended early is an error here.
    fn end(&mut self, out: &mut Vec<StreamEvent>) -> Result<()>;

    /// True when the provider signalled the end (e.g. `[DONE]`, `message_stop`): reading stops.
    fn is_done(&self) -> bool {
        false
    }
}

impl ChatStream {
    /// Drives `decoder` over a stream of frames. Events decoded before an error are delivered
    /// first, then the error, then the stream ends.
    pub fn decode_frames<S, D>(frames: S, decoder: D) -> ChatStream
    where
        S: Stream<Item = Result<String>> + Send + Unpin + 'static,
        D: FrameDecoder,
    {
        ChatStream::new(FrameStream {
            frames,
            dec: decoder,
            queue: VecDeque::new(),
            out: Vec::new(),
            error: None,
            ended: false,
        })
    }

    /// [`ChatStream::decode_frames`] over the `data` of Server-Sent Events.
    pub fn decode_sse<S, D>(sse: S, decoder: D) -> ChatStream
    where
        S: Stream<Item = Result<crate::http::SseEvent>> + Send + Unpin + 'static,
        D: FrameDecoder,
    {
        Self::decode_frames(sse.map(|r| r.map(|ev| ev.data)), decoder)
    }
}

#[derive(Debug, Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
    thought_signature: Option<String>,
}

/// Folds stream events into a [`ChatResponse`].
///
/// This is the only fold in the project: providers, the cache and the gateway all use it, so a
/// streamed answer and a non-streamed one compare equal.
#[derive(Debug, Default)]
pub struct StreamAccumulator {
    id: String,
    model: String,
    created: i64,
    text: Option<String>,
    refusal: Option<String>,
    reasoning: Vec<ReasoningBlock>,
    calls: BTreeMap<usize, PartialCall>,
    usage: Option<Usage>,
    finish: Option<FinishReason>,
    annotations: serde_json::Map<String, serde_json::Value>,
}

impl StreamAccumulator {
    /// Adds one event.
    pub fn push(&mut self, event: StreamEvent) {
        match event {
            StreamEvent::Start { id, model, created } => {
                if self.id.is_empty() {
                    self.id = id;
                }
                if self.model.is_empty() {
                    self.model = model;
                }
                if self.created == 0 {
                    self.created = created;
                }
            }
            StreamEvent::TextDelta { text } => {
                self.text.get_or_insert_with(String::new).push_str(&text);
            }
            StreamEvent::RefusalDelta { text } => {
                self.refusal.get_or_insert_with(String::new).push_str(&text);
            }
            StreamEvent::ReasoningDelta { text } => match self.reasoning.last_mut() {
                Some(b) if b.signature.is_none() && !b.is_redacted() => {
                    b.text.get_or_insert_with(String::new).push_str(&text);
                }
                _ => self.reasoning.push(ReasoningBlock::text(text)),
            },
            StreamEvent::ReasoningSignature { signature } => match self.reasoning.last_mut() {
                Some(b) if b.signature.is_none() && !b.is_redacted() => {
                    b.signature = Some(signature);
                }
                _ => self.reasoning.push(ReasoningBlock {
                    signature: Some(signature),
                    ..ReasoningBlock::text("")
                }),
            },
            StreamEvent::RedactedReasoning { data } => self.reasoning.push(ReasoningBlock {
                kind: "redacted_thinking".into(),
                text: None,
                signature: None,
                data: Some(data),
            }),
            StreamEvent::ToolCallStart {
                index,
                id,
                name,
                thought_signature,
            } => {
                let call = self.calls.entry(index).or_default();
                if !id.is_empty() {
                    call.id = id;
                }
                if !name.is_empty() {
                    call.name = name;
                }
                if thought_signature.is_some() {
                    call.thought_signature = thought_signature;
                }
            }
            StreamEvent::ToolCallDelta { index, arguments } => {
                self.calls
                    .entry(index)
                    .or_default()
                    .arguments
                    .push_str(&arguments);
            }
            StreamEvent::ToolCallEnd { .. } => {}
            StreamEvent::Usage(u) => self.usage = Some(u),
            StreamEvent::Finish { reason } => self.finish = Some(reason),
            StreamEvent::Annotation { key, value } => {
                self.annotations.insert(key, value);
            }
        }
    }

    /// True once any content event has been seen.
    pub fn has_content(&self) -> bool {
        self.text.is_some()
            || self.refusal.is_some()
            || !self.reasoning.is_empty()
            || !self.calls.is_empty()
    }

    /// The usage seen so far.
    pub fn usage(&self) -> Option<Usage> {
        self.usage
    }

    /// The response the events add up to, with the stream's metadata: the annotations of
    /// [`StreamEvent::Annotation`] events are added to `meta`'s (replacing the same keys).
    pub fn finish_with_meta(self, mut meta: ResponseMeta) -> ChatResponse {
        let mut resp = self.finish();
        meta.annotations.append(&mut resp.meta.annotations);
        resp.meta = meta;
        resp
    }

    /// The response the events add up to (metadata: only the annotations).
    pub fn finish(self) -> ChatResponse {
        let tool_calls = self
            .calls
            .into_values()
            .map(|c| ToolCall {
                id: c.id,
                kind: crate::types::chat::function_type(),
                function: FunctionCall {
                    name: c.name,
                    arguments: c.arguments,
                },
                thought_signature: c.thought_signature,
            })
            .collect();
        ChatResponse {
            id: self.id,
            model: self.model,
            created: self.created,
            message: AssistantMessage {
                content: self.text.map(Content::Text),
                reasoning: self.reasoning,
                tool_calls,
                refusal: self.refusal,
                name: None,
            },
            finish_reason: self
                .finish
                .unwrap_or_else(|| FinishReason::Other("incomplete".into())),
            usage: self.usage,
            meta: ResponseMeta {
                annotations: self.annotations,
                ..ResponseMeta::default()
            },
        }
    }
}

impl ChatResponse {
    /// The events that fold back into this response (used to replay cached answers).
    pub fn to_events(&self) -> Vec<StreamEvent> {
        let mut ev = vec![StreamEvent::Start {
            id: self.id.clone(),
            model: self.model.clone(),
            created: self.created,
        }];
        for b in &self.message.reasoning {
            if b.is_redacted() {
                ev.push(StreamEvent::RedactedReasoning {
                    data: b.data.clone().unwrap_or_default(),
                });
                continue;
            }
            ev.push(StreamEvent::ReasoningDelta {
                text: b.text.clone().unwrap_or_default(),
            });
            if let Some(sig) = &b.signature {
                ev.push(StreamEvent::ReasoningSignature {
                    signature: sig.clone(),
                });
            }
        }
        if let Some(text) = self.message.text() {
            ev.push(StreamEvent::TextDelta { text });
        }
        if let Some(text) = &self.message.refusal {
            ev.push(StreamEvent::RefusalDelta { text: text.clone() });
        }
        for (index, call) in self.message.tool_calls.iter().enumerate() {
            ev.push(StreamEvent::ToolCallStart {
                index,
                id: call.id.clone(),
                name: call.function.name.clone(),
                thought_signature: call.thought_signature.clone(),
            });
            ev.push(StreamEvent::ToolCallDelta {
                index,
                arguments: call.function.arguments.clone(),
            });
            ev.push(StreamEvent::ToolCallEnd { index });
        }
        ev.push(StreamEvent::Finish {
            reason: self.finish_reason.clone(),
        });
        if let Some(u) = self.usage {
            ev.push(StreamEvent::Usage(u));
        }
        for (key, value) in &self.meta.annotations {
            ev.push(StreamEvent::Annotation {
                key: key.clone(),
                value: value.clone(),
            });
        }
        ev
    }
}

/// The one stream driver behind [`ChatStream::decode_frames`]: its state stays in place
/// between polls (no state moved in and out of a future per event) and the decoder writes
/// into one reused buffer.
struct FrameStream<S, D> {
    frames: S,
    dec: D,
    queue: VecDeque<StreamEvent>,
    out: Vec<StreamEvent>,
    error: Option<crate::Error>,
    ended: bool,
}

// Nothing here is ever pinned structurally: the decoder is only used through `&mut`, and the
// frames are `Unpin`.
impl<S: Unpin, D> Unpin for FrameStream<S, D> {}

impl<S, D> Stream for FrameStream<S, D>
where
    S: Stream<Item = Result<String>> + Unpin,
    D: FrameDecoder,
{
    type Item = Result<StreamEvent>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let st = self.get_mut();
        loop {
            if let Some(ev) = st.queue.pop_front() {
                return Poll::Ready(Some(Ok(ev)));
            }
            if let Some(e) = st.error.take() {
                return Poll::Ready(Some(Err(e)));
            }
            if st.ended || st.dec.is_done() {
                return Poll::Ready(None);
            }
            let step = match std::task::ready!(Pin::new(&mut st.frames).poll_next(cx)) {
                Some(Ok(frame)) => st.dec.decode(&frame, &mut st.out),
                Some(Err(e)) => Err(e),
                None => {
                    st.ended = true;
                    st.dec.end(&mut st.out)
                }
            };
            st.queue.extend(st.out.drain(..));
            if let Err(e) = step {
                st.ended = true;
                st.error = Some(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_fold_into_meta_and_replay() {
        let mut acc = StreamAccumulator::default();
        for e in [
            StreamEvent::Start {
                id: "r".into(),
                model: "m".into(),
                created: 1,
            },
            StreamEvent::Annotation {
                key: "filter".into(),
                value: serde_json::json!({"hate": "low"}),
            },
            StreamEvent::TextDelta { text: "hi".into() },
            StreamEvent::Finish {
                reason: FinishReason::Stop,
            },
            // A later value for a key replaces the earlier one.
            StreamEvent::Annotation {
                key: "filter".into(),
                value: serde_json::json!({"hate": "high"}),
            },
        ] {
            assert!(!matches!(e, StreamEvent::Annotation { .. }) || !e.is_content());
            acc.push(e);
        }
        let stream_meta = ResponseMeta {
            provider: Some("p".into()),
            annotations: [
                ("filter".to_owned(), serde_json::json!("stale")),
                ("other".to_owned(), serde_json::json!(1)),
            ]
            .into_iter()
            .collect(),
            ..ResponseMeta::default()
        };
        let r = acc.finish_with_meta(stream_meta);
        assert_eq!(r.meta.provider.as_deref(), Some("p"));
        assert_eq!(r.meta.annotations["filter"]["hate"], "high");
        assert_eq!(r.meta.annotations["other"], 1);
        // Replaying the answer folds back to the same annotations.
        let mut again = StreamAccumulator::default();
        for e in r.to_events() {
            again.push(e);
        }
        assert_eq!(again.finish().meta.annotations, r.meta.annotations);
    }

    #[test]
    fn fold_tool_calls_by_index() {
        let mut acc = StreamAccumulator::default();
        for e in [
            StreamEvent::Start {
                id: "r".into(),
                model: "m".into(),
                created: 1,
            },
            StreamEvent::ToolCallStart {
                index: 1,
                id: "b".into(),
                name: "g".into(),
                thought_signature: None,
            },
            StreamEvent::ToolCallStart {
                index: 0,
                id: "a".into(),
                name: "f".into(),
                thought_signature: None,
            },
            StreamEvent::ToolCallDelta {
                index: 0,
                arguments: "{\"x\":".into(),
            },
            StreamEvent::ToolCallDelta {
                index: 1,
                arguments: "{}".into(),
            },
            StreamEvent::ToolCallDelta {
                index: 0,
                arguments: "1}".into(),
            },
            StreamEvent::Finish {
                reason: FinishReason::ToolCalls,
            },
            StreamEvent::Usage(Usage::new(3, 4)),
        ] {
            acc.push(e);
        }
        let r = acc.finish();
        assert_eq!(r.message.tool_calls.len(), 2);
        assert_eq!(r.message.tool_calls[0].function.arguments, "{\"x\":1}");
        assert_eq!(r.message.tool_calls[1].id, "b");
        assert_eq!(r.usage, Some(Usage::new(3, 4)));
        assert_eq!(r.message.content, None);
    }

    #[tokio::test]
    async fn replay_folds_to_the_same_response() {
        let resp = ChatResponse {
            id: "x".into(),
            model: "m".into(),
            created: 5,
            message: AssistantMessage {
                content: Some(Content::Text("hi".into())),
                reasoning: vec![
                    ReasoningBlock {
                        signature: Some("sig".into()),
                        ..ReasoningBlock::text("think")
                    },
                    ReasoningBlock {
                        kind: "redacted_thinking".into(),
                        text: None,
                        signature: None,
                        data: Some("enc".into()),
                    },
                ],
                tool_calls: vec![ToolCall::new("c", "f", "{}")],
                refusal: None,
                name: None,
            },
            finish_reason: FinishReason::ToolCalls,
            usage: Some(Usage::new(1, 2)),
            meta: ResponseMeta::default(),
        };
        let folded = ChatStream::from_events(resp.to_events())
            .collect_response()
            .await
            .unwrap();
        assert_eq!(folded, resp);
    }
}
