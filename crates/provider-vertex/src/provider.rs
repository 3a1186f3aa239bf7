//! The Vertex AI provider: Gemini over provider-google's wire, Claude over
//! provider-anthropic's wire, text embeddings over `:predict`; one bearer token source.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use provider_anthropic::wire as claude;
use provider_google::wire as gemini;
use runtime_core::http::{CallInfo, ErrorMapper, HttpClient, HttpRequestSpec};
use runtime_core::{
    Call, Capabilities, ChatRequest, ChatResponse, ChatStream, EmbeddingRequest, EmbeddingResponse,
    Error, HealthStatus, ModelInfo, Provider, Reply, RequestContext, ResponseMeta, Result, Secret,
    ServeAs,
};

use crate::auth::TokenSource;
use crate::endpoint::{Endpoint, Publisher};
use crate::errors::{map_claude_error, map_vertex_error};
use crate::{embed, models};

/// What the provider serves. The live listing reads Model Garden's publisher-model list
/// (`v1beta1/publishers/google/models`, see [`crate::models`]), with the static catalog as
/// the fallback.
pub const CAPABILITIES: Capabilities = Capabilities::new()
    .chat(true)
    .streaming(true)
    .tools(true)
    .vision(true)
    .json_schema(true)
    .completion(true)
    .embeddings(true)
    .list_models(true)
    .max_embedding_inputs(Some(embed::MAX_INSTANCES));

/// Everything the provider needs; build it with [`crate::VertexSettings`].
#[derive(Debug, Clone)]
pub struct VertexConfig {
    /// Instance name.
    pub name: Arc<str>,
    /// Host, project and location.
    pub endpoint: Endpoint,
    /// `anthropic_version` sent in Claude bodies.
    pub anthropic_version: String,
    /// `max_tokens` of a Claude request that sets none.
    pub default_max_tokens: u32,
    /// Whole-request timeout (and wait for stream headers).
    pub timeout: Duration,
    /// Longest silence inside a stream.
    pub stream_idle_timeout: Duration,
    /// Static catalog.
    pub catalog: Vec<ModelInfo>,
}

/// The Vertex AI provider.
#[derive(Debug, Clone)]
pub struct VertexProvider {
    cfg: Arc<VertexConfig>,
    tokens: Arc<TokenSource>,
    http: HttpClient,
}

impl VertexProvider {
    /// A provider with this config, token source and the shared client.
    pub fn new(cfg: VertexConfig, tokens: Arc<TokenSource>, http: HttpClient) -> Self {
        Self {
            cfg: Arc::new(cfg),
            tokens,
            http,
        }
    }

    /// Its config.
    pub fn config(&self) -> &VertexConfig {
        &self.cfg
    }

    /// Its token source.
    pub fn tokens(&self) -> &Arc<TokenSource> {
        &self.tokens
    }

    /// The bearer token of a request: the per-request key (an access token) when the router
    /// gives one, else the source's.
    async fn token(&self, ctx: &RequestContext) -> Result<Secret> {
        match ctx.api_key.as_ref().filter(|k| !k.is_empty()) {
            Some(k) => Ok(k.clone()),
            None => self.tokens.token(ctx).await,
        }
    }

    fn call(&self, model: &str, token: &Secret, map_error: ErrorMapper) -> CallInfo {
        let mut c = CallInfo::new(
            self.cfg.name.clone(),
            model,
            Some(token.clone()),
            self.cfg.timeout,
        );
        c.idle_timeout = self.cfg.stream_idle_timeout;
        c.map_error = map_error;
        c
    }

    fn url(&self, publisher: Publisher, model: &str, method: &str) -> Result<String> {
        self.cfg
            .endpoint
            .model_url(publisher, model, method)
            .ok_or_else(|| {
                Error::invalid_request(
                    &self.cfg.name,
                    model,
                    Some("model"),
                    "a Vertex AI model id has only letters, digits and `-._@`",
                )
            })
    }

