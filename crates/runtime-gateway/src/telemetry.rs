//! The `[telemetry]` section and the process's log output.
//!
//! ```toml
//! [telemetry]
//! log_format = "json"      # or "text" (default); env MODELRT_LOG_FORMAT wins over this
//! ```
//!
//! Which events are logged is `RUST_LOG` (an `EnvFilter`, e.g. `info`,
//! `info,modelrt::access=off`, `debug,hyper=info`); the default is `info` for `serve` and
//! `warn` for the other commands. Logs go to stderr. The access log is the target
//! `modelrt::access`: one line per request at `info` (probes at `debug`).

use std::io::IsTerminal;
use std::path::Path;

use model_runtime::{Config, ConfigError};
use serde::Deserialize;

/// The environment variable that picks the log format (over `[telemetry] log_format`).
pub const LOG_FORMAT_ENV: &str = "MODELRT_LOG_FORMAT";

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines (colored on a terminal).
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `target`, `fields`, spans).
    Json,
}

impl LogFormat {
    /// Parses `text` or `json`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "text" => Some(LogFormat::Text),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

/// The validated `[telemetry]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetryConfig {
    /// `text` or `json`.
    pub log_format: LogFormat,
}

impl TelemetryConfig {
    /// Reads `[telemetry]` (defaults when absent); errors name the key.
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        match &config.telemetry {
            None => Ok(Self::default()),
            Some(t) => toml::Value::Table(t.clone())
                .try_into()
                .map_err(|e: toml::de::Error| config.invalid("telemetry", e.message().to_owned())),
        }
    }
}

/// The log format to start with: `MODELRT_LOG_FORMAT`, else the config file's
/// `[telemetry] log_format` (read leniently here: the file is validated later, with errors
/// that name it), else text.
pub fn startup_log_format(config_file: Option<&Path>) -> LogFormat {
    if let Some(f) = std::env::var(LOG_FORMAT_ENV)
        .ok()
        .as_deref()
        .and_then(LogFormat::parse)
    {
        return f;
    }
    config_file
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|t| {
            t.get("telemetry")?
                .get("log_format")?
                .as_str()
                .and_then(LogFormat::parse)
        })
        .unwrap_or_default()
}

/// Installs the process's subscriber: `RUST_LOG` (else `default_level`) to stderr in
/// `format`.
pub fn init_logging(default_level: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telemetry_section_parses_and_names_bad_keys() {
        let cfg = Config::from_toml_str_with_env(
            "[telemetry]\nlog_format = \"json\"\n",
            "t.toml",
            &|_| None,
        )
        .unwrap();
        assert_eq!(
            TelemetryConfig::from_config(&cfg).unwrap().log_format,
            LogFormat::Json
        );
        let bad = Config::from_toml_str_with_env(
            "[telemetry]\nlog_format = \"xml\"\n",
            "t.toml",
            &|_| None,
        )
        .unwrap();
        let e = TelemetryConfig::from_config(&bad).unwrap_err().to_string();
        assert!(e.contains("telemetry"), "{e}");
        assert_eq!(LogFormat::parse(" JSON "), Some(LogFormat::Json));
        assert_eq!(LogFormat::parse("yaml"), None);
    }
}
