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

use runtime_core::http::{CallInfo, HttpClient, HttpRequestSpec, map_status};
use runtime_core::{
    Capabilities, ChatRequest, ChatResponse, ChatStream, EmbeddingRequest, EmbeddingResponse,
    ModelInfo, Provider, RequestContext, ResponseMeta, Result, Secret,
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

    /// The request spec of a chat call.
    pub fn chat_spec(
        &self,
        req: &ChatRequest,
        stream: bool,
        ctx: &RequestContext,
    ) -> Result<HttpRequestSpec> {
        let body = chat_request(req, stream, &self.name)?;
        let spec = HttpRequestSpec::post_json(format!("{}/api/chat", self.root), &body);
        Ok(self.authorize(spec, ctx))
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
        let spec = self.chat_spec(req, false, ctx)?;
        let call = self.call(&req.model, ctx);
        let (body, _h): (OllamaChatResponse, _) =
            self.http.json(&call, spec, ctx, "chat response").await?;
        parse_chat(body, &self.name, &req.model)
    }

    async fn chat_stream(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatStream> {
        let spec = self.chat_spec(req, true, ctx)?;
        let call = self.call(&req.model, ctx);
        let (lines, _h) = self.http.ndjson(&call, spec, ctx).await?;
        Ok(
            ChatStream::decode_frames(lines, OllamaStreamDecoder::new(&self.name, &req.model))
                .with_meta(ResponseMeta {
                    provider: Some(self.name.to_string()),
                    ..ResponseMeta::default()
                }),
        )
    }

    /// A text completion over `POST /api/generate` (`suffix` supported natively).
    async fn complete(
        &self,
        req: &runtime_core::CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<runtime_core::CompletionResponse> {
        let body = generate_request(req, false, &self.name)?;
        let spec = self.authorize(
            HttpRequestSpec::post_json(format!("{}/api/generate", self.root), &body),
            ctx,
        );
        let call = self.call(&req.model, ctx);
        let (body, _h): (OllamaChatResponse, _) = self
            .http
            .json(&call, spec, ctx, "generate response")
            .await?;
        parse_generate(body, &self.name, &req.model)
    }

    /// A streamed text completion over `POST /api/generate`.
    async fn complete_stream(
        &self,
        req: &runtime_core::CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        let body = generate_request(req, true, &self.name)?;
        let spec = self.authorize(
            HttpRequestSpec::post_json(format!("{}/api/generate", self.root), &body),
            ctx,
        );
        let call = self.call(&req.model, ctx);
        let (lines, _h) = self.http.ndjson(&call, spec, ctx).await?;
        Ok(
            ChatStream::decode_frames(lines, OllamaStreamDecoder::new(&self.name, &req.model))
                .with_meta(ResponseMeta {
                    provider: Some(self.name.to_string()),
                    ..ResponseMeta::default()
                }),
        )
    }

    async fn embed(
        &self,
        req: &EmbeddingRequest,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        req.text_only(&self.name)?;
        if req.input.is_empty() {
            return Err(invalid(&self.name, &req.model, "input", "no input texts"));
        }
        let body = embed_request(req, &self.name)?;
        let spec = self.authorize(
            HttpRequestSpec::post_json(format!("{}/api/embed", self.root), &body),
            ctx,
        );
        let call = self.call(&req.model, ctx);
        let (body, _h): (OllamaEmbedResponse, _) =
            self.http.json(&call, spec, ctx, "embeddings").await?;
        parse_embed(body, req.input.len(), &self.name, &req.model)
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
