#![doc = include_str!("../README.md")]
// `runtime_core::Error` is the one error type of the project; its size is a core decision.
#![allow(clippy::result_large_err)]

pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use http::HeaderMap;

use runtime_core::http::{CallInfo, HttpClient, HttpRequestSpec};
use runtime_core::registry::API_KEY;
use runtime_core::{
    BuildContext, Call, Capabilities, ChatRequest, ChatResponse, ChatStream, Error, ModelInfo,
    Provider, ProviderConfig, ProviderFactory, Reply, RequestContext, ResponseMeta, Result, Secret,
    ServeAs, SettingSpec,
};

use crate::wire::{EventDecoder, RequestOptions};

/// Anthropic's public API (without `/v1`).
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";

/// The `anthropic-version` header sent by default.
pub const DEFAULT_VERSION: &str = "2023-06-01";

pub use wire::request::DEFAULT_MAX_TOKENS;

/// What the Messages API serves (no embeddings).
pub const CAPABILITIES: Capabilities = Capabilities::new()
    .chat(true)
    .streaming(true)
    .tools(true)
    .vision(true)
    .json_schema(true)
    .completion(true)
    .list_models(true);

/// Most pages of `GET /v1/models` read by one listing.
const MAX_MODEL_PAGES: usize = 50;

static SETTINGS: &[SettingSpec] = &[
    SettingSpec::api_key("ANTHROPIC_API_KEY").help("Anthropic API key, sent as x-api-key"),
    SettingSpec::base_url(DEFAULT_BASE_URL)
        .env("ANTHROPIC_BASE_URL")
        .help("API base URL (with or without a trailing /v1)"),
    SettingSpec::string("anthropic_version")
        .default(DEFAULT_VERSION)
        .help("sent as the anthropic-version header"),
    SettingSpec::integer("default_max_tokens")
        .default("4096")
        .help("max_tokens sent when a request sets none (Anthropic requires it)"),
    SettingSpec::string_list("beta")
        .help("beta features, sent comma-separated as the anthropic-beta header"),
    SettingSpec::TIMEOUT,
    SettingSpec::STREAM_IDLE_TIMEOUT,
];

/// The registry entry of the Anthropic provider.
pub static FACTORY: ProviderFactory = ProviderFactory::new("anthropic", build)
    .display_name("Anthropic")
    .description("Anthropic Messages API: Claude chat (tools, images, thinking), streaming, models")
    .crate_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    .settings(SETTINGS);

runtime_core::register_provider!(FACTORY);

fn build(cfg: ProviderConfig, ctx: &BuildContext) -> Result<Arc<dyn Provider>> {
    let mut s = AnthropicSettings::new(cfg.instance(), cfg.required_secret(API_KEY)?);
    s.base_url = cfg.base_url()?;
    if let Some(v) = cfg.string("anthropic_version")? {
        s.anthropic_version = v;
    }
    if let Some(n) = cfg.integer("default_max_tokens")? {
        s.default_max_tokens = u32::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
            cfg.error(
                "default_max_tokens",
                format!("{n} is not between 1 and {}", u32::MAX),
            )
        })?;
    }
    s.beta = cfg.string_list("beta")?;
    let t = cfg.timeouts()?;
    s.timeout = t.request;
    s.stream_idle_timeout = t.stream_idle;
    Ok(Arc::new(s.build(ctx.http.clone())))
}

/// Anthropic settings for building the provider in code.
#[derive(Debug, Clone)]
pub struct AnthropicSettings {
    /// Instance name.
    pub name: String,
    /// API key (`x-api-key`); `RequestContext::api_key` overrides it per request.
    pub api_key: Secret,
    /// Base URL, e.g. `https://api.anthropic.com` (a trailing `/v1` is accepted).
    pub base_url: String,
    /// `anthropic-version`.
    pub anthropic_version: String,
    /// `max_tokens` when a request has none.
    pub default_max_tokens: u32,
    /// `anthropic-beta` features.
    pub beta: Vec<String>,
    /// Whole-request timeout (and wait for stream headers).
    pub timeout: Duration,
    /// Longest silence inside a stream.
    pub stream_idle_timeout: Duration,
}

impl AnthropicSettings {
    /// Settings with defaults.
    pub fn new(name: &str, api_key: Secret) -> Self {
        Self {
            name: name.to_owned(),
            api_key,
            base_url: DEFAULT_BASE_URL.to_owned(),
            anthropic_version: DEFAULT_VERSION.to_owned(),
            default_max_tokens: DEFAULT_MAX_TOKENS,
            beta: Vec::new(),
            timeout: Duration::from_secs(600),
            stream_idle_timeout: Duration::from_secs(120),
        }
    }

