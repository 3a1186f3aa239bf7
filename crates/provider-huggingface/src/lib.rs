#![doc = include_str!("../README.md")]

pub mod embeddings;
pub mod rerank;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use provider_openai::compat::{CompatConfig, CompatProvider};
use provider_openai::wire::MaxTokensField;
use runtime_core::http::{CallInfo, HttpClient, HttpRequestSpec};
use runtime_core::{
    BuildContext, Call, Capabilities, ChatRequest, ChatResponse, ChatStream, CompletionRequest,
    CompletionResponse, EmbeddingRequest, EmbeddingResponse, Error, ModelInfo, ModelKind, Provider,
    ProviderConfig, ProviderFactory, Reply, RequestContext, RerankRequest, RerankResponse,
    ResponseMeta, Result, Secret, ServeAs, SettingSpec,
};

pub use embeddings::Pooling;
use wire::{GenerateInput, GenerateStreamDecoder, MessagesChunkDecoder};

/// The Hugging Face router's OpenAI-compatible endpoint (what LiteLLM's `huggingface/` uses for
/// chat).
pub const DEFAULT_BASE_URL: &str = "https://router.huggingface.co/v1";

/// The Inference API's feature-extraction pipeline; `{model}` is replaced by the model id.
pub const DEFAULT_EMBEDDINGS_URL: &str =
    "https://router.huggingface.co/hf-inference/models/{model}/pipeline/feature-extraction";

static SETTINGS: &[SettingSpec] = &[
    SettingSpec::api_key("HF_TOKEN")
        .optional()
        .help("Hugging Face token (hf_…), sent as a bearer token; optional for a local TGI"),
    SettingSpec::base_url(DEFAULT_BASE_URL).help(
        "the HF router (…/v1), an Inference Endpoint or a TGI server (…/v1 for api = \
         messages, the server root for api = generate)",
    ),
    SettingSpec::string("api").default("messages").help(
        "`messages` (OpenAI-compatible /chat/completions) or `generate` (TGI native \
         /generate and /generate_stream)",
    ),
    SettingSpec::url("embeddings_url")
        .default(DEFAULT_EMBEDDINGS_URL)
        .help("feature-extraction URL; `{model}` is replaced by the model id"),
    SettingSpec::url("rerank_url").help(
        "Text Embeddings Inference `/rerank` URL (e.g. `http://localhost:8080/rerank`); \
         reranking is served when set",
    ),
    SettingSpec::string("pooling")
        .default("mean")
        .help("pooling of per-token embedding outputs: `mean`, `cls` or `none` (an error)"),
    SettingSpec::bool("normalize")
        .default("false")
        .help("L2-normalize embedding vectors"),
    SettingSpec::TIMEOUT,
    SettingSpec::STREAM_IDLE_TIMEOUT,
];

/// The registry entry of the Hugging Face provider (type name `huggingface`).
pub static FACTORY: ProviderFactory = ProviderFactory::new("huggingface", build)
    .display_name("Hugging Face")
    .description(
        "Hugging Face router / Inference Endpoints / Text Generation Inference (Messages API \
         or native /generate) and Inference API feature-extraction embeddings",
    )
    .crate_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    .settings(SETTINGS);

runtime_core::register_provider!(FACTORY);

fn config_error(instance: &str, field: &str, reason: impl Into<String>) -> Error {
    Error::InvalidConfig {
        provider: instance.to_owned(),
        field: field.to_owned(),
        reason: reason.into(),
    }
}

fn build(cfg: ProviderConfig, ctx: &BuildContext) -> Result<Arc<dyn Provider>> {
    let instance = cfg.instance().to_owned();
    let mut s = HuggingFaceSettings::new(&instance);
    s.api_key = cfg.api_key()?;
    s.base_url = cfg.base_url()?;
    if let Some(a) = cfg.string("api")? {
        s.api = Api::parse(&a)
            .ok_or_else(|| config_error(&instance, "api", "expected `messages` or `generate`"))?;
    }
    if let Some(u) = cfg.string("embeddings_url")? {
        s.embeddings_url = u;
    }
    s.rerank_url = cfg.string("rerank_url")?;
    if let Some(p) = cfg.string("pooling")? {
        s.pooling = Pooling::parse(&p).ok_or_else(|| {
            config_error(&instance, "pooling", "expected `mean`, `cls` or `none`")
        })?;
    }
    if let Some(n) = cfg.bool("normalize")? {
        s.normalize = n;
    }
    let t = cfg.timeouts()?;
    s.timeout = t.request;
    s.stream_idle_timeout = t.stream_idle;
    Ok(Arc::new(s.build(ctx.http.clone())?))
}

