#![doc = include_str!("../README.md")]

pub mod models;
pub mod preset;
pub mod presets;
pub mod provider;
pub mod request;
pub mod response;
mod settings;
pub mod stream;

use std::sync::Arc;

use runtime_core::{BuildContext, Provider, ProviderConfig, ProviderFactory, Result};

pub use preset::Preset;
pub use provider::PresetProvider;
pub use request::RequestSettings;
pub use settings::{MAX_TOKENS_FIELD, MODELS, PresetSettings, STREAM_USAGE, build_preset};

/// Every preset compiled in (by feature).
pub fn presets() -> Vec<&'static Preset> {
    presets::all().into_iter().map(|(p, _)| p).collect()
}

/// The registry entries of every preset compiled in (by feature).
pub fn factories() -> Vec<&'static ProviderFactory> {
    presets::all().into_iter().map(|(_, f)| f).collect()
}

/// The preset of a provider type, if compiled in.
pub fn preset(name: &str) -> Option<&'static Preset> {
    presets().into_iter().find(|p| p.name == name)
}

/// Builds the preset the config's type names (each preset's own factory calls [`build_preset`]
/// with its preset).
pub fn build(cfg: ProviderConfig, ctx: &BuildContext) -> Result<Arc<dyn Provider>> {
    let Some(preset) = preset(cfg.provider_type()) else {
        return Err(cfg.error(
            "type",
            format!(
                "`{}` is not a preset of provider-presets",
                cfg.provider_type()
            ),
        ));
    };
    settings::build_preset(preset, cfg, ctx)
}
