//! Cohere (`cohere`): v2 chat with tools, images, JSON output, `documents` and citations,
//! its streaming events, embed (`input_type`, `embedding_types`, `output_dimension`) and
//! rerank — a native mapping in [`wire`], one module per job.
//!
//! What the core has no field for travels as annotations of the answer
//! (`ResponseMeta::annotations`): `cohere.citations` (the spans of the answer and the
//! documents or tool results they cite), `cohere.tool_plan` (the plan stated before tool
//! calls), `cohere.tokens` (the model's own token counts; `usage` carries the billed units,
//! which is what Cohere charges). A stream sends the same annotations at `message-end`, so
//! it folds to the whole answer. Grounding documents go in the request's `documents` field
//! (strings or `{id, data}` objects), passed through.
//!
//! ```toml
//! [providers.cohere]
//! type = "cohere"          # CO_API_KEY (or COHERE_API_KEY) from the environment
//! ```
//!
//! ```
//! use runtime_core::{Provider, Secret};
//! let http = runtime_core::http::HttpClient::shared().unwrap();
//! let p = provider_cohere::CohereSettings::new("cohere", Secret::new("k")).build(http);
//! assert!(p.capabilities().rerank);
//! ```

pub mod provider;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use runtime_core::http::HttpClient;
use runtime_core::{
    BuildContext, Provider, ProviderConfig, ProviderFactory, Result, Secret, SettingSpec,
};

pub use provider::{CAPABILITIES, CohereProvider};

/// Cohere's API (paths `v2/chat`, `v2/embed`, `v2/rerank`, `v1/models` below it).
pub const DEFAULT_BASE_URL: &str = "https://api.cohere.com";

static SETTINGS: &[SettingSpec] = &[
    SettingSpec::api_key("CO_API_KEY")
        .optional()
        .help("Cohere API key (bearer); COHERE_API_KEY is read too"),
    SettingSpec::secret("cohere_api_key")
        .env("COHERE_API_KEY")
        .help("the key under the other name LiteLLM and others use; `api_key` wins"),
    SettingSpec::base_url(DEFAULT_BASE_URL),
    SettingSpec::TIMEOUT,
    SettingSpec::STREAM_IDLE_TIMEOUT,
];

/// The registry entry (type `cohere`).
pub static FACTORY: ProviderFactory = ProviderFactory::new("cohere", build)
    .display_name("Cohere")
    .description("Cohere v2 chat (tools, documents, citations), embed and rerank")
    .crate_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    .settings(SETTINGS);

runtime_core::register_provider!(FACTORY);

fn build(cfg: ProviderConfig, ctx: &BuildContext) -> Result<Arc<dyn Provider>> {
    let key = match (cfg.secret("api_key")?, cfg.secret("cohere_api_key")?) {
        (Some(k), _) | (None, Some(k)) => k,
        (None, None) => {
            return Err(cfg.error(
                "api_key",
                "required: set `api_key`, or CO_API_KEY or COHERE_API_KEY in the environment",
            ));
        }
    };
    let mut s = CohereSettings::new(cfg.instance(), key);
    s.base_url = cfg.base_url()?;
    let t = cfg.timeouts()?;
    s.timeout = t.request;
    s.stream_idle_timeout = t.stream_idle;
    Ok(Arc::new(s.build(ctx.http.clone())))
}

/// A Cohere instance's settings, for building it in code.
#[derive(Debug, Clone)]
pub struct CohereSettings {
    /// Instance name.
    pub name: String,
    /// API key (bearer).
    pub api_key: Secret,
    /// Base URL (without `/v2`).
    pub base_url: String,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Stream silence timeout.
    pub stream_idle_timeout: Duration,
}

impl CohereSettings {
    /// Settings with the defaults.
    pub fn new(name: &str, api_key: Secret) -> Self {
        Self {
            name: name.to_owned(),
            api_key,
            base_url: DEFAULT_BASE_URL.to_owned(),
            timeout: Duration::from_secs(600),
            stream_idle_timeout: Duration::from_secs(120),
        }
    }

    /// The provider.
    pub fn build(self, http: HttpClient) -> CohereProvider {
        let base = self.base_url.trim_end_matches('/');
        let base = base.strip_suffix("/v2").unwrap_or(base).to_owned();
        CohereProvider {
            catalog: wire::models::catalog(&self.name),
            name: Arc::from(self.name.as_str()),
            base_url: base,
            key: self.api_key,
            timeout: self.timeout,
            stream_idle_timeout: self.stream_idle_timeout,
            http,
        }
    }
}
