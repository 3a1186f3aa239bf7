//! Named self-hosting servers: `vllm`, `sglang`, `lmstudio` and `llamacpp` are the `local`
//! provider's OpenAI-compatible mode with each server's default address, environment
//! variables and known quirks filled in, so a config says `type = "vllm"` instead of a
//! `base_url` and a list of switches.

use std::sync::Arc;

use runtime_core::{BuildContext, Provider, ProviderConfig, ProviderFactory, Result, SettingSpec};

use crate::settings::{LocalApi, LocalSettings, apply_openai_settings};

/// What differs between the named servers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Server {
    /// Provider type name (`type = "…"`).
    pub name: &'static str,
    /// The address the server listens on by default.
    pub default_base_url: &'static str,
    /// Whether its `/v1/embeddings` takes `input` as token ids (`[[int]]`); when not, a
    /// token request is refused with a 400 naming the server instead of being sent.
    pub embedding_tokens: bool,
}

/// vLLM (`vllm serve`): port 8000; its `--api-key` is read from `VLLM_API_KEY` by the server
/// itself, so the same variable authenticates the gateway; embeddings accept token ids.
pub const VLLM: Server = Server {
    name: "vllm",
    default_base_url: "http://localhost:8000/v1",
    embedding_tokens: true,
};

/// SGLang (`python -m sglang.launch_server`): port 30000.
pub const SGLANG: Server = Server {
    name: "sglang",
    default_base_url: "http://localhost:30000/v1",
    embedding_tokens: false,
};

/// LM Studio's local server: port 1234, no key unless one is set.
pub const LMSTUDIO: Server = Server {
    name: "lmstudio",
    default_base_url: "http://localhost:1234/v1",
    embedding_tokens: false,
};

/// llama.cpp's `llama-server`: port 8080; its `--api-key` is read from `LLAMA_API_KEY`.
pub const LLAMACPP: Server = Server {
    name: "llamacpp",
    default_base_url: "http://localhost:8080/v1",
    embedding_tokens: false,
};

/// The settings every named server shares, after its `base_url` and `api_key`.
macro_rules! server_settings {
    ($url:expr, $url_env:literal, $key_env:literal) => {
        &[
            SettingSpec::base_url($url).env($url_env),
            SettingSpec::api_key($key_env)
                .optional()
                .help("optional key, sent as Authorization: Bearer when set"),
            SettingSpec::string("max_tokens_field")
                .default("max_tokens")
                .help("`max_tokens` or `max_completion_tokens`"),
            SettingSpec::bool("stream_usage")
                .default("true")
                .help("send stream_options.include_usage"),
            SettingSpec::string_list("models")
                .help("static model catalog (the live list comes from the server)"),
            SettingSpec::TIMEOUT.help(
                "longest wait for a whole answer, or for a stream to start (local models are slow)",
            ),
            SettingSpec::STREAM_IDLE_TIMEOUT.default("300s"),
        ]
    };
}

static VLLM_SETTINGS: &[SettingSpec] =
    server_settings!("http://localhost:8000/v1", "VLLM_BASE_URL", "VLLM_API_KEY");
static SGLANG_SETTINGS: &[SettingSpec] = server_settings!(
    "http://localhost:30000/v1",
    "SGLANG_BASE_URL",
    "SGLANG_API_KEY"
);
static LMSTUDIO_SETTINGS: &[SettingSpec] = server_settings!(
    "http://localhost:1234/v1",
    "LM_STUDIO_BASE_URL",
    "LM_STUDIO_API_KEY"
);
static LLAMACPP_SETTINGS: &[SettingSpec] = server_settings!(
    "http://localhost:8080/v1",
    "LLAMA_CPP_BASE_URL",
    "LLAMA_API_KEY"
);

/// Registry entry of type `vllm`.
pub static VLLM_FACTORY: ProviderFactory = ProviderFactory::new("vllm", |c, x| build(&VLLM, c, x))
    .display_name("vLLM")
    .description("a vLLM OpenAI-compatible server (default http://localhost:8000/v1)")
    .crate_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    .settings(VLLM_SETTINGS);

/// Registry entry of type `sglang`.
pub static SGLANG_FACTORY: ProviderFactory =
    ProviderFactory::new("sglang", |c, x| build(&SGLANG, c, x))
        .display_name("SGLang")
        .description("an SGLang OpenAI-compatible server (default http://localhost:30000/v1)")
        .crate_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
        .settings(SGLANG_SETTINGS);

/// Registry entry of type `lmstudio`.
pub static LMSTUDIO_FACTORY: ProviderFactory =
    ProviderFactory::new("lmstudio", |c, x| build(&LMSTUDIO, c, x))
        .display_name("LM Studio")
        .description("LM Studio's local server (default http://localhost:1234/v1)")
        .crate_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
        .settings(LMSTUDIO_SETTINGS);

/// Registry entry of type `llamacpp`.
pub static LLAMACPP_FACTORY: ProviderFactory =
    ProviderFactory::new("llamacpp", |c, x| build(&LLAMACPP, c, x))
        .display_name("llama.cpp server")
        .description("llama.cpp's llama-server (default http://localhost:8080/v1)")
        .crate_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
        .settings(LLAMACPP_SETTINGS);

runtime_core::register_provider!(VLLM_FACTORY);
runtime_core::register_provider!(SGLANG_FACTORY);
runtime_core::register_provider!(LMSTUDIO_FACTORY);
runtime_core::register_provider!(LLAMACPP_FACTORY);

/// Every named server, for listings and tests.
pub const ALL: [&Server; 4] = [&VLLM, &SGLANG, &LMSTUDIO, &LLAMACPP];

/// The local settings of `server` for `cfg` (its defaults, then the config's values).
pub fn settings(server: &Server, cfg: &ProviderConfig) -> Result<LocalSettings> {
    let mut s = LocalSettings::new(cfg.instance(), &cfg.base_url()?);
    s.api = LocalApi::OpenAi;
    s.embedding_tokens = server.embedding_tokens;
    s.api_key = cfg.api_key()?;
    apply_openai_settings(&mut s, cfg)?;
    Ok(s)
}

fn build(server: &Server, cfg: ProviderConfig, ctx: &BuildContext) -> Result<Arc<dyn Provider>> {
    Ok(Arc::new(
        settings(server, &cfg)?.build_openai(ctx.http.clone())?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_server_defaults_to_its_own_port() {
        for (server, factory) in [
            (&VLLM, &VLLM_FACTORY),
            (&SGLANG, &SGLANG_FACTORY),
            (&LMSTUDIO, &LMSTUDIO_FACTORY),
            (&LLAMACPP, &LLAMACPP_FACTORY),
        ] {
            assert_eq!(factory.name, server.name);
            let base = factory
                .settings
                .iter()
                .find(|s| s.key == "base_url")
                .and_then(|s| s.default);
            assert_eq!(base, Some(server.default_base_url), "{}", server.name);
        }
    }
}
