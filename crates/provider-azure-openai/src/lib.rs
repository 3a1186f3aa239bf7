#![doc = include_str!("../README.md")]
// `runtime_core::Error` is core's one error type (144 bytes); boxing it is core's decision.
#![allow(clippy::result_large_err)]

pub mod wire;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::StreamExt;

use provider_openai::compat::{Auth, CompatConfig, CompatProvider, UrlBuilder};
use provider_openai::wire::{MaxTokensField, RequestOptions};
use runtime_core::http::{CallInfo, HttpClient, HttpRequestSpec};
use runtime_core::{
    BuildContext, Call, Capabilities, ChatRequest, ChatResponse, ChatStream, CompletionRequest,
    CompletionResponse, EmbeddingRequest, EmbeddingResponse, Error, FrameDecoder, HealthStatus,
    ModelInfo, ModelKind, Provider, ProviderConfig, ProviderFactory, Reply, RequestContext,
    ResponseMeta, Result, Secret, ServeAs, SettingSpec,
};

pub use wire::{AzureChunkDecoder, Operation};

/// The default (GA) data-plane API version.
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

/// Most inputs one `/embeddings` call accepts.
pub const MAX_EMBEDDING_INPUTS: usize = 2048;

static SETTINGS: &[SettingSpec] = &[
    SettingSpec::url("endpoint")
        .env("AZURE_OPENAI_ENDPOINT")
        .required()
        .help("resource endpoint, https://{resource}.openai.azure.com"),
    SettingSpec::api_key("AZURE_OPENAI_API_KEY")
        .optional()
        .help("resource key, sent as the api-key header (set this or ad_token, not both)"),
    SettingSpec::secret("ad_token")
        .env("AZURE_OPENAI_AD_TOKEN")
        .help("Microsoft Entra ID token, sent as Authorization: Bearer (set this or api_key)"),
    SettingSpec::string("api_version")
        .env("OPENAI_API_VERSION")
        .default(DEFAULT_API_VERSION)
        .help("data-plane api-version query parameter"),
    SettingSpec::map("deployments").help(
        "model name -> deployment name; a model without an entry is used as the deployment name",
    ),
    SettingSpec::string("max_tokens_field")
        .default("max_tokens")
        .help("`max_tokens` or `max_completion_tokens` (reasoning deployments need the latter)"),
    SettingSpec::TIMEOUT,
    SettingSpec::STREAM_IDLE_TIMEOUT,
];

/// The registry entry of the Azure OpenAI provider (type `azure-openai`).
pub static FACTORY: ProviderFactory = ProviderFactory::new("azure-openai", build)
    .display_name("Azure OpenAI")
    .description("Azure OpenAI deployments: chat completions, completions, embeddings")
    .crate_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    .settings(SETTINGS);

runtime_core::register_provider!(FACTORY);

