//! Reading one optional config section, shared by the stages below `start`.

use crate::config::{Config, ConfigError};

/// A section's table as `T` (its default when absent), an error naming `key` otherwise.
#[cfg(any(feature = "cache", feature = "metrics"))]
pub(super) fn section<T: serde::de::DeserializeOwned + Default>(
    config: &Config,
    key: &str,
    table: Option<&toml::Table>,
) -> Result<T, ConfigError> {
    match table {
        None => Ok(T::default()),
        Some(t) => toml::Value::Table(t.clone())
            .try_into()
            .map_err(|e: toml::de::Error| config.invalid(key, e.message().to_owned())),
    }
}

/// Refuses a section that is present and not `enabled = false` when the feature is off.
#[cfg(any(not(feature = "cache"), not(feature = "metrics")))]
pub(super) fn refuse_if_on(
    config: &Config,
    key: &str,
    table: Option<&toml::Table>,
    why: &str,
) -> Result<(), ConfigError> {
    if table.is_some_and(|c| c.get("enabled") != Some(&toml::Value::Boolean(false))) {
        return Err(config.invalid(key, why));
    }
    Ok(())
}
