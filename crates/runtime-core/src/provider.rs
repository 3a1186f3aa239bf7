//! The `Provider` trait provider authors implement (typed, one method per operation), and the
//! per-request context.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::call::{Call, Op, Reply};
use crate::error::{Error, Result};
pub use crate::health::HealthStatus;
use crate::secret::Secret;
use crate::stream::ChatStream;
use crate::types::{
    ChatRequest, ChatResponse, CompletionRequest, CompletionResponse, EmbeddingRequest,
    EmbeddingResponse, ModelInfo, RerankRequest, RerankResponse,
};

/// What a provider can do. A capability that is `false` makes the matching call return
/// [`Error::Unsupported`], and the conformance suite skips (and reports) its scenarios.
///
/// Built with `const` setters, so it can be a `const` of a provider crate:
///
/// ```
/// use runtime_core::Capabilities;
///
/// const CAPS: Capabilities = Capabilities::new().chat(true).streaming(true).embeddings(true)
///     .max_embedding_inputs(Some(128));
/// assert!(CAPS.streaming && !CAPS.tools);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Capabilities {
    /// Chat.
    pub chat: bool,
    /// Streamed chat.
    pub streaming: bool,
    /// Tool calls.
    pub tools: bool,
    /// Image input.
    pub vision: bool,
    /// JSON-schema output.
    pub json_schema: bool,
    /// Text completion (natively or over chat).
    pub completion: bool,
    /// Embeddings.
    pub embeddings: bool,
    /// Live model listing.
    pub list_models: bool,
    /// Most inputs one embedding call accepts (the cache splits larger requests).
    pub max_embedding_inputs: Option<usize>,
    /// Reranking ([`Provider::rerank`]).
    pub rerank: bool,
}

impl Capabilities {
    /// Nothing supported: set what the provider does with the setters.
    pub const fn new() -> Self {
        Self {
            chat: false,
            streaming: false,
            tools: false,
            vision: false,
            json_schema: false,
            completion: false,
            embeddings: false,
            list_models: false,
            max_embedding_inputs: None,
            rerank: false,
        }
    }

    /// Sets [`Capabilities::chat`].
    pub const fn chat(mut self, on: bool) -> Self {
        self.chat = on;
        self
    }

    /// Sets [`Capabilities::streaming`].
    pub const fn streaming(mut self, on: bool) -> Self {
        self.streaming = on;
        self
    }

    /// Sets [`Capabilities::tools`].
    pub const fn tools(mut self, on: bool) -> Self {
        self.tools = on;
        self
    }

    /// Sets [`Capabilities::vision`].
    pub const fn vision(mut self, on: bool) -> Self {
        self.vision = on;
        self
    }

    /// Sets [`Capabilities::json_schema`].
    pub const fn json_schema(mut self, on: bool) -> Self {
        self.json_schema = on;
        self
    }

    /// Sets [`Capabilities::completion`].
    pub const fn completion(mut self, on: bool) -> Self {
        self.completion = on;
        self
    }

    /// Sets [`Capabilities::embeddings`].
    pub const fn embeddings(mut self, on: bool) -> Self {
        self.embeddings = on;
        self
    }

    /// Sets [`Capabilities::list_models`].
    pub const fn list_models(mut self, on: bool) -> Self {
        self.list_models = on;
        self
    }

    /// Sets [`Capabilities::rerank`].
    pub const fn rerank(mut self, on: bool) -> Self {
        self.rerank = on;
        self
    }

    /// Sets [`Capabilities::max_embedding_inputs`].
    pub const fn max_embedding_inputs(mut self, most: Option<usize>) -> Self {
        self.max_embedding_inputs = most;
        self
    }
}

/// Chat, streaming, tools and completion (over chat): what a plain chat API usually offers.
impl Default for Capabilities {
    fn default() -> Self {
        Self {
            chat: true,
            streaming: true,
            tools: true,
            vision: false,
            json_schema: false,
            completion: true,
            embeddings: false,
            list_models: false,
            max_embedding_inputs: None,
            rerank: false,
        }
    }
}

/// Per-request context: identity, deadline, cancellation, credentials.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The request id (the client's `x-request-id` or a generated one).
    pub request_id: String,
    /// When the whole request must be done, retries included.
    pub deadline: Option<Instant>,
    /// Cancelled when the caller goes away.
    pub cancel: CancellationToken,
    /// A credential that replaces the provider's configured key for this request.
    pub api_key: Option<Secret>,
    /// The gateway key that made the request, for usage records.
    pub key_id: Option<String>,
    /// The team that key belongs to, for usage records.
    pub team_id: Option<String>,
    /// The end user the request is for (the request's `user` field or a gateway header),
    /// for usage records.
    pub end_user: Option<String>,
    /// Where the request-level metering layer leaves the usage and cost of the call when it
    /// ends (read by the gateway to settle budgets; shared by this context's clones).
    pub usage: UsageReport,
    /// Per-request response-cache control (read by the cache layer).
    pub cache: CacheControl,
}

