//! Ollama's native API: `POST /api/chat` (NDJSON streaming), `POST /api/generate`,
//! `POST /api/embed`, `GET /api/tags`. Pure mapping functions, one module per job, plus the
//! provider.

mod embed;
mod generate;
mod models;
mod request;
mod response;
mod stream;

pub use embed::*;
pub use generate::*;
pub use models::*;
pub use request::*;
pub use response::*;
pub use stream::*;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use runtime_core::http::{
    ByteStream, CallInfo, HttpClient, HttpRequestSpec, NdjsonStream, map_status,
};
use runtime_core::{
    Call, Capabilities, ChatRequest, ChatResponse, ChatStream, CompletionRequest,
    CompletionResponse, EmbeddingRequest, EmbeddingResponse, ModelInfo, Provider, Reply,
    RequestContext, ResponseMeta, Result, Secret, ServeAs,
};

/// What the native Ollama provider can do.
/// Completion is `/api/generate`.
pub const CAPABILITIES: Capabilities = Capabilities::new()
    .chat(true)
    .streaming(true)
    .tools(true)
    .vision(true)
    .json_schema(true)
    .completion(true)
    .embeddings(true)
    .list_models(true);

/// The native Ollama provider.
#[derive(Debug, Clone)]
pub struct OllamaProvider {
    pub(crate) name: Arc<str>,
    pub(crate) root: String,
    pub(crate) key: Option<Secret>,
    pub(crate) timeout: Duration,
    pub(crate) stream_idle_timeout: Duration,
    pub(crate) catalog: Vec<ModelInfo>,
    pub(crate) http: HttpClient,
}

impl OllamaProvider {
    /// The server root (`http://localhost:11434`).
    pub fn root(&self) -> &str {
        &self.root
    }

    fn call(&self, model: &str, ctx: &RequestContext) -> CallInfo {
        let secret = ctx.api_key.clone().or_else(|| self.key.clone());
        let mut c = CallInfo::new(self.name.clone(), model, secret, self.timeout);
        c.idle_timeout = self.stream_idle_timeout;
        c.map_error = map_status;
        c
    }

    fn authorize(&self, spec: HttpRequestSpec, ctx: &RequestContext) -> HttpRequestSpec {
        match ctx.api_key.as_ref().or(self.key.as_ref()) {
            Some(k) => spec.bearer(k),
            None => spec,
        }
    }

    /// The request spec of a chat call for `model` (the body's or a re-targeted call's).
    pub fn chat_spec(
        &self,
        req: &ChatRequest,
        model: &str,
        stream: bool,
        ctx: &RequestContext,
    ) -> Result<HttpRequestSpec> {
        let body = chat_request(req, model, stream, &self.name)?;
        let spec = HttpRequestSpec::post_json(format!("{}/api/chat", self.root), &body);
        Ok(self.authorize(spec, ctx))
    }

    /// The request spec of an `/api/generate` call for `model`.
    fn generate_spec(
        &self,
        req: &CompletionRequest,
        model: &str,
        stream: bool,
        ctx: &RequestContext,
    ) -> Result<HttpRequestSpec> {
        let body = generate_request(req, model, stream, &self.name)?;
        let spec = HttpRequestSpec::post_json(format!("{}/api/generate", self.root), &body);
        Ok(self.authorize(spec, ctx))
    }

    /// Decodes an NDJSON stream of `/api/chat` or `/api/generate` answers from `model`.
    fn decode(&self, lines: NdjsonStream<ByteStream>, model: &str) -> ChatStream {
        ChatStream::decode_frames(lines, OllamaStreamDecoder::new(&self.name, model)).with_meta(
            ResponseMeta {
                provider: Some(self.name.to_string()),
                ..ResponseMeta::default()
            },
        )
    }
}

/// The request builders take the model apart from the body: a re-targeted call is sent as it
/// is, without a copy of its body.
#[async_trait]
impl ServeAs for OllamaProvider {
    async fn chat_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatResponse> {
        let spec = self.chat_spec(req, model, false, ctx)?;
        let call = self.call(model, ctx);
        let (body, _h): (OllamaChatResponse, _) =
            self.http.json(&call, spec, ctx, "chat response").await?;
        parse_chat(body, &self.name, model)
    }

    async fn chat_stream_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        let spec = self.chat_spec(req, model, true, ctx)?;
        let call = self.call(model, ctx);
        let (lines, _h) = self.http.ndjson(&call, spec, ctx).await?;
        Ok(self.decode(lines, model))
    }

    /// A text completion over `POST /api/generate` (`suffix` supported natively).
    async fn complete_as(
        &self,
        req: &CompletionRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<CompletionResponse> {
        let spec = self.generate_spec(req, model, false, ctx)?;
        let call = self.call(model, ctx);
        let (body, _h): (OllamaChatResponse, _) = self
            .http
            .json(&call, spec, ctx, "generate response")
            .await?;
        parse_generate(body, &self.name, model)
    }

    /// A streamed text completion over `POST /api/generate`.
    async fn complete_stream_as(
        &self,
        req: &CompletionRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        let spec = self.generate_spec(req, model, true, ctx)?;
        let call = self.call(model, ctx);
        let (lines, _h) = self.http.ndjson(&call, spec, ctx).await?;
        Ok(self.decode(lines, model))
    }

    async fn embed_as(
        &self,
        req: &EmbeddingRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        req.text_only(&self.name)?;
        if req.input.is_empty() {
            return Err(invalid(&self.name, model, "input", "no input texts"));
        }
        let body = embed_request(req, model, &self.name)?;
        let spec = self.authorize(
            HttpRequestSpec::post_json(format!("{}/api/embed", self.root), &body),
            ctx,
        );
        let call = self.call(model, ctx);
        let (body, _h): (OllamaEmbedResponse, _) =
            self.http.json(&call, spec, ctx, "embeddings").await?;
        parse_embed(body, req.input.len(), &self.name, model)
    }
}

#[async_trait]
impl Provider for OllamaProvider {
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

    /// A text completion over `POST /api/generate` (`suffix` supported natively).
    async fn complete(
        &self,
        req: &CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<CompletionResponse> {
        self.complete_as(req, &req.model, ctx).await
    }

    /// A streamed text completion over `POST /api/generate`.
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

    /// The configured `models` (static catalog).
    fn models(&self) -> Vec<ModelInfo> {
        self.catalog.clone()
    }

    /// `GET /api/tags`, live.
    async fn list_models(&self, ctx: &RequestContext) -> Result<Vec<ModelInfo>> {
        let spec = self.authorize(HttpRequestSpec::get(format!("{}/api/tags", self.root)), ctx);
        let call = self.call("", ctx);
        let (body, _h): (OllamaTags, _) = self.http.json(&call, spec, ctx, "model list").await?;
        Ok(parse_tags(body, &self.name))
    }
}
