//! OpenRouter: `https://openrouter.ai/api/v1`, `OPENROUTER_API_KEY`.
//!
//! Quirks: `max_tokens`; reasoning as `reasoning` (text) and `reasoning_details` (typed
//! blocks: signatures and encrypted blocks become core reasoning blocks and go back as
//! `reasoning_details`); SSE comment lines `: OPENROUTER PROCESSING`; usage (with `cost`, kept
//! as the `openrouter.cost` annotation) in a chunk after the finish; a mid-stream error as a
//! chunk with `error` on HTTP 200; the routed upstream in `provider` (annotation
//! `openrouter.provider`); attribution headers `HTTP-Referer` / `X-Title` and routing
//! preferences (`provider.order`, `provider.allow_fallbacks`) from settings, a request's own
//! `provider` object winning.

use provider_openai::wire::MaxTokensField;
use runtime_core::{Capabilities, ProviderFactory, SettingSpec};

use crate::preset::{CatalogModel, Preset, ReasoningEcho, ResponseQuirks};

/// The OpenRouter preset.
pub static PRESET: Preset = Preset {
    name: "openrouter",
    base_url: "https://openrouter.ai/api/v1",
    max_tokens_field: MaxTokensField::MaxTokens,
    stream_usage: true,
    reasoning_echo: ReasoningEcho::OpenRouterDetails,
    fields: &[],
    capabilities: Capabilities::new()
        .chat(true)
        .streaming(true)
        .tools(true)
        .vision(true)
        .json_schema(true)
        .completion(true)
        .list_models(true),
    catalog: &[
        CatalogModel::chat("openai/gpt-4o", 128_000, 16_384).vision(),
        CatalogModel::chat("openai/gpt-4o-mini", 128_000, 16_384).vision(),
        CatalogModel::chat("anthropic/claude-sonnet-4.5", 1_000_000, 64_000).vision(),
        CatalogModel::chat("google/gemini-2.5-flash", 1_048_576, 65_535).vision(),
        CatalogModel::chat("meta-llama/llama-3.3-70b-instruct", 131_072, 0),
    ],
    response: ResponseQuirks {
        annotations: &["provider"],
        usage_in: None,
        cached_tokens_key: None,
        reasoning_outside_completion: false,
        openrouter: true,
    },
    map_error,
    model_prefix: None,
};

/// OpenRouter answers 404 `No endpoints found for <model>` when no upstream serves the model:
/// model not found (another deployment may have it), which the shared mapping cannot tell
/// from the message.
fn map_error(
    ctx: &runtime_core::http::ErrorContext<'_>,
    status: u16,
    headers: &http::HeaderMap,
    body: &[u8],
) -> runtime_core::Error {
    match runtime_core::http::map_status(ctx, status, headers, body) {
        runtime_core::Error::Api { message, .. } if status == 404 => {
            runtime_core::Error::ModelNotFound {
                provider: ctx.provider.to_owned(),
                model: ctx.model.to_owned(),
                message,
            }
        }
        other => other,
    }
}

static SETTINGS: &[SettingSpec] = &[
    SettingSpec::api_key("OPENROUTER_API_KEY").help("OpenRouter API key"),
    SettingSpec::base_url("https://openrouter.ai/api/v1")
        .env("OPENROUTER_BASE_URL")
        .help("API base URL"),
    SettingSpec::string("http_referer")
        .env("OPENROUTER_HTTP_REFERER")
        .help("your site URL, sent as HTTP-Referer (app attribution on openrouter.ai)"),
    SettingSpec::string("x_title")
        .env("OPENROUTER_X_TITLE")
        .help("your app's name, sent as X-Title (app attribution on openrouter.ai)"),
    SettingSpec::string_list("provider_order")
        .help("upstream providers to try in order (body `provider.order`)"),
    SettingSpec::bool("allow_fallbacks")
        .help("let OpenRouter fall back to other upstreams (body `provider.allow_fallbacks`)"),
    crate::settings::MODELS,
    crate::settings::MAX_TOKENS_FIELD,
    crate::settings::STREAM_USAGE,
    SettingSpec::TIMEOUT,
    SettingSpec::STREAM_IDLE_TIMEOUT,
];

/// The registry entry of `openrouter`.
pub static FACTORY: ProviderFactory = ProviderFactory::new("openrouter", build)
    .display_name("OpenRouter")
    .description("OpenRouter's OpenAI-compatible router over many upstream providers")
    .crate_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    .settings(SETTINGS);

runtime_core::register_provider!(FACTORY);

/// The factory's build function: a `openrouter` instance from its config.
fn build(
    cfg: runtime_core::ProviderConfig,
    ctx: &runtime_core::BuildContext,
) -> runtime_core::Result<std::sync::Arc<dyn runtime_core::Provider>> {
    crate::settings::build_preset(&PRESET, cfg, ctx)
}
