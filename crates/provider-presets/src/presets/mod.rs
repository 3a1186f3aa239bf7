//! One module per preset, each compiled with its feature: the [`Preset`](crate::Preset) data,
//! its settings and its registry entry.

use runtime_core::ProviderFactory;

use crate::preset::Preset;

#[cfg(feature = "cerebras")]
pub mod cerebras;
#[cfg(feature = "deepseek")]
pub mod deepseek;
#[cfg(feature = "fireworks")]
pub mod fireworks;
#[cfg(feature = "groq")]
pub mod groq;
#[cfg(feature = "openrouter")]
pub mod openrouter;
#[cfg(feature = "perplexity")]
pub mod perplexity;
#[cfg(feature = "together")]
pub mod together;
#[cfg(feature = "xai")]
pub mod xai;

/// Every compiled-in preset with its factory.
#[allow(clippy::vec_init_then_push)]
pub(crate) fn all() -> Vec<(&'static Preset, &'static ProviderFactory)> {
    #[allow(unused_mut)]
    let mut v: Vec<(&'static Preset, &'static ProviderFactory)> = Vec::new();
    #[cfg(feature = "cerebras")]
    v.push((&cerebras::PRESET, &cerebras::FACTORY));
    #[cfg(feature = "deepseek")]
    v.push((&deepseek::PRESET, &deepseek::FACTORY));
    #[cfg(feature = "fireworks")]
    v.push((&fireworks::PRESET, &fireworks::FACTORY));
    #[cfg(feature = "groq")]
    v.push((&groq::PRESET, &groq::FACTORY));
    #[cfg(feature = "openrouter")]
    v.push((&openrouter::PRESET, &openrouter::FACTORY));
    #[cfg(feature = "perplexity")]
    v.push((&perplexity::PRESET, &perplexity::FACTORY));
    #[cfg(feature = "together")]
    v.push((&together::PRESET, &together::FACTORY));
    #[cfg(feature = "xai")]
    v.push((&xai::PRESET, &xai::FACTORY));
    v
}
