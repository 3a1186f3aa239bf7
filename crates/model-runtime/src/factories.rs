//! The provider factories compiled into this build, and a registry over them.

use runtime_core::{ProviderFactory, ProviderRegistry, Result, http};

/// The provider factories compiled into this build, by feature. The registry merges them with
/// what `inventory` found, so an enabled provider can never be dropped by the linker.
#[allow(unused_mut, clippy::vec_init_then_push)]
pub fn builtin_factories() -> Vec<&'static ProviderFactory> {
    let mut v: Vec<&'static ProviderFactory> = Vec::new();
    #[cfg(feature = "openai")]
    v.push(&provider_openai::FACTORY);
    #[cfg(feature = "anthropic")]
    v.push(&provider_anthropic::FACTORY);
    #[cfg(feature = "google")]
    v.push(&provider_google::FACTORY);
    #[cfg(feature = "vertex")]
    v.push(&provider_vertex::FACTORY);
    #[cfg(feature = "azure-openai")]
    v.push(&provider_azure_openai::FACTORY);
    // `local` and the named servers (vllm, sglang, lmstudio, llamacpp).
    #[cfg(feature = "local")]
    v.extend(provider_local::factories());
    #[cfg(feature = "huggingface")]
    v.push(&provider_huggingface::FACTORY);
    #[cfg(feature = "bedrock")]
    v.push(&provider_bedrock::FACTORY);
    // The presets compiled into provider-presets (the features above select which).
    #[cfg(any(
        feature = "groq",
        feature = "deepseek",
        feature = "xai",
        feature = "openrouter",
        feature = "together",
        feature = "fireworks",
        feature = "cerebras",
        feature = "perplexity"
    ))]
    v.extend(provider_presets::factories());
    #[cfg(feature = "mistral")]
    v.push(&provider_mistral::FACTORY);
    #[cfg(feature = "cohere")]
    v.push(&provider_cohere::FACTORY);
    #[cfg(feature = "jina")]
    v.push(&provider_jina::FACTORY);
    v
}

/// A registry of every linked provider with a shared HTTP client.
pub fn registry() -> Result<ProviderRegistry> {
    ProviderRegistry::new(&builtin_factories(), http::HttpClient::shared()?)
}
