//! A complete provider for any API that speaks OpenAI's wire format. `OpenAiProvider` is one
//! configuration of it; Azure OpenAI, local servers and TGI's Messages API are others.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde::Serialize;

use runtime_core::http::{CallInfo, ErrorMapper, HttpClient, HttpRequestSpec, map_status};
use runtime_core::{
    Call, Capabilities, ChatRequest, ChatResponse, ChatStream, CompletionRequest,
    CompletionResponse, EmbeddingRequest, EmbeddingResponse, Error, FrameDecoder, ModelInfo,
    Provider, Reply, RequestContext, Result, Secret, ServeAs,
};

use crate::wire::{self, RequestOptions};

/// The operations a compatible API serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `/chat/completions`.
    Chat,
    /// `/completions`.
    Completion,
    /// `/embeddings`.
    Embeddings,
    /// `/models`.
    Models,
    /// `/responses` (OpenAI's Responses API).
    Responses,
}

impl Operation {
    /// The path under the base URL.
    pub fn path(self) -> &'static str {
        match self {
            Operation::Chat => "chat/completions",
            Operation::Completion => "completions",
            Operation::Embeddings => "embeddings",
            Operation::Models => "models",
            Operation::Responses => "responses",
        }
    }
}

/// Builds the URL of an operation for a model (Azure puts the deployment in the path).
pub type UrlBuilder = Arc<dyn Fn(Operation, &str) -> Result<String> + Send + Sync>;

/// How the credential is sent.
#[derive(Debug, Clone)]
pub enum Auth {
    /// No credential (local servers).
    None,
    /// `Authorization: Bearer <key>`.
    Bearer(Secret),
    /// A named header, e.g. Azure's `api-key`.
    Header(&'static str, Secret),
}

/// Everything that makes one OpenAI-compatible API different from another.
#[derive(Clone)]
pub struct CompatConfig {
    /// Provider instance name.
    pub name: Arc<str>,
    /// Builds operation URLs.
    pub url: UrlBuilder,
    /// Credential.
    pub auth: Auth,
    /// Extra headers (organization, project…), not secret.
    pub headers: Vec<(&'static str, String)>,
    /// Whole-request timeout (and wait for stream headers).
    pub timeout: Duration,
    /// Longest silence inside a stream.
    pub stream_idle_timeout: Duration,
    /// Request mapping options.
    pub request: RequestOptions,
    /// Ask for embeddings as base64.
    pub embeddings_base64: bool,
    /// Status mapping.
    pub map_error: ErrorMapper,
    /// What it can do.
    pub capabilities: Capabilities,
    /// Static model catalog.
    pub catalog: Vec<ModelInfo>,
    /// Whether `complete` uses `/completions` (else it is served over chat).
    pub native_completions: bool,
    /// Which chat calls go to `/responses` (OpenAI only; [`wire::responses::ResponsesApi::Never`]
    /// by default).
    pub responses_api: wire::responses::ResponsesApi,
    /// Whether the base URL is OpenAI's own API (`auto` routes to `/responses` only there).
    pub official_openai: bool,
    /// Whether the upstream's `/embeddings` takes `input` as token ids (`[[int]]`): OpenAI,
    /// Azure OpenAI and vLLM do; when false, a token request is answered with
    /// [`EmbeddingRequest::text_only`]'s error.
    pub embedding_tokens: bool,
}

impl std::fmt::Debug for CompatConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompatConfig")
            .field("name", &self.name)
            .field("auth", &self.auth)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl CompatConfig {
    /// A config for `base_url` (`…/v1`), standard paths, bearer auth when a key is given.
    pub fn new(name: &str, base_url: &str, key: Option<Secret>) -> Self {
        Self {
            name: Arc::from(name),
            url: standard_urls(base_url),
            auth: key.map_or(Auth::None, Auth::Bearer),
            headers: Vec::new(),
            timeout: Duration::from_secs(600),
            stream_idle_timeout: Duration::from_secs(300),
            request: RequestOptions {
                max_tokens_field: wire::MaxTokensField::MaxTokens,
                stream_usage: true,
                reasoning_content: false,
            },
            embeddings_base64: true,
            map_error: map_status,
            capabilities: Capabilities::default(),
            catalog: Vec::new(),
            native_completions: true,
            responses_api: wire::responses::ResponsesApi::Never,
            official_openai: false,
            embedding_tokens: true,
        }
    }
}

/// URLs `<base>/<path>`.
pub fn standard_urls(base_url: &str) -> UrlBuilder {
    let base = base_url.trim_end_matches('/').to_owned();
    Arc::new(move |op, _model| Ok(format!("{base}/{}", op.path())))
}

/// A provider over an OpenAI-compatible API.
#[derive(Debug, Clone)]
pub struct CompatProvider {
    cfg: Arc<CompatConfig>,
    http: HttpClient,
}

impl CompatProvider {
    /// A provider with this config and the shared client.
    pub fn new(cfg: CompatConfig, http: HttpClient) -> Self {
        Self {
            cfg: Arc::new(cfg),
            http,
        }
    }