/// The usage and cost of one finished call, as the metering layer priced it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedUsage {
    /// Tokens used (zero for a call that failed before any answer).
    pub usage: crate::types::Usage,
    /// Provider cost in US dollars; `None` when the model has no known price.
    pub cost_usd: Option<f64>,
    /// The provider instance that answered.
    pub provider: String,
    /// The router deployment, if any.
    pub deployment: Option<String>,
    /// For streams: time from the call to the first content, in milliseconds.
    pub ttft_ms: Option<f64>,
    /// Served from the response cache.
    pub cache_hit: bool,
}

/// A slot for the [`ReportedUsage`] of one call, filled by the metering layer when the call
/// (or its stream) ends, and read by the layers above it. Clones share the slot.
#[derive(Debug, Clone, Default)]
pub struct UsageReport(Arc<std::sync::Mutex<Option<ReportedUsage>>>);

impl UsageReport {
    /// Records the call's usage (a later record replaces an earlier one).
    pub fn record(&self, usage: ReportedUsage) {
        let mut slot = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *slot = Some(usage);
    }

    /// The recorded usage, if the call ended and was metered.
    pub fn get(&self) -> Option<ReportedUsage> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// How the response cache treats one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheMode {
    /// Read and write (the default).
    #[default]
    On,
    /// Neither read nor write.
    Off,
    /// Read, never write.
    ReadOnly,
    /// Write, never read.
    WriteOnly,
}

/// Per-request cache options (library API; the gateway fills them from `Cache-Control`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheControl {
    /// Read/write mode.
    pub mode: CacheMode,
    /// Oldest cached answer a read accepts.
    pub max_age: Option<Duration>,
    /// Time to live of an entry written for this request (else the configured default).
    pub ttl: Option<Duration>,
    /// Cache a chat answer even though temperature is not 0.
    pub force: bool,
}

impl Default for RequestContext {
    fn default() -> Self {
        Self::with_id(new_request_id())
    }
}

impl RequestContext {
    /// A context with this request id (no new id is drawn) and no deadline.
    pub fn with_id(request_id: impl Into<String>) -> Self {
        Self {
            request_id: request_id.into(),
            deadline: None,
            cancel: CancellationToken::new(),
            api_key: None,
            key_id: None,
            team_id: None,
            end_user: None,
            usage: UsageReport::default(),
            cache: CacheControl::default(),
        }
    }
}

impl RequestContext {
    /// A context with a fresh id and no deadline.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the deadline `timeout` from now.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.deadline = Some(Instant::now() + timeout);
        self
    }

    /// Sets the request id.
    pub fn with_request_id(mut self, id: impl Into<String>) -> Self {
        self.request_id = id.into();
        self
    }

    /// The credential to send: the per-request key ([`RequestContext::api_key`], e.g. a key
    /// the router rotates) when set, else the provider's configured one.
    pub fn credential<'a>(&'a self, configured: Option<&'a Secret>) -> Option<&'a Secret> {
        self.api_key.as_ref().or(configured)
    }

    /// Time left before the deadline (`None`: no deadline).
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }
}

/// A random request id (`req_` + 24 hex digits).
pub fn new_request_id() -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let n: u128 = rand::random::<u128>() & ((1u128 << 96) - 1);
    let mut id = String::with_capacity(28);
    id.push_str("req_");
    for shift in (0..24).rev() {
        id.push(char::from(HEX[((n >> (shift * 4)) & 0xf) as usize]));
    }
    id
}

