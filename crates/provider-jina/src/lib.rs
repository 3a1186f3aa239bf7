#![doc = include_str!("../README.md")]

pub mod provider;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use runtime_core::http::HttpClient;
use runtime_core::{
    BuildContext, Provider, ProviderConfig, ProviderFactory, Result, Secret, SettingSpec,
};

pub use provider::{CAPABILITIES, JinaProvider};

/// Jina's API (`rerank`, `embeddings` below it).
pub const DEFAULT_BASE_URL: &str = "https://api.jina.ai/v1";

static SETTINGS: &[SettingSpec] = &[
    SettingSpec::api_key("JINA_API_KEY").help("Jina AI API key (bearer)"),
    SettingSpec::base_url(DEFAULT_BASE_URL),
    SettingSpec::TIMEOUT,
    SettingSpec::STREAM_IDLE_TIMEOUT,
];

/// The registry entry (type `jina`).
pub static FACTORY: ProviderFactory = ProviderFactory::new("jina", build)
    .display_name("Jina AI")
    .description("Jina AI rerank and embeddings")
    .crate_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    .settings(SETTINGS);

runtime_core::register_provider!(FACTORY);

fn build(cfg: ProviderConfig, ctx: &BuildContext) -> Result<Arc<dyn Provider>> {
    let Some(key) = cfg.api_key()? else {
        return Err(cfg.error(
            "api_key",
            "required: set `api_key` or JINA_API_KEY in the environment",
        ));
    };
    let mut s = JinaSettings::new(cfg.instance(), key);
    s.base_url = cfg.base_url()?;
    let t = cfg.timeouts()?;
    s.timeout = t.request;
    s.stream_idle_timeout = t.stream_idle;
    Ok(Arc::new(s.build(ctx.http.clone())))
}

/// A Jina instance's settings, for building it in code.
#[derive(Debug, Clone)]
pub struct JinaSettings {
    /// Instance name.
    pub name: String,
    /// API key (bearer).
    pub api_key: Secret,
    /// Base URL (with `/v1`).
    pub base_url: String,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Stream silence timeout (Jina has no streams; kept for the common settings).
    pub stream_idle_timeout: Duration,
}

impl JinaSettings {
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
    pub fn build(self, http: HttpClient) -> JinaProvider {
        JinaProvider {
            catalog: wire::models::catalog(&self.name),
            name: Arc::from(self.name.as_str()),
            base_url: self.base_url.trim_end_matches('/').to_owned(),
            key: self.api_key,
            timeout: self.timeout,
            http,
        }
    }
}