/// Which Text Generation Inference API chat goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Api {
    /// The OpenAI-compatible Messages API (`<base_url>/chat/completions`), served by the HF
    /// router, Inference Endpoints and TGI; the server applies the model's chat template.
    #[default]
    Messages,
    /// TGI's native `/generate` and `/generate_stream`: one prompt, no chat template.
    Generate,
}

impl Api {
    /// Parses `messages` or `generate`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "messages" => Some(Api::Messages),
            "generate" => Some(Api::Generate),
            _ => None,
        }
    }
}

/// Hugging Face settings for building the provider in code.
#[derive(Debug, Clone)]
pub struct HuggingFaceSettings {
    /// Instance name.
    pub name: String,
    /// Bearer token (none for a local TGI).
    pub api_key: Option<Secret>,
    /// Router / endpoint / TGI URL.
    pub base_url: String,
    /// Messages API or native generate.
    pub api: Api,
    /// Feature-extraction URL template (`{model}`).
    pub embeddings_url: String,
    /// TEI `/rerank` URL; reranking is served when set.
    pub rerank_url: Option<String>,
    /// Pooling of token-level embedding outputs.
    pub pooling: Pooling,
    /// L2-normalize embeddings.
    pub normalize: bool,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Stream silence timeout.
    pub stream_idle_timeout: Duration,
}

impl HuggingFaceSettings {
    /// Settings with defaults: the HF router, Messages API, mean pooling, no key.
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            api_key: None,
            base_url: DEFAULT_BASE_URL.to_owned(),
            api: Api::Messages,
            embeddings_url: DEFAULT_EMBEDDINGS_URL.to_owned(),
            rerank_url: None,
            pooling: Pooling::Mean,
            normalize: false,
            timeout: Duration::from_secs(600),
            stream_idle_timeout: Duration::from_secs(120),
        }
    }

    /// The provider. `api = generate` needs the URL of a TGI server (the HF router has no
    /// `/generate`); a trailing `/v1` is removed so one URL serves both APIs.
    pub fn build(self, http: HttpClient) -> Result<HuggingFaceProvider> {
        let base = self.base_url.trim_end_matches('/').to_owned();
        if self.api == Api::Generate && base == DEFAULT_BASE_URL {
            return Err(config_error(
                &self.name,
                "base_url",
                "api = \"generate\" needs the URL of a TGI server or Inference Endpoint; the \
                 Hugging Face router only serves the Messages API",
            ));
        }
        let generate_base = base.strip_suffix("/v1").unwrap_or(&base).to_owned();
        let capabilities = Capabilities::new()
            .chat(true)
            .streaming(true)
            .tools(self.api == Api::Messages)
            .vision(self.api == Api::Messages)
            .json_schema(true)
            .completion(true)
            .embeddings(true)
            .rerank(self.rerank_url.is_some())
            .list_models(true);
        let mut c = CompatConfig::new(&self.name, &base, self.api_key.clone());
        c.timeout = self.timeout;
        c.stream_idle_timeout = self.stream_idle_timeout;
        c.request.max_tokens_field = MaxTokensField::MaxTokens;
        c.request.stream_usage = true;
        c.map_error = wire::map_error;
        c.capabilities = capabilities;
        c.native_completions = false;
        Ok(HuggingFaceProvider {
            inner: Arc::new(Inner {
                name: Arc::from(self.name.as_str()),
                api: self.api,
                messages: CompatProvider::new(c, http.clone()),
                generate_base,
                embeddings_url: self.embeddings_url,
                rerank_url: self.rerank_url,
                pooling: self.pooling,
                normalize: self.normalize,
                api_key: self.api_key,
                timeout: self.timeout,
                stream_idle_timeout: self.stream_idle_timeout,
                capabilities,
                http,
            }),
        })
    }
}

#[derive(Debug)]
struct Inner {
    name: Arc<str>,
    api: Api,
    messages: CompatProvider,
    generate_base: String,
    embeddings_url: String,
    rerank_url: Option<String>,
    pooling: Pooling,
    normalize: bool,
    api_key: Option<Secret>,
    timeout: Duration,
    stream_idle_timeout: Duration,
    capabilities: Capabilities,
    http: HttpClient,
}

/// The Hugging Face provider.
#[derive(Debug, Clone)]
pub struct HuggingFaceProvider {
    inner: Arc<Inner>,
}