    /// The request spec of a chat call for `model` (the body's, or the one a re-targeted call
    /// names), without its token (pure apart from reading the config): `model` picks the wire
    /// and is the URL's — Claude models go to `rawPredict` / `streamRawPredict` with
    /// Anthropic's body (`anthropic_version` in it, no `model`), every other model to
    /// `generateContent` / `streamGenerateContent?alt=sse` with Gemini's.
    pub fn chat_spec(
        &self,
        req: &ChatRequest,
        model: &str,
        stream: bool,
    ) -> Result<HttpRequestSpec> {
        let name = &self.cfg.name;
        let spec = match Publisher::of(model) {
            Publisher::Anthropic => {
                let opts = claude::RequestOptions {
                    default_max_tokens: self.cfg.default_max_tokens,
                };
                let body = claude::messages_request(req, model, name, opts, stream)?
                    .for_platform(&self.cfg.anthropic_version, name)?;
                let method = if stream {
                    "streamRawPredict"
                } else {
                    "rawPredict"
                };
                HttpRequestSpec::post_json(self.url(Publisher::Anthropic, model, method)?, &body)
            }
            Publisher::Google => {
                let body = gemini::generate_request(req, model, name)?;
                if stream {
                    let url = self.url(Publisher::Google, model, "streamGenerateContent")?;
                    HttpRequestSpec::post_json(format!("{url}?alt=sse"), &body)
                } else {
                    HttpRequestSpec::post_json(
                        self.url(Publisher::Google, model, "generateContent")?,
                        &body,
                    )
                }
            }
        };
        Ok(if stream {
            spec.header("accept", "text/event-stream")
        } else {
            spec
        })
    }

    /// Forgets a token Vertex AI rejected with 401, so the next request fetches a new one.
    fn after<T>(&self, result: Result<T>, token: &Secret) -> Result<T> {
        if let Err(Error::Authentication { status: 401, .. }) = &result {
            self.tokens.invalidate(token);
        }
        result
    }

    /// Every page of Google's publisher models.
    async fn publisher_models(&self, ctx: &RequestContext) -> Result<Vec<models::PublisherModel>> {
        let mut listed = Vec::new();
        let mut page_token: Option<String> = None;
        for _ in 0..models::MAX_PAGES {
            let token = self.token(ctx).await?;
            let spec = HttpRequestSpec::get(models::list_url(
                &self.cfg.endpoint.host,
                page_token.as_deref(),
            ))
            .bearer(&token)
            .header("accept", "application/json");
            let call = self.call("", &token, map_vertex_error);
            let (body, _h) = self.after(self.http.bytes(&call, spec, ctx).await, &token)?;
            let page = models::parse_page(&body, &self.cfg.name)?;
            listed.extend(page.publisher_models);
            match page.next_page_token.filter(|t| !t.is_empty()) {
                Some(next) if page_token.as_deref() != Some(next.as_str()) => {
                    page_token = Some(next);
                }
                _ => return Ok(listed),
            }
        }
        Err(Error::decode(
            &self.cfg.name,
            "",
            "publisher model list",
            format!("more than {} pages", models::MAX_PAGES),
            "",
        ))
    }

    fn meta(&self) -> ResponseMeta {
        ResponseMeta {
            provider: Some(self.cfg.name.to_string()),
            ..ResponseMeta::default()
        }
    }
}

/// The wire builders take the model apart from the body: a re-targeted call (the dispatcher's
/// `provider/model`, a router deployment's model) is sent as it is, without a copy of its body.
#[async_trait]
impl ServeAs for VertexProvider {
    // Completions are served over chat (the default `complete`), re-targeted ones too.
    const COMPLETION_OVER_CHAT: bool = true;

    /// A chat answer from `model` (the body's model or a re-targeted call's), over the wire of
    /// its publisher.
    async fn chat_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatResponse> {
        let spec = self.chat_spec(req, model, false)?;
        let token = self.token(ctx).await?;
        let spec = spec.bearer(&token);
        let name = &self.cfg.name;
        match Publisher::of(model) {
            Publisher::Anthropic => {
                let call = self.call(model, &token, map_claude_error);
                let sent = self.http.json(&call, spec, ctx, "message").await;
                let (body, _h): (claude::MessagesResponse, _) = self.after(sent, &token)?;
                Ok(claude::parse_response(
                    body,
                    name,
                    model,
                    claude::structured_output_tool(req),
                ))
            }
            Publisher::Google => {
                let call = self.call(model, &token, map_vertex_error);
                let sent = self
                    .http
                    .json(&call, spec, ctx, "generateContent response")
                    .await;
                let (body, _h): (gemini::GenerateContentResponse, _) = self.after(sent, &token)?;
                gemini::parse_generate(body, name, model)
            }
        }
    }

