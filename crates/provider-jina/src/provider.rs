//! The provider: typed bodies from [`crate::wire`], sent through the shared client.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use runtime_core::http::{CallInfo, HttpClient, HttpRequestSpec, map_status};
use runtime_core::{
    Call, Capabilities, ChatRequest, ChatResponse, ChatStream, EmbeddingRequest, EmbeddingResponse,
    Error, ModelInfo, Provider, Reply, RequestContext, RerankRequest, RerankResponse, Result,
    Secret, ServeAs,
};

use crate::wire::{embed, rerank};

/// What Jina serves through this provider: rerank and embeddings, no chat.
pub const CAPABILITIES: Capabilities = Capabilities::new()
    .embeddings(true)
    .max_embedding_inputs(Some(2048))
    .rerank(true);

/// One Jina instance.
#[derive(Debug, Clone)]
pub struct JinaProvider {
    pub(crate) name: Arc<str>,
    pub(crate) base_url: String,
    pub(crate) key: Secret,
    pub(crate) timeout: Duration,
    pub(crate) catalog: Vec<ModelInfo>,
    pub(crate) http: HttpClient,
}

impl JinaProvider {
    fn call(&self, model: &str, ctx: &RequestContext) -> CallInfo {
        let key = ctx.credential(Some(&self.key)).unwrap_or(&self.key).clone();
        let mut c = CallInfo::new(self.name.clone(), model, Some(key), self.timeout);
        c.map_error = map_status;
        c
    }

    /// The request spec of a `POST {base_url}/{path}` call.
    pub fn post(
        &self,
        path: &str,
        body: &impl serde::Serialize,
        ctx: &RequestContext,
    ) -> HttpRequestSpec {
        let key = ctx.credential(Some(&self.key)).unwrap_or(&self.key);
        HttpRequestSpec::post_json(format!("{}/{path}", self.base_url), body)
            .bearer(key)
            .header("accept", "application/json")
    }
}

/// The wire builders take the model apart from the body: a re-targeted call is sent as it is,
/// without a copy of its body.
#[async_trait]
impl ServeAs for JinaProvider {
    /// Jina serves no chat through this provider.
    async fn chat_as(
        &self,
        _req: &ChatRequest,
        _model: &str,
        _ctx: &RequestContext,
    ) -> Result<ChatResponse> {
        Err(Error::unsupported(&self.name, "chat"))
    }

    /// Jina serves no chat through this provider.
    async fn chat_stream_as(
        &self,
        _req: &ChatRequest,
        _model: &str,
        _ctx: &RequestContext,
    ) -> Result<ChatStream> {
        Err(Error::unsupported(&self.name, "chat"))
    }

    async fn embed_as(
        &self,
        req: &EmbeddingRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        let body = embed::embed_request(req, model, &self.name)?;
        let spec = self.post("embeddings", &body, ctx);
        let (bytes, _h) = self.http.bytes(&self.call(model, ctx), spec, ctx).await?;
        embed::parse_embed(&bytes, req.input.len(), &self.name, model)
    }

    async fn rerank_as(
        &self,
        req: &RerankRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<RerankResponse> {
        let body = rerank::rerank_request(req, model, &self.name)?;
        let spec = self.post("rerank", &body, ctx);
        let (bytes, _h) = self.http.bytes(&self.call(model, ctx), spec, ctx).await?;
        rerank::parse_rerank(&bytes, req, model, &self.name)
    }
}

#[async_trait]
impl Provider for JinaProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    /// Jina serves no chat through this provider.
    async fn chat(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatResponse> {
        self.chat_as(req, &req.model, ctx).await
    }

    /// Jina serves no chat through this provider.
    async fn chat_stream(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatStream> {
        self.chat_stream_as(req, &req.model, ctx).await
    }

    async fn embed(
        &self,
        req: &EmbeddingRequest,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        self.embed_as(req, &req.model, ctx).await
    }

    async fn rerank(&self, req: &RerankRequest, ctx: &RequestContext) -> Result<RerankResponse> {
        self.rerank_as(req, &req.model, ctx).await
    }

    async fn serve_retargeted(&self, call: Call<'_>, ctx: &RequestContext) -> Result<Reply> {
        runtime_core::serve_as(self, call, ctx).await
    }

    fn models(&self) -> Vec<ModelInfo> {
        self.catalog.clone()
    }
}
