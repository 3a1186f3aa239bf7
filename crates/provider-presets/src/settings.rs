//! What every preset shares: its common settings, [`PresetSettings`] (an instance's settings,
//! for building it in code), and the build function behind every preset's factory.

use std::sync::Arc;
use std::time::Duration;

use provider_openai::compat::{CompatConfig, CompatProvider};
use provider_openai::wire::MaxTokensField;
use runtime_core::http::HttpClient;
use runtime_core::registry::API_KEY;
use runtime_core::{BuildContext, Provider, ProviderConfig, Result, Secret, SettingSpec};
use serde_json::{Map, Value, json};

use crate::preset::Preset;
use crate::provider::PresetProvider;
use crate::request::RequestSettings;

/// Extra model ids for the static catalog (every preset).
pub const MODELS: SettingSpec = SettingSpec::string_list("models")
    .help("more model ids for the static catalog (the preset's main models are built in)");

/// Override of the preset's token-limit field (every preset).
pub const MAX_TOKENS_FIELD: SettingSpec = SettingSpec::string("max_tokens_field")
    .help("`max_tokens` or `max_completion_tokens` (default: the field the API documents)");

/// Override of the preset's usage-chunk request (every preset).
pub const STREAM_USAGE: SettingSpec = SettingSpec::bool("stream_usage")
    .help("send stream_options.include_usage (default: where the API documents it)");
/// Builds an instance of `preset` from its config (every preset's factory calls it with its
/// own preset).
pub fn build_preset(
    preset: &'static Preset,
    cfg: ProviderConfig,
    ctx: &BuildContext,
) -> Result<Arc<dyn Provider>> {
    let mut s = PresetSettings::new(preset, cfg.instance(), cfg.required_secret(API_KEY)?);
    s.base_url = cfg.base_url()?;
    if let Some(f) = cfg.string("max_tokens_field")? {
        s.max_tokens_field = Some(match f.as_str() {
            "max_tokens" => MaxTokensField::MaxTokens,
            "max_completion_tokens" => MaxTokensField::MaxCompletionTokens,
            other => {
                return Err(cfg.error(
                    "max_tokens_field",
                    format!("`{other}`: expected `max_tokens` or `max_completion_tokens`"),
                ));
            }
        });
    }
    s.stream_usage = cfg.bool("stream_usage")?;
    s.models = cfg.string_list("models")?;
    // OpenRouter's attribution headers and routing preferences (declared only there).
    if let Some(v) = cfg.string("http_referer")? {
        s.headers.push(("http-referer", v));
    }
    if let Some(v) = cfg.string("x_title")? {
        s.headers.push(("x-title", v));
    }
    let order = cfg.string_list("provider_order")?;
    let fallbacks = cfg.bool("allow_fallbacks")?;
    if !order.is_empty() || fallbacks.is_some() {
        let mut prefs = Map::new();
        if !order.is_empty() {
            prefs.insert("order".into(), json!(order));
        }
        if let Some(f) = fallbacks {
            prefs.insert("allow_fallbacks".into(), Value::Bool(f));
        }
        s.defaults.insert("provider".into(), Value::Object(prefs));
    }
    // Fireworks' account for short model ids.
    s.account = cfg.string("account")?;
    let t = cfg.timeouts()?;
    s.timeout = t.request;
    s.stream_idle_timeout = t.stream_idle;
    Ok(Arc::new(s.build(ctx.http.clone())))
}

/// A preset instance's settings, for building it in code.
#[derive(Debug, Clone)]
pub struct PresetSettings {
    /// The preset.
    pub preset: &'static Preset,
    /// Instance name.
    pub name: String,
    /// API key (bearer).
    pub api_key: Secret,
    /// Base URL (default: the preset's).
    pub base_url: String,
    /// Token-limit field override.
    pub max_tokens_field: Option<MaxTokensField>,
    /// Usage-chunk request override.
    pub stream_usage: Option<bool>,
    /// More catalog model ids.
    pub models: Vec<String>,
    /// Extra headers (OpenRouter's `HTTP-Referer`, `X-Title`).
    pub headers: Vec<(&'static str, String)>,
    /// Body fields added unless the request sets them (OpenRouter's `provider`).
    pub defaults: Map<String, Value>,
    /// Account of short model ids (Fireworks).
    pub account: Option<String>,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Stream silence timeout.
    pub stream_idle_timeout: Duration,
}

impl PresetSettings {
    /// Settings with the preset's defaults.
    pub fn new(preset: &'static Preset, name: &str, api_key: Secret) -> Self {
        Self {
            preset,
            name: name.to_owned(),
            api_key,
            base_url: preset.base_url.to_owned(),
            max_tokens_field: None,
            stream_usage: None,
            models: Vec::new(),
            headers: Vec::new(),
            defaults: Map::new(),
            account: None,
            timeout: Duration::from_secs(600),
            stream_idle_timeout: Duration::from_secs(120),
        }
    }

    /// The provider.
    pub fn build(self, http: HttpClient) -> PresetProvider {
        let p = self.preset;
        let mut c = CompatConfig::new(&self.name, &self.base_url, Some(self.api_key));
        c.headers = self.headers;
        c.timeout = self.timeout;
        c.stream_idle_timeout = self.stream_idle_timeout;
        c.request.max_tokens_field = self.max_tokens_field.unwrap_or(p.max_tokens_field);
        c.request.stream_usage = self.stream_usage.unwrap_or(p.stream_usage);
        c.request.reasoning_content = false;
        c.embeddings_base64 = false;
        // Not every OpenAI-compatible cloud takes token ids; none is known to, so text only.
        c.embedding_tokens = false;
        c.capabilities = p.capabilities;
        c.map_error = p.map_error;
        c.native_completions = false;
        let mut catalog = p.models(&self.name);
        for id in &self.models {
            if !catalog.iter().any(|m| &m.id == id) {
                catalog.push(runtime_core::ModelInfo::chat(&self.name, id, 0, 0));
            }
        }
        for m in catalog.iter_mut().filter(|m| m.context_window == Some(0)) {
            m.context_window = None;
            m.max_output_tokens = None;
        }
        c.catalog = catalog;
        let settings = RequestSettings {
            options: c.request,
            account: self.account,
            defaults: self.defaults,
        };
        PresetProvider::new(p, CompatProvider::new(c, http), settings)
    }
}
