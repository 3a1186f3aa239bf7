#![doc = include_str!("../README.md")]
// `runtime_core::Error` is core's one error type (144 bytes); boxing it is core's decision.
#![allow(clippy::result_large_err)]

pub mod ollama;
pub mod openai;
pub mod servers;
mod settings;

use std::sync::Arc;

use runtime_core::{BuildContext, Provider, ProviderConfig, ProviderFactory, Result, SettingSpec};

pub use ollama::OllamaProvider;
pub use openai::LocalOpenAiProvider;
use settings::apply_openai_settings;
pub use settings::{LocalApi, LocalSettings, OPENAI_CAPABILITIES};

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