    /// The provider, sharing `http`'s connection pool.
    pub fn build(self, http: HttpClient) -> AnthropicProvider {
        let base = self.base_url.trim_end_matches('/');
        let api_base = if base.ends_with("/v1") {
            base.to_owned()
        } else {
            format!("{base}/v1")
        };
        let catalog = catalog(&self.name);
        AnthropicProvider {
            inner: Arc::new(Inner {
                name: Arc::from(self.name.as_str()),
                api_base,
                settings: self,
                catalog,
            }),
            http,
        }
    }
}

#[derive(Debug)]
struct Inner {
    name: Arc<str>,
    api_base: String,
    settings: AnthropicSettings,
    catalog: Vec<ModelInfo>,
}

/// The Anthropic Messages API provider.
#[derive(Debug, Clone)]
pub struct AnthropicProvider {
    inner: Arc<Inner>,
    http: HttpClient,
}

impl AnthropicProvider {
    /// Its settings.
    pub fn settings(&self) -> &AnthropicSettings {
        &self.inner.settings
    }

    fn call(&self, model: &str, ctx: &RequestContext) -> CallInfo {
        let secret = ctx
            .api_key
            .clone()
            .unwrap_or_else(|| self.inner.settings.api_key.clone());
        let mut c = CallInfo::new(
            self.inner.name.clone(),
            model,
            Some(secret),
            self.inner.settings.timeout,
        );
        c.idle_timeout = self.inner.settings.stream_idle_timeout;
        c.map_error = wire::map_error;
        c
    }

    /// Adds the key (`x-api-key`, marked sensitive), `anthropic-version` and `anthropic-beta`.
    pub fn authorize(&self, spec: HttpRequestSpec, ctx: &RequestContext) -> HttpRequestSpec {
        self.authorize_for(spec, ctx, None)
    }

    /// [`authorize`](Self::authorize), with the request's own beta features
    /// ([`runtime_core::ElementExtra::beta_features`], a client's `anthropic-beta`) after the
    /// configured ones, each once.
    fn authorize_for(
        &self,
        spec: HttpRequestSpec,
        ctx: &RequestContext,
        req: Option<&ChatRequest>,
    ) -> HttpRequestSpec {
        let s = &self.inner.settings;
        let key = ctx.api_key.as_ref().unwrap_or(&s.api_key);
        let mut spec = spec
            .secret_header("x-api-key", "", key)
            .header("anthropic-version", &s.anthropic_version);
        let mut beta: Vec<&str> = s.beta.iter().map(String::as_str).collect();
        let asked = req
            .and_then(|r| r.element_extra(runtime_core::ElementRef::Request))
            .and_then(|e| e.beta_features.as_deref())
            .unwrap_or_default();
        for f in asked {
            if !beta.contains(&f.as_str()) {
                beta.push(f);
            }
        }
        if !beta.is_empty() {
            spec = spec.header("anthropic-beta", &beta.join(","));
        }
        spec
    }

    /// The request spec of a Messages call for `model` (the body's, or the one a re-targeted
    /// call names), pure apart from reading the settings.
    pub fn messages_spec(
        &self,
        req: &ChatRequest,
        model: &str,
        stream: bool,
        ctx: &RequestContext,
    ) -> Result<HttpRequestSpec> {
        let body = wire::messages_request(req, model, &self.inner.name, self.opts(), stream)?;
        let mut spec =
            HttpRequestSpec::post_json(format!("{}/messages", self.inner.api_base), &body);
        if stream {
            spec = spec.header("accept", "text/event-stream");
        }
        Ok(self.authorize_for(spec, ctx, Some(req)))
    }

