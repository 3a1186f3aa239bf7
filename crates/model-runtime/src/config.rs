//! The TOML configuration file: loading, `${ENV}` interpolation, validation with key paths.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};

/// A configuration problem, naming the file, the key path and what is wrong.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{file}: cannot read: {message}")]
    Io {
        /// The file.
        file: String,
        /// Why.
        message: String,
    },
    /// The file is not valid TOML or does not have the expected shape.
    #[error("{file}: {message}")]
    Parse {
        /// The file.
        file: String,
        /// The parser's words (with line and column).
        message: String,
    },
    /// A value is wrong.
    #[error("{file}: `{key}`: {reason}")]
    Invalid {
        /// The file.
        file: String,
        /// The key path, e.g. `providers.openai.api_key`.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// The whole configuration file. Sections for the router, cache, metrics and gateway are read
/// by those layers; the facade keeps them as raw tables and hands them on.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Provider instances: `[providers.<name>]`, with `type = "<provider type>"` when the name
    /// is not itself a provider type.
    #[serde(default)]
    pub providers: BTreeMap<String, toml::Table>,
    /// Logical models and their deployments (`[[models]]`, read by the router).
    #[serde(default)]
    pub models: Vec<toml::Table>,
    /// Router defaults (`[router]`).
    #[serde(default)]
    pub router: Option<toml::Table>,
    /// Response cache (`[cache]`).
    #[serde(default)]
    pub cache: Option<toml::Table>,
    /// Metrics (`[metrics]`).
    #[serde(default)]
    pub metrics: Option<toml::Table>,
    /// Usage records (`[storage]`).
    #[serde(default)]
    pub storage: Option<toml::Table>,
    /// Pricing overrides (`[pricing]`).
    #[serde(default)]
    pub pricing: Option<toml::Table>,
    /// The gateway's own section (`[gateway]`).
    #[serde(default)]
    pub gateway: Option<toml::Table>,
    /// The Redis the router, the cache and the gateway share state through (`[redis]`).
    #[serde(default)]
    pub redis: Option<toml::Table>,
    /// Logs (and, later, traces): `[telemetry]`, read by the gateway.
    #[serde(default)]
    pub telemetry: Option<toml::Table>,
    /// Where it was read from (for error messages).
    #[serde(skip)]
    pub source: String,
    /// Providers that fail to build are left out (with a warning) instead of failing the
    /// start: set by [`Config::embedded_default`], whose providers are guessed from the
    /// environment; a file's providers are always required.
    #[serde(skip)]
    pub optional_providers: bool,
}

impl Config {
    /// Reads and interpolates a file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Io {
            file: file.clone(),
            message: e.to_string(),
        })?;
        Self::from_toml_str(&text, &file)
    }

    /// Parses TOML text; `source` names it in errors. `${VAR}` and `${VAR:-default}` in string
    /// values are replaced from the environment; a missing variable without default is an error
    /// naming the key.
    pub fn from_toml_str(text: &str, source: &str) -> Result<Self, ConfigError> {
        Self::from_toml_str_with_env(text, source, &|k| std::env::var(k).ok())
    }

    /// [`Config::from_toml_str`] with a custom environment.
    pub fn from_toml_str_with_env(
        text: &str,
        source: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut value: toml::Value = toml::from_str(text).map_err(|e| ConfigError::Parse {
            file: source.to_owned(),
            message: e.to_string(),
        })?;
        interpolate(&mut value, &mut Vec::new(), env).map_err(|(key, reason)| {
            ConfigError::Invalid {
                file: source.to_owned(),
                key,
                reason,
            }
        })?;
        let mut cfg: Config =
            value
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Parse {
                    file: source.to_owned(),
                    message: e.to_string(),
                })?;
        cfg.source = source.to_owned();
        Ok(cfg)
    }

    /// An error about `key` in this file.
    pub fn invalid(&self, key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            file: self.source.clone(),
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// The provider type of instance `name` (its `type` key, or the name itself).
    pub fn provider_type<'a>(&'a self, name: &'a str) -> Result<&'a str, ConfigError> {
        match self.providers.get(name).and_then(|t| t.get("type")) {
            None => Ok(name),
            Some(toml::Value::String(s)) => Ok(s),
            Some(other) => Err(self.invalid(
                format!("providers.{name}.type"),
                format!("expected a provider type name, got {other}"),
            )),
        }
    }
}

