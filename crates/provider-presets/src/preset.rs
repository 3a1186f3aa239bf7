//! What makes one OpenAI-compatible cloud different from another, as data: one [`Preset`] per
//! provider type, read by the shared request builder, response normaliser and stream decoder.

use provider_openai::wire::MaxTokensField;
use runtime_core::http::ErrorMapper;
use runtime_core::{Capabilities, ModelInfo, ModelKind};

/// One OpenAI-compatible cloud.
#[derive(Debug)]
pub struct Preset {
    /// Provider type (`groq`, `deepseek`, …), also the default instance name and the
    /// price-catalog section.
    pub name: &'static str,
    /// Default base URL (the part before `/chat/completions`).
    pub base_url: &'static str,
    /// Where the output-token limit goes.
    pub max_tokens_field: MaxTokensField,
    /// Whether streams ask for the usage chunk (`stream_options.include_usage`); `false` where
    /// the API is not documented to accept it and sends usage on its own.
    pub stream_usage: bool,
    /// How reasoning from earlier turns is sent back.
    pub reasoning_echo: ReasoningEcho,
    /// Request fields the API rejects or ignores, by model.
    pub fields: &'static [FieldRule],
    /// What the API serves.
    pub capabilities: Capabilities,
    /// Static model catalog.
    pub catalog: &'static [CatalogModel],
    /// Response quirks.
    pub response: ResponseQuirks,
    /// Status → error mapping (core's `map_status` where the API has no quirk).
    pub map_error: ErrorMapper,
    /// Model ids without a `/` get this prefix, `{account}` standing for the `account`
    /// setting (Fireworks: `accounts/{account}/models/`).
    pub model_prefix: Option<&'static str>,
}

impl Preset {
    /// The catalog as core model entries.
    pub fn models(&self, provider: &str) -> Vec<ModelInfo> {
        self.catalog.iter().map(|m| m.info(provider)).collect()
    }
}

/// How an assistant message's reasoning (core `reasoning` blocks) goes back upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasoningEcho {
    /// Not sent: the API neither needs nor reads it (OpenAI's own behaviour).
    Never,
    /// Sent as a string field of the assistant message.
    Field {
        /// The field (`reasoning_content`, `reasoning`).
        name: &'static str,
        /// Which assistant messages carry it.
        scope: EchoScope,
        /// Models (id substrings) for which every assistant message carries the field, an
        /// empty string where the turn had no reasoning (DeepSeek V4 requires it).
        every_turn_for: &'static [&'static str],
    },
    /// OpenRouter's `reasoning_details`: text blocks with their signature
    /// (`reasoning.text`), redacted blocks (`reasoning.encrypted`), on every assistant message.
    OpenRouterDetails,
}

/// Which assistant messages get their reasoning back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoScope {
    /// Every assistant message.
    All,
    /// Only those after the last user message (the current tool-call loop): earlier turns'
    /// reasoning is not part of the context and some models reject it (DeepSeek R1).
    AfterLastUser,
}

/// A request field the API does not take for some models.
#[derive(Debug, Clone, Copy)]
pub struct FieldRule {
    /// The field, as the wire names it (`temperature`, `logprobs`, `messages[].name`, `n`: a
    /// value other than 1).
    pub field: &'static str,
    /// Models it applies to: ids containing one of these; empty for every model.
    pub models: &'static [&'static str],
    /// What happens to it.
    pub action: Action,
    /// Why, quoted in the error and the docs.
    pub why: &'static str,
}

impl FieldRule {
    /// True when the rule applies to `model`.
    pub fn applies_to(&self, model: &str) -> bool {
        self.models.is_empty() || self.models.iter().any(|m| model.contains(m))
    }
}

/// What a [`FieldRule`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Refused with `InvalidRequest` naming the field (the API answers 400).
    Reject,
    /// Left out: the API documents that it accepts and ignores it.
    Drop,
}

/// What differs in answers.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResponseQuirks {
    /// Top-level answer fields kept in `meta.annotations` as `<preset>.<field>`
    /// (Perplexity's `citations`, `search_results`; OpenRouter's routed `provider`).
    pub annotations: &'static [&'static str],
    /// Usage also (or only) under this top-level object (Groq's `x_groq.usage`).
    pub usage_in: Option<&'static str>,
    /// Cached prompt tokens under this usage key when `prompt_tokens_details` is absent
    /// (DeepSeek `prompt_cache_hit_tokens`, Together `cached_tokens`).
    pub cached_tokens_key: Option<&'static str>,
    /// Reasoning tokens are counted outside `completion_tokens` but inside `total_tokens`
    /// (xAI): folded in so that completion includes reasoning, as core counts it.
    pub reasoning_outside_completion: bool,
    /// OpenRouter's `reasoning_details`: signatures and encrypted blocks become core reasoning
    /// blocks; `usage.cost` is kept as the `openrouter.cost` annotation.
    pub openrouter: bool,
}

/// A static catalog entry.
#[derive(Debug, Clone, Copy)]
pub struct CatalogModel {
    /// Model id as sent.
    pub id: &'static str,
    /// Context window.
    pub context: u32,
    /// Most output tokens (0: not published).
    pub max_output: u32,
    /// Calls tools.
    pub tools: bool,
    /// Reads images.
    pub vision: bool,
}

impl CatalogModel {
    /// A text model with tools.
    pub const fn chat(id: &'static str, context: u32, max_output: u32) -> Self {
        Self {
            id,
            context,
            max_output,
            tools: true,
            vision: false,
        }
    }

    /// Without tools.
    pub const fn no_tools(mut self) -> Self {
        self.tools = false;
        self
    }

    /// With image input.
    pub const fn vision(mut self) -> Self {
        self.vision = true;
        self
    }

    /// The core entry.
    pub fn info(&self, provider: &str) -> ModelInfo {
        ModelInfo {
            kind: ModelKind::Chat,
            supports_tools: self.tools,
            supports_vision: self.vision,
            max_output_tokens: (self.max_output > 0).then_some(self.max_output),
            ..ModelInfo::chat(provider, self.id, self.context, self.max_output)
        }
    }
}
