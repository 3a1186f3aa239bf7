//! Fireworks AI: `https://api.fireworks.ai/inference/v1`, `FIREWORKS_API_KEY`.
//!
//! Quirks: `max_tokens`; model ids are account-prefixed
//! (`accounts/fireworks/models/llama-v3p1-8b-instruct`) — a short id (no `/`) gets
//! `accounts/{account}/models/` with the `account` setting (default `fireworks`); usage on the
//! finishing chunk without `stream_options` (not sent); first delta `content: null`.

use provider_openai::wire::MaxTokensField;
use runtime_core::{Capabilities, ProviderFactory, SettingSpec};

use crate::preset::{CatalogModel, Preset, ReasoningEcho, ResponseQuirks};

/// The Fireworks AI preset.
pub static PRESET: Preset = Preset {
    name: "fireworks",
    base_url: "https://api.fireworks.ai/inference/v1",
    max_tokens_field: MaxTokensField::MaxTokens,
    stream_usage: false,
    reasoning_echo: ReasoningEcho::Never,
    fields: &[],
    capabilities: Capabilities::new()
        .chat(true)
        .streaming(true)
        .tools(true)
        .vision(true)
        .json_schema(true)
        .completion(true),
    catalog: &[
        CatalogModel::chat(
            "accounts/fireworks/models/llama-v3p1-8b-instruct",
            131_072,
            0,
        ),
        CatalogModel::chat(
            "accounts/fireworks/models/llama-v3p3-70b-instruct",
            131_072,
            0,
        ),
        CatalogModel::chat("accounts/fireworks/models/gpt-oss-120b", 131_072, 0),
        CatalogModel::chat("accounts/fireworks/models/deepseek-v3p1", 163_840, 0),
    ],
    response: ResponseQuirks {
        annotations: &[],
        usage_in: None,
        cached_tokens_key: None,
        reasoning_outside_completion: false,
        openrouter: false,
    },
    map_error: runtime_core::http::map_status,
    model_prefix: Some("accounts/{account}/models/"),
};

static SETTINGS: &[SettingSpec] = &[
    SettingSpec::api_key("FIREWORKS_API_KEY").help("Fireworks AI API key"),
    SettingSpec::base_url("https://api.fireworks.ai/inference/v1")
        .env("FIREWORKS_BASE_URL")
        .help("API base URL"),
    SettingSpec::string("account")
        .default("fireworks")
        .help("account of short model ids: `llama-v3p1-8b-instruct` is sent as `accounts/<account>/models/llama-v3p1-8b-instruct`"),
    crate::settings::MODELS,
    crate::settings::MAX_TOKENS_FIELD,
    crate::settings::STREAM_USAGE,
    SettingSpec::TIMEOUT,
    SettingSpec::STREAM_IDLE_TIMEOUT,
];

/// The registry entry of `fireworks`.
pub static FACTORY: ProviderFactory = ProviderFactory::new("fireworks", build)
    .display_name("Fireworks AI")
    .description("Fireworks AI's OpenAI-compatible inference API")
    .crate_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    .settings(SETTINGS);

runtime_core::register_provider!(FACTORY);

/// The factory's build function: a `fireworks` instance from its config.
fn build(
    cfg: runtime_core::ProviderConfig,
    ctx: &runtime_core::BuildContext,
) -> runtime_core::Result<std::sync::Arc<dyn runtime_core::Provider>> {
    crate::settings::build_preset(&PRESET, cfg, ctx)
}
