//! The provider: `provider_openai::compat::CompatProvider` for transport, authentication,
//! extra headers and embeddings, with the preset's request builder, answer parser and stream
//! decoder for chat.

use std::sync::Arc;

use async_trait::async_trait;
use provider_openai::compat::{Auth, CompatProvider, Operation};
use runtime_core::http::{CallInfo, HttpClient, HttpRequestSpec};
use runtime_core::{
    Capabilities, ChatRequest, ChatResponse, ChatStream, CompletionRequest, CompletionResponse,
    EmbeddingRequest, EmbeddingResponse, Error, Message, ModelInfo, Provider, RequestContext,
    ResponseMeta, Result,
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
    http: HttpClient,
    name: Arc<str>,
}

impl PresetProvider {
    /// A provider over `compat` (its config carries URL, auth, headers, timeouts, catalog).
    pub fn new(
        preset: &'static Preset,
        compat: CompatProvider,
        settings: RequestSettings,
        http: HttpClient,
    ) -> Self {
        let name = compat.config().name.clone();
        Self {
            preset,
            compat,
            settings: Arc::new(settings),
            http,
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

    fn check(&self, req: &ChatRequest) -> Result<()> {
        let caps = self.compat.capabilities();
        if !caps.tools && !req.tools.is_empty() {
            return Err(Error::unsupported(&self.name, "tools"));
        }
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
        let body = chat_body(self.preset, &self.settings, &self.name, req, stream)?;
        let mut spec = HttpRequestSpec::post_json(url, &body);
        if stream {
            spec = spec.header("accept", "text/event-stream");
        }
        Ok(self.compat.authorize(spec, ctx))
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
        let call = self.call(&req.model, ctx);
        let (body, _h) = self.http.bytes(&call, spec, ctx).await?;
        crate::response::parse_chat(self.preset, &self.name, &req.model, &body)
    }

    async fn chat_stream(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatStream> {
        if !self.capabilities().streaming {
            return Err(Error::unsupported(&self.name, "streaming"));
        }
        let spec = self.chat_spec(req, true, ctx)?;
        let call = self.call(&req.model, ctx);
        let (sse, _h) = self.http.sse(&call, spec, ctx).await?;
        let decoder = PresetDecoder::new(self.preset, &self.name, &req.model);
        Ok(
            ChatStream::decode_sse(sse, decoder).with_meta(ResponseMeta {
                provider: Some(self.name.to_string()),
                ..ResponseMeta::default()
            }),
        )
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
        let url = (self.compat.config().url)(Operation::Models, "")?;
        let spec = self.compat.authorize(HttpRequestSpec::get(url), ctx);
        let call = self.call("", ctx);
        let (body, _h) = self.http.bytes(&call, spec, ctx).await?;
        crate::models::parse_models(&self.name, &self.compat.models(), &body)
    }
}
