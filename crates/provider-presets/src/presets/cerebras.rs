//! Cerebras: `https://api.cerebras.ai/v1`, `CEREBRAS_API_KEY`.
//!
//! Quirks: `max_completion_tokens`; reasoning in `message.reasoning`, sent back as the
//! assistant message's `reasoning` (accepted on the next turn); `time_info` beside `usage`
//! (kept as `cerebras.time_info`); `frequency_penalty`, `presence_penalty`, `logit_bias`,
//! `parallel_tool_calls` and `service_tier` answer 400 (refused by name); `stream_options` is
//! not sent.

use provider_openai::wire::MaxTokensField;
use runtime_core::{Capabilities, ProviderFactory, SettingSpec};

use crate::preset::{
    Action, CatalogModel, EchoScope, FieldRule, Preset, ReasoningEcho, ResponseQuirks,
};

const DOCUMENTED_400: &str =
    "Cerebras answers 400 for it (inference-docs.cerebras.ai, OpenAI compatibility)";

/// The Cerebras preset.
pub static PRESET: Preset = Preset {
    name: "cerebras",
    base_url: "https://api.cerebras.ai/v1",
    max_tokens_field: MaxTokensField::MaxCompletionTokens,
    stream_usage: false,
    reasoning_echo: ReasoningEcho::Field {
        name: "reasoning",
        scope: EchoScope::All,
        every_turn_for: &[],
    },
    fields: &[
        FieldRule {
            field: "frequency_penalty",
            models: &[],
            action: Action::Reject,
            why: DOCUMENTED_400,
        },
        FieldRule {
            field: "presence_penalty",
            models: &[],
            action: Action::Reject,
            why: DOCUMENTED_400,
        },
        FieldRule {
            field: "logit_bias",
            models: &[],
            action: Action::Reject,
            why: DOCUMENTED_400,
        },
        FieldRule {
            field: "parallel_tool_calls",
            models: &[],
            action: Action::Reject,
            why: DOCUMENTED_400,
        },
        FieldRule {
            field: "service_tier",
            models: &[],
            action: Action::Reject,
            why: DOCUMENTED_400,
        },
    ],
    capabilities: Capabilities::new()
        .chat(true)
        .streaming(true)
        .tools(true)
        .json_schema(true)
        .completion(true),
    catalog: &[
        CatalogModel::chat("gpt-oss-120b", 131_072, 0),
        CatalogModel::chat("llama-3.3-70b", 131_072, 0),
        CatalogModel::chat("llama3.1-8b", 131_072, 0),
    ],
    response: ResponseQuirks {
        annotations: &["time_info"],
        usage_in: None,
        cached_tokens_key: None,
        reasoning_outside_completion: false,
        openrouter: false,
    },
    map_error: runtime_core::http::map_status,
    model_prefix: None,
};

static SETTINGS: &[SettingSpec] = &[
    SettingSpec::api_key("CEREBRAS_API_KEY").help("Cerebras API key"),
    SettingSpec::base_url("https://api.cerebras.ai/v1")
        .env("CEREBRAS_BASE_URL")
        .help("API base URL"),
    crate::settings::MODELS,
    crate::settings::MAX_TOKENS_FIELD,
    crate::settings::STREAM_USAGE,
    SettingSpec::TIMEOUT,
    SettingSpec::STREAM_IDLE_TIMEOUT,
];

/// The registry entry of `cerebras`.
pub static FACTORY: ProviderFactory = ProviderFactory::new("cerebras", build)
    .display_name("Cerebras")
    .description("Cerebras Inference's OpenAI-compatible API")
    .crate_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    .settings(SETTINGS);

runtime_core::register_provider!(FACTORY);

/// The factory's build function: a `cerebras` instance from its config.
fn build(
    cfg: runtime_core::ProviderConfig,
    ctx: &runtime_core::BuildContext,
) -> runtime_core::Result<std::sync::Arc<dyn runtime_core::Provider>> {
    crate::settings::build_preset(&PRESET, cfg, ctx)
}
