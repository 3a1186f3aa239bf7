#![doc = include_str!("../README.md")]
// `runtime_core::Error` is core's one error type (144 bytes); boxing it is core's decision.
#![allow(clippy::result_large_err)]

pub mod ollama;
pub mod openai;
pub mod servers;

use std::sync::Arc;
use std::time::Duration;

use provider_openai::compat::{CompatConfig, CompatProvider};
use provider_openai::wire::{MaxTokensField, RequestOptions};
use runtime_core::http::HttpClient;
use runtime_core::{
    BuildContext, Capabilities, Error, Provider, ProviderConfig, ProviderFactory, Result, Secret,
    SettingSpec,
};

pub use ollama::OllamaProvider;
pub use openai::LocalOpenAiProvider;

/// Ollama's OpenAI-compatible endpoint on this machine.
pub const DEFAULT_BASE_URL: &str = "http://localhost:11434/v1";

static SETTINGS: &[SettingSpec] = &[
    SettingSpec::base_url(DEFAULT_BASE_URL)
        .env("LOCAL_BASE_URL")
        .help(
            "server base URL ending in /v1 (when left at the default and OLLAMA_HOST is set, \
         derived from OLLAMA_HOST); for api = \"ollama\" the /v1 suffix is dropped",
        ),
    SettingSpec::api_key("LOCAL_API_KEY")
        .optional()
        .help("optional key, sent as Authorization: Bearer when set"),
    SettingSpec::string("api")
        .default("openai")
        .help("`openai` (any OpenAI-compatible server) or `ollama` (Ollama's native /api)"),
    SettingSpec::string("max_tokens_field")
        .default("max_tokens")
        .help("`max_tokens` or `max_completion_tokens` (api = openai)"),
    SettingSpec::bool("stream_usage")
        .default("true")
        .help("send stream_options.include_usage (some servers reject it; api = openai)"),
    SettingSpec::string_list("models")
        .help("static model catalog (the live list comes from the server)"),
    SettingSpec::TIMEOUT
        .help("longest wait for a whole answer, or for a stream to start (local models are slow)"),
    SettingSpec::STREAM_IDLE_TIMEOUT.default("300s"),
];

/// The registry entry of the local provider (type `local`).
pub static FACTORY: ProviderFactory = ProviderFactory::new("local", build)
    .display_name("Local server (OpenAI-compatible or Ollama)")
    .description("vLLM, llama.cpp server, LM Studio, Ollama (/v1 or native /api)")
    .crate_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    .settings(SETTINGS);

runtime_core::register_provider!(FACTORY);

/// Every provider type this crate registers: `local` and the named servers of [`servers`].
pub fn factories() -> [&'static ProviderFactory; 5] {
    [
        &FACTORY,
        &servers::VLLM_FACTORY,
        &servers::SGLANG_FACTORY,
        &servers::LMSTUDIO_FACTORY,
        &servers::LLAMACPP_FACTORY,
    ]
}

fn build(cfg: ProviderConfig, ctx: &BuildContext) -> Result<Arc<dyn Provider>> {
    let invalid = |field: &str, reason: String| cfg.error(field, reason);
    let configured = cfg.base_url()?;
    // Left at the default (no key, no LOCAL_BASE_URL): follow OLLAMA_HOST like Ollama's CLI.
    let base_url = match std::env::var("OLLAMA_HOST") {
        Ok(h) if configured == DEFAULT_BASE_URL && !h.trim().is_empty() => {
            base_url_from_ollama_host(&h)
        }
        _ => configured,
    };
    let mut s = LocalSettings::new(cfg.instance(), &base_url);
    s.api_key = cfg.api_key()?;
    if let Some(api) = cfg.string("api")? {
        s.api = match api.as_str() {
            "openai" => LocalApi::OpenAi,
            "ollama" => LocalApi::Ollama,
            other => {
                return Err(invalid(
                    "api",
                    format!("`{other}`: expected `openai` or `ollama`"),
                ));
            }
        };
    }
    apply_openai_settings(&mut s, &cfg)?;
    s.build(ctx.http.clone())
}

/// The OpenAI-compatible mode's settings read from `cfg` into `s`: `max_tokens_field`,
/// `stream_usage`, `models`, the timeouts (shared by `local` and the named servers).
pub(crate) fn apply_openai_settings(s: &mut LocalSettings, cfg: &ProviderConfig) -> Result<()> {
    let invalid = |field: &str, reason: String| cfg.error(field, reason);
    if let Some(f) = cfg.string("max_tokens_field")? {
        s.max_tokens_field = match f.as_str() {
            "max_tokens" => MaxTokensField::MaxTokens,
            "max_completion_tokens" => MaxTokensField::MaxCompletionTokens,
            other => {
                return Err(invalid(
                    "max_tokens_field",
                    format!("`{other}`: expected `max_tokens` or `max_completion_tokens`"),
                ));
            }
        };
    }
    if let Some(u) = cfg.bool("stream_usage")? {
        s.stream_usage = u;
    }
    s.models = cfg.string_list("models")?;
    let t = cfg.timeouts()?;
    s.timeout = t.request;
    s.stream_idle_timeout = t.stream_idle;
    Ok(())
}

