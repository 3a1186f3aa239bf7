#![doc = include_str!("../README.md")]

pub mod compat;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use runtime_core::{
    BuildContext, Capabilities, ModelInfo, Provider, ProviderConfig, ProviderFactory, Result,
    Secret, SettingKind, SettingSpec,
};

pub use compat::{Auth, CompatConfig, CompatProvider, Operation};

/// OpenAI's public API.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// Most inputs one `/embeddings` call accepts.
pub const MAX_EMBEDDING_INPUTS: usize = 2048;

static SETTINGS: &[SettingSpec] = &[
    SettingSpec {
        key: "api_key",
        kind: SettingKind::Secret,
        required: true,
        env: Some("OPENAI_API_KEY"),
        default: None,
        help: "OpenAI API key",
    },
    SettingSpec {
        key: "base_url",
        kind: SettingKind::Url,
        required: false,
        env: Some("OPENAI_BASE_URL"),
        default: Some(DEFAULT_BASE_URL),
        help: "API base URL, ending in /v1",
    },
    SettingSpec {
        key: "organization",
        kind: SettingKind::String,
        required: false,
        env: Some("OPENAI_ORG_ID"),
        default: None,
        help: "sent as the OpenAI-Organization header",
    },
    SettingSpec {
        key: "project",
        kind: SettingKind::String,
        required: false,
        env: Some("OPENAI_PROJECT_ID"),
        default: None,
        help: "sent as the OpenAI-Project header",
    },
    SettingSpec {
        key: "timeout",
        kind: SettingKind::Duration,
        required: false,
        env: None,
        default: Some("600s"),
        help: "longest wait for a whole answer, or for a stream to start",
    },
    SettingSpec {
        key: "stream_idle_timeout",
        kind: SettingKind::Duration,
        required: false,
        env: None,
        default: Some("120s"),
        help: "longest silence between two streamed chunks",
    },
];

/// The registry entry of the OpenAI provider.
pub static FACTORY: ProviderFactory = ProviderFactory {
    name: "openai",
    display_name: "OpenAI",
    description: "OpenAI API: chat completions, legacy completions, embeddings, models",
    crate_name: env!("CARGO_PKG_NAME"),
    crate_version: env!("CARGO_PKG_VERSION"),
    settings: SETTINGS,
    build,
};

runtime_core::register_provider!(FACTORY);

fn build(cfg: ProviderConfig, ctx: &BuildContext) -> Result<Arc<dyn Provider>> {
    let key = cfg.secret("api_key")?;
    let base = cfg
        .string("base_url")?
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    let mut settings = OpenAiSettings::new(cfg.instance(), key.unwrap_or_default());
    settings.base_url = base;
    settings.organization = cfg.string("organization")?;
    settings.project = cfg.string("project")?;
    if let Some(t) = cfg.duration("timeout")? {
        settings.timeout = t;
    }
    if let Some(t) = cfg.duration("stream_idle_timeout")? {
        settings.stream_idle_timeout = t;
    }
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
        c.request.max_tokens_field = wire::MaxTokensField::MaxCompletionTokens;
        c.request.stream_usage = true;
        c.capabilities = Capabilities {
            chat: true,
            streaming: true,
            tools: true,
            vision: true,
            json_schema: true,
            completion: true,
            embeddings: true,
            list_models: true,
            max_embedding_inputs: Some(MAX_EMBEDDING_INPUTS),
        };
        c.catalog = catalog(&self.name);
        CompatProvider::new(c, http)
    }
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