fn build(cfg: ProviderConfig, ctx: &BuildContext) -> Result<Arc<dyn Provider>> {
    let endpoint = cfg.required_string("endpoint")?;
    let credential = match (cfg.api_key()?, cfg.secret("ad_token")?) {
        (Some(k), None) => AzureCredential::ApiKey(k),
        (None, Some(t)) => AzureCredential::AdToken(t),
        (None, None) => {
            return Err(cfg.error(
                "api_key, ad_token",
                "one of `api_key` (env AZURE_OPENAI_API_KEY) or `ad_token` \
                 (env AZURE_OPENAI_AD_TOKEN) is required",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(cfg.error(
                "api_key, ad_token",
                "set exactly one of `api_key` and `ad_token` (check the environment \
                 variables AZURE_OPENAI_API_KEY and AZURE_OPENAI_AD_TOKEN too)",
            ));
        }
    };
    let mut s = AzureOpenAiSettings::new(cfg.instance(), &endpoint, credential);
    if let Some(v) = cfg.string("api_version")? {
        s.api_version = v;
    }
    s.deployments = cfg.string_map("deployments")?;
    if let Some(f) = cfg.string("max_tokens_field")? {
        s.max_tokens_field = parse_max_tokens_field(&f).ok_or_else(|| {
            cfg.error(
                "max_tokens_field",
                format!("`{f}`: expected `max_tokens` or `max_completion_tokens`"),
            )
        })?;
    }
    let t = cfg.timeouts()?;
    s.timeout = t.request;
    s.stream_idle_timeout = t.stream_idle;
    Ok(Arc::new(s.build(ctx.http.clone())?))
}

/// Parses `max_tokens` / `max_completion_tokens`.
pub fn parse_max_tokens_field(s: &str) -> Option<MaxTokensField> {
    match s {
        "max_tokens" => Some(MaxTokensField::MaxTokens),
        "max_completion_tokens" => Some(MaxTokensField::MaxCompletionTokens),
        _ => None,
    }
}

/// How requests authenticate.
#[derive(Debug, Clone)]
pub enum AzureCredential {
    /// A resource key, sent as `api-key: <key>`.
    ApiKey(Secret),
    /// A Microsoft Entra ID token, sent as `Authorization: Bearer <token>`.
    AdToken(Secret),
}

/// Azure OpenAI settings for building the provider in code.
#[derive(Debug, Clone)]
pub struct AzureOpenAiSettings {
    /// Instance name.
    pub name: String,
    /// `https://{resource}.openai.azure.com`.
    pub endpoint: String,
    /// Key or token.
    pub credential: AzureCredential,
    /// `api-version` query parameter.
    pub api_version: String,
    /// Model name → deployment name.
    pub deployments: BTreeMap<String, String>,
    /// Where `max_tokens` goes.
    pub max_tokens_field: MaxTokensField,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Stream silence timeout.
    pub stream_idle_timeout: Duration,
}

impl AzureOpenAiSettings {
    /// Settings with defaults.
    pub fn new(name: &str, endpoint: &str, credential: AzureCredential) -> Self {
        Self {
            name: name.to_owned(),
            endpoint: endpoint.to_owned(),
            credential,
            api_version: DEFAULT_API_VERSION.to_owned(),
            deployments: BTreeMap::new(),
            max_tokens_field: MaxTokensField::MaxTokens,
            timeout: Duration::from_secs(600),
            stream_idle_timeout: Duration::from_secs(120),
        }
    }

    /// Maps `model` to `deployment`.
    pub fn deployment(mut self, model: &str, deployment: &str) -> Self {
        self.deployments
            .insert(model.to_owned(), deployment.to_owned());
        self
    }

    fn invalid(&self, field: &str, reason: String) -> Error {
        Error::InvalidConfig {
            provider: self.name.clone(),
            field: field.to_owned(),
            reason,
        }
    }

    /// The provider. Fails on an endpoint that is not an `http(s)` URL, a malformed
    /// `api_version` or a deployment name Azure would reject.
    pub fn build(self, http: HttpClient) -> Result<AzureOpenAiProvider> {
        let endpoint = wire::normalize_endpoint(&self.endpoint);
        if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
            return Err(self.invalid("endpoint", format!("`{endpoint}` is not an http(s) URL")));
        }
        if self.api_version.is_empty()
            || !self
                .api_version
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        {
            return Err(self.invalid(
                "api_version",
                format!("`{}` is not an API version", self.api_version),
            ));
        }
        for (model, dep) in &self.deployments {
            wire::operation_url(&endpoint, &self.api_version, Operation::Chat, dep)
                .map_err(|e| self.invalid(&format!("deployments.{model}"), e))?;
        }
        let deployments = Arc::new(self.deployments.clone());
        let url: UrlBuilder = {
            let endpoint = endpoint.clone();
            let version = self.api_version.clone();
            let deployments = deployments.clone();
            let name = self.name.clone();
            Arc::new(move |op, model| {
                let dep = deployments.get(model).map_or(model, String::as_str);
                wire::operation_url(&endpoint, &version, op, dep)
                    .map_err(|e| Error::invalid_request(&name, model, Some("model"), e))
            })
        };
        let mut c = CompatConfig::new(&self.name, &endpoint, None);
        c.url = url;
        c.auth = match &self.credential {
            AzureCredential::ApiKey(k) => Auth::Header("api-key", k.clone()),
            AzureCredential::AdToken(t) => Auth::Bearer(t.clone()),
        };
        c.timeout = self.timeout;
        c.stream_idle_timeout = self.stream_idle_timeout;
        c.request = RequestOptions {
            max_tokens_field: self.max_tokens_field,
            stream_usage: true,
            reasoning_content: false,
        };
        c.embeddings_base64 = true;
        c.map_error = wire::map_error;
        c.capabilities = CAPABILITIES;
        c.catalog = catalog(&self.name, &self.deployments);
        c.native_completions = true;
        Ok(AzureOpenAiProvider {
            compat: CompatProvider::new(c, http.clone()),
            http,
            name: Arc::from(self.name.as_str()),
            models_url: wire::operation_url(&endpoint, &self.api_version, Operation::Models, "")
                .map_err(|e| self.invalid("endpoint", e))?,
        })
    }
}

/// What Azure OpenAI deployments serve. The model list is the configured deployments (see
/// `list_models`), not a live listing.
pub const CAPABILITIES: Capabilities = Capabilities::new()
    .chat(true)
    .streaming(true)
    .tools(true)
    .vision(true)
    .json_schema(true)
    .completion(true)
    .embeddings(true)
    .max_embedding_inputs(Some(MAX_EMBEDDING_INPUTS));

/// The static catalog: one entry per configured model, with OpenAI's limits where the model
/// name is one OpenAI lists.
pub fn catalog(provider: &str, deployments: &BTreeMap<String, String>) -> Vec<ModelInfo> {
    let known = provider_openai::catalog(provider);
    deployments
        .keys()
        .map(|model| {
            known
                .iter()
                .find(|m| m.id == *model)
                .cloned()
                .unwrap_or_else(|| {
                    let kind = provider_openai::wire::guess_kind(model);
                    ModelInfo {
                        id: model.clone(),
                        provider: provider.to_owned(),
                        kind,
                        supports_streaming: kind == ModelKind::Chat,
                        supports_tools: kind == ModelKind::Chat,
                        ..ModelInfo::default()
                    }
                })
        })
        .collect()
}

/// The Azure OpenAI provider.
#[derive(Debug, Clone)]
pub struct AzureOpenAiProvider {
    compat: CompatProvider,
    http: HttpClient,
    name: Arc<str>,
    models_url: String,
}

fn upstream_request_id(headers: &http::HeaderMap) -> Option<String> {
    ["apim-request-id", "x-request-id", "x-ms-request-id"]
        .iter()
        .find_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .map(str::to_owned)
}

impl AzureOpenAiProvider {
    /// The underlying OpenAI-compatible provider (URLs, auth, mapping).
    pub fn compat(&self) -> &CompatProvider {
        &self.compat
    }

    /// The request spec of a chat call for `model` (the body's, or the one a re-targeted call
    /// names): the URL names `model`'s deployment.
    pub fn chat_spec(
        &self,
        req: &ChatRequest,
        model: &str,
        stream: bool,
        ctx: &RequestContext,
    ) -> Result<HttpRequestSpec> {
        wire::check_chat_request(req, model, &self.name)?;
        let body = wire::chat_body(req, model, stream, self.compat.config().request);
        self.compat
            .post_spec(Operation::Chat, model, &body, stream, ctx)
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
}

/// The deployment comes from the call's model: a re-targeted call (the dispatcher's
/// `provider/model`, a router deployment's model) goes to its model's deployment without a copy
/// of its body.
#[async_trait]
impl ServeAs for AzureOpenAiProvider {
    /// A chat answer from `model`'s deployment (the body's model or a re-targeted call's).
    async fn chat_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatResponse> {
        let spec = self.chat_spec(req, model, false, ctx)?;
        let call = self.call(model, ctx);
        let (body, headers) = self.http.bytes(&call, spec, ctx).await?;
        let mut resp = wire::parse_chat_body(&body, &self.name, model)?;
        resp.meta.upstream_request_id = upstream_request_id(&headers);
        Ok(resp)
    }

    /// A streamed chat answer from `model`'s deployment (see [`Provider::chat_stream`] for the
    /// prompt-filter results read up front).
    async fn chat_stream_as(
        &self,
        req: &ChatRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        let spec = self.chat_spec(req, model, true, ctx)?;
        let call = self.call(model, ctx);
        let (mut sse, headers) = self.http.sse(&call, spec, ctx).await?;
        let mut dec = AzureChunkDecoder::new(&self.name, model);
        let mut queued = Vec::new();
        let mut first_error = None;
        match sse.next().await {
            Some(Ok(ev)) => {
                if let Err(e) = dec.decode(&ev.data, &mut queued) {
                    first_error = Some(e);
                }
            }
            Some(Err(e)) => return Err(e),
            None => {
                if let Err(e) = dec.end(&mut queued) {
                    first_error = Some(e);
                }
            }
        }
        let meta = ResponseMeta {
            provider: Some(self.name.to_string()),
            upstream_request_id: upstream_request_id(&headers),
            annotations: dec.annotations().clone(),
            ..ResponseMeta::default()
        };
        let stream = match first_error {
            // Before any event reached the caller: classify like a non-streaming error.
            Some(e) if queued.is_empty() => return Err(e),
            Some(e) => ChatStream::new(futures::stream::iter(
                queued.into_iter().map(Ok).chain(std::iter::once(Err(e))),
            )),
            None => ChatStream::new(
                futures::stream::iter(queued.into_iter().map(Ok))
                    .chain(ChatStream::decode_sse(sse, dec)),
            ),
        };
        Ok(stream.with_meta(meta))
    }

    /// A text completion from `model`'s deployment.
    async fn complete_as(
        &self,
        req: &CompletionRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<CompletionResponse> {
        self.compat.complete_as(req, model, ctx).await
    }

    /// A streamed text completion from `model`'s deployment.
    async fn complete_stream_as(
        &self,
        req: &CompletionRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        self.compat.complete_stream_as(req, model, ctx).await
    }

    /// Embeddings from `model`'s deployment.
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
impl Provider for AzureOpenAiProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
    }

    async fn chat(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatResponse> {
        self.chat_as(req, &req.model, ctx).await
    }

    /// Streams a chat answer. Azure sends its prompt-filter results as the first event, so
    /// the first event is read before returning: its `prompt_filter_results` are in the
    /// stream's [`ChatStream::meta`] annotations.
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

    /// The configured deployments' models.
    fn models(&self) -> Vec<ModelInfo> {
        self.compat.models()
    }

    /// The configured deployments' models. Azure's `GET /openai/models` lists every model the
    /// resource could deploy, not the deployments a request can name, so it is not used here
    /// (it serves as the health probe).
    async fn list_models(&self, _ctx: &RequestContext) -> Result<Vec<ModelInfo>> {
        Ok(self.models())
    }

    /// Probes `GET {endpoint}/openai/models?api-version=…` (checks endpoint, credentials and
    /// API version; spends no tokens).
    async fn health(&self, ctx: &RequestContext) -> Result<HealthStatus> {
        let start = Instant::now();
        let spec = self
            .compat
            .authorize(HttpRequestSpec::get(self.models_url.clone()), ctx);
        let call = self.call("", ctx);
        let (body, _h): (serde_json::Value, _) =
            self.http.json(&call, spec, ctx, "model list").await?;
        let n = body
            .get("data")
            .and_then(serde_json::Value::as_array)
            .map_or(0, Vec::len);
        Ok(HealthStatus {
            healthy: true,
            latency: start.elapsed(),
            detail: format!("{n} models available to the resource"),
        })
    }
}
