//! The provider: `provider_openai::compat::CompatProvider` for transport, authentication,
//! extra headers and embeddings, with the preset's request builder, answer parser and stream
//! decoder for chat.

use std::sync::Arc;

use async_trait::async_trait;
use provider_openai::compat::{CompatProvider, Operation};
use runtime_core::http::HttpRequestSpec;
use runtime_core::{
    Call, Capabilities, ChatRequest, ChatResponse, ChatStream, CompletionRequest,
    CompletionResponse, EmbeddingRequest, EmbeddingResponse, Error, ModelInfo, Provider, Reply,
    RequestContext, Result, ServeAs,
};

use crate::preset::Preset;
use crate::request::{RequestSettings, chat_body};
use crate::stream::PresetDecoder;

/// One instance of a preset.
#[derive(Debug, Clone)]
pub struct PresetProvider {
    preset: &'static Preset,
    compat: CompatProvider,
    settings: Arc<RequestSettings>,
    name: Arc<str>,
}

impl PresetProvider {
    /// A provider over `compat` (its config carries URL, auth, headers, timeouts, catalog).
    pub fn new(preset: &'static Preset, compat: CompatProvider, settings: RequestSettings) -> Self {
        let name = compat.config().name.clone();
        Self {
            preset,
            compat,
            settings: Arc::new(settings),
            name,
        }
    }

    /// The preset it speaks.
    pub fn preset(&self) -> &'static Preset {
        self.preset
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
        let body = chat_body(self.preset, &self.settings, &self.name, req, model, stream)?;
        self.compat
            .post_spec(Operation::Chat, model, &body, stream, ctx)
    }

    fn no_suffix(&self, req: &CompletionRequest, model: &str) -> Result<()> {
        match req.suffix {
            Some(_) => Err(Error::invalid_request(
                &self.name,
                model,
                Some("suffix"),
                "completions are served over chat here; chat has no suffix",
            )),
            None => Ok(()),
        }
    }
}

/// The request builder takes the model apart from the body: a re-targeted call is sent as it
/// is, without a copy of its body.
#[async_trait]
impl ServeAs for PresetProvider {
    async fn chat_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatResponse> {
        let spec = self.chat_spec(req, model, false, ctx)?;
        let body = self.compat.send(spec, model, ctx).await?;
        crate::response::parse_chat(self.preset, &self.name, model, &body)
    }

    async fn chat_stream_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        if !self.capabilities().streaming {
            return Err(Error::unsupported(&self.name, "streaming"));
        }
        let spec = self.chat_spec(req, model, true, ctx)?;
        let decoder = PresetDecoder::new(self.preset, &self.name, model);
        self.compat.stream_with(spec, model, ctx, decoder).await
    }

    /// Served over chat (none of these APIs is used through `/completions` here).
    async fn complete_as(
        &self,
        req: &CompletionRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<CompletionResponse> {
        self.no_suffix(req, model)?;
        Ok(self.chat_as(&req.to_chat(), model, ctx).await?.into())
    }

    async fn complete_stream_as(
        &self,
        req: &CompletionRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        self.no_suffix(req, model)?;
        self.chat_stream_as(&req.to_chat(), model, ctx).await
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
impl Provider for PresetProvider {
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

    /// Served over chat (none of these APIs is used through `/completions` here).
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

    /// `GET {base_url}/models` where the API has one, else the static catalog.
    async fn list_models(&self, ctx: &RequestContext) -> Result<Vec<ModelInfo>> {
        if !self.capabilities().list_models {
            return Ok(self.models());
        }
        let body = self.compat.model_list_body(ctx).await?;
        crate::models::parse_models(&self.name, &self.compat.models(), &body)
    }
}
