#![doc = include_str!("../README.md")]
// The core `Error` is large by design (typed fields); boxing it is the core's call.
#![allow(clippy::result_large_err)]

pub mod auth;
pub mod embed;
pub mod endpoint;
pub mod errors;
pub mod models;
pub mod provider;

use std::sync::Arc;
use std::time::Duration;

use runtime_core::http::HttpClient;
use runtime_core::{
    BuildContext, ModelInfo, Provider, ProviderConfig, ProviderFactory, Result, Secret, SettingSpec,
};

pub use auth::{Credentials, TokenSource};
pub use endpoint::{DEFAULT_LOCATION, Endpoint, Publisher};
pub use provider::{CAPABILITIES, VertexConfig, VertexProvider};

/// `anthropic_version` of Claude bodies on Vertex AI.
pub const DEFAULT_ANTHROPIC_VERSION: &str = "vertex-2023-10-16";

/// Project variables read after `project` / `GOOGLE_CLOUD_PROJECT`, in order.
pub const PROJECT_FALLBACK_ENV: &[&str] = &["VERTEXAI_PROJECT", "GOOGLE_PROJECT_ID"];

/// Location variables read after `location` / `GOOGLE_CLOUD_LOCATION`, in order.
pub const LOCATION_FALLBACK_ENV: &[&str] = &["VERTEXAI_LOCATION"];

static SETTINGS: &[SettingSpec] = &[
    SettingSpec::secret("credentials")
        .env("GOOGLE_APPLICATION_CREDENTIALS")
        .help(
            "a service-account key or an authorized_user file: its path, or the JSON itself \
             (else the gcloud application-default file, if present)",
        ),
    SettingSpec::secret("access_token")
        .env("GOOGLE_OAUTH_ACCESS_TOKEN")
        .help("an OAuth access token, used as it is (never refreshed); instead of credentials"),
    SettingSpec::string("project").env("GOOGLE_CLOUD_PROJECT").help(
        "Google Cloud project id (else VERTEXAI_PROJECT, else the credential file's project)",
    ),
    SettingSpec::string("location")
        .env("GOOGLE_CLOUD_LOCATION")
        .help("region such as us-central1 or europe-west4, or `global` (else VERTEXAI_LOCATION, else us-central1)"),
    SettingSpec::url("base_url").help(
        "API host override (default https://{location}-aiplatform.googleapis.com, or \
         https://aiplatform.googleapis.com for `global`)",
    ),
    SettingSpec::string("anthropic_version")
        .default(DEFAULT_ANTHROPIC_VERSION)
        .help("anthropic_version sent in Claude request bodies"),
    SettingSpec::integer("default_max_tokens")
        .default("4096")
        .help("max_tokens sent to Claude models when a request sets none"),
    SettingSpec::TIMEOUT,
    SettingSpec::STREAM_IDLE_TIMEOUT,
];

/// The registry entry of the Vertex AI provider (type name `vertex`).
pub static FACTORY: ProviderFactory = ProviderFactory::new("vertex", build)
    .display_name("Google Vertex AI")
    .description(
        "Vertex AI: Gemini (generateContent), Claude (rawPredict), text embeddings (predict); \
         service-account, ADC or access-token auth",
    )
    .crate_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    .settings(SETTINGS);

runtime_core::register_provider!(FACTORY);

fn build(cfg: ProviderConfig, ctx: &BuildContext) -> Result<Arc<dyn Provider>> {
    build_with_env(cfg, ctx, &|k| std::env::var(k).ok())
}