    /// The request spec of a `count_tokens` call for `model`: the Messages body of `req` with
    /// only the fields that endpoint accepts.
    pub fn count_tokens_spec(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<HttpRequestSpec> {
        let body = wire::messages_request(req, model, &self.inner.name, self.opts(), false)?;
        let body = wire::count_tokens_body(&body);
        let spec = HttpRequestSpec::post_json(
            format!("{}/messages/count_tokens", self.inner.api_base),
            &body,
        );
        Ok(self.authorize_for(spec, ctx, Some(req)))
    }

    /// The mapping options of the settings.
    fn opts(&self) -> RequestOptions {
        RequestOptions {
            default_max_tokens: self.inner.settings.default_max_tokens,
        }
    }

    fn meta(&self, headers: &HeaderMap) -> ResponseMeta {
        ResponseMeta {
            provider: Some(self.inner.name.to_string()),
            upstream_request_id: headers
                .get("request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            ..ResponseMeta::default()
        }
    }
}

/// The wire builders take the model apart from the body: a re-targeted call (the dispatcher's
/// `provider/model`, a router deployment's model) is sent as it is, without a copy of its body.
#[async_trait]
impl ServeAs for AnthropicProvider {
    // Completions are served over chat (the default `complete`), re-targeted ones too.
    const COMPLETION_OVER_CHAT: bool = true;

    /// A chat answer from `model` (the body's model or a re-targeted call's).
    async fn chat_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatResponse> {
        let spec = self.messages_spec(req, model, false, ctx)?;
        let call = self.call(model, ctx);
        let (body, headers): (wire::MessagesResponse, _) =
            self.http.json(&call, spec, ctx, "message").await?;
        let mut resp = wire::parse_response(
            body,
            &self.inner.name,
            model,
            wire::structured_output_tool(req),
        );
        resp.meta.upstream_request_id = self.meta(&headers).upstream_request_id;
        Ok(resp)
    }

    /// A streamed chat answer from `model`.
    async fn chat_stream_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        let spec = self.messages_spec(req, model, true, ctx)?;
        let call = self.call(model, ctx);
        let (sse, headers) = self.http.sse(&call, spec, ctx).await?;
        let decoder = EventDecoder::new(&self.inner.name, model)
            .with_structured_output(wire::structured_output_tool(req));
        Ok(ChatStream::decode_sse(sse, decoder).with_meta(self.meta(&headers)))
    }

    /// The input tokens of `req` as `model` counts them.
    async fn count_tokens_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<u64> {
        let spec = self.count_tokens_spec(req, model, ctx)?;
        let call = self.call(model, ctx);
        let (body, _headers): (wire::TokenCount, _) =
            self.http.json(&call, spec, ctx, "token count").await?;
        Ok(body.input_tokens)
    }
}

#[async_trait]
impl Provider for AnthropicProvider {
    fn name(&self) -> &str {
        &self.inner.name
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

    /// Anthropic's `POST /v1/messages/count_tokens`: the exact input tokens, nothing generated.
    async fn count_tokens(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<u64> {
        self.count_tokens_as(req, &req.model, ctx).await
    }

    async fn serve_retargeted(&self, call: Call<'_>, ctx: &RequestContext) -> Result<Reply> {
        runtime_core::serve_as(self, call, ctx).await
    }

    async fn embed(
        &self,
        _req: &runtime_core::EmbeddingRequest,
        _ctx: &RequestContext,
    ) -> Result<runtime_core::EmbeddingResponse> {
        Err(Error::unsupported(
            &self.inner.name,
            "embeddings (Anthropic has no embedding API)",
        ))
    }

    fn models(&self) -> Vec<ModelInfo> {
        self.inner.catalog.clone()
    }

    async fn list_models(&self, ctx: &RequestContext) -> Result<Vec<ModelInfo>> {
        let mut all = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_MODEL_PAGES {
            let mut url = format!("{}/models?limit=1000", self.inner.api_base);
            if let Some(a) = &after {
                url.push_str("&after_id=");
                url.push_str(a);
            }
            let spec = self.authorize(HttpRequestSpec::get(url), ctx);
            let call = self.call("", ctx);
            let (page, _h): (wire::ModelPage, _) =
                self.http.json(&call, spec, ctx, "model list").await?;
            all.extend(page.data);
            match page.last_id {
                Some(last) if page.has_more && after.as_deref() != Some(last.as_str()) => {
                    after = Some(last);
                }
                _ => break,
            }
        }
        Ok(wire::parse_models(
            all,
            &self.inner.name,
            &self.inner.catalog,
        ))
    }
}

/// Current Claude models (context window, max output tokens). All take images, tools and
/// extended thinking, and follow a JSON schema through the forced-tool technique (see the crate
/// docs).
pub fn catalog(provider: &str) -> Vec<ModelInfo> {
    let chat = |id: &str, ctx: u32, out: u32| {
        ModelInfo::chat(provider, id, ctx, out).with_vision_and_schema(true, true)
    };
    vec![
        chat("claude-opus-4-5", 200_000, 64_000),
        chat("claude-opus-4-1", 200_000, 32_000),
        chat("claude-opus-4-0", 200_000, 32_000),
        chat("claude-sonnet-4-5", 200_000, 64_000),
        chat("claude-sonnet-4-0", 200_000, 64_000),
        chat("claude-haiku-4-5", 200_000, 64_000),
        chat("claude-3-7-sonnet-latest", 200_000, 64_000),
        chat("claude-3-5-haiku-latest", 200_000, 8_192),
        chat("claude-3-haiku-20240307", 200_000, 4_096),
    ]
}
