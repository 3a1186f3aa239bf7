//! Perplexity: `https://api.perplexity.ai`, `PERPLEXITY_API_KEY`.
//!
//! Quirks: `max_tokens`; web-grounded answers with `citations` (URLs the `[n]` markers point
//! at) and `search_results` (`title`, `url`, `date`), also `images` and `related_questions`
//! when asked: kept as `perplexity.<field>` annotations; cumulative usage and the citations on
//! every stream chunk, the last one `object: chat.completion.done`; no function calling
//! (tools are refused as unsupported); no model listing endpoint (static catalog).

use provider_openai::wire::MaxTokensField;
use runtime_core::{Capabilities, ProviderFactory, SettingSpec};

use crate::preset::{CatalogModel, Preset, ReasoningEcho, ResponseQuirks};

/// The Perplexity preset.
pub static PRESET: Preset = Preset {
    name: "perplexity",
    base_url: "https://api.perplexity.ai",
    max_tokens_field: MaxTokensField::MaxTokens,
    stream_usage: false,
    reasoning_echo: ReasoningEcho::Never,
    fields: &[],
    capabilities: Capabilities::new()
        .chat(true)
        .streaming(true)
        .vision(true)
        .json_schema(true)
        .completion(true),
    catalog: &[
        CatalogModel::chat("sonar", 128_000, 0).no_tools(),
        CatalogModel::chat("sonar-pro", 200_000, 8_000)
            .no_tools()
            .vision(),
        CatalogModel::chat("sonar-reasoning-pro", 128_000, 0).no_tools(),
        CatalogModel::chat("sonar-deep-research", 128_000, 0).no_tools(),
    ],
    response: ResponseQuirks {
        annotations: &["citations", "search_results", "images", "related_questions"],
        usage_in: None,
        cached_tokens_key: None,
        reasoning_outside_completion: false,
        openrouter: false,
    },
    map_error: runtime_core::http::map_status,
    model_prefix: None,
};

static SETTINGS: &[SettingSpec] = &[
    SettingSpec::api_key("PERPLEXITY_API_KEY").help("Perplexity API key"),
    SettingSpec::base_url("https://api.perplexity.ai")
        .env("PERPLEXITY_BASE_URL")
        .help("API base URL"),
    crate::settings::MODELS,
    crate::settings::MAX_TOKENS_FIELD,
    crate::settings::STREAM_USAGE,
    SettingSpec::TIMEOUT,
    SettingSpec::STREAM_IDLE_TIMEOUT,
];

/// The registry entry of `perplexity`.
pub static FACTORY: ProviderFactory = ProviderFactory::new("perplexity", build)
    .display_name("Perplexity")
    .description("Perplexity's Sonar API (web-grounded answers with citations)")
    .crate_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    .settings(SETTINGS);

runtime_core::register_provider!(FACTORY);

/// The factory's build function: a `perplexity` instance from its config.
fn build(
    cfg: runtime_core::ProviderConfig,
    ctx: &runtime_core::BuildContext,
) -> runtime_core::Result<std::sync::Arc<dyn runtime_core::Provider>> {
    crate::settings::build_preset(&PRESET, cfg, ctx)
}
