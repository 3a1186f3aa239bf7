#![doc = include_str!("../README.md")]

pub mod compat;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use runtime_core::registry::API_KEY;
use runtime_core::{
    BuildContext, Capabilities, ModelInfo, Provider, ProviderConfig, ProviderFactory, Result,
    Secret, SettingSpec,
};

pub use compat::{Auth, CompatConfig, CompatProvider, Operation};

/// OpenAI's public API.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// Most inputs one `/embeddings` call accepts.
pub const MAX_EMBEDDING_INPUTS: usize = 2048;

/// What OpenAI's API serves: everything the core knows.
pub const CAPABILITIES: Capabilities = Capabilities::new()
    .chat(true)
    .streaming(true)
    .tools(true)
    .vision(true)
    .json_schema(true)
    .completion(true)
    .embeddings(true)
    .list_models(true)
    .max_embedding_inputs(Some(MAX_EMBEDDING_INPUTS));

static SETTINGS: &[SettingSpec] = &[
    SettingSpec::api_key("OPENAI_API_KEY").help("OpenAI API key"),
    SettingSpec::base_url(DEFAULT_BASE_URL)
        .env("OPENAI_BASE_URL")
        .help("API base URL, ending in /v1"),
    SettingSpec::string("organization")
        .env("OPENAI_ORG_ID")
        .help("sent as the OpenAI-Organization header"),
    SettingSpec::string("project")
        .env("OPENAI_PROJECT_ID")
        .help("sent as the OpenAI-Project header"),
    SettingSpec::string("max_tokens_field")
        .default("auto")
        .help(
            "`auto` (on api.openai.com: `max_completion_tokens` for the models that require it \
             — o-series, gpt-5, codex-mini — and `max_tokens` for the others; `max_tokens` on any \
             other base_url), `max_tokens` or `max_completion_tokens`",
        ),
    SettingSpec::string("responses_api").default("auto").help(
        "which chat calls go to OpenAI's `/responses` instead of `/chat/completions`: `auto` \
             (on api.openai.com, the models served only there: o3-pro, codex-mini, the \
             deep-research models…), `always`, `never`, or a comma-separated list of models \
             (`gpt-5*` for a prefix)",
    ),
    SettingSpec::TIMEOUT,
    SettingSpec::STREAM_IDLE_TIMEOUT,
];

/// The registry entry of the OpenAI provider.
pub static FACTORY: ProviderFactory = ProviderFactory::new("openai", build)
    .display_name("OpenAI")
    .description("OpenAI API: chat completions, legacy completions, embeddings, models")
    .crate_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    .settings(SETTINGS);

runtime_core::register_provider!(FACTORY);

fn build(cfg: ProviderConfig, ctx: &BuildContext) -> Result<Arc<dyn Provider>> {
    let mut settings = OpenAiSettings::new(cfg.instance(), cfg.required_secret(API_KEY)?);
    settings.base_url = cfg.base_url()?;
    settings.organization = cfg.string("organization")?;
    settings.project = cfg.string("project")?;
    if let Some(f) = cfg.string("max_tokens_field")? {
        settings.max_tokens_field = match f.as_str() {
            "auto" => None,
            "max_tokens" => Some(wire::MaxTokensField::MaxTokens),
            "max_completion_tokens" => Some(wire::MaxTokensField::MaxCompletionTokens),
            other => {
                return Err(cfg.error(
                    "max_tokens_field",
                    format!("`{other}`: expected `auto`, `max_tokens` or `max_completion_tokens`"),
                ));
            }
        };
    }
    if let Some(r) = cfg.string("responses_api")? {
        settings.responses_api =
            wire::responses::ResponsesApi::parse(&r).map_err(|e| cfg.error("responses_api", e))?;
    }
    let t = cfg.timeouts()?;
    settings.timeout = t.request;
    settings.stream_idle_timeout = t.stream_idle;
    Ok(Arc::new(settings.build(ctx.http.clone())))
}

