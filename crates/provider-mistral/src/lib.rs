//! Mistral AI (`mistral`): chat, streaming, tools, images, JSON output, embeddings
//! (`mistral-embed`, `codestral-embed`), fill-in-the-middle completions for Codestral
//! (`POST /v1/fim/completions`, through the core completion operation) and the model listing.
//!
//! # Why a thin crate over OpenAI's wire, not a native mapping
//!
//! Mistral's chat endpoint speaks OpenAI's format: the recorded answers and streams in
//! `runtime-testkit/fixtures/mistral/` (documentation examples and recordings, see its
//! `SOURCES.md`) decode unchanged with `provider_openai::wire` — `choices[].message`,
//! `tool_calls` with string arguments, chunks whose last one carries both the finish reason
//! and `usage`, `[DONE]`. What differs is on the way in, and small: tool-call ids must be nine
//! letters or digits, a trailing assistant message needs `"prefix": true`, the seed is
//! `random_seed`, `tool_choice: "required"` is `"any"` ([`wire`]). FIM is a second endpoint
//! whose answers are again chat completions. So this crate reuses the compat provider for
//! transport, keys and embeddings and adds only those mappings; it is a crate rather than a
//! `provider-presets` preset because FIM and the id mapping are operations and request
//! rewrites, not data.
//!
//! ```toml
//! [providers.mistral]
//! type = "mistral"          # MISTRAL_API_KEY from the environment
//!
//! [providers.codestral]
//! type = "mistral"
//! base_url = "https://codestral.mistral.ai/v1"
//! api_key = "${CODESTRAL_API_KEY}"
//! ```
//!
//! Building one in code:
//!
//! ```
//! use runtime_core::{Provider, Secret};
//! let http = runtime_core::http::HttpClient::shared().unwrap();
//! let p = provider_mistral::MistralSettings::new("mistral", Secret::new("k")).build(http);
//! assert!(p.capabilities().embeddings);
//! assert_eq!(provider_mistral::wire::tool_call_id("D681PevKs"), "D681PevKs");
//! ```

pub mod models;
pub mod provider;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use provider_openai::compat::{CompatConfig, CompatProvider};
use provider_openai::wire::{MaxTokensField, RequestOptions};
use runtime_core::http::HttpClient;
use runtime_core::registry::API_KEY;
use runtime_core::{
    BuildContext, Capabilities, Provider, ProviderConfig, ProviderFactory, Result, Secret,
    SettingSpec,
};

pub use provider::MistralProvider;

/// Mistral's API.
pub const DEFAULT_BASE_URL: &str = "https://api.mistral.ai/v1";

/// What Mistral serves.
pub const CAPABILITIES: Capabilities = Capabilities::new()
    .chat(true)
    .streaming(true)
    .tools(true)
    .vision(true)
    .json_schema(true)
    .completion(true)
    .embeddings(true)
    .list_models(true);

static SETTINGS: &[SettingSpec] = &[
    SettingSpec::api_key("MISTRAL_API_KEY").help("Mistral API key (bearer)"),
    SettingSpec::base_url(DEFAULT_BASE_URL)
        .help("`https://codestral.mistral.ai/v1` for a Codestral key"),
    SettingSpec::string_list("models")
        .help("more model ids for the static catalog (the main models are built in)"),
    SettingSpec::TIMEOUT,
    SettingSpec::STREAM_IDLE_TIMEOUT,
];

/// The registry entry (type `mistral`).
pub static FACTORY: ProviderFactory = ProviderFactory::new("mistral", build)
    .display_name("Mistral AI")
    .description("Mistral chat, embeddings, Codestral FIM completions and model listing")
    .crate_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    .settings(SETTINGS);

runtime_core::register_provider!(FACTORY);

fn build(cfg: ProviderConfig, ctx: &BuildContext) -> Result<Arc<dyn Provider>> {
    let mut s = MistralSettings::new(cfg.instance(), cfg.required_secret(API_KEY)?);
    s.base_url = cfg.base_url()?;
    s.models = cfg.string_list("models")?;
    let t = cfg.timeouts()?;
    s.timeout = t.request;
    s.stream_idle_timeout = t.stream_idle;
    Ok(Arc::new(s.build(ctx.http.clone())))
}

/// A Mistral instance's settings, for building it in code.
#[derive(Debug, Clone)]
pub struct MistralSettings {
    /// Instance name.
    pub name: String,
    /// API key (bearer).
    pub api_key: Secret,
    /// Base URL (`…/v1`).
    pub base_url: String,
    /// More catalog model ids.
    pub models: Vec<String>,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Stream silence timeout.
    pub stream_idle_timeout: Duration,
}

impl MistralSettings {
    /// Settings with the defaults.
    pub fn new(name: &str, api_key: Secret) -> Self {
        Self {
            name: name.to_owned(),
            api_key,
            base_url: DEFAULT_BASE_URL.to_owned(),
            models: Vec::new(),
            timeout: Duration::from_secs(600),
            stream_idle_timeout: Duration::from_secs(120),
        }
    }

    /// The provider.
    pub fn build(self, http: HttpClient) -> MistralProvider {
        let mut c = CompatConfig::new(&self.name, &self.base_url, Some(self.api_key));
        c.timeout = self.timeout;
        c.stream_idle_timeout = self.stream_idle_timeout;
        // Mistral documents `max_tokens`; its streams end with a chunk carrying the finish
        // reason and usage, without `stream_options` (which it does not document).
        c.request = RequestOptions {
            max_tokens_field: MaxTokensField::MaxTokens,
            stream_usage: false,
            reasoning_content: false,
        };
        c.embeddings_base64 = false;
        c.capabilities = CAPABILITIES;
        c.native_completions = false;
        c.catalog = models::catalog(&self.name, &self.models);
        MistralProvider::new(CompatProvider::new(c, http), &self.base_url)
    }
}
