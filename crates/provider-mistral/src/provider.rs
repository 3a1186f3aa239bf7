//! The provider: `provider_openai::compat::CompatProvider` for transport, authentication and
//! embeddings; Mistral's request quirks ([`crate::wire`]) for chat; FIM for Codestral
//! completions; its own model listing.

use std::sync::Arc;

use async_trait::async_trait;
use provider_openai::compat::{Auth, CompatProvider, Operation};
use provider_openai::wire::{self, ChunkDecoder};
use runtime_core::http::{CallInfo, HttpClient, HttpRequestSpec};
use runtime_core::{
    Capabilities, ChatRequest, ChatResponse, ChatStream, CompletionRequest, CompletionResponse,
    EmbeddingRequest, EmbeddingResponse, Error, Message, ModelInfo, Provider, RequestContext,
    ResponseMeta, Result,
};

/// One Mistral instance.
#[derive(Debug, Clone)]
pub struct MistralProvider {
    compat: CompatProvider,
    http: HttpClient,
    name: Arc<str>,
    base_url: String,
}

impl MistralProvider {
    /// A provider over `compat` (URL, key, timeouts, catalog) at `base_url` (`…/v1`).
    pub fn new(compat: CompatProvider, base_url: &str, http: HttpClient) -> Self {
        let name = compat.config().name.clone();
        Self {
            compat,
            http,
            name,
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// The transport underneath.
    pub fn compat(&self) -> &CompatProvider {
        &self.compat
    }

    fn call(&self, model: &str, ctx: &RequestContext) -> CallInfo {
        let cfg = self.compat.config();
        let secret = ctx.api_key.clone().or_else(|| match &cfg.auth {
            Auth::None => None,
            Auth::Bearer(s) | Auth::Header(_, s) => Some(s.clone()),
        });
        let mut c = CallInfo::new(self.name.clone(), model, secret, cfg.timeout);
        c.idle_timeout = cfg.stream_idle_timeout;
        c.map_error = cfg.map_error;
        c
    }

    fn check(&self, req: &ChatRequest) -> Result<()> {
        let caps = self.compat.capabilities();
        if !caps.vision
            && req.messages.iter().any(|m| match m {
                Message::User { content, .. } => content.has_image(),
                _ => false,
            })
        {
            return Err(Error::unsupported(&self.name, "image input"));
        }
        Ok(())
    }

    /// The request spec of a chat call (pure apart from reading the config).
    pub fn chat_spec(
        &self,
        req: &ChatRequest,
        stream: bool,
        ctx: &RequestContext,
    ) -> Result<HttpRequestSpec> {
        self.check(req)?;
        let url = (self.compat.config().url)(Operation::Chat, &req.model)?;
        let body = crate::wire::chat_body(&self.name, req, stream, self.compat.config().request)?;
        let mut spec = HttpRequestSpec::post_json(url, &body);
        if stream {
            spec = spec.header("accept", "text/event-stream");
        }
        Ok(self.compat.authorize(spec, ctx))
    }

    /// The request spec of a FIM call.
    pub fn fim_spec(
        &self,
        req: &CompletionRequest,
        stream: bool,
        ctx: &RequestContext,
    ) -> Result<HttpRequestSpec> {
        let body = crate::wire::fim_request(&self.name, req, stream)?;
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
        let call = self.call(model, ctx);
        let (body, _h): (wire::ChatCompletion, _) =
            self.http.json(&call, spec, ctx, "chat completion").await?;
        wire::parse_chat(body, &self.name, model)
    }

    async fn stream(
        &self,
        spec: HttpRequestSpec,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        let call = self.call(model, ctx);
        let (sse, _h) = self.http.sse(&call, spec, ctx).await?;
        Ok(
            ChatStream::decode_sse(sse, ChunkDecoder::new(&self.name, model)).with_meta(
                ResponseMeta {
                    provider: Some(self.name.to_string()),
                    ..ResponseMeta::default()
                },
            ),
        )
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
        let spec = self.chat_spec(req, false, ctx)?;
        self.chat_completion(spec, &req.model, ctx).await
    }

    async fn chat_stream(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatStream> {
        let spec = self.chat_spec(req, true, ctx)?;
        self.stream(spec, &req.model, ctx).await
    }

    /// Codestral models and requests with a `suffix` go to `/v1/fim/completions`; the others
    /// are served over chat.
    async fn complete(
        &self,
        req: &CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<CompletionResponse> {
        if !crate::wire::uses_fim(req) {
            return Ok(self.chat(&req.to_chat(), ctx).await?.into());
        }
        let spec = self.fim_spec(req, false, ctx)?;
        Ok(self.chat_completion(spec, &req.model, ctx).await?.into())
    }

    async fn complete_stream(
        &self,
        req: &CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        if !crate::wire::uses_fim(req) {
            return self.chat_stream(&req.to_chat(), ctx).await;
        }
        let spec = self.fim_spec(req, true, ctx)?;
        self.stream(spec, &req.model, ctx).await
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

    /// `GET /v1/models`, with context lengths and capabilities.
    async fn list_models(&self, ctx: &RequestContext) -> Result<Vec<ModelInfo>> {
        let url = (self.compat.config().url)(Operation::Models, "")?;
        let spec = self.compat.authorize(HttpRequestSpec::get(url), ctx);
        let call = self.call("", ctx);
        let (body, _h) = self.http.bytes(&call, spec, ctx).await?;
        crate::models::parse_models(&self.name, "", &body)
    }
}
