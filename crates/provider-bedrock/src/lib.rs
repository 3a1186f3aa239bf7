#![doc = include_str!("../README.md")]
// The core `Error` is large by design (typed fields); boxing it is the core's call.
#![allow(clippy::result_large_err)]

pub mod auth;
pub mod provider;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use runtime_core::{
    BuildContext, ModelInfo, Provider, ProviderConfig, ProviderFactory, Result, SettingSpec,
};

pub use auth::{Auth, AwsCredentials, CredentialInputs};
pub use provider::{BedrockConfig, BedrockProvider, CAPABILITIES};

static SETTINGS: &[SettingSpec] = &[
    SettingSpec::api_key("AWS_BEARER_TOKEN_BEDROCK").optional().help(
        "Bedrock API key, sent as `Authorization: Bearer`; when set it is used instead of SigV4",
    ),
    SettingSpec::string("access_key_id")
        .env("AWS_ACCESS_KEY_ID")
        .help("AWS access key id (SigV4)"),
    SettingSpec::secret("secret_access_key")
        .env("AWS_SECRET_ACCESS_KEY")
        .help("AWS secret access key (SigV4)"),
    SettingSpec::secret("session_token")
        .env("AWS_SESSION_TOKEN")
        .help("AWS session token of temporary credentials"),
    SettingSpec::string("profile")
        .env("AWS_PROFILE")
        .help("profile of the shared config/credentials files (default `default`)"),
    SettingSpec::string("shared_credentials_file")
        .env("AWS_SHARED_CREDENTIALS_FILE")
        .help("shared credentials file (default ~/.aws/credentials)"),
    SettingSpec::string("config_file")
        .env("AWS_CONFIG_FILE")
        .help("shared config file (default ~/.aws/config)"),
    SettingSpec::string("region")
        .env("AWS_REGION")
        .help("AWS region (else AWS_DEFAULT_REGION, else the profile's `region`)"),
    SettingSpec::url("base_url")
        .help("runtime endpoint (default https://bedrock-runtime.<region>.amazonaws.com)"),
    SettingSpec::url("control_plane_url").help(
        "control-plane endpoint for model listing (default https://bedrock.<region>.amazonaws.com)",
    ),
    SettingSpec::url("agent_runtime_url").help(
        "Agent Runtime endpoint of the Rerank API (default \
         https://bedrock-agent-runtime.<region>.amazonaws.com)",
    ),
    SettingSpec::TIMEOUT,
    SettingSpec::STREAM_IDLE_TIMEOUT,
];

/// The registry entry of the Bedrock provider (type name `bedrock`).
pub static FACTORY: ProviderFactory = ProviderFactory::new("bedrock", build)
    .display_name("AWS Bedrock")
    .description(
        "Amazon Bedrock: Converse / ConverseStream for every model family, Titan and Cohere \
         embeddings, rerank (Agent Runtime), model listing; SigV4 or Bedrock API keys",
    )
    .crate_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    .settings(SETTINGS);

runtime_core::register_provider!(FACTORY);

fn build(cfg: ProviderConfig, ctx: &BuildContext) -> Result<Arc<dyn Provider>> {
    build_with_env(cfg, ctx, &|k| std::env::var(k).ok(), &|p| {
        std::fs::read_to_string(p).ok()
    })
}