/// `GET /info` of a TGI server (the fields read).
#[derive(Debug, Deserialize)]
struct TgiInfo {
    model_id: String,
    #[serde(default)]
    max_total_tokens: Option<u32>,
}

impl HuggingFaceProvider {
    /// Which API chat uses.
    pub fn api(&self) -> Api {
        self.inner.api
    }

    fn secret(&self, ctx: &RequestContext) -> Option<Secret> {
        ctx.api_key.clone().or_else(|| self.inner.api_key.clone())
    }

    fn call(&self, model: &str, ctx: &RequestContext) -> CallInfo {
        let mut c = CallInfo::new(
            self.inner.name.clone(),
            model,
            self.secret(ctx),
            self.inner.timeout,
        );
        c.idle_timeout = self.inner.stream_idle_timeout;
        c.map_error = wire::map_error;
        c
    }

    fn authorize(&self, spec: HttpRequestSpec, ctx: &RequestContext) -> HttpRequestSpec {
        match self.secret(ctx) {
            Some(k) => spec.bearer(&k),
            None => spec,
        }
    }

    fn meta(&self) -> ResponseMeta {
        ResponseMeta {
            provider: Some(self.inner.name.to_string()),
            ..ResponseMeta::default()
        }
    }

    /// The request spec of a `/generate` (or, streaming, `/generate_stream`) call.
    pub fn generate_spec(
        &self,
        input: &GenerateInput<'_>,
        stream: bool,
        ctx: &RequestContext,
    ) -> Result<HttpRequestSpec> {
        let body = wire::generate_request(input, &self.inner.name)?;
        let path = if stream {
            "generate_stream"
        } else {
            "generate"
        };
        let mut spec =
            HttpRequestSpec::post_json(format!("{}/{path}", self.inner.generate_base), &body);
        if stream {
            spec = spec.header("accept", "text/event-stream");
        }
        Ok(self.authorize(spec, ctx))
    }

    /// The request spec of a Messages API chat call for `model` (the body's or a re-targeted
    /// call's).
    pub fn messages_spec(
        &self,
        req: &ChatRequest,
        model: &str,
        stream: bool,
        ctx: &RequestContext,
    ) -> Result<HttpRequestSpec> {
        self.inner.messages.chat_spec(req, model, stream, ctx)
    }

