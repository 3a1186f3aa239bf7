//! The provider instances of `[providers.*]`.

use std::sync::Arc;

use runtime_core::{Error, ProviderRegistry};

use crate::config::{self, Config, ConfigError};

/// The registry of linked provider types with every configured instance built. A bad
/// instance stops the start, naming its key; in the embedded default (providers picked from
/// the environment) it is left out with a warning instead.
pub(super) fn build(config: &mut Config) -> Result<Arc<ProviderRegistry>, ConfigError> {
    let registry = Arc::new(
        crate::factories::registry().map_err(|e| config.invalid("providers", e.to_string()))?,
    );
    let mut unusable = Vec::new();
    for (name, table) in &config.providers {
        let ty = config.provider_type(name)?;
        if let Err(e) = registry.build(ty, name, &config::table_to_json(table)) {
            if !config.optional_providers {
                return Err(provider_config_error(config, name, e));
            }
            tracing::warn!(
                provider = %name,
                error = %e,
                "provider left out of the embedded default config: its environment does not configure it fully"
            );
            unusable.push(name.clone());
        }
    }
    for name in unusable {
        config.providers.remove(&name);
    }
    Ok(registry)
}

fn provider_config_error(config: &Config, instance: &str, e: Error) -> ConfigError {
    match e {
        Error::InvalidConfig { field, reason, .. } => {
            config.invalid(format!("providers.{instance}.{field}"), reason)
        }
        Error::ProviderNotFound { name, known } => config.invalid(
            format!("providers.{instance}.type"),
            format!("provider type `{name}` is not linked into this build (linked: {known})"),
        ),
        other => config.invalid(format!("providers.{instance}"), other.to_string()),
    }
}
