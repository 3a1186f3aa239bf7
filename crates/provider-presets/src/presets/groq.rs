//! Groq: `https://api.groq.com/openai/v1`, `GROQ_API_KEY`.
//!
//! Quirks (sources in docs/providers.md): `max_completion_tokens`; reasoning text in
//! `message.reasoning` / `delta.reasoning` with `reasoning_format: parsed` (pass it in the
//! request's extra fields; `raw` leaves `<think>` in the content); usage also (older streams:
//! only) in `x_groq.usage`; `logprobs`, `logit_bias`, `top_logprobs`, `messages[].name` and
//! `n` other than 1 answer 400, so they are refused by name.

use provider_openai::wire::MaxTokensField;
use runtime_core::{Capabilities, ProviderFactory, SettingSpec};

use crate::preset::{Action, CatalogModel, FieldRule, Preset, ReasoningEcho, ResponseQuirks};

const DOCUMENTED_400: &str = "Groq answers 400 for it (console.groq.com/docs/openai)";

/// The Groq preset.
pub static PRESET: Preset = Preset {
    name: "groq",
    base_url: "https://api.groq.com/openai/v1",
    max_tokens_field: MaxTokensField::MaxCompletionTokens,
    stream_usage: true,
    reasoning_echo: ReasoningEcho::Never,
    fields: &[
        FieldRule {
            field: "logprobs",
            models: &[],
            action: Action::Reject,
            why: DOCUMENTED_400,
        },
        FieldRule {
            field: "top_logprobs",
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
            field: "messages[].name",
            models: &[],
            action: Action::Reject,
            why: DOCUMENTED_400,
        },
        FieldRule {
            field: "n",
            models: &[],
            action: Action::Reject,
            why: "Groq supports only n = 1",
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
        CatalogModel::chat("llama-3.3-70b-versatile", 131_072, 32_768),
        CatalogModel::chat("llama-3.1-8b-instant", 131_072, 131_072),
        CatalogModel::chat("openai/gpt-oss-120b", 131_072, 65_536),
        CatalogModel::chat("openai/gpt-oss-20b", 131_072, 65_536),
        CatalogModel::chat("qwen/qwen3-32b", 131_072, 40_960),
        CatalogModel::chat("moonshotai/kimi-k2-instruct-0905", 262_144, 16_384),
        CatalogModel::chat("meta-llama/llama-4-scout-17b-16e-instruct", 131_072, 8_192).vision(),
    ],
    response: ResponseQuirks {
        annotations: &[],
        usage_in: Some("x_groq"),
        cached_tokens_key: None,
        reasoning_outside_completion: false,
        openrouter: false,
    },
    map_error: runtime_core::http::map_status,
    model_prefix: None,
};

static SETTINGS: &[SettingSpec] = &[
    SettingSpec::api_key("GROQ_API_KEY").help("Groq API key"),
    SettingSpec::base_url("https://api.groq.com/openai/v1")
        .env("GROQ_BASE_URL")
        .help("API base URL"),
    crate::settings::MODELS,
    crate::settings::MAX_TOKENS_FIELD,
    crate::settings::STREAM_USAGE,
    SettingSpec::TIMEOUT,
    SettingSpec::STREAM_IDLE_TIMEOUT,
];

/// The registry entry of `groq`.
pub static FACTORY: ProviderFactory = ProviderFactory::new("groq", build)
    .display_name("Groq")
    .description("Groq's OpenAI-compatible API (LPU inference of open models)")
    .crate_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    .settings(SETTINGS);

runtime_core::register_provider!(FACTORY);

/// The factory's build function: a `groq` instance from its config.
fn build(
    cfg: runtime_core::ProviderConfig,
    ctx: &runtime_core::BuildContext,
) -> runtime_core::Result<std::sync::Arc<dyn runtime_core::Provider>> {
    crate::settings::build_preset(&PRESET, cfg, ctx)
}