/// OpenAI settings for building the provider in code.
#[derive(Debug, Clone)]
pub struct OpenAiSettings {
    /// Instance name.
    pub name: String,
    /// API key.
    pub api_key: Secret,
    /// Base URL (`…/v1`).
    pub base_url: String,
    /// `OpenAI-Organization`.
    pub organization: Option<String>,
    /// `OpenAI-Project`.
    pub project: Option<String>,
    /// Where the output-token limit goes; `None` (`auto`): see [`max_tokens_field_for`].
    pub max_tokens_field: Option<wire::MaxTokensField>,
    /// Which chat calls go to `/responses` (default: the models served only there).
    pub responses_api: wire::responses::ResponsesApi,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Stream silence timeout.
    pub stream_idle_timeout: Duration,
}

impl OpenAiSettings {
    /// Settings with defaults.
    pub fn new(name: &str, api_key: Secret) -> Self {
        Self {
            name: name.to_owned(),
            api_key,
            base_url: DEFAULT_BASE_URL.to_owned(),
            organization: None,
            project: None,
            max_tokens_field: None,
            responses_api: wire::responses::ResponsesApi::Auto,
            timeout: Duration::from_secs(600),
            stream_idle_timeout: Duration::from_secs(120),
        }
    }

    /// The provider.
    pub fn build(self, http: runtime_core::http::HttpClient) -> CompatProvider {
        let mut c = CompatConfig::new(&self.name, &self.base_url, Some(self.api_key));
        if let Some(o) = self.organization {
            c.headers.push(("openai-organization", o));
        }
        if let Some(p) = self.project {
            c.headers.push(("openai-project", p));
        }
        c.timeout = self.timeout;
        c.stream_idle_timeout = self.stream_idle_timeout;
        c.request.max_tokens_field = self
            .max_tokens_field
            .unwrap_or_else(|| max_tokens_field_for(&self.base_url));
        c.request.stream_usage = true;
        c.responses_api = self.responses_api;
        c.official_openai = is_official(&self.base_url);
        c.capabilities = CAPABILITIES;
        c.catalog = catalog(&self.name);
        CompatProvider::new(c, http)
    }
}

/// The `auto` token-limit field for a base URL: OpenAI's own per-model rule
/// ([`wire::MaxTokensField::ByModel`]) on `api.openai.com`, where reasoning models reject
/// `max_tokens`; plain `max_tokens` on any other host (proxies and compatible servers, many of
/// which do not know `max_completion_tokens`).
pub fn max_tokens_field_for(base_url: &str) -> wire::MaxTokensField {
    if is_official(base_url) {
        wire::MaxTokensField::ByModel
    } else {
        wire::MaxTokensField::MaxTokens
    }
}

/// Whether `base_url` is OpenAI's own API (`api.openai.com`).
pub fn is_official(base_url: &str) -> bool {
    let rest = base_url.split_once("://").map_or(base_url, |(_, r)| r);
    let host = rest.split(['/', ':', '?']).next().unwrap_or("");
    host.eq_ignore_ascii_case("api.openai.com")
}

/// OpenAI's models as of 2026-11 (context window, max output).
pub fn catalog(provider: &str) -> Vec<ModelInfo> {
    let chat = |id: &str, ctx: u32, out: u32, vision: bool| {
        ModelInfo::chat(provider, id, ctx, out).with_vision_and_schema(vision, true)
    };
    let mut v = vec![
        chat("gpt-5", 400_000, 128_000, true),
        chat("gpt-5-mini", 400_000, 128_000, true),
        chat("gpt-5-nano", 400_000, 128_000, true),
        chat("gpt-4.1", 1_047_576, 32_768, true),
        chat("gpt-4.1-mini", 1_047_576, 32_768, true),
        chat("gpt-4.1-nano", 1_047_576, 32_768, true),
        chat("gpt-4o", 128_000, 16_384, true),
        chat("gpt-4o-mini", 128_000, 16_384, true),
        chat("o3", 200_000, 100_000, true),
        chat("o4-mini", 200_000, 100_000, true),
        chat("gpt-3.5-turbo", 16_385, 4_096, false),
        ModelInfo::embedding(provider, "text-embedding-3-small", 8191),
        ModelInfo::embedding(provider, "text-embedding-3-large", 8191),
        ModelInfo::embedding(provider, "text-embedding-ada-002", 8191),
    ];
    v.push(ModelInfo {
        kind: runtime_core::ModelKind::Completion,
        supports_tools: false,
        ..ModelInfo::chat(provider, "gpt-3.5-turbo-instruct", 4_096, 4_096)
    });
    v
}
