//! What the router reads off a call (its kind, needs and token estimate), and the call made
//! on a deployment: the same [`Call`], re-targeted to the deployment's model (the body is
//! never copied).

use std::sync::Arc;

use runtime_core::{
    Call, Error, Message, Op, Reply, RequestContext, ResponseFormat, Result, TimeoutPhase,
};

use crate::config::RequestKind;
use crate::deployment::{Deployment, InFlight, Needs, estimate_chat_tokens};
use crate::inner::Inner;
use crate::stream::{HeldStream, hold_back};

/// The kind of request a call is, for strategies and capability filters (`None`: not a
/// routed operation).
pub(crate) fn kind(call: &Call<'_>) -> Option<RequestKind> {
    Some(match (call.op, call.stream) {
        (Op::Chat(_) | Op::Complete(_), true) => RequestKind::Stream,
        (Op::Chat(_), false) => RequestKind::Chat,
        (Op::Complete(_), false) => RequestKind::Completion,
        (Op::Embed(_), _) => RequestKind::Embedding,
        (Op::Rerank(_), _) => RequestKind::Rerank,
        _ => return None,
    })
}

/// Capabilities the request needs beyond its kind.
pub(crate) fn needs(call: &Call<'_>) -> Needs {
    match call.op {
        Op::Chat(r) => Needs {
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
pub(crate) fn tokens(call: &Call<'_>) -> (u64, u64) {
    match call.op {
        Op::Chat(r) => {
            let max = u64::from(r.max_tokens.unwrap_or(0));
            (estimate_chat_tokens(r) - max, max)
        }
        Op::Complete(r) => (
            (r.prompt.chars().count() / 4) as u64,
            u64::from(r.max_tokens.unwrap_or(0)),
        ),
        Op::Embed(r) => (
            r.input.iter().map(|s| s.chars().count() / 4).sum::<usize>() as u64,
            0,
        ),
        Op::Rerank(r) => (
            (r.query.chars().count()
                + r.documents
                    .iter()
                    .map(|d| d.text().chars().count())
                    .sum::<usize>()) as u64
                / 4,
            0,
        ),
        _ => (0, 0),
    }
}

/// What one attempt on a deployment returned: a whole answer, or a stream whose first
/// events were read and held back. (The answer is moved once, to the caller: boxing it would
/// cost an allocation per call.)
#[allow(clippy::large_enum_variant)]
pub(crate) enum Attempted {
    Done(Reply),
    Held(HeldStream),
}

impl Attempted {
    pub(crate) fn usage(&self) -> Option<runtime_core::Usage> {
        match self {
            Attempted::Done(r) => r.usage(),
            Attempted::Held(_) => None,
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
    ) -> Result<Attempted> {
        let call = call.with_model(&d.model);
        if !call.stream {
            let out = d.provider.call(call, ctx).await;
            drop(guard);
            return out.map(Attempted::Done).map_err(|f| f.error);
        }
        let ttft = d.ttft_timeout;
        let open = async {
            let s = d.provider.call(call, ctx).await?.into_stream()?;
            hold_back(
                s,
                self.defaults.stream_holdback_events,
                self.defaults.stream_holdback_bytes,
            )
            .await
        };
        match tokio::time::timeout(ttft, open).await {
            Ok(Ok((stream, held))) => Ok(Attempted::Held(HeldStream {
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