/// Builds from a validated config, reading fallback variables (project, location, the ADC
/// well-known file) through `env`.
pub fn build_with_env(
    cfg: ProviderConfig,
    ctx: &BuildContext,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Arc<dyn Provider>> {
    let set = |k: &str| env(k).filter(|v| !v.trim().is_empty());
    let credentials = match (cfg.secret("credentials")?, cfg.secret("access_token")?) {
        (Some(_), Some(_)) => {
            return Err(cfg.error(
                "credentials, access_token",
                "set one of `credentials` and `access_token`, not both (check \
                 GOOGLE_APPLICATION_CREDENTIALS and GOOGLE_OAUTH_ACCESS_TOKEN)",
            ));
        }
        (None, Some(token)) => Credentials::AccessToken(token),
        (Some(c), None) => {
            Credentials::from_setting(c.expose()).map_err(|e| cfg.error("credentials", e))?
        }
        (None, None) => match auth::credentials::well_known_file(&set) {
            Some(path) if path.is_file() => {
                Credentials::from_file(&path).map_err(|e| cfg.error("credentials", e))?
            }
            _ => {
                return Err(cfg.error(
                    "credentials",
                    "is required: set `credentials` (GOOGLE_APPLICATION_CREDENTIALS: a \
                     service-account key or authorized_user file), or `access_token` \
                     (GOOGLE_OAUTH_ACCESS_TOKEN), or run `gcloud auth application-default login`",
                ));
            }
        },
    };
    let project = cfg
        .string("project")?
        .filter(|p| !p.is_empty())
        .or_else(|| PROJECT_FALLBACK_ENV.iter().find_map(|k| set(k)))
        .or_else(|| credentials.project_id().map(str::to_owned))
        .ok_or_else(|| {
            cfg.error(
                "project",
                "is required: set `project` (GOOGLE_CLOUD_PROJECT or VERTEXAI_PROJECT), or use \
                 a service-account key, which names its project",
            )
        })?;
    if !endpoint::valid_project(&project) {
        return Err(cfg.error("project", format!("`{project}` is not a project id")));
    }
    let location = cfg
        .string("location")?
        .filter(|l| !l.is_empty())
        .or_else(|| LOCATION_FALLBACK_ENV.iter().find_map(|k| set(k)))
        .unwrap_or_else(|| DEFAULT_LOCATION.to_owned());
    if !endpoint::valid_location(&location) {
        return Err(cfg.error(
            "location",
            format!("`{location}` is not a location (e.g. us-central1, europe-west4, global)"),
        ));
    }
    let mut s = VertexSettings::new(cfg.instance(), &project, credentials);
    s.location = location;
    s.base_url = cfg.string("base_url")?;
    if let Some(v) = cfg.string("anthropic_version")? {
        s.anthropic_version = v;
    }
    if let Some(n) = cfg.integer("default_max_tokens")? {
        s.default_max_tokens = u32::try_from(n).ok().filter(|n| *n > 0).ok_or_else(|| {
            cfg.error(
                "default_max_tokens",
                format!("{n} is not between 1 and {}", u32::MAX),
            )
        })?;
    }
    let t = cfg.timeouts()?;
    s.timeout = t.request;
    s.stream_idle_timeout = t.stream_idle;
    let provider = s
        .build(ctx.http.clone())
        .map_err(|e| cfg.error("credentials", e))?;
    Ok(Arc::new(provider))
}

/// Vertex AI settings for building the provider in code.
#[derive(Debug, Clone)]
pub struct VertexSettings {
    /// Instance name.
    pub name: String,
    /// Where tokens come from.
    pub credentials: Credentials,
    /// Google Cloud project id.
    pub project: String,
    /// `us-central1`, `global`…
    pub location: String,
    /// Host override (default: the location's host).
    pub base_url: Option<String>,
    /// `anthropic_version` in Claude bodies.
    pub anthropic_version: String,
    /// Claude `max_tokens` when a request has none.
    pub default_max_tokens: u32,
    /// Whole-request timeout (also bounds token requests).
    pub timeout: Duration,
    /// Stream silence timeout.
    pub stream_idle_timeout: Duration,
}

impl VertexSettings {
    /// Settings with defaults (`us-central1`).
    pub fn new(name: &str, project: &str, credentials: Credentials) -> Self {
        Self {
            name: name.to_owned(),
            credentials,
            project: project.to_owned(),
            location: DEFAULT_LOCATION.to_owned(),
            base_url: None,
            anthropic_version: DEFAULT_ANTHROPIC_VERSION.to_owned(),
            default_max_tokens: provider_anthropic::DEFAULT_MAX_TOKENS,
            timeout: Duration::from_secs(600),
            stream_idle_timeout: Duration::from_secs(120),
        }
    }

    /// Settings with a given access token.
    pub fn with_access_token(name: &str, project: &str, token: Secret) -> Self {
        Self::new(name, project, Credentials::AccessToken(token))
    }

    /// The provider; fails (with the reason, never the key) when a service account's private
    /// key cannot be used.
    pub fn build(self, http: HttpClient) -> std::result::Result<VertexProvider, String> {
        let tokens = TokenSource::new(&self.name, self.credentials, http.clone(), self.timeout)?;
        Ok(VertexProvider::new(
            VertexConfig {
                catalog: catalog(&self.name),
                name: Arc::from(self.name.as_str()),
                endpoint: Endpoint::new(&self.project, &self.location, self.base_url.as_deref()),
                anthropic_version: self.anthropic_version,
                default_max_tokens: self.default_max_tokens,
                timeout: self.timeout,
                stream_idle_timeout: self.stream_idle_timeout,
            },
            Arc::new(tokens),
            http,
        ))
    }
}

/// The models Vertex AI serves that this provider maps, as of 2026-12: Gemini (Google's
/// publisher), Claude (Anthropic's, ids with their `@` version), text embeddings.
pub fn catalog(provider: &str) -> Vec<ModelInfo> {
    let chat = |id: &str, ctx: u32, out: u32, owner: &str| {
        let mut m = ModelInfo::chat(provider, id, ctx, out).with_vision_and_schema(true, true);
        m.owned_by = Some(owner.into());
        m
    };
    let embedding = |id: &str, ctx: u32| {
        let mut m = ModelInfo::embedding(provider, id, ctx);
        m.owned_by = Some("google".into());
        m
    };
    vec![
        chat("gemini-2.5-pro", 1_048_576, 65_536, "google"),
        chat("gemini-2.5-flash", 1_048_576, 65_536, "google"),
        chat("gemini-2.5-flash-lite", 1_048_576, 65_536, "google"),
        chat("gemini-2.0-flash", 1_048_576, 8_192, "google"),
        chat("gemini-2.0-flash-lite", 1_048_576, 8_192, "google"),
        chat("claude-opus-4-5@20251101", 200_000, 64_000, "anthropic"),
        chat("claude-sonnet-4-5@20250929", 200_000, 64_000, "anthropic"),
        chat("claude-haiku-4-5@20251001", 200_000, 64_000, "anthropic"),
        chat("claude-opus-4-1@20250805", 200_000, 32_000, "anthropic"),
        chat("claude-sonnet-4@20250514", 200_000, 64_000, "anthropic"),
        chat("claude-3-7-sonnet@20250219", 200_000, 64_000, "anthropic"),
        chat("claude-3-5-haiku@20241022", 200_000, 8_192, "anthropic"),
        embedding("gemini-embedding-001", 2_048),
        embedding("text-embedding-005", 2_048),
        embedding("text-multilingual-embedding-002", 2_048),
    ]
}
