//! Validation of a provider's config table against its factory's declared settings, above
//! both the config it makes and the factory whose constructor takes that config.

use serde_json::{Map, Value};

use super::config::ProviderConfig;
use super::factory::ProviderFactory;
use super::settings::{check_kind, from_env_string};
use crate::error::{Error, Result};

/// [`ProviderRegistry::validate`](super::ProviderRegistry::validate) with a custom environment
/// (for tests and `config check`).
pub fn validate_with(
    factory: &'static ProviderFactory,
    instance: &str,
    table: &Map<String, Value>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ProviderConfig> {
    let err = |field: &str, reason: String| Error::InvalidConfig {
        provider: instance.to_owned(),
        field: field.to_owned(),
        reason,
    };
    for key in table.keys() {
        if key == "type" {
            continue;
        }
        if !factory.settings.iter().any(|s| s.key == key) {
            let known: Vec<&str> = factory.settings.iter().map(|s| s.key).collect();
            return Err(err(
                key,
                format!(
                    "unknown field for provider type `{}`; known fields: {}",
                    factory.name,
                    known.join(", ")
                ),
            ));
        }
    }
    let mut values = Map::new();
    for spec in factory.settings {
        let raw = match table.get(spec.key) {
            Some(v) if !v.is_null() => Some(v.clone()),
            _ => spec
                .env
                .and_then(env)
                .filter(|s| !s.is_empty())
                .map(|s| from_env_string(spec.kind, &s))
                .or_else(|| spec.default.map(|d| from_env_string(spec.kind, d))),
        };
        let Some(v) = raw else {
            if spec.required {
                let hint = spec
                    .env
                    .map(|e| format!(" or set the environment variable {e}"))
                    .unwrap_or_default();
                return Err(err(
                    spec.key,
                    format!("is required: {}; set `{}`{hint}", spec.help, spec.key),
                ));
            }
            continue;
        };
        check_kind(spec, &v).map_err(|reason| err(spec.key, reason))?;
        values.insert(spec.key.to_owned(), v);
    }
    Ok(ProviderConfig {
        instance: instance.to_owned(),
        provider_type: factory.name,
        settings: factory.settings,
        values,
    })
}
