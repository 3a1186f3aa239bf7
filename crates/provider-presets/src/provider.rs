//! The provider: `provider_openai::compat::CompatProvider` for transport, authentication,
//! extra headers and embeddings, with the preset's request builder, answer parser and stream
//! decoder for chat.

use std::sync::Arc;

use async_trait::async_trait;
use provider_openai::compat::{CompatProvider, Operation};
use runtime_core::http::HttpRequestSpec;
use runtime_core::{
    Capabilities, ChatRequest, ChatResponse, ChatStream, CompletionRequest, CompletionResponse,
    EmbeddingRequest, EmbeddingResponse, Error, ModelInfo, Provider, RequestContext, Result,
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

    /// The request spec of a chat call (pure apart from reading the config).
    pub fn chat_spec(
        &self,
        req: &ChatRequest,
        stream: bool,
        ctx: &RequestContext,
    ) -> Result<HttpRequestSpec> {
        self.compat.check_request(req)?;
        let body = chat_body(self.preset, &self.settings, &self.name, req, stream)?;
        self.compat
            .post_spec(Operation::Chat, &req.model, &body, stream, ctx)
    }

    fn no_suffix(&self, req: &CompletionRequest) -> Result<()> {
        match req.suffix {
            Some(_) => Err(Error::invalid_request(
                &self.name,
                &req.model,
                Some("suffix"),
                "completions are served over chat here; chat has no suffix",
            )),
            None => Ok(()),
        }
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
        let spec = self.chat_spec(req, false, ctx)?;
        let body = self.compat.send(spec, &req.model, ctx).await?;
        crate::response::parse_chat(self.preset, &self.name, &req.model, &body)
    }

    async fn chat_stream(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatStream> {
        if !self.capabilities().streaming {
            return Err(Error::unsupported(&self.name, "streaming"));
        }
        let spec = self.chat_spec(req, true, ctx)?;
        let decoder = PresetDecoder::new(self.preset, &self.name, &req.model);
        self.compat
            .stream_with(spec, &req.model, ctx, decoder)
            .await
    }

    /// Served over chat (none of these APIs is used through `/completions` here).
    async fn complete(
        &self,
        req: &CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<CompletionResponse> {
        self.no_suffix(req)?;
        Ok(self.chat(&req.to_chat(), ctx).await?.into())
    }

    async fn complete_stream(
        &self,
        req: &CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        self.no_suffix(req)?;
        self.chat_stream(&req.to_chat(), ctx).await
    }

    async fn embed(
        &self,
        req: &EmbeddingRequest,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        self.compat.embed(req, ctx).await
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