/// An LLM provider: one typed method per operation, [`Error::Unsupported`] by default.
///
/// Object-safe: the registry hands out `Arc<dyn Provider>`. The layers above providers
/// (metering, cache, router) implement [`Service`](crate::Service) instead;
/// [`ProviderService`](crate::ProviderService) adapts a provider to it.
#[async_trait]
pub trait Provider: Send + Sync + 'static {
    /// The instance name (`openai`, or a configured name such as `my-vllm`).
    fn name(&self) -> &str;

    /// What this provider can do.
    fn capabilities(&self) -> Capabilities;

    /// A chat answer.
    async fn chat(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatResponse>;

    /// A streamed chat answer. Returns `Ok` only after the upstream status was checked, so
    /// errors before the first event are classified exactly like [`Provider::chat`]'s.
    async fn chat_stream(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatStream>;

    /// A text completion. The default serves it over chat.
    async fn complete(
        &self,
        req: &CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<CompletionResponse> {
        check_completion_over_chat(self.name(), req)?;
        Ok(self.chat(&req.to_chat(), ctx).await?.into())
    }

    /// A streamed text completion (text deltas). The default serves it over chat.
    async fn complete_stream(
        &self,
        req: &CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        check_completion_over_chat(self.name(), req)?;
        self.chat_stream(&req.to_chat(), ctx).await
    }

    /// Embeddings, one vector per input in input order.
    async fn embed(
        &self,
        _req: &EmbeddingRequest,
        _ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        Err(Error::unsupported(self.name(), "embeddings"))
    }

    /// The input tokens of `req` as the upstream counts them, exactly and without generating
    /// (Anthropic's `POST /v1/messages/count_tokens`). The default, for upstreams that have no
    /// such endpoint, is [`Error::Unsupported`]; callers then estimate.
    async fn count_tokens(&self, _req: &ChatRequest, _ctx: &RequestContext) -> Result<u64> {
        Err(Error::unsupported(self.name(), "count_tokens"))
    }

    /// Documents ranked by relevance to a query, best first.
    async fn rerank(&self, _req: &RerankRequest, _ctx: &RequestContext) -> Result<RerankResponse> {
        Err(Error::unsupported(self.name(), "rerank"))
    }

    /// The static catalog of models this provider knows (may be empty).
    fn models(&self) -> Vec<ModelInfo> {
        Vec::new()
    }

    /// The models the provider lists right now. The default returns the static catalog.
    async fn list_models(&self, _ctx: &RequestContext) -> Result<Vec<ModelInfo>> {
        Ok(self.models())
    }

    /// Serves a call a layer re-targeted: [`Call::model`] is not the model its body names
    /// (the dispatcher's `provider/model`, a router deployment's own model id). The default
    /// copies the body with the call's model and calls the typed method; a provider whose
    /// request builders take the model apart from the body overrides it to send the call's
    /// model without that copy (provider-openai's compatible provider does). Only
    /// [`serve`] calls it.
    async fn serve_retargeted(&self, call: Call<'_>, ctx: &RequestContext) -> Result<Reply> {
        serve_copied(self, call, ctx).await
    }

    /// A probe that spends no tokens (by default, the live model listing).
    async fn health(&self, ctx: &RequestContext) -> Result<HealthStatus> {
        let start = Instant::now();
        let models = self.list_models(ctx).await?;
        Ok(HealthStatus {
            healthy: true,
            latency: start.elapsed(),
            detail: format!("{} models listed", models.len()),
        })
    }
}

/// Serves `call` with `p`'s typed methods.
///
/// A call whose model is its body's goes straight to the typed method
/// ([`Provider::chat`], [`Provider::chat_stream`], …). A re-targeted call
/// ([`Call::is_retargeted`]) goes to [`Provider::serve_retargeted`]: by default a copy of the
/// body with the call's model, or the provider's own way of sending another model without
/// one.
pub async fn serve<P: Provider + ?Sized>(
    p: &P,
    call: Call<'_>,
    ctx: &RequestContext,
) -> Result<Reply> {
    if call.is_retargeted() {
        return p.serve_retargeted(call, ctx).await;
    }
    typed(p, call, ctx).await
}

/// The typed method for `call` (its body's model is the one served).
async fn typed<P: Provider + ?Sized>(p: &P, call: Call<'_>, ctx: &RequestContext) -> Result<Reply> {
    Ok(match (call.op, call.stream) {
        (Op::Chat(r), false) => Reply::Chat(p.chat(r, ctx).await?),
        (Op::Chat(r), true) => Reply::Stream(p.chat_stream(r, ctx).await?),
        (Op::Complete(r), false) => Reply::Completion(p.complete(r, ctx).await?),
        (Op::Complete(r), true) => Reply::Stream(p.complete_stream(r, ctx).await?),
        (Op::Embed(r), _) => Reply::Embeddings(p.embed(r, ctx).await?),
        (Op::Rerank(r), _) => Reply::Rerank(p.rerank(r, ctx).await?),
        (Op::CountTokens(r), _) => Reply::Tokens(p.count_tokens(r, ctx).await?),
        (Op::ListModels, _) => Reply::Models(p.list_models(ctx).await?),
        (Op::Health, _) => Reply::Health(p.health(ctx).await?),
    })
}

/// What [`Provider::serve_retargeted`] does by default: the typed method, on a copy of the
/// body that names the call's model (the one copy a re-targeted call costs a provider that
/// cannot send another model without it). A provider that serves some operations of a
/// re-targeted call itself hands the others here.
pub async fn serve_copied<P: Provider + ?Sized>(
    p: &P,
    call: Call<'_>,
    ctx: &RequestContext,
) -> Result<Reply> {
    let model = call.model;
    match call.op {
        Op::Chat(r) => {
            let r = aimed(r, model, |r| &mut r.model);
            typed(
                p,
                Call {
                    op: Op::Chat(&r),
                    model,
                    ..call
                },
                ctx,
            )
            .await
        }
        Op::CountTokens(r) => {
            let r = aimed(r, model, |r| &mut r.model);
            typed(
                p,
                Call {
                    op: Op::CountTokens(&r),
                    model,
                    ..call
                },
                ctx,
            )
            .await
        }
        Op::Complete(r) => {
            let r = aimed(r, model, |r| &mut r.model);
            typed(
                p,
                Call {
                    op: Op::Complete(&r),
                    model,
                    ..call
                },
                ctx,
            )
            .await
        }
        Op::Embed(r) => {
            let r = aimed(r, model, |r| &mut r.model);
            typed(
                p,
                Call {
                    op: Op::Embed(&r),
                    model,
                    ..call
                },
                ctx,
            )
            .await
        }
        Op::Rerank(r) => {
            let r = aimed(r, model, |r| &mut r.model);
            typed(
                p,
                Call {
                    op: Op::Rerank(&r),
                    model,
                    ..call
                },
                ctx,
            )
            .await
        }
        Op::ListModels | Op::Health => typed(p, call, ctx).await,
    }
}

/// A provider whose request builders take the model apart from the body: each typed method has
/// a twin that sends `model` in place of the one the body names, so a re-targeted call (the
/// dispatcher's `provider/model`, a router deployment's own model id) is sent without a copy of
/// its body.
///
/// Implement [`ServeAs::chat_as`] and [`ServeAs::chat_stream_as`] (the typed
/// [`Provider::chat`] and [`Provider::chat_stream`] then forward with `&req.model`), the other
/// twins for the operations the provider serves natively, and hand re-targeted calls to
/// [`serve_as`]:
///
/// ```
/// use runtime_core::{
///     async_trait, Call, Capabilities, ChatRequest, ChatResponse, ChatStream, Error, Provider,
///     Reply, RequestContext, Result, ServeAs,
/// };
///
/// struct Echo;
///
/// #[async_trait]
/// impl ServeAs for Echo {
///     async fn chat_as(&self, _req: &ChatRequest, model: &str, _ctx: &RequestContext)
///         -> Result<ChatResponse> {
///         Err(Error::unsupported(model, "chat")) // build the wire body with `model` here
///     }
///     async fn chat_stream_as(&self, _req: &ChatRequest, model: &str, _ctx: &RequestContext)
///         -> Result<ChatStream> {
///         Err(Error::unsupported(model, "streaming"))
///     }
/// }
///
/// #[async_trait]
/// impl Provider for Echo {
///     fn name(&self) -> &str { "echo" }
///     fn capabilities(&self) -> Capabilities { Capabilities::new().chat(true) }
///     async fn chat(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatResponse> {
///         self.chat_as(req, &req.model, ctx).await
///     }
///     async fn chat_stream(&self, req: &ChatRequest, ctx: &RequestContext)
///         -> Result<ChatStream> {
///         self.chat_stream_as(req, &req.model, ctx).await
///     }
///     async fn serve_retargeted(&self, call: Call<'_>, ctx: &RequestContext) -> Result<Reply> {
///         runtime_core::serve_as(self, call, ctx).await
///     }
/// }
/// ```
///
/// The twins not overridden copy the body with `model` and call the typed method, so a
/// re-targeted call behaves exactly as a direct one whichever twins a provider writes.
#[async_trait]
pub trait ServeAs: Provider {
    /// `true` for a provider that keeps [`Provider::complete`]'s and
    /// [`Provider::complete_stream`]'s defaults (completions served over chat): the completion
    /// twins then go over [`ServeAs::chat_as`] and [`ServeAs::chat_stream_as`], with no copy of
    /// the request. Leave it `false` when the provider serves completions natively (and write
    /// the completion twins), or a re-targeted completion would take another path than a
    /// direct one.
    const COMPLETION_OVER_CHAT: bool = false;

    /// [`Provider::chat`] sending `model`.
    async fn chat_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatResponse>;

    /// [`Provider::chat_stream`] sending `model`.
    async fn chat_stream_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatStream>;

    /// [`Provider::complete`] sending `model`: over [`ServeAs::chat_as`] when
    /// [`ServeAs::COMPLETION_OVER_CHAT`], else on a copy of the body.
    async fn complete_as(
        &self,
        req: &CompletionRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<CompletionResponse> {
        if Self::COMPLETION_OVER_CHAT {
            check_completion_over_chat(self.name(), req)?;
            return Ok(self.chat_as(&req.to_chat(), model, ctx).await?.into());
        }
        self.complete(&aimed(req, model, |r| &mut r.model), ctx)
            .await
    }

    /// [`Provider::complete_stream`] sending `model`: over [`ServeAs::chat_stream_as`] when
    /// [`ServeAs::COMPLETION_OVER_CHAT`], else on a copy of the body.
    async fn complete_stream_as(
        &self,
        req: &CompletionRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        if Self::COMPLETION_OVER_CHAT {
            check_completion_over_chat(self.name(), req)?;
            return self.chat_stream_as(&req.to_chat(), model, ctx).await;
        }
        self.complete_stream(&aimed(req, model, |r| &mut r.model), ctx)
            .await
    }

    /// [`Provider::embed`] sending `model` (by default on a copy of the body).
    async fn embed_as(
        &self,
        req: &EmbeddingRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        self.embed(&aimed(req, model, |r| &mut r.model), ctx).await
    }

    /// [`Provider::rerank`] sending `model` (by default on a copy of the body).
    async fn rerank_as(
        &self,
        req: &RerankRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<RerankResponse> {
        self.rerank(&aimed(req, model, |r| &mut r.model), ctx).await
    }

    /// [`Provider::count_tokens`] sending `model` (by default on a copy of the body).
    async fn count_tokens_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<u64> {
        self.count_tokens(&aimed(req, model, |r| &mut r.model), ctx)
            .await
    }
}

/// Serves a re-targeted `call` with `p`'s [`ServeAs`] twins: what a [`ServeAs`] provider's
/// [`Provider::serve_retargeted`] returns.
pub async fn serve_as<P: ServeAs + ?Sized>(
    p: &P,
    call: Call<'_>,
    ctx: &RequestContext,
) -> Result<Reply> {
    let model = call.model;
    Ok(match (call.op, call.stream) {
        (Op::Chat(r), false) => Reply::Chat(p.chat_as(r, model, ctx).await?),
        (Op::Chat(r), true) => Reply::Stream(p.chat_stream_as(r, model, ctx).await?),
        (Op::Complete(r), false) => Reply::Completion(p.complete_as(r, model, ctx).await?),
        (Op::Complete(r), true) => Reply::Stream(p.complete_stream_as(r, model, ctx).await?),
        (Op::Embed(r), _) => Reply::Embeddings(p.embed_as(r, model, ctx).await?),
        (Op::Rerank(r), _) => Reply::Rerank(p.rerank_as(r, model, ctx).await?),
        (Op::CountTokens(r), _) => Reply::Tokens(p.count_tokens_as(r, model, ctx).await?),
        (Op::ListModels, _) | (Op::Health, _) => typed(p, call, ctx).await?,
    })
}

/// A copy of `body` naming `model`.
fn aimed<T: Clone>(body: &T, model: &str, set: impl FnOnce(&mut T) -> &mut String) -> T {
    let mut copy = body.clone();
    model.clone_into(set(&mut copy));
    copy
}

fn check_completion_over_chat(provider: &str, req: &CompletionRequest) -> Result<()> {
    if req.suffix.is_some() {
        return Err(Error::invalid_request(
            provider,
            &req.model,
            Some("suffix"),
            "suffix (fill-in-the-middle) cannot be expressed over chat",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod request_id_tests {
    use super::*;

    #[test]
    fn request_ids_are_req_and_24_lowercase_hex_digits_and_differ() {
        let a = new_request_id();
        let b = new_request_id();
        assert_ne!(a, b);
        for id in [&a, &b] {
            assert_eq!(id.len(), 28, "{id}");
            let hex = id.strip_prefix("req_").expect("req_ prefix");
            assert!(
                hex.bytes()
                    .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)),
                "{id}"
            );
        }
    }

    #[test]
    fn a_context_keeps_the_id_it_is_given() {
        assert_eq!(RequestContext::with_id("req_given").request_id, "req_given");
        assert!(RequestContext::new().request_id.starts_with("req_"));
    }
}
