//! One call being routed ([`Call`]), its answer ([`Out`]), and the call made on a
//! deployment's provider.

use std::sync::Arc;

use runtime_core::{
    ChatRequest, ChatResponse, ChatStream, CompletionRequest, CompletionResponse, EmbeddingRequest,
    EmbeddingResponse, Error, Message, RequestContext, RerankRequest, RerankResponse,
    ResponseFormat, ResponseMeta, Result, TimeoutPhase, Usage,
};

use crate::config::RequestKind;
use crate::deployment::{Deployment, InFlight, Needs, estimate_chat_tokens};
use crate::inner::Inner;
use crate::stream::{HeldStream, hold_back};

/// One call being routed.
#[derive(Clone, Copy)]
pub(crate) enum Call<'a> {
    Chat(&'a ChatRequest),
    Stream(&'a ChatRequest),
    Complete(&'a CompletionRequest),
    CompleteStream(&'a CompletionRequest),
    Embed(&'a EmbeddingRequest),
    Rerank(&'a RerankRequest),
}

impl Call<'_> {
    pub(crate) fn kind(&self) -> RequestKind {
        match self {
            Call::Chat(_) => RequestKind::Chat,
            Call::Stream(_) | Call::CompleteStream(_) => RequestKind::Stream,
            Call::Complete(_) => RequestKind::Completion,
            Call::Embed(_) => RequestKind::Embedding,
            Call::Rerank(_) => RequestKind::Rerank,
        }
    }

    pub(crate) fn model(&self) -> &str {
        match self {
            Call::Chat(r) | Call::Stream(r) => &r.model,
            Call::Complete(r) | Call::CompleteStream(r) => &r.model,
            Call::Embed(r) => &r.model,
            Call::Rerank(r) => &r.model,
        }
    }

    /// Capabilities the request needs beyond its kind.
    pub(crate) fn needs(&self) -> Needs {
        match self {
            Call::Chat(r) | Call::Stream(r) => Needs {
                tools: !r.tools.is_empty(),
                vision: r.messages.iter().any(|m| match m {
                    Message::User { content, .. } | Message::System { content, .. } => {
                        content.has_image()
                    }
                    _ => false,
                }),
                json_schema: matches!(r.response_format, Some(ResponseFormat::JsonSchema { .. })),
            },
            _ => Needs::default(),
        }
    }

    /// (prompt, completion) token estimate: characters/4 plus `max_tokens`.
    pub(crate) fn tokens(&self) -> (u64, u64) {
        match self {
            Call::Chat(r) | Call::Stream(r) => {
                let max = u64::from(r.max_tokens.unwrap_or(0));
                (estimate_chat_tokens(r) - max, max)
            }
            Call::Complete(r) | Call::CompleteStream(r) => (
                (r.prompt.chars().count() / 4) as u64,
                u64::from(r.max_tokens.unwrap_or(0)),
            ),
            Call::Embed(r) => (
                r.input.iter().map(|s| s.chars().count() / 4).sum::<usize>() as u64,
                0,
            ),
            Call::Rerank(r) => (
                (r.query.chars().count()
                    + r.documents
                        .iter()
                        .map(|d| d.text().chars().count())
                        .sum::<usize>()) as u64
                    / 4,
                0,
            ),
        }
    }
}

pub(crate) enum Out {
    Chat(ChatResponse),
    Stream(ChatStream),
    Held(HeldStream),
    Complete(CompletionResponse),
    Embed(EmbeddingResponse),
    Rerank(RerankResponse),
}

impl Out {
    pub(crate) fn usage(&self) -> Option<Usage> {
        match self {
            Out::Chat(r) => r.usage,
            Out::Complete(r) => r.usage,
            Out::Embed(r) => r.usage,
            Out::Rerank(r) => r.usage.and_then(|u| u.tokens),
            Out::Stream(_) | Out::Held(_) => None,
        }
    }

    pub(crate) fn meta_mut(&mut self) -> &mut ResponseMeta {
        match self {
            Out::Chat(r) => &mut r.meta,
            Out::Complete(r) => &mut r.meta,
            Out::Embed(r) => &mut r.meta,
            Out::Rerank(r) => &mut r.meta,
            Out::Stream(s) => s.meta_mut(),
            Out::Held(h) => h.stream.meta_mut(),
        }
    }
}

impl Inner {
    pub(crate) async fn call_deployment(
        &self,
        d: &Arc<Deployment>,
        call: Call<'_>,
        ctx: &RequestContext,
        guard: InFlight,
    ) -> Result<Out> {
        let p = &d.provider;
        match call {
            Call::Chat(r) => {
                let mut r = r.clone();
                r.model.clone_from(&d.model);
                let out = p.chat(&r, ctx).await.map(Out::Chat);
                drop(guard);
                out
            }
            Call::Complete(r) => {
                let mut r = r.clone();
                r.model.clone_from(&d.model);
                let out = p.complete(&r, ctx).await.map(Out::Complete);
                drop(guard);
                out
            }
            Call::Embed(r) => {
                let mut r = r.clone();
                r.model.clone_from(&d.model);
                let out = p.embed(&r, ctx).await.map(Out::Embed);
                drop(guard);
                out
            }
            Call::Rerank(r) => {
                let mut r = r.clone();
                r.model.clone_from(&d.model);
                let out = p.rerank(&r, ctx).await.map(Out::Rerank);
                drop(guard);
                out
            }
            Call::Stream(_) | Call::CompleteStream(_) => {
                let ttft = d.ttft_timeout;
                let open = async {
                    let s = match call {
                        Call::Stream(r) => {
                            let mut r = r.clone();
                            r.model.clone_from(&d.model);
                            p.chat_stream(&r, ctx).await?
                        }
                        Call::CompleteStream(r) => {
                            let mut r = r.clone();
                            r.model.clone_from(&d.model);
                            p.complete_stream(&r, ctx).await?
                        }
                        _ => return Err(Error::unsupported(&self.name, "stream")),
                    };
                    hold_back(
                        s,
                        self.defaults.stream_holdback_events,
                        self.defaults.stream_holdback_bytes,
                    )
                    .await
                };
                match tokio::time::timeout(ttft, open).await {
                    Ok(Ok((stream, held))) => Ok(Out::Held(HeldStream {
                        stream,
                        held,
                        guard,
                    })),
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(Error::Timeout {
                        provider: d.provider_name.clone(),
                        model: d.model.clone(),
                        phase: TimeoutPhase::FirstToken,
                        after: ttft,
                    }),
                }
            }
        }
    }
}