/// `OLLAMA_HOST` (`0.0.0.0:11434`, `host`, `http://host:port`) → an OpenAI-compatible base URL.
pub fn base_url_from_ollama_host(host: &str) -> String {
    let host = host.trim().trim_end_matches('/');
    let (scheme, rest) = match host.split_once("://") {
        Some((s, r)) => (s, r),
        None => ("http", host),
    };
    let rest = rest
        .strip_prefix("0.0.0.0")
        .map_or_else(|| rest.to_owned(), |port| format!("127.0.0.1{port}"));
    let has_port = rest
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    let with_port = if has_port {
        rest
    } else {
        format!("{rest}:11434")
    };
    format!("{scheme}://{with_port}/v1")
}

/// Which API the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LocalApi {
    /// OpenAI-compatible `/v1` (vLLM, llama.cpp, LM Studio, Ollama `/v1`).
    #[default]
    OpenAi,
    /// Ollama's native `/api/chat`, `/api/embed`, `/api/tags`.
    Ollama,
}

/// Local-server settings for building the provider in code.
#[derive(Debug, Clone)]
pub struct LocalSettings {
    /// Instance name.
    pub name: String,
    /// Base URL (`…/v1`; for Ollama native the `/v1` suffix is dropped).
    pub base_url: String,
    /// Optional bearer key.
    pub api_key: Option<Secret>,
    /// Which API.
    pub api: LocalApi,
    /// Where `max_tokens` goes (OpenAI-compatible API).
    pub max_tokens_field: MaxTokensField,
    /// Ask for the stream usage chunk (OpenAI-compatible API).
    pub stream_usage: bool,
    /// Static catalog.
    pub models: Vec<String>,
    /// Whether the server's `/v1/embeddings` takes token ids (see
    /// [`servers::Server::embedding_tokens`]).
    pub embedding_tokens: bool,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Stream silence timeout.
    pub stream_idle_timeout: Duration,
}

/// The OpenAI-compatible capabilities (what the server supports varies; unsupported requests
/// come back as typed errors from the server, e.g. llama.cpp's 501 → `Unsupported`).
pub const OPENAI_CAPABILITIES: Capabilities = Capabilities::new()
    .chat(true)
    .streaming(true)
    .tools(true)
    .vision(true)
    .json_schema(true)
    .completion(true)
    .embeddings(true)
    .list_models(true);

impl LocalSettings {
    /// Settings with defaults (OpenAI-compatible API, no key, 600 s timeout).
    pub fn new(name: &str, base_url: &str) -> Self {
        Self {
            name: name.to_owned(),
            base_url: base_url.to_owned(),
            api_key: None,
            api: LocalApi::OpenAi,
            max_tokens_field: MaxTokensField::MaxTokens,
            stream_usage: true,
            models: Vec::new(),
            embedding_tokens: true,
            timeout: Duration::from_secs(600),
            stream_idle_timeout: Duration::from_secs(300),
        }
    }

    fn check(&self) -> Result<String> {
        let b = self.base_url.trim().trim_end_matches('/');
        if !(b.starts_with("http://") || b.starts_with("https://")) {
            return Err(Error::InvalidConfig {
                provider: self.name.clone(),
                field: "base_url".into(),
                reason: format!("`{b}` is not an http(s) URL"),
            });
        }
        Ok(b.to_owned())
    }

    fn catalog(&self) -> Vec<runtime_core::ModelInfo> {
        self.models
            .iter()
            .map(|m| openai::static_model(&self.name, m))
            .collect()
    }

    /// The OpenAI-compatible provider.
    pub fn build_openai(&self, http: HttpClient) -> Result<LocalOpenAiProvider> {
        let base = self.check()?;
        let mut c = CompatConfig::new(&self.name, &base, self.api_key.clone());
        c.timeout = self.timeout;
        c.stream_idle_timeout = self.stream_idle_timeout;
        c.request = RequestOptions {
            max_tokens_field: self.max_tokens_field,
            stream_usage: self.stream_usage,
            reasoning_content: false,
        };
        // Float vectors: not every local server implements `encoding_format: base64`.
        c.embeddings_base64 = false;
        c.map_error = openai::map_error;
        c.capabilities = OPENAI_CAPABILITIES;
        c.catalog = self.catalog();
        c.native_completions = true;
        c.embedding_tokens = self.embedding_tokens;
        Ok(LocalOpenAiProvider::new(CompatProvider::new(c, http)))
    }

    /// The native Ollama provider (the base URL's `/v1` suffix is dropped).
    pub fn build_ollama(&self, http: HttpClient) -> Result<OllamaProvider> {
        let base = self.check()?;
        let root = base.strip_suffix("/v1").unwrap_or(&base).to_owned();
        Ok(OllamaProvider {
            name: Arc::from(self.name.as_str()),
            root,
            key: self.api_key.clone(),
            timeout: self.timeout,
            stream_idle_timeout: self.stream_idle_timeout,
            catalog: self.catalog(),
            http,
        })
    }

    /// The provider for the configured `api`.
    pub fn build(&self, http: HttpClient) -> Result<Arc<dyn Provider>> {
        Ok(match self.api {
            LocalApi::OpenAi => Arc::new(self.build_openai(http)?),
            LocalApi::Ollama => Arc::new(self.build_ollama(http)?),
        })
    }
}
