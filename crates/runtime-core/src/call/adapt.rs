//! The two adapters between the typed world and calls as data, each in one place: a
//! [`Provider`] served as a [`Service`] ([`serve`], [`ProviderService`]), and a typed front
//! over any service ([`ServiceExt`]).

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;

use super::{Call, Failure, FromReply, Reply, Service};
use crate::error::Result;
use crate::provider::{Capabilities, HealthStatus, Provider, RequestContext, serve};
use crate::stream::ChatStream;
use crate::types::{
    ChatRequest, ChatResponse, CompletionRequest, CompletionResponse, EmbeddingRequest,
    EmbeddingResponse, ModelInfo, RerankRequest, RerankResponse,
};

/// A [`Provider`] as a [`Service`]: the one adapter between the typed per-operation methods
/// provider authors write and the contract the layers share.
pub struct ProviderService<P: ?Sized = dyn Provider>(pub Arc<P>);

impl<P: Provider + ?Sized> ProviderService<P> {
    /// `provider`, served through the contract.
    pub fn new(provider: Arc<P>) -> Self {
        Self(provider)
    }
}

impl ProviderService {
    /// `provider` as a shared service (what a stack or a router deployment holds).
    pub fn shared(provider: Arc<dyn Provider>) -> Arc<dyn Service> {
        Arc::new(Self(provider))
    }
}

impl<P: ?Sized> std::fmt::Debug for ProviderService<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProviderService")
    }
}

#[async_trait]
impl<P: Provider + ?Sized> Service for ProviderService<P> {
    fn name(&self) -> &str {
        self.0.name()
    }

    fn capabilities(&self) -> Capabilities {
        self.0.capabilities()
    }

    fn models(&self) -> Vec<ModelInfo> {
        self.0.models()
    }

    async fn call(&self, call: Call<'_>, ctx: &RequestContext) -> Result<Reply, Failure> {
        serve(&*self.0, call, ctx).await.map_err(Failure::from)
    }
}

/// The typed front over any [`Service`]: the operations as methods, for callers (the
/// gateway, library users, tests). Every service has it.
///
/// The per-operation methods return the plain [`Error`](crate::Error); [`ServiceExt::call_typed`]
/// keeps the [`Failure`], with the route of a failed routed call.
pub trait ServiceExt: Service {
    /// `call`'s answer as `T`, or its failure (with the route).
    fn call_typed<'a, T: FromReply>(
        &'a self,
        call: Call<'a>,
        ctx: &'a RequestContext,
    ) -> impl Future<Output = Result<T, Failure>> + Send + 'a {
        async move {
            let reply = self.call(call, ctx).await?;
            T::from_reply(reply).map_err(Failure::from)
        }
    }

    /// A chat answer.
    fn chat<'a>(
        &'a self,
        req: &'a ChatRequest,
        ctx: &'a RequestContext,
    ) -> impl Future<Output = Result<ChatResponse>> + Send + 'a {
        typed_call(self, Call::chat(req), ctx)
    }

    /// A streamed chat answer.
    fn chat_stream<'a>(
        &'a self,
        req: &'a ChatRequest,
        ctx: &'a RequestContext,
    ) -> impl Future<Output = Result<ChatStream>> + Send + 'a {
        typed_call(self, Call::chat_stream(req), ctx)
    }

    /// A text completion.
    fn complete<'a>(
        &'a self,
        req: &'a CompletionRequest,
        ctx: &'a RequestContext,
    ) -> impl Future<Output = Result<CompletionResponse>> + Send + 'a {
        typed_call(self, Call::complete(req), ctx)
    }

    /// A streamed text completion.
    fn complete_stream<'a>(
        &'a self,
        req: &'a CompletionRequest,
        ctx: &'a RequestContext,
    ) -> impl Future<Output = Result<ChatStream>> + Send + 'a {
        typed_call(self, Call::complete_stream(req), ctx)
    }

    /// Embeddings.
    fn embed<'a>(
        &'a self,
        req: &'a EmbeddingRequest,
        ctx: &'a RequestContext,
    ) -> impl Future<Output = Result<EmbeddingResponse>> + Send + 'a {
        typed_call(self, Call::embed(req), ctx)
    }

    /// A ranking.
    fn rerank<'a>(
        &'a self,
        req: &'a RerankRequest,
        ctx: &'a RequestContext,
    ) -> impl Future<Output = Result<RerankResponse>> + Send + 'a {
        typed_call(self, Call::rerank(req), ctx)
    }

    /// The input tokens of a chat request.
    fn count_tokens<'a>(
        &'a self,
        req: &'a ChatRequest,
        ctx: &'a RequestContext,
    ) -> impl Future<Output = Result<u64>> + Send + 'a {
        typed_call(self, Call::count_tokens(req), ctx)
    }

    /// The live model listing.
    fn list_models<'a>(
        &'a self,
        ctx: &'a RequestContext,
    ) -> impl Future<Output = Result<Vec<ModelInfo>>> + Send + 'a {
        typed_call(self, Call::list_models(), ctx)
    }

    /// A health probe.
    fn health<'a>(
        &'a self,
        ctx: &'a RequestContext,
    ) -> impl Future<Output = Result<HealthStatus>> + Send + 'a {
        typed_call(self, Call::health(), ctx)
    }
}