/// Builds from a validated config, reading `AWS_DEFAULT_REGION` and `HOME` through `env` and
/// the shared files through `read`.
pub fn build_with_env(
    cfg: ProviderConfig,
    ctx: &BuildContext,
    env: &dyn Fn(&str) -> Option<String>,
    read: &dyn Fn(&str) -> Option<String>,
) -> Result<Arc<dyn Provider>> {
    let home = env("HOME").filter(|h| !h.is_empty());
    let file = |key: &str, default: &str| -> Result<Option<String>> {
        Ok(match cfg.string(key)?.filter(|p| !p.is_empty()) {
            Some(p) => read(&p),
            None => home
                .as_ref()
                .and_then(|h| read(&format!("{h}/.aws/{default}"))),
        })
    };
    let inputs = CredentialInputs {
        api_key: cfg.api_key()?,
        access_key_id: cfg.string("access_key_id")?.filter(|s| !s.is_empty()),
        secret_access_key: cfg.secret("secret_access_key")?.filter(|s| !s.is_empty()),
        session_token: cfg.secret("session_token")?,
        profile: cfg.string("profile")?.filter(|s| !s.is_empty()),
        config_file: file("config_file", "config")?,
        credentials_file: file("shared_credentials_file", "credentials")?,
    };
    let (auth, profile_region) =
        auth::resolve(&inputs).map_err(|(field, why)| cfg.error(&field, why))?;
    let region = cfg
        .string("region")?
        .filter(|r| !r.is_empty())
        .or_else(|| env("AWS_DEFAULT_REGION").filter(|r| !r.is_empty()))
        .or(profile_region);
    if let Some(r) = &region
        && !r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(cfg.error("region", format!("`{r}` is not an AWS region name")));
    }
    let base_url = cfg.string("base_url")?.filter(|u| !u.is_empty());
    let needs_region = || {
        cfg.error(
            "region",
            "is required: set `region` or AWS_REGION / AWS_DEFAULT_REGION (or `region` in the \
             profile)",
        )
    };
    let runtime_url = match (&base_url, &region) {
        (Some(u), _) => u.trim_end_matches('/').to_owned(),
        (None, Some(r)) => format!("https://bedrock-runtime.{r}.amazonaws.com"),
        (None, None) => return Err(needs_region()),
    };
    let control_url = match (
        cfg.string("control_plane_url")?.filter(|u| !u.is_empty()),
        &region,
    ) {
        (Some(u), _) => u.trim_end_matches('/').to_owned(),
        (None, Some(r)) => format!("https://bedrock.{r}.amazonaws.com"),
        (None, None) => runtime_url.clone(),
    };
    if matches!(auth, Auth::SigV4(_)) && region.is_none() {
        return Err(needs_region());
    }
    let agent_runtime_url = match (
        cfg.string("agent_runtime_url")?.filter(|u| !u.is_empty()),
        &region,
    ) {
        (Some(u), _) => u.trim_end_matches('/').to_owned(),
        (None, Some(r)) => format!("https://bedrock-agent-runtime.{r}.amazonaws.com"),
        (None, None) => runtime_url.clone(),
    };
    let mut s = BedrockSettings::new(cfg.instance(), region.unwrap_or_default(), auth);
    s.runtime_url = Some(runtime_url);
    s.control_url = Some(control_url);
    s.agent_runtime_url = Some(agent_runtime_url);
    let t = cfg.timeouts()?;
    s.timeout = t.request;
    s.stream_idle_timeout = t.stream_idle;
    Ok(Arc::new(s.build(ctx.http.clone())))
}

/// Bedrock settings for building the provider in code.
#[derive(Debug, Clone)]
pub struct BedrockSettings {
    /// Instance name.
    pub name: String,
    /// Region.
    pub region: String,
    /// Credentials.
    pub auth: Auth,
    /// Runtime endpoint (default from the region).
    pub runtime_url: Option<String>,
    /// Control-plane endpoint (default from the region).
    pub control_url: Option<String>,
    /// Agent Runtime endpoint of the Rerank API (default from the region).
    pub agent_runtime_url: Option<String>,
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Stream silence timeout.
    pub stream_idle_timeout: Duration,
}

impl BedrockSettings {
    /// Settings with defaults.
    pub fn new(name: &str, region: impl Into<String>, auth: Auth) -> Self {
        Self {
            name: name.to_owned(),
            region: region.into(),
            auth,
            runtime_url: None,
            control_url: None,
            agent_runtime_url: None,
            timeout: Duration::from_secs(600),
            stream_idle_timeout: Duration::from_secs(120),
        }
    }

