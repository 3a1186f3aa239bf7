//! xAI: `https://api.x.ai/v1`, `XAI_API_KEY`.
//!
//! Quirks: `max_tokens`; reasoning in `reasoning_content` (grok-3-mini), not sent back;
//! `usage.completion_tokens` excludes reasoning while `total_tokens` includes it (folded in);
//! an empty `finish_reason` with tool calls; usage in a last chunk with `choices: []`;
//! reasoning models (`grok-3-mini`, `grok-4`, `grok-code-fast`) answer an error for `stop`,
//! `presence_penalty`, `frequency_penalty` (refused by name).

use provider_openai::wire::MaxTokensField;
use runtime_core::{Capabilities, ProviderFactory, SettingSpec};

use crate::preset::{Action, CatalogModel, FieldRule, Preset, ReasoningEcho, ResponseQuirks};

const REASONING_MODELS: &[&str] = &["grok-3-mini", "grok-4", "grok-code-fast"];
const NOT_ON_REASONING: &str =
    "xAI's reasoning models answer an error for it (docs.x.ai, reasoning guide)";

/// The xAI preset.
pub static PRESET: Preset = Preset {
    name: "xai",
    base_url: "https://api.x.ai/v1",
    max_tokens_field: MaxTokensField::MaxTokens,
    stream_usage: true,
    reasoning_echo: ReasoningEcho::Never,
    fields: &[
        FieldRule {
            field: "stop",
            models: REASONING_MODELS,
            action: Action::Reject,
            why: NOT_ON_REASONING,
        },
        FieldRule {
            field: "presence_penalty",
            models: REASONING_MODELS,
            action: Action::Reject,
            why: NOT_ON_REASONING,
        },
        FieldRule {
            field: "frequency_penalty",
            models: REASONING_MODELS,
            action: Action::Reject,
            why: NOT_ON_REASONING,
        },
    ],
    capabilities: Capabilities::new()
        .chat(true)
        .streaming(true)
        .tools(true)
        .vision(true)
        .json_schema(true)
        .completion(true),
    catalog: &[
        CatalogModel::chat("grok-4", 256_000, 0).vision(),
        CatalogModel::chat("grok-4-1-fast-reasoning", 2_000_000, 30_000).vision(),
        CatalogModel::chat("grok-4-1-fast-non-reasoning", 2_000_000, 30_000).vision(),
        CatalogModel::chat("grok-code-fast-1", 256_000, 0),
        CatalogModel::chat("grok-3", 131_072, 0),
        CatalogModel::chat("grok-3-mini", 131_072, 0),
    ],
    response: ResponseQuirks {
        annotations: &[],
        usage_in: None,
        cached_tokens_key: None,
        reasoning_outside_completion: true,
        openrouter: false,
    },
    map_error: runtime_core::http::map_status,
    model_prefix: None,
};

static SETTINGS: &[SettingSpec] = &[
    SettingSpec::api_key("XAI_API_KEY").help("xAI API key"),
    SettingSpec::base_url("https://api.x.ai/v1")
        .env("XAI_BASE_URL")
        .help("API base URL"),
    crate::settings::MODELS,
    crate::settings::MAX_TOKENS_FIELD,
    crate::settings::STREAM_USAGE,
    SettingSpec::TIMEOUT,
    SettingSpec::STREAM_IDLE_TIMEOUT,
];

/// The registry entry of `xai`.
pub static FACTORY: ProviderFactory = ProviderFactory::new("xai", build)
    .display_name("xAI")
    .description("xAI's OpenAI-compatible chat completions API (Grok)")
    .crate_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    .settings(SETTINGS);

runtime_core::register_provider!(FACTORY);

/// The factory's build function: a `xai` instance from its config.
fn build(
    cfg: runtime_core::ProviderConfig,
    ctx: &runtime_core::BuildContext,
) -> runtime_core::Result<std::sync::Arc<dyn runtime_core::Provider>> {
    crate::settings::build_preset(&PRESET, cfg, ctx)
}