impl<S: Service + ?Sized> ServiceExt for S {}

async fn typed_call<S: Service + ?Sized, T: FromReply>(
    s: &S,
    call: Call<'_>,
    ctx: &RequestContext,
) -> Result<T> {
    T::from_reply(s.call(call, ctx).await?)
}

/// A typed front over a stack that keeps the [`Failure`] of a failed call, with its route:
/// what a caller that reports routes holds (the gateway answers them as headers). Cheap to
/// clone.
#[derive(Clone)]
pub struct Client(Arc<dyn Service>);

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Client").field(&self.0.name()).finish()
    }
}

impl Client {
    /// A client of `service`.
    pub fn new(service: Arc<dyn Service>) -> Self {
        Self(service)
    }

    /// The service it calls.
    pub fn service(&self) -> &Arc<dyn Service> {
        &self.0
    }

    /// A chat answer.
    pub async fn chat(
        &self,
        req: &ChatRequest,
        ctx: &RequestContext,
    ) -> Result<ChatResponse, Failure> {
        self.0.call_typed(Call::chat(req), ctx).await
    }

    /// A streamed chat answer.
    pub async fn chat_stream(
        &self,
        req: &ChatRequest,
        ctx: &RequestContext,
    ) -> Result<ChatStream, Failure> {
        self.0.call_typed(Call::chat_stream(req), ctx).await
    }

    /// A text completion.
    pub async fn complete(
        &self,
        req: &CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<CompletionResponse, Failure> {
        self.0.call_typed(Call::complete(req), ctx).await
    }

    /// A streamed text completion.
    pub async fn complete_stream(
        &self,
        req: &CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<ChatStream, Failure> {
        self.0.call_typed(Call::complete_stream(req), ctx).await
    }

    /// Embeddings.
    pub async fn embed(
        &self,
        req: &EmbeddingRequest,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse, Failure> {
        self.0.call_typed(Call::embed(req), ctx).await
    }

    /// A ranking.
    pub async fn rerank(
        &self,
        req: &RerankRequest,
        ctx: &RequestContext,
    ) -> Result<RerankResponse, Failure> {
        self.0.call_typed(Call::rerank(req), ctx).await
    }

    /// The input tokens of a chat request.
    pub async fn count_tokens(
        &self,
        req: &ChatRequest,
        ctx: &RequestContext,
    ) -> Result<u64, Failure> {
        self.0.call_typed(Call::count_tokens(req), ctx).await
    }

    /// The live model listing.
    pub async fn list_models(&self, ctx: &RequestContext) -> Result<Vec<ModelInfo>, Failure> {
        self.0.call_typed(Call::list_models(), ctx).await
    }

    /// A health probe.
    pub async fn health(&self, ctx: &RequestContext) -> Result<HealthStatus, Failure> {
        self.0.call_typed(Call::health(), ctx).await
    }
}
