//! The provider: `provider_openai::compat::CompatProvider` for transport, authentication and
//! embeddings; Mistral's request quirks ([`crate::wire`]) for chat; FIM for Codestral
//! completions; its own model listing.

use std::sync::Arc;

use async_trait::async_trait;
use provider_openai::compat::{CompatProvider, Operation};
use provider_openai::wire::{self, ChunkDecoder};
use runtime_core::http::HttpRequestSpec;
use runtime_core::{
    Call, Capabilities, ChatRequest, ChatResponse, ChatStream, CompletionRequest,
    CompletionResponse, EmbeddingRequest, EmbeddingResponse, ModelInfo, Provider, Reply,
    RequestContext, Result, ServeAs,
};

/// One Mistral instance.
#[derive(Debug, Clone)]
pub struct MistralProvider {
    compat: CompatProvider,
    name: Arc<str>,
    base_url: String,
}

impl MistralProvider {
    /// A provider over `compat` (URL, key, timeouts, catalog) at `base_url` (`…/v1`).
    pub fn new(compat: CompatProvider, base_url: &str) -> Self {
        let name = compat.config().name.clone();
        Self {
            compat,
            name,
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// The transport underneath.
    pub fn compat(&self) -> &CompatProvider {
        &self.compat
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
        self.compat.check_request(req)?;
        let opts = self.compat.config().request;
        let body = crate::wire::chat_body(&self.name, req, model, stream, opts)?;
        self.compat
            .post_spec(Operation::Chat, model, &body, stream, ctx)
    }

    /// The request spec of a FIM call for `model` (the body's or a re-targeted call's).
    pub fn fim_spec(
        &self,
        req: &CompletionRequest,
        model: &str,
        stream: bool,
        ctx: &RequestContext,
    ) -> Result<HttpRequestSpec> {
        let body = crate::wire::fim_request(&self.name, req, model, stream)?;
        let url = format!("{}/fim/completions", self.base_url);
        let mut spec = HttpRequestSpec::post_json(url, &body);
        if stream {
            spec = spec.header("accept", "text/event-stream");
        }
        Ok(self.compat.authorize(spec, ctx))
    }

    async fn chat_completion(
        &self,
        spec: HttpRequestSpec,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatResponse> {
        let body: wire::ChatCompletion = self
            .compat
            .send_json(spec, model, ctx, "chat completion")
            .await?;
        wire::parse_chat(body, &self.name, model)
    }

    async fn stream(
        &self,
        spec: HttpRequestSpec,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        let decoder = ChunkDecoder::new(&self.name, model);
        self.compat.stream_with(spec, model, ctx, decoder).await
    }
}

/// The request builders take the model apart from the body: a re-targeted call is sent as it
/// is, without a copy of its body.
#[async_trait]
impl ServeAs for MistralProvider {
    async fn chat_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatResponse> {
        let spec = self.chat_spec(req, model, false, ctx)?;
        self.chat_completion(spec, model, ctx).await
    }

    async fn chat_stream_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        let spec = self.chat_spec(req, model, true, ctx)?;
        self.stream(spec, model, ctx).await
    }

    /// Codestral models and requests with a `suffix` go to `/v1/fim/completions`; the others
    /// are served over chat.
    async fn complete_as(
        &self,
        req: &CompletionRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<CompletionResponse> {
        if !crate::wire::uses_fim(req, model) {
            return Ok(self.chat_as(&req.to_chat(), model, ctx).await?.into());
        }
        let spec = self.fim_spec(req, model, false, ctx)?;
        Ok(self.chat_completion(spec, model, ctx).await?.into())
    }

    async fn complete_stream_as(
        &self,
        req: &CompletionRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        if !crate::wire::uses_fim(req, model) {
            return self.chat_stream_as(&req.to_chat(), model, ctx).await;
        }
        let spec = self.fim_spec(req, model, true, ctx)?;
        self.stream(spec, model, ctx).await
    }

    async fn embed_as(
        &self,
        req: &EmbeddingRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        self.compat.embed_as(req, model, ctx).await
    }
}

#[async_trait]
impl Provider for MistralProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        self.compat.capabilities()
    }

    async fn chat(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatResponse> {
        self.chat_as(req, &req.model, ctx).await
    }

    async fn chat_stream(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatStream> {
        self.chat_stream_as(req, &req.model, ctx).await
    }

    /// Codestral models and requests with a `suffix` go to `/v1/fim/completions`; the others
    /// are served over chat.
    async fn complete(
        &self,
        req: &CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<CompletionResponse> {
        self.complete_as(req, &req.model, ctx).await
    }

    async fn complete_stream(
        &self,
        req: &CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        self.complete_stream_as(req, &req.model, ctx).await
    }

    async fn embed(
        &self,
        req: &EmbeddingRequest,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        self.embed_as(req, &req.model, ctx).await
    }

    async fn serve_retargeted(&self, call: Call<'_>, ctx: &RequestContext) -> Result<Reply> {
        runtime_core::serve_as(self, call, ctx).await
    }

    fn models(&self) -> Vec<ModelInfo> {
        self.compat.models()
    }

    /// `GET /v1/models`, with context lengths and capabilities.
    async fn list_models(&self, ctx: &RequestContext) -> Result<Vec<ModelInfo>> {
        let body = self.compat.model_list_body(ctx).await?;
        crate::models::parse_models(&self.name, "", &body)
    }
}