    /// Its config.
    pub fn config(&self) -> &CompatConfig {
        &self.cfg
    }

    /// What the shared client needs to send a call for `model`: the instance name, the
    /// credential (the request's own key first, else the configured one), the timeouts and the
    /// status mapping. Wrappers over this provider (presets, Mistral, local servers) use it too.
    pub fn call_info(&self, model: &str, ctx: &RequestContext) -> CallInfo {
        let secret = ctx.api_key.clone().or_else(|| match &self.cfg.auth {
            Auth::None => None,
            Auth::Bearer(s) | Auth::Header(_, s) => Some(s.clone()),
        });
        let mut c = CallInfo::new(self.cfg.name.clone(), model, secret, self.cfg.timeout);
        c.idle_timeout = self.cfg.stream_idle_timeout;
        c.map_error = self.cfg.map_error;
        c
    }

    /// Adds credentials and headers to a request spec.
    pub fn authorize(&self, mut spec: HttpRequestSpec, ctx: &RequestContext) -> HttpRequestSpec {
        let key = ctx.api_key.as_ref();
        spec = match (&self.cfg.auth, key) {
            (Auth::Header(name, _), Some(k)) => spec.secret_header(name, "", k),
            (Auth::Header(name, s), None) => spec.secret_header(name, "", s),
            (_, Some(k)) => spec.bearer(k),
            (Auth::Bearer(s), None) => spec.bearer(s),
            (Auth::None, None) => spec,
        };
        for (name, value) in &self.cfg.headers {
            spec = spec.header(name, value);
        }
        spec
    }

    /// The request spec of a chat call for `model` (the body's, or the one a re-targeted call
    /// names), pure apart from reading the config.
    pub fn chat_spec(
        &self,
        req: &ChatRequest,
        model: &str,
        stream: bool,
        ctx: &RequestContext,
    ) -> Result<HttpRequestSpec> {
        let body = wire::chat_request(req, model, stream, self.cfg.request);
        self.post_spec(Operation::Chat, model, &body, stream, ctx)
    }

    /// A POST of `body` to `op`'s URL for `model`, authorized, asking for Server-Sent Events
    /// when `stream`: the scaffolding every chat-shaped call over this API shares.
    pub fn post_spec<T: Serialize + ?Sized>(
        &self,
        op: Operation,
        model: &str,
        body: &T,
        stream: bool,
        ctx: &RequestContext,
    ) -> Result<HttpRequestSpec> {
        let url = (self.cfg.url)(op, model)?;
        let mut spec = HttpRequestSpec::post_json(url, body);
        if stream {
            spec = spec.header("accept", "text/event-stream");
        }
        Ok(self.authorize(spec, ctx))
    }

    /// Whether a chat call for `model` goes to `/responses` (see [`CompatConfig::responses_api`]).
    pub fn uses_responses(&self, model: &str) -> bool {
        self.cfg
            .responses_api
            .routes(model, self.cfg.official_openai)
    }

    /// The request spec of a chat call for `model` (the body's, or the one a re-targeted call
    /// names) sent to OpenAI's Responses API.
    pub fn responses_spec(
        &self,
        req: &ChatRequest,
        model: &str,
        stream: bool,
        ctx: &RequestContext,
    ) -> Result<HttpRequestSpec> {
        let body = wire::responses::responses_request(req, model, stream);
        self.post_spec(Operation::Responses, model, &body, stream, ctx)
    }

    /// `req` with the fields of other dialects this upstream does not take for `model` translated
    /// or dropped ([`wire::foreign`]), and the names of those dropped.
    pub fn fit<'r>(
        &self,
        req: &'r ChatRequest,
        model: &str,
    ) -> (Cow<'r, ChatRequest>, Vec<&'static str>) {
        match wire::foreign::openai_extra(&req.extra, model, self.cfg.official_openai) {
            None => (Cow::Borrowed(req), Vec::new()),
            Some((extra, dropped)) => {
                let mut fitted = req.clone();
                fitted.extra = extra;
                (Cow::Owned(fitted), dropped)
            }
        }
    }

