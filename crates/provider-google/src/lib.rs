#![doc = include_str!("../README.md")]
// The core `Error` is large by design (typed fields); boxing it is the core's call.
#![allow(clippy::result_large_err)]

pub mod provider;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use runtime_core::{
    BuildContext, ModelInfo, Provider, ProviderConfig, ProviderFactory, Result, Secret, SettingSpec,
};

pub use provider::{GoogleConfig, GoogleProvider, map_google_error};

/// The Generative Language API.
pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com/v1beta";

/// The environment variable read when neither `api_key` nor `GEMINI_API_KEY` is set.
pub const FALLBACK_KEY_ENV: &str = "GOOGLE_API_KEY";

static SETTINGS: &[SettingSpec] = &[
    // Required, but checked by `build` so that GOOGLE_API_KEY can stand in for GEMINI_API_KEY
    // (a setting declares one environment variable).
    SettingSpec::api_key("GEMINI_API_KEY").optional().help(
        "Gemini API key (required; env GEMINI_API_KEY, else GOOGLE_API_KEY); sent as the \
         x-goog-api-key header",
    ),
    SettingSpec::base_url(DEFAULT_BASE_URL).help("API base URL, ending in /v1beta"),
    SettingSpec::TIMEOUT,
    SettingSpec::STREAM_IDLE_TIMEOUT,
];

/// The registry entry of the Gemini provider (type name `google`).
pub static FACTORY: ProviderFactory = ProviderFactory::new("google", build)
    .display_name("Google Gemini")
    .description("Gemini API (Generative Language): generateContent, streaming, embeddings, models")
    .crate_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    .settings(SETTINGS);

runtime_core::register_provider!(FACTORY);

fn build(cfg: ProviderConfig, ctx: &BuildContext) -> Result<Arc<dyn Provider>> {
    build_with_env(cfg, ctx, &|k| std::env::var(k).ok())
}

/// Builds from a validated config, reading the fallback key variable through `env`.
pub fn build_with_env(
    cfg: ProviderConfig,
    ctx: &BuildContext,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Arc<dyn Provider>> {
    let key = match cfg.api_key()? {
        Some(k) => k,
        None => env(FALLBACK_KEY_ENV)
            .filter(|s| !s.is_empty())
            .map(Secret::new)
            .ok_or_else(|| {
                cfg.error(
                    "api_key",
                    format!(
                        "is required: set `api_key` or the environment variable GEMINI_API_KEY \
                         (or {FALLBACK_KEY_ENV})"
                    ),
                )
            })?,
    };
    let mut s = GoogleSettings::new(cfg.instance(), key);
    s.base_url = cfg.base_url()?;
    let t = cfg.timeouts()?;
    s.timeout = t.request;
    s.stream_idle_timeout = t.stream_idle;
    Ok(Arc::new(s.build(ctx.http.clone())))
}

/// Gemini settings for building the provider in code.
#[derive(Debug, Clone)]
pub struct GoogleSettings {
    /// Instance name.
    pub name: String,
    /// API key.
    pub api_key: Secret,
    /// Base URL (`…/v1beta`).
    pub base_url: String,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Stream silence timeout.
    pub stream_idle_timeout: Duration,
}

impl GoogleSettings {
    /// Settings with defaults.
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
    pub fn build(self, http: runtime_core::http::HttpClient) -> GoogleProvider {
        GoogleProvider::new(
            GoogleConfig {
                catalog: catalog(&self.name),
                name: Arc::from(self.name.as_str()),
                base_url: self.base_url.trim_end_matches('/').to_owned(),
                api_key: Some(self.api_key),
                timeout: self.timeout,
                stream_idle_timeout: self.stream_idle_timeout,
            },
            http,
        )
    }
}

/// Gemini's models as of 2026-11 (context window = input-token limit, max output).
pub fn catalog(provider: &str) -> Vec<ModelInfo> {
    let chat = |id: &str, ctx: u32, out: u32| {
        ModelInfo::chat(provider, id, ctx, out).with_vision_and_schema(true, true)
    };
    let owned = |mut m: ModelInfo| {
        m.owned_by = Some("google".into());
        m
    };
    [
        chat("gemini-2.5-pro", 1_048_576, 65_536),
        chat("gemini-2.5-flash", 1_048_576, 65_536),
        chat("gemini-2.5-flash-lite", 1_048_576, 65_536),
        chat("gemini-2.0-flash", 1_048_576, 8_192),
        chat("gemini-2.0-flash-lite", 1_048_576, 8_192),
        ModelInfo::embedding(provider, "gemini-embedding-001", 2_048),
        ModelInfo::embedding(provider, "text-embedding-004", 2_048),
    ]
    .into_iter()
    .map(owned)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime_core::ModelKind;

    #[test]
    fn catalog_has_context_windows() {
        let p = GoogleSettings::new("gem", Secret::new("k"))
            .build(runtime_core::http::HttpClient::shared().unwrap());
        let models = p.models();
        let find = |id: &str| models.iter().find(|m| m.id == id).unwrap();
        for id in [
            "gemini-2.5-pro",
            "gemini-2.5-flash",
            "gemini-2.5-flash-lite",
            "gemini-2.0-flash",
        ] {
            let m = find(id);
            assert_eq!(m.kind, ModelKind::Chat);
            assert_eq!(m.context_window, Some(1_048_576));
            assert!(m.supports_tools && m.supports_vision && m.supports_json_schema);
            assert_eq!(m.provider, "gem");
        }
        assert_eq!(find("gemini-2.5-pro").max_output_tokens, Some(65_536));
        assert_eq!(find("gemini-2.0-flash").max_output_tokens, Some(8_192));
        for id in ["text-embedding-004", "gemini-embedding-001"] {
            assert_eq!(find(id).kind, ModelKind::Embedding);
            assert_eq!(find(id).context_window, Some(2_048));
        }
    }
}