    /// The provider.
    pub fn build(self, http: runtime_core::http::HttpClient) -> BedrockProvider {
        let runtime_url = self
            .runtime_url
            .unwrap_or_else(|| format!("https://bedrock-runtime.{}.amazonaws.com", self.region));
        let control_url = self
            .control_url
            .unwrap_or_else(|| format!("https://bedrock.{}.amazonaws.com", self.region));
        let agent_runtime_url = self.agent_runtime_url.unwrap_or_else(|| {
            format!(
                "https://bedrock-agent-runtime.{}.amazonaws.com",
                self.region
            )
        });
        BedrockProvider::new(
            BedrockConfig {
                catalog: catalog(&self.name),
                name: Arc::from(self.name.as_str()),
                region: self.region,
                runtime_url: runtime_url.trim_end_matches('/').to_owned(),
                control_url: control_url.trim_end_matches('/').to_owned(),
                agent_runtime_url: agent_runtime_url.trim_end_matches('/').to_owned(),
                auth: self.auth,
                timeout: self.timeout,
                stream_idle_timeout: self.stream_idle_timeout,
            },
            http,
        )
    }
}

/// Main Bedrock models as of 2026-12 (context window, most output tokens), by foundation
/// model id; cross-region profile ids (`us.…`, `eu.…`, `global.…`) resolve to these in the
/// listing. Limits from the vendors' model cards, not from an AWS API.
pub fn catalog(provider: &str) -> Vec<ModelInfo> {
    let chat = |id: &str, ctx: u32, out: u32, vision: bool| {
        let mut m = ModelInfo::chat(provider, id, ctx, out).with_vision_and_schema(vision, false);
        m.owned_by = Some(wire::url::vendor(id).to_owned());
        m
    };
    let embedding = |id: &str, ctx: u32| {
        let mut m = ModelInfo::embedding(provider, id, ctx);
        m.owned_by = Some(wire::url::vendor(id).to_owned());
        m
    };
    vec![
        chat(
            "anthropic.claude-opus-4-5-20251101-v1:0",
            200_000,
            64_000,
            true,
        ),
        chat(
            "anthropic.claude-sonnet-4-5-20250929-v1:0",
            200_000,
            64_000,
            true,
        ),
        chat(
            "anthropic.claude-haiku-4-5-20251001-v1:0",
            200_000,
            64_000,
            true,
        ),
        chat(
            "anthropic.claude-opus-4-1-20250805-v1:0",
            200_000,
            32_000,
            true,
        ),
        chat(
            "anthropic.claude-sonnet-4-20250514-v1:0",
            200_000,
            64_000,
            true,
        ),
        chat(
            "anthropic.claude-3-7-sonnet-20250219-v1:0",
            200_000,
            64_000,
            true,
        ),
        chat(
            "anthropic.claude-3-5-haiku-20241022-v1:0",
            200_000,
            8_192,
            false,
        ),
        chat(
            "anthropic.claude-3-haiku-20240307-v1:0",
            200_000,
            4_096,
            true,
        ),
        chat("amazon.nova-premier-v1:0", 1_000_000, 32_000, true),
        chat("amazon.nova-pro-v1:0", 300_000, 10_000, true),
        chat("amazon.nova-lite-v1:0", 300_000, 10_000, true),
        chat("amazon.nova-micro-v1:0", 128_000, 10_000, false),
        chat("meta.llama3-3-70b-instruct-v1:0", 128_000, 8_192, false),
        chat("mistral.mistral-large-2407-v1:0", 128_000, 8_192, false),
        chat("deepseek.r1-v1:0", 128_000, 32_768, false),
        embedding("amazon.titan-embed-text-v2:0", 8_192),
        embedding("amazon.titan-embed-text-v1", 8_192),
        embedding("cohere.embed-english-v3", 512),
        embedding("cohere.embed-multilingual-v3", 512),
        embedding("cohere.embed-v4:0", 128_000),
    ]
    .into_iter()
    .chain(wire::rerank::MODELS.iter().map(|id| ModelInfo {
        id: (*id).to_owned(),
        provider: provider.to_owned(),
        kind: runtime_core::ModelKind::Other,
        owned_by: Some(wire::url::vendor(id).to_owned()),
        ..ModelInfo::default()
    }))
    .collect()
}
