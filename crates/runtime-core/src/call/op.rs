//! A call as data — [`Op`], [`Call`] — and its outcome — [`Reply`], [`Failure`] — below the
//! provider contract and the [`Service`](super::Service) contract that both speak them.

use crate::error::{Error, Result};
use crate::health::HealthStatus;
use crate::stream::ChatStream;
use crate::types::{
    ChatRequest, ChatResponse, CompletionRequest, CompletionResponse, EmbeddingRequest,
    EmbeddingResponse, ModelInfo, RerankRequest, RerankResponse, ResponseMeta, Usage,
};

/// What a call does, with its body (borrowed: a call is cheap to copy and to re-target).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Op<'a> {
    /// Chat (streamed when [`Call::stream`]).
    Chat(&'a ChatRequest),
    /// Text completion (streamed when [`Call::stream`]).
    Complete(&'a CompletionRequest),
    /// Embeddings.
    Embed(&'a EmbeddingRequest),
    /// Reranking.
    Rerank(&'a RerankRequest),
    /// The exact input tokens of a chat request, without generating.
    CountTokens(&'a ChatRequest),
    /// The models the service lists right now.
    ListModels,
    /// A probe that spends no tokens.
    Health,
}

/// One operation on a [`Service`](crate::Service): the operation and its body, the model it
/// targets, and whether the answer is streamed.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Call<'a> {
    /// What to do, with the body.
    pub op: Op<'a>,
    /// The model the call targets. The constructors take it from the body; a layer that
    /// re-targets the call sets it with [`Call::with_model`] and leaves the body alone, and
    /// a provider serves this model, not the body's (empty for listing and health).
    pub model: &'a str,
    /// The answer is a stream ([`Reply::Stream`]): chat and completion only.
    pub stream: bool,
}

impl<'a> Call<'a> {
    fn new(op: Op<'a>, model: &'a str, stream: bool) -> Self {
        Self { op, model, stream }
    }

    /// A chat answer.
    pub fn chat(req: &'a ChatRequest) -> Self {
        Self::new(Op::Chat(req), &req.model, false)
    }

    /// A streamed chat answer.
    pub fn chat_stream(req: &'a ChatRequest) -> Self {
        Self::new(Op::Chat(req), &req.model, true)
    }

    /// A text completion.
    pub fn complete(req: &'a CompletionRequest) -> Self {
        Self::new(Op::Complete(req), &req.model, false)
    }

    /// A streamed text completion.
    pub fn complete_stream(req: &'a CompletionRequest) -> Self {
        Self::new(Op::Complete(req), &req.model, true)
    }

    /// Embeddings.
    pub fn embed(req: &'a EmbeddingRequest) -> Self {
        Self::new(Op::Embed(req), &req.model, false)
    }

    /// A ranking.
    pub fn rerank(req: &'a RerankRequest) -> Self {
        Self::new(Op::Rerank(req), &req.model, false)
    }

    /// The input tokens of a chat request.
    pub fn count_tokens(req: &'a ChatRequest) -> Self {
        Self::new(Op::CountTokens(req), &req.model, false)
    }

    /// The live model listing.
    pub fn list_models() -> Self {
        Self::new(Op::ListModels, "", false)
    }

    /// A health probe.
    pub fn health() -> Self {
        Self::new(Op::Health, "", false)
    }

    /// The same call aimed at `model` (the body is not copied).
    #[must_use]
    pub fn with_model(self, model: &'a str) -> Self {
        Self { model, ..self }
    }

    /// The model the body names (which [`Call::model`] may have replaced).
    pub fn body_model(&self) -> &'a str {
        match self.op {
            Op::Chat(r) | Op::CountTokens(r) => &r.model,
            Op::Complete(r) => &r.model,
            Op::Embed(r) => &r.model,
            Op::Rerank(r) => &r.model,
            Op::ListModels | Op::Health => "",
        }
    }

    /// Whether a layer re-targeted the call: [`Call::model`] is not the body's model.
    pub fn is_retargeted(&self) -> bool {
        self.model != self.body_model()
    }

    /// The operation's name after the OpenTelemetry GenAI conventions (`chat`,
    /// `text_completion`, `embeddings`, `rerank`, `count_tokens`, `list_models`, `health`).
    pub fn operation(&self) -> &'static str {
        match self.op {
            Op::Chat(_) => "chat",
            Op::Complete(_) => "text_completion",
            Op::Embed(_) => "embeddings",
            Op::Rerank(_) => "rerank",
            Op::CountTokens(_) => "count_tokens",
            Op::ListModels => "list_models",
            Op::Health => "health",
        }
    }
}

/// A call's answer.
#[derive(Debug)]
#[non_exhaustive]
pub enum Reply {
    /// A chat answer.
    Chat(ChatResponse),
    /// A text completion.
    Completion(CompletionResponse),
    /// A streamed chat or completion.
    Stream(ChatStream),
    /// Embeddings.
    Embeddings(EmbeddingResponse),
    /// A ranking.
    Rerank(RerankResponse),
    /// Counted input tokens.
    Tokens(u64),
    /// A model listing.
    Models(Vec<ModelInfo>),
    /// A health probe's result.
    Health(HealthStatus),
}

impl Reply {
    /// Where the answer came from (`None` for counts, listings and probes).
    pub fn meta(&self) -> Option<&ResponseMeta> {
        match self {
            Reply::Chat(r) => Some(&r.meta),
            Reply::Completion(r) => Some(&r.meta),
            Reply::Stream(s) => Some(s.meta()),
            Reply::Embeddings(r) => Some(&r.meta),
            Reply::Rerank(r) => Some(&r.meta),
            Reply::Tokens(_) | Reply::Models(_) | Reply::Health(_) => None,
        }
    }

    /// [`Reply::meta`], to fill in (a router writes the route here).
    pub fn meta_mut(&mut self) -> Option<&mut ResponseMeta> {
        match self {
            Reply::Chat(r) => Some(&mut r.meta),
            Reply::Completion(r) => Some(&mut r.meta),
            Reply::Stream(s) => Some(s.meta_mut()),
            Reply::Embeddings(r) => Some(&mut r.meta),
            Reply::Rerank(r) => Some(&mut r.meta),
            Reply::Tokens(_) | Reply::Models(_) | Reply::Health(_) => None,
        }
    }

    /// The tokens a whole answer used (a stream reports its own as it goes).
    pub fn usage(&self) -> Option<Usage> {
        match self {
            Reply::Chat(r) => r.usage,
            Reply::Completion(r) => r.usage,
            Reply::Embeddings(r) => r.usage,
            Reply::Rerank(r) => r.usage.and_then(|u| u.tokens),
            _ => None,
        }
    }

    /// The variant's name, for errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Reply::Chat(_) => "chat",
            Reply::Completion(_) => "completion",
            Reply::Stream(_) => "stream",
            Reply::Embeddings(_) => "embeddings",
            Reply::Rerank(_) => "rerank",
            Reply::Tokens(_) => "tokens",
            Reply::Models(_) => "models",
            Reply::Health(_) => "health",
        }
    }

    /// The answer as `T`; a reply of another kind is an error (never a panic).
    pub fn into_typed<T: FromReply>(self) -> Result<T> {
        T::from_reply(self)
    }

    /// A chat answer.
    pub fn into_chat(self) -> Result<ChatResponse> {
        self.into_typed()
    }

    /// A text completion.
    pub fn into_completion(self) -> Result<CompletionResponse> {
        self.into_typed()
    }

    /// A stream.
    pub fn into_stream(self) -> Result<ChatStream> {
        self.into_typed()
    }

    /// Embeddings.
    pub fn into_embeddings(self) -> Result<EmbeddingResponse> {
        self.into_typed()
    }

    /// A ranking.
    pub fn into_rerank(self) -> Result<RerankResponse> {
        self.into_typed()
    }

    /// A token count.
    pub fn into_tokens(self) -> Result<u64> {
        self.into_typed()
    }

    /// A model listing.
    pub fn into_models(self) -> Result<Vec<ModelInfo>> {
        self.into_typed()
    }

    /// A probe's result.
    pub fn into_health(self) -> Result<HealthStatus> {
        self.into_typed()
    }
}

