//! DeepSeek: `https://api.deepseek.com`, `DEEPSEEK_API_KEY`.
//!
//! Quirks: `max_tokens`; reasoning in `reasoning_content` (message and delta); earlier
//! reasoning goes back as `reasoning_content` only inside the current tool-call loop (after
//! the last user message: R1 answers 400 for older turns' reasoning, V3.2+ thinking mode needs
//! it within the loop), and on every assistant turn for `deepseek-v4*` (empty when a turn had
//! none); cache hits in `usage.prompt_cache_hit_tokens`; `deepseek-reasoner` ignores
//! `temperature`, `top_p`, `presence_penalty`, `frequency_penalty` (left out) and answers 400
//! for `logprobs`, `top_logprobs` (refused).

use provider_openai::wire::MaxTokensField;
use runtime_core::{Capabilities, ProviderFactory, SettingSpec};

use crate::preset::{
    Action, CatalogModel, EchoScope, FieldRule, Preset, ReasoningEcho, ResponseQuirks,
};

const IGNORED: &str =
    "deepseek-reasoner accepts it without effect (api-docs.deepseek.com/guides/reasoning_model)";
const REJECTED: &str =
    "deepseek-reasoner answers 400 for it (api-docs.deepseek.com/guides/reasoning_model)";
const REASONER: &[&str] = &["deepseek-reasoner"];

/// The DeepSeek preset.
pub static PRESET: Preset = Preset {
    name: "deepseek",
    base_url: "https://api.deepseek.com",
    max_tokens_field: MaxTokensField::MaxTokens,
    stream_usage: true,
    reasoning_echo: ReasoningEcho::Field {
        name: "reasoning_content",
        scope: EchoScope::AfterLastUser,
        every_turn_for: &["deepseek-v4"],
    },
    fields: &[
        FieldRule {
            field: "temperature",
            models: REASONER,
            action: Action::Drop,
            why: IGNORED,
        },
        FieldRule {
            field: "top_p",
            models: REASONER,
            action: Action::Drop,
            why: IGNORED,
        },
        FieldRule {
            field: "presence_penalty",
            models: REASONER,
            action: Action::Drop,
            why: IGNORED,
        },
        FieldRule {
            field: "frequency_penalty",
            models: REASONER,
            action: Action::Drop,
            why: IGNORED,
        },
        FieldRule {
            field: "logprobs",
            models: REASONER,
            action: Action::Reject,
            why: REJECTED,
        },
        FieldRule {
            field: "top_logprobs",
            models: REASONER,
            action: Action::Reject,
            why: REJECTED,
        },
    ],
    capabilities: Capabilities::new()
        .chat(true)
        .streaming(true)
        .tools(true)
        .completion(true)
        .list_models(true),
    catalog: &[
        CatalogModel::chat("deepseek-chat", 128_000, 8_192),
        CatalogModel::chat("deepseek-reasoner", 128_000, 65_536),
        CatalogModel::chat("deepseek-v4-flash", 1_000_000, 0),
        CatalogModel::chat("deepseek-v4-pro", 1_000_000, 0),
    ],
    response: ResponseQuirks {
        annotations: &[],
        usage_in: None,
        cached_tokens_key: Some("prompt_cache_hit_tokens"),
        reasoning_outside_completion: false,
        openrouter: false,
    },
    map_error: runtime_core::http::map_status,
    model_prefix: None,
};

static SETTINGS: &[SettingSpec] = &[
    SettingSpec::api_key("DEEPSEEK_API_KEY").help("DeepSeek API key"),
    SettingSpec::base_url("https://api.deepseek.com")
        .env("DEEPSEEK_BASE_URL")
        .help("API base URL (`/v1` also works)"),
    crate::settings::MODELS,
    crate::settings::MAX_TOKENS_FIELD,
    crate::settings::STREAM_USAGE,
    SettingSpec::TIMEOUT,
    SettingSpec::STREAM_IDLE_TIMEOUT,
];

/// The registry entry of `deepseek`.
pub static FACTORY: ProviderFactory = ProviderFactory::new("deepseek", build)
    .display_name("DeepSeek")
    .description("DeepSeek's OpenAI-compatible API (deepseek-chat, deepseek-reasoner, V4)")
    .crate_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    .settings(SETTINGS);

runtime_core::register_provider!(FACTORY);

/// The factory's build function: a `deepseek` instance from its config.
fn build(
    cfg: runtime_core::ProviderConfig,
    ctx: &runtime_core::BuildContext,
) -> runtime_core::Result<std::sync::Arc<dyn runtime_core::Provider>> {
    crate::settings::build_preset(&PRESET, cfg, ctx)
}
