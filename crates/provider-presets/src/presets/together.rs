//! Together AI: `https://api.together.xyz/v1`, `TOGETHER_API_KEY`.
//!
//! Quirks: `max_tokens`; model ids are Hugging Face-style organisation/name, case-sensitive
//! (`meta-llama/Llama-3.3-70B-Instruct-Turbo`); answers carry `choices[].seed`, `prompt: []`
//! and `usage.cached_tokens` outside `prompt_tokens_details` (read as cached tokens); stream
//! chunks carry `choices[].text` beside `delta.content` (read once); `stream_options` is not
//! sent.

use provider_openai::wire::MaxTokensField;
use runtime_core::{Capabilities, ProviderFactory, SettingSpec};

use crate::preset::{CatalogModel, Preset, ReasoningEcho, ResponseQuirks};

/// The Together AI preset.
pub static PRESET: Preset = Preset {
    name: "together",
    base_url: "https://api.together.xyz/v1",
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
        CatalogModel::chat("meta-llama/Llama-3.3-70B-Instruct-Turbo", 131_072, 0),
        CatalogModel::chat("meta-llama/Meta-Llama-3.1-8B-Instruct-Turbo", 131_072, 0),
        CatalogModel::chat("openai/gpt-oss-120b", 131_072, 0),
        CatalogModel::chat("deepseek-ai/DeepSeek-V3", 131_072, 0),
        CatalogModel::chat("Qwen/Qwen2.5-72B-Instruct-Turbo", 32_768, 0),
    ],
    response: ResponseQuirks {
        annotations: &[],
        usage_in: None,
        cached_tokens_key: Some("cached_tokens"),
        reasoning_outside_completion: false,
        openrouter: false,
    },
    map_error: runtime_core::http::map_status,
    model_prefix: None,
};

static SETTINGS: &[SettingSpec] = &[
    SettingSpec::api_key("TOGETHER_API_KEY").help("Together AI API key"),
    SettingSpec::base_url("https://api.together.xyz/v1")
        .env("TOGETHER_BASE_URL")
        .help("API base URL"),
    crate::settings::MODELS,
    crate::settings::MAX_TOKENS_FIELD,
    crate::settings::STREAM_USAGE,
    SettingSpec::TIMEOUT,
    SettingSpec::STREAM_IDLE_TIMEOUT,
];

/// The registry entry of `together`.
pub static FACTORY: ProviderFactory = ProviderFactory::new("together", build)
    .display_name("Together AI")
    .description("Together AI's OpenAI-compatible API (open models)")
    .crate_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    .settings(SETTINGS);

runtime_core::register_provider!(FACTORY);

/// The factory's build function: a `together` instance from its config.
fn build(
    cfg: runtime_core::ProviderConfig,
    ctx: &runtime_core::BuildContext,
) -> runtime_core::Result<std::sync::Arc<dyn runtime_core::Provider>> {
    crate::settings::build_preset(&PRESET, cfg, ctx)
}