    /// A streamed chat answer from `model`.
    async fn chat_stream_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        let spec = self.chat_spec(req, model, true)?;
        let token = self.token(ctx).await?;
        let spec = spec.bearer(&token);
        let name = &self.cfg.name;
        let stream = match Publisher::of(model) {
            Publisher::Anthropic => {
                let call = self.call(model, &token, map_claude_error);
                let (sse, _h) = self.after(self.http.sse(&call, spec, ctx).await, &token)?;
                let decoder = claude::EventDecoder::new(name, model)
                    .with_structured_output(claude::structured_output_tool(req));
                ChatStream::decode_sse(sse, decoder)
            }
            Publisher::Google => {
                let call = self.call(model, &token, map_vertex_error);
                let (sse, _h) = self.after(self.http.sse(&call, spec, ctx).await, &token)?;
                ChatStream::decode_sse(sse, gemini::StreamDecoder::new(name, model))
            }
        };
        Ok(stream.with_meta(self.meta()))
    }

    /// Text embeddings from `model` over `:predict`.
    async fn embed_as(
        &self,
        req: &EmbeddingRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        let name = &self.cfg.name;
        if req.input.is_empty() {
            return Err(Error::invalid_request(
                name,
                model,
                Some("input"),
                "no input texts",
            ));
        }
        if Publisher::of(model) != Publisher::Google {
            return Err(Error::unsupported(
                name,
                format!("embeddings with `{model}` (a chat model)"),
            ));
        }
        let url = self.url(Publisher::Google, model, "predict")?;
        let mut parts = Vec::new();
        for chunk in req.input.chunks(embed::batch_size(model)) {
            let body = embed::predict_request(req, model, chunk, name)?;
            let token = self.token(ctx).await?;
            let spec = HttpRequestSpec::post_json(url.as_str(), &body).bearer(&token);
            let call = self.call(model, &token, map_vertex_error);
            let sent = self.http.json(&call, spec, ctx, "predict response").await;
            let (r, _h): (embed::PredictResponse, _) = self.after(sent, &token)?;
            parts.push(r);
        }
        embed::parse_predictions(parts, req.input.len(), name, model)
    }
}

#[async_trait]
impl Provider for VertexProvider {
    fn name(&self) -> &str {
        &self.cfg.name
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

    async fn serve_retargeted(&self, call: Call<'_>, ctx: &RequestContext) -> Result<Reply> {
        runtime_core::serve_as(self, call, ctx).await
    }

    fn models(&self) -> Vec<ModelInfo> {
        self.cfg.catalog.clone()
    }

    /// Google's publisher models (every page) that this provider can call, with the catalog's
    /// limits, plus the catalog's Claude models. The static catalog when the list cannot be
    /// read or is empty: the route is not served behind a proxy or Private Service Connect
    /// host, the credentials may lack `aiplatform.models.list`, or the answer does not parse.
    async fn list_models(&self, ctx: &RequestContext) -> Result<Vec<ModelInfo>> {
        match self.publisher_models(ctx).await {
            Ok(listed) if !listed.is_empty() => {
                Ok(models::merge(listed, &self.cfg.catalog, &self.cfg.name))
            }
            Ok(_) | Err(_) => Ok(self.cfg.catalog.clone()),
        }
    }

    /// Fetches (or reuses) an access token: proves the credentials without spending tokens.
    async fn health(&self, ctx: &RequestContext) -> Result<HealthStatus> {
        let start = std::time::Instant::now();
        self.token(ctx).await?;
        Ok(HealthStatus {
            healthy: true,
            latency: start.elapsed(),
            detail: if self.tokens.refreshes() {
                "access token fetched".into()
            } else {
                "access token given".into()
            },
        })
    }
}
