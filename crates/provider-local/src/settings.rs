//! The local provider's settings for building it in code ([`LocalSettings`]), and how a
//! configuration's OpenAI-compatible settings are read into them (shared by `local` and the
//! named servers of [`crate::servers`]).

use std::sync::Arc;
use std::time::Duration;

use provider_openai::compat::{CompatConfig, CompatProvider};
use provider_openai::wire::{MaxTokensField, RequestOptions};
use runtime_core::http::HttpClient;
use runtime_core::{Capabilities, Error, Provider, ProviderConfig, Result, Secret};

use crate::ollama::OllamaProvider;
use crate::openai::{self, LocalOpenAiProvider};

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
