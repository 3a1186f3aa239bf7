//! The provider: typed bodies from [`crate::wire`], sent through the shared client.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use runtime_core::http::{CallInfo, HttpClient, HttpRequestSpec, map_status};
use runtime_core::{
    Call, Capabilities, ChatRequest, ChatResponse, ChatStream, EmbeddingRequest, EmbeddingResponse,
    Error, ModelInfo, Provider, Reply, RequestContext, RerankRequest, RerankResponse, ResponseMeta,
    Result, Secret, ServeAs,
};

use crate::wire::{embed, models, request, rerank, response, stream::CohereDecoder};

/// What Cohere serves (completion over chat).
pub const CAPABILITIES: Capabilities = Capabilities::new()
    .chat(true)
    .streaming(true)
    .tools(true)
    .vision(true)
    .json_schema(true)
    .completion(true)
    .embeddings(true)
    .max_embedding_inputs(Some(96))
    .rerank(true)
    .list_models(true);

/// One Cohere instance.
#[derive(Debug, Clone)]
pub struct CohereProvider {
    pub(crate) name: Arc<str>,
    pub(crate) base_url: String,
    pub(crate) key: Secret,
    pub(crate) timeout: Duration,
    pub(crate) stream_idle_timeout: Duration,
    pub(crate) catalog: Vec<ModelInfo>,
    pub(crate) http: HttpClient,
}

impl CohereProvider {
    fn call(&self, model: &str, ctx: &RequestContext) -> CallInfo {
        let key = ctx.credential(Some(&self.key)).unwrap_or(&self.key).clone();
        let mut c = CallInfo::new(self.name.clone(), model, Some(key), self.timeout);
        c.idle_timeout = self.stream_idle_timeout;
        c.map_error = map_status;
        c
    }

    fn post(
        &self,
        path: &str,
        body: &impl serde::Serialize,
        ctx: &RequestContext,
    ) -> HttpRequestSpec {
        let key = ctx.credential(Some(&self.key)).unwrap_or(&self.key);
        HttpRequestSpec::post_json(format!("{}/{path}", self.base_url), body).bearer(key)
    }

    /// The request spec of a chat call for `model` (the body's or a re-targeted call's; pure
    /// apart from reading the config).
    pub fn chat_spec(
        &self,
        req: &ChatRequest,
        model: &str,
        stream: bool,
        ctx: &RequestContext,
    ) -> Result<HttpRequestSpec> {
        let body = request::chat_request(req, model, &self.name, stream)?;
        let spec = self.post("v2/chat", &body, ctx);
        Ok(if stream {
            spec.header("accept", "text/event-stream")
        } else {
            spec
        })
    }
}

/// The wire builders take the model apart from the body: a re-targeted call is sent as it is,
/// without a copy of its body.
#[async_trait]
impl ServeAs for CohereProvider {
    // Completions are served over chat (the default `complete`), re-targeted ones too.
    const COMPLETION_OVER_CHAT: bool = true;

    async fn chat_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatResponse> {
        let spec = self.chat_spec(req, model, false, ctx)?;
        let (body, _h) = self.http.bytes(&self.call(model, ctx), spec, ctx).await?;
        response::parse_chat(&body, &self.name, model)
    }

    async fn chat_stream_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        let spec = self.chat_spec(req, model, true, ctx)?;
        let (sse, _h) = self.http.sse(&self.call(model, ctx), spec, ctx).await?;
        Ok(
            ChatStream::decode_sse(sse, CohereDecoder::new(&self.name, model)).with_meta(
                ResponseMeta {
                    provider: Some(self.name.to_string()),
                    ..ResponseMeta::default()
                },
            ),
        )
    }

    async fn embed_as(
        &self,
        req: &EmbeddingRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        if req.input.is_empty() {
            return Err(Error::invalid_request(
                &self.name,
                model,
                Some("input"),
                "no input texts",
            ));
        }
        let body = embed::embed_request(req, model, &self.name)?;
        let spec = self.post("v2/embed", &body, ctx);
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
        let spec = self.post("v2/rerank", &body, ctx);
        let (bytes, _h) = self.http.bytes(&self.call(model, ctx), spec, ctx).await?;
        rerank::parse_rerank(&bytes, req, model, &self.name)
    }
}

#[async_trait]
impl Provider for CohereProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    async fn chat(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatResponse> {
        self.chat_as(req, &req.model, ctx).await
    }

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

    /// `GET /v1/models` (one page, up to 1000 models).
    async fn list_models(&self, ctx: &RequestContext) -> Result<Vec<ModelInfo>> {
        let key = ctx.credential(Some(&self.key)).unwrap_or(&self.key);
        let spec =
            HttpRequestSpec::get(format!("{}/v1/models?page_size=1000", self.base_url)).bearer(key);
        let (body, _h) = self.http.bytes(&self.call("", ctx), spec, ctx).await?;
        models::parse_models(&body, &self.name)
    }
}