    /// The response metadata of this provider, naming the request fields it dropped.
    fn meta(&self, dropped: &[&'static str]) -> runtime_core::ResponseMeta {
        let mut meta = runtime_core::ResponseMeta {
            provider: Some(self.cfg.name.to_string()),
            ..Default::default()
        };
        note_dropped(&mut meta, dropped);
        meta
    }

    /// Refuses what this instance's [`Capabilities`] exclude (tools, image input), naming it:
    /// [`Error::Unsupported`], so a router tries another deployment.
    pub fn check_request(&self, req: &ChatRequest) -> Result<()> {
        let caps = self.cfg.capabilities;
        if !caps.tools && !req.tools.is_empty() {
            return Err(Error::unsupported(&self.cfg.name, "tools"));
        }
        if !caps.vision
            && req.messages.iter().any(|m| match m {
                runtime_core::Message::User { content, .. } => content.has_image(),
                _ => false,
            })
        {
            return Err(Error::unsupported(&self.cfg.name, "image input"));
        }
        Ok(())
    }

    /// Sends `spec` and decodes its Server-Sent Events with `decoder`; the stream's meta names
    /// this instance.
    pub async fn stream_with<D: FrameDecoder>(
        &self,
        spec: HttpRequestSpec,
        model: &str,
        ctx: &RequestContext,
        decoder: D,
    ) -> Result<ChatStream> {
        self.stream_noting(spec, model, ctx, decoder, &[]).await
    }

    /// [`CompatProvider::stream_with`], naming the request fields dropped on the way.
    async fn stream_noting<D: FrameDecoder>(
        &self,
        spec: HttpRequestSpec,
        model: &str,
        ctx: &RequestContext,
        decoder: D,
        dropped: &[&'static str],
    ) -> Result<ChatStream> {
        let call = self.call_info(model, ctx);
        let (sse, _headers) = self.http.sse(&call, spec, ctx).await?;
        Ok(ChatStream::decode_sse(sse, decoder).with_meta(self.meta(dropped)))
    }

    /// Sends `spec` and returns the answer's body as bytes, for parsers that accept more than
    /// OpenAI's own shapes (presets, local servers).
    pub async fn send(
        &self,
        spec: HttpRequestSpec,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<Bytes> {
        let call = self.call_info(model, ctx);
        Ok(self.http.bytes(&call, spec, ctx).await?.0)
    }

    /// `GET {base}/models`'s raw body, for wrappers with their own listing parser.
    pub async fn model_list_body(&self, ctx: &RequestContext) -> Result<Bytes> {
        let url = (self.cfg.url)(Operation::Models, "")?;
        let spec = self.authorize(HttpRequestSpec::get(url), ctx);
        self.send(spec, "", ctx).await
    }

    /// Sends `spec` and decodes its JSON answer as `T` (`what` names it in a decode error).
    pub async fn send_json<T: serde::de::DeserializeOwned>(
        &self,
        spec: HttpRequestSpec,
        model: &str,
        ctx: &RequestContext,
        what: &str,
    ) -> Result<T> {
        let call = self.call_info(model, ctx);
        Ok(self.http.json(&call, spec, ctx, what).await?.0)
    }
}

/// Records the request fields a provider dropped in `meta.annotations["dropped_params"]` (the
/// gateway answers them as `x-modelrt-dropped-params`).
fn note_dropped(meta: &mut runtime_core::ResponseMeta, dropped: &[&'static str]) {
    if !dropped.is_empty() {
        meta.annotations
            .insert("dropped_params".into(), serde_json::json!(dropped));
    }
}

/// The wire builders take the model apart from the body: a re-targeted call (the dispatcher's
/// `provider/model`, a router deployment's model) is sent as it is, without a copy of its body.
#[async_trait]
impl ServeAs for CompatProvider {
    /// A chat answer from `model` (the body's model or a re-targeted call's).
    async fn chat_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatResponse> {
        self.check_request(req)?;
        let (req, dropped) = self.fit(req, model);
        let mut resp = if self.uses_responses(model) {
            let spec = self.responses_spec(&req, model, false, ctx)?;
            let body: wire::responses::ResponsesBody =
                self.send_json(spec, model, ctx, "response").await?;
            wire::responses::parse_responses(body, &self.cfg.name, model)?
        } else {
            let spec = self.chat_spec(&req, model, false, ctx)?;
            let body: wire::ChatCompletion =
                self.send_json(spec, model, ctx, "chat completion").await?;
            wire::parse_chat(body, &self.cfg.name, model)?
        };
        note_dropped(&mut resp.meta, &dropped);
        Ok(resp)
    }

    /// A streamed chat answer from `model`.
    async fn chat_stream_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        if !self.cfg.capabilities.streaming {
            return Err(Error::unsupported(&self.cfg.name, "streaming"));
        }
        self.check_request(req)?;
        let (req, dropped) = self.fit(req, model);
        if self.uses_responses(model) {
            let spec = self.responses_spec(&req, model, true, ctx)?;
            let decoder = wire::responses::ResponsesDecoder::new(&self.cfg.name, model);
            return self
                .stream_noting(spec, model, ctx, decoder, &dropped)
                .await;
        }
        let spec = self.chat_spec(&req, model, true, ctx)?;
        let decoder = wire::ChunkDecoder::new(&self.cfg.name, model);
        self.stream_noting(spec, model, ctx, decoder, &dropped)
            .await
    }

    /// A text completion from `model`.
    async fn complete_as(
        &self,
        req: &CompletionRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<CompletionResponse> {
        if !self.cfg.native_completions {
            if req.suffix.is_some() {
                return Err(Error::invalid_request(
                    &self.cfg.name,
                    model,
                    Some("suffix"),
                    "suffix needs a native completion endpoint",
                ));
            }
            return Ok(self.chat_as(&req.to_chat(), model, ctx).await?.into());
        }
        let body = wire::completion_request(req, model, false, self.cfg.request);
        let spec = self.post_spec(Operation::Completion, model, &body, false, ctx)?;
        let body: wire::TextCompletion = self.send_json(spec, model, ctx, "completion").await?;
        wire::parse_completion(body, &self.cfg.name, model)
    }

    /// A streamed text completion from `model`.
    async fn complete_stream_as(
        &self,
        req: &CompletionRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        if !self.cfg.native_completions {
            if req.suffix.is_some() {
                return Err(Error::invalid_request(
                    &self.cfg.name,
                    model,
                    Some("suffix"),
                    "suffix needs a native completion endpoint",
                ));
            }
            return self.chat_stream_as(&req.to_chat(), model, ctx).await;
        }
        let body = wire::completion_request(req, model, true, self.cfg.request);
        let spec = self.post_spec(Operation::Completion, model, &body, true, ctx)?;
        let decoder = wire::ChunkDecoder::new(&self.cfg.name, model);
        self.stream_with(spec, model, ctx, decoder).await
    }

    /// Embeddings from `model`.
    async fn embed_as(
        &self,
        req: &EmbeddingRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        if !self.cfg.capabilities.embeddings {
            return Err(Error::unsupported(&self.cfg.name, "embeddings"));
        }
        if req.is_empty() {
            return Err(Error::invalid_request(
                &self.cfg.name,
                model,
                Some("input"),
                "no input texts",
            ));
        }
        if !self.cfg.embedding_tokens {
            req.text_only(&self.cfg.name)?;
        }
        let body = wire::embedding_request(req, model, self.cfg.embeddings_base64);
        let spec = self.post_spec(Operation::Embeddings, model, &body, false, ctx)?;
        let body: wire::EmbeddingList = self.send_json(spec, model, ctx, "embeddings").await?;
        wire::parse_embeddings(body, req.len(), &self.cfg.name, model)
    }
}

#[async_trait]
impl Provider for CompatProvider {
    fn name(&self) -> &str {
        &self.cfg.name
    }

    fn capabilities(&self) -> Capabilities {
        self.cfg.capabilities
    }

    async fn chat(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatResponse> {
        self.chat_as(req, &req.model, ctx).await
    }

    async fn chat_stream(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatStream> {
        self.chat_stream_as(req, &req.model, ctx).await
    }

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
        self.cfg.catalog.clone()
    }

    async fn list_models(&self, ctx: &RequestContext) -> Result<Vec<ModelInfo>> {
        if !self.cfg.capabilities.list_models {
            return Ok(self.models());
        }
        let url = (self.cfg.url)(Operation::Models, "")?;
        let spec = self.authorize(HttpRequestSpec::get(url), ctx);
        let body: wire::ModelList = self.send_json(spec, "", ctx, "model list").await?;
        Ok(wire::parse_models(body, &self.cfg.name, &self.cfg.catalog))
    }
}