/// The error for a reply of the wrong kind: a layer answered a call with something else.
pub(crate) fn mismatch(want: &str, got: &Reply) -> Error {
    Error::InvalidConfig {
        provider: "model-runtime".into(),
        field: "reply".into(),
        reason: format!("a {want} call was answered with a {} reply", got.kind()),
    }
}

/// The route a routed call took: the provider and deployment of its last attempt and how
/// many attempts were made. On a success the same facts are in the answer's
/// [`ResponseMeta`] (`provider`, `deployment`, `attempts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSummary {
    /// The provider instance of the last attempt.
    pub provider: String,
    /// The deployment of the last attempt.
    pub deployment: String,
    /// How many attempts were made (retries and failovers included).
    pub attempts: u32,
}

impl RouteSummary {
    /// Writes the route into an answer's metadata.
    pub fn write(&self, meta: &mut ResponseMeta) {
        meta.provider = Some(self.provider.clone());
        meta.deployment = Some(self.deployment.clone());
        meta.attempts = Some(self.attempts);
    }

    /// The route an answer's metadata names (a deployment is required).
    pub fn of(meta: &ResponseMeta) -> Option<Self> {
        Some(Self {
            provider: meta.provider.clone()?,
            deployment: meta.deployment.clone()?,
            attempts: meta.attempts.unwrap_or(1),
        })
    }
}

/// A failed call: the error, and the route when a router took one.
#[derive(Debug, Clone)]
pub struct Failure {
    /// What went wrong.
    pub error: Error,
    /// Where the call went before it failed (set by a router; kept by the layers above).
    pub route: Option<RouteSummary>,
}

impl Failure {
    /// A failure after `route`.
    pub fn routed(error: Error, route: Option<RouteSummary>) -> Self {
        Self { error, route }
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self { error, route: None }
    }
}

impl From<Failure> for Error {
    fn from(f: Failure) -> Self {
        f.error
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Failure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// A typed answer a [`Reply`] may hold.
pub trait FromReply: Sized + Send {
    /// The answer, or an error naming both kinds when the reply is of another.
    fn from_reply(reply: Reply) -> Result<Self>;
}

macro_rules! from_reply {
    ($t:ty, $variant:ident, $want:literal) => {
        impl FromReply for $t {
            fn from_reply(reply: Reply) -> Result<Self> {
                match reply {
                    Reply::$variant(v) => Ok(v),
                    other => Err(mismatch($want, &other)),
                }
            }
        }
    };
}

from_reply!(ChatResponse, Chat, "chat");
from_reply!(CompletionResponse, Completion, "completion");
from_reply!(ChatStream, Stream, "stream");
from_reply!(EmbeddingResponse, Embeddings, "embeddings");
from_reply!(RerankResponse, Rerank, "rerank");
from_reply!(u64, Tokens, "count_tokens");
from_reply!(Vec<ModelInfo>, Models, "list_models");
from_reply!(HealthStatus, Health, "health");