/// Converts a TOML table to the JSON map providers validate.
pub fn table_to_json(t: &toml::Table) -> Map<String, Value> {
    t.iter()
        .map(|(k, v)| (k.clone(), toml_to_json(v)))
        .collect()
}

/// Converts a TOML value to JSON (datetimes become strings).
pub fn toml_to_json(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
        }
        toml::Value::Boolean(b) => Value::Bool(*b),
        toml::Value::Datetime(d) => Value::String(d.to_string()),
        toml::Value::Array(a) => Value::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Value::Object(table_to_json(t)),
    }
}

fn path_str(path: &[String]) -> String {
    path.join(".")
}

fn interpolate(
    v: &mut toml::Value,
    path: &mut Vec<String>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), (String, String)> {
    match v {
        toml::Value::String(s) if s.contains("${") => {
            *s = interpolate_str(s, env).map_err(|r| (path_str(path), r))?;
        }
        toml::Value::Array(a) => {
            for (i, item) in a.iter_mut().enumerate() {
                path.push(i.to_string());
                interpolate(item, path, env)?;
                path.pop();
            }
        }
        toml::Value::Table(t) => {
            for (k, item) in t.iter_mut() {
                path.push(k.clone());
                interpolate(item, path, env)?;
                path.pop();
            }
        }
        _ => {}
    }
    Ok(())
}

/// Replaces `${VAR}` and `${VAR:-default}`; `$${` is a literal `${`.
pub fn interpolate_str(s: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        if i > 0 && rest.as_bytes()[i - 1] == b'$' {
            out.push_str(&rest[..i - 1]);
            out.push_str("${");
            rest = &rest[i + 2..];
            continue;
        }
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("unclosed `${{` in `{s}`"));
        };
        let expr = &after[..end];
        let (name, default) = match expr.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (expr, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "`${{{expr}}}` is not a valid environment variable reference"
            ));
        }
        match env(name)
            .filter(|v| !v.is_empty())
            .or(default.map(str::to_owned))
        {
            Some(v) => out.push_str(&v),
            None => return Err(format!("environment variable {name} is not set")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Where a config file is looked for when none is given: `$MODELRT_CONFIG`, else none.
pub fn default_path() -> Option<PathBuf> {
    std::env::var_os("MODELRT_CONFIG").map(PathBuf::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(k: &str) -> Option<String> {
        match k {
            "KEY" => Some("sk-1".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn interpolation() {
        assert_eq!(interpolate_str("a ${KEY} b", &env).unwrap(), "a sk-1 b");
        assert_eq!(interpolate_str("${NOPE:-x}", &env).unwrap(), "x");
        assert_eq!(interpolate_str("${EMPTY:-d}", &env).unwrap(), "d");
        assert_eq!(interpolate_str("$${KEY}", &env).unwrap(), "${KEY}");
        assert!(
            interpolate_str("${NOPE}", &env)
                .unwrap_err()
                .contains("NOPE")
        );
        assert!(interpolate_str("${KEY", &env).is_err());
    }

    #[test]
    fn errors_name_file_and_key() {
        let e = Config::from_toml_str_with_env(
            "[providers.openai]\napi_key = \"${MISSING_VAR}\"\n",
            "gw.toml",
            &env,
        )
        .unwrap_err();
        let s = e.to_string();
        assert!(
            s.contains("gw.toml")
                && s.contains("providers.openai.api_key")
                && s.contains("MISSING_VAR"),
            "{s}"
        );
        let e = Config::from_toml_str_with_env("[provders.openai]\n", "gw.toml", &env).unwrap_err();
        assert!(e.to_string().contains("provders"), "{e}");
        let e = Config::from_toml_str_with_env("providers = 3", "gw.toml", &env).unwrap_err();
        assert!(e.to_string().contains("gw.toml"), "{e}");
    }
}