    /// The request spec of a feature-extraction call for `model` (the body's or a re-targeted
    /// call's).
    pub fn embeddings_spec(
        &self,
        req: &EmbeddingRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<HttpRequestSpec> {
        let body = embeddings::embedding_request(req, model, &self.inner.name)?;
        let url = embeddings::embeddings_url(&self.inner.embeddings_url, model, &self.inner.name)?;
        Ok(self.authorize(HttpRequestSpec::post_json(url, &body), ctx))
    }

    /// The request spec of a TEI `/rerank` call for `model` (the body's or a re-targeted
    /// call's).
    pub fn rerank_spec(
        &self,
        req: &RerankRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<HttpRequestSpec> {
        let Some(url) = &self.inner.rerank_url else {
            return Err(Error::unsupported(
                &self.inner.name,
                "rerank (set `rerank_url` to a TEI /rerank endpoint)",
            ));
        };
        let body = rerank::rerank_request(req, model, &self.inner.name)?;
        Ok(self.authorize(HttpRequestSpec::post_json(url.clone(), &body), ctx))
    }

    async fn generate(
        &self,
        input: &GenerateInput<'_>,
        ctx: &RequestContext,
    ) -> Result<ChatResponse> {
        let spec = self.generate_spec(input, false, ctx)?;
        let call = self.call(input.model, ctx);
        let (body, headers): (wire::GenerateResponse, _) = self
            .inner
            .http
            .json(&call, spec, ctx, "generate answer")
            .await?;
        Ok(wire::parse_generate(
            body,
            &headers,
            &self.inner.name,
            input.model,
        ))
    }

    async fn generate_stream(
        &self,
        input: &GenerateInput<'_>,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        let spec = self.generate_spec(input, true, ctx)?;
        let call = self.call(input.model, ctx);
        let (sse, _h) = self.inner.http.sse(&call, spec, ctx).await?;
        let dec = GenerateStreamDecoder::new(&self.inner.name, input.model);
        Ok(ChatStream::decode_sse(sse, dec).with_meta(self.meta()))
    }

    async fn messages_stream(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        let spec = self.messages_spec(req, model, true, ctx)?;
        let call = self.call(model, ctx);
        let (sse, _h) = self.inner.http.sse(&call, spec, ctx).await?;
        let dec = MessagesChunkDecoder::new(&self.inner.name, model);
        Ok(ChatStream::decode_sse(sse, dec).with_meta(self.meta()))
    }
}

/// The request builders take the model apart from the body: a re-targeted call is sent as it
/// is, without a copy of its body.
#[async_trait]
impl ServeAs for HuggingFaceProvider {
    async fn chat_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatResponse> {
        match self.inner.api {
            Api::Messages => self.inner.messages.chat_as(req, model, ctx).await,
            Api::Generate => {
                let input = GenerateInput::from_chat(req, model, &self.inner.name)?;
                self.generate(&input, ctx).await
            }
        }
    }

    async fn chat_stream_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        match self.inner.api {
            Api::Messages => self.messages_stream(req, model, ctx).await,
            Api::Generate => {
                let input = GenerateInput::from_chat(req, model, &self.inner.name)?;
                self.generate_stream(&input, ctx).await
            }
        }
    }

    async fn complete_as(
        &self,
        req: &CompletionRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<CompletionResponse> {
        match self.inner.api {
            Api::Messages => {
                check_no_suffix(&self.inner.name, req, model)?;
                let chat = req.to_chat();
                Ok(self.inner.messages.chat_as(&chat, model, ctx).await?.into())
            }
            Api::Generate => {
                let input = GenerateInput::from_completion(req, model, &self.inner.name)?;
                Ok(self.generate(&input, ctx).await?.into())
            }
        }
    }

    async fn complete_stream_as(
        &self,
        req: &CompletionRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        match self.inner.api {
            Api::Messages => {
                check_no_suffix(&self.inner.name, req, model)?;
                self.messages_stream(&req.to_chat(), model, ctx).await
            }
            Api::Generate => {
                let input = GenerateInput::from_completion(req, model, &self.inner.name)?;
                self.generate_stream(&input, ctx).await
            }
        }
    }

    async fn embed_as(
        &self,
        req: &EmbeddingRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        let spec = self.embeddings_spec(req, model, ctx)?;
        let call = self.call(model, ctx);
        let (body, _h) = self.inner.http.bytes(&call, spec, ctx).await?;
        embeddings::parse_embeddings(
            &body,
            req.input.len(),
            self.inner.pooling,
            self.inner.normalize,
            &self.inner.name,
            model,
        )
    }

    async fn rerank_as(
        &self,
        req: &RerankRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<RerankResponse> {
        let spec = self.rerank_spec(req, model, ctx)?;
        let call = self.call(model, ctx);
        let (body, _h) = self.inner.http.bytes(&call, spec, ctx).await?;
        rerank::parse_rerank(&body, req, model, &self.inner.name)
    }
}

#[async_trait]
impl Provider for HuggingFaceProvider {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities
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

    async fn rerank(&self, req: &RerankRequest, ctx: &RequestContext) -> Result<RerankResponse> {
        self.rerank_as(req, &req.model, ctx).await
    }

    async fn serve_retargeted(&self, call: Call<'_>, ctx: &RequestContext) -> Result<Reply> {
        runtime_core::serve_as(self, call, ctx).await
    }

    async fn list_models(&self, ctx: &RequestContext) -> Result<Vec<ModelInfo>> {
        match self.inner.api {
            Api::Messages => self.inner.messages.list_models(ctx).await,
            Api::Generate => {
                let spec = self.authorize(
                    HttpRequestSpec::get(format!("{}/info", self.inner.generate_base)),
                    ctx,
                );
                let call = self.call("", ctx);
                let (info, _h): (TgiInfo, _) =
                    self.inner.http.json(&call, spec, ctx, "TGI info").await?;
                Ok(vec![ModelInfo {
                    id: info.model_id,
                    provider: self.inner.name.to_string(),
                    kind: ModelKind::Chat,
                    context_window: info.max_total_tokens,
                    supports_streaming: true,
                    supports_json_schema: true,
                    ..ModelInfo::default()
                }])
            }
        }
    }
}

fn check_no_suffix(provider: &str, req: &CompletionRequest, model: &str) -> Result<()> {
    if req.suffix.is_some() {
        return Err(Error::invalid_request(
            provider,
            model,
            Some("suffix"),
            "suffix (fill-in-the-middle) cannot be expressed over the Messages API",
        ));
    }
    Ok(())
}
