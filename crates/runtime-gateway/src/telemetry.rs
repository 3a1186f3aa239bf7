//! The `[telemetry]` section and the process's log output.
//!
//! ```toml
//! [telemetry]
//! log_format = "json"      # or "text" (default); env MODELRT_LOG_FORMAT wins over this
//! # OpenTelemetry traces (feature `otel`, on in the `modelrt` binary); off without `endpoint`
//! endpoint = "http://127.0.0.1:4318"   # the collector's OTLP base URL
//! protocol = "http/protobuf"           # or "grpc" (then e.g. http://127.0.0.1:4317)
//! sampling_ratio = 0.1                 # of new traces; a client's sampled traceparent is kept
//! service_name = "modelrt"
//! capture_content = false              # prompts and completions in spans: opt in
//! queue_size = 2048                    # spans waiting for export; more are dropped (counted)
//! metrics = true                       # the /metrics families over OTLP too (default false)
//! metrics_interval_secs = 60           # how often they are exported
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
use tracing_subscriber::layer::SubscriberExt as _;

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

/// How spans go to the collector (the values of `OTEL_EXPORTER_OTLP_PROTOCOL`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OtlpProtocol {
    /// `http/protobuf`: OTLP/HTTP with protobuf bodies (`POST {endpoint}/v1/traces`), port
    /// 4318 by convention.
    #[default]
    HttpProtobuf,
    /// `grpc`: OTLP/gRPC, port 4317 by convention (plain-text HTTP/2: use `http/protobuf`
    /// for TLS).
    Grpc,
}

impl OtlpProtocol {
    /// Parses `http/protobuf` or `grpc`.
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim() {
            "http/protobuf" => Some(Self::HttpProtobuf),
            "grpc" => Some(Self::Grpc),
            _ => None,
        }
    }
}

/// The raw `[telemetry]` section, before validation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTelemetry {
    #[serde(default)]
    log_format: LogFormat,
    endpoint: Option<String>,
    protocol: Option<String>,
    sampling_ratio: Option<f64>,
    service_name: Option<String>,
    #[serde(default)]
    capture_content: bool,
    queue_size: Option<usize>,
    #[serde(default)]
    metrics: bool,
    metrics_interval_secs: Option<u64>,
}

/// A `[telemetry]` value that is not valid: the key and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`telemetry.{field}` {reason}")]
pub struct TelemetryError {
    /// The key under `[telemetry]`.
    pub field: &'static str,
    /// What is wrong with its value.
    pub reason: String,
}

impl TelemetryError {
    fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

/// Where and how traces are exported (`[telemetry]` with an `endpoint`).
#[derive(Debug, Clone, PartialEq)]
pub struct TracesConfig {
    /// The collector's OTLP base URL (`http://host:4318`; for HTTP/protobuf a URL already
    /// ending in `/v1/traces` is used as is).
    pub endpoint: String,
    /// HTTP/protobuf or gRPC.
    pub protocol: OtlpProtocol,
    /// Share of new traces recorded, 0 to 1 (default 1). A trace the client started keeps
    /// the client's sampling decision (`traceparent` flags).
    pub sampling_ratio: f64,
    /// `service.name` of the spans (default `modelrt`).
    pub service_name: String,
    /// Whether prompts and completions go into spans (`gen_ai.input.messages`,
    /// `gen_ai.output.messages`); default false.
    pub capture_content: bool,
    /// Most spans waiting for export; spans ended while it is full are dropped and counted
    /// (`modelrt_otel_spans_dropped_total{reason="queue_full"}`). Default 2048.
    pub queue_size: usize,
    /// How often the `/metrics` families are exported over OTLP to the same collector;
    /// `None`: they are not (`[telemetry] metrics = true` turns them on, every
    /// `metrics_interval_secs`, default 60).
    pub metrics_interval: Option<std::time::Duration>,
}

impl TracesConfig {
    /// The URL spans are sent to: for HTTP/protobuf `{endpoint}/v1/traces`.
    pub fn export_url(&self) -> String {
        let base = self.endpoint.trim_end_matches('/');
        match self.protocol {
            OtlpProtocol::HttpProtobuf if !base.ends_with("/v1/traces") => {
                format!("{base}/v1/traces")
            }
            _ => base.to_owned(),
        }
    }

    /// The URL metrics are sent to: for HTTP/protobuf `{endpoint}/v1/metrics` (an endpoint
    /// ending in `/v1/traces` has it replaced).
    pub fn metrics_url(&self) -> String {
        let base = self.endpoint.trim_end_matches('/');
        match self.protocol {
            OtlpProtocol::HttpProtobuf => {
                let base = base.strip_suffix("/v1/traces").unwrap_or(base);
                if base.ends_with("/v1/metrics") {
                    base.to_owned()
                } else {
                    format!("{base}/v1/metrics")
                }
            }
            OtlpProtocol::Grpc => base.to_owned(),
        }
    }
}

/// Longest `metrics_interval_secs` (a day).
const MAX_METRICS_INTERVAL: u64 = 86_400;

/// Most spans the export queue may be set to hold.
const MAX_QUEUE: usize = 1_000_000;

/// The validated `[telemetry]` section.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TelemetryConfig {
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// OpenTelemetry traces, when an `endpoint` is set.
    pub traces: Option<TracesConfig>,
}

impl TelemetryConfig {
    /// Reads `[telemetry]` (defaults when absent); errors name the key.
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        match &config.telemetry {
            None => Ok(Self::default()),
            Some(t) => Self::from_table(t).map_err(|e| match e {
                Ok(e) => config.invalid(format!("telemetry.{}", e.field), e.reason),
                Err(message) => config.invalid("telemetry", message),
            }),
        }
    }

    /// Validates a `[telemetry]` table: `Ok(TelemetryError)` for a bad value, `Err(message)`
    /// when the table does not decode (an unknown key, a wrong type).
    fn from_table(t: &toml::Table) -> Result<Self, Result<TelemetryError, String>> {
        let raw: RawTelemetry = toml::Value::Table(t.clone())
            .try_into()
            .map_err(|e: toml::de::Error| Err(e.message().to_owned()))?;
        Self::validate(raw).map_err(Ok)
    }

    fn validate(raw: RawTelemetry) -> Result<Self, TelemetryError> {
        let has_otel_keys = raw.sampling_ratio.is_some()
            || raw.protocol.is_some()
            || raw.service_name.is_some()
            || raw.queue_size.is_some()
            || raw.capture_content
            || raw.metrics
            || raw.metrics_interval_secs.is_some();
        let Some(endpoint) = raw.endpoint else {
            if has_otel_keys {
                return Err(TelemetryError::new(
                    "endpoint",
                    "is required when other trace settings are given (traces go to it)",
                ));
            }
            return Ok(Self {
                log_format: raw.log_format,
                traces: None,
            });
        };
        let endpoint = endpoint.trim().to_owned();
        let host = endpoint
            .strip_prefix("http://")
            .or_else(|| endpoint.strip_prefix("https://"));
        if host.is_none_or(str::is_empty) {
            return Err(TelemetryError::new(
                "endpoint",
                format!(
                    "must be an http:// or https:// URL, got `{}`",
                    model_runtime::error::excerpt(&endpoint)
                ),
            ));
        }
        if endpoint.parse::<http::Uri>().is_err() {
            return Err(TelemetryError::new(
                "endpoint",
                format!(
                    "is not a valid URL: `{}`",
                    model_runtime::error::excerpt(&endpoint)
                ),
            ));
        }
        let protocol = match raw.protocol.as_deref() {
            None => OtlpProtocol::default(),
            Some(p) => OtlpProtocol::parse(p).ok_or_else(|| {
                TelemetryError::new(
                    "protocol",
                    format!(
                        "must be \"http/protobuf\" or \"grpc\", got `{}`",
                        model_runtime::error::excerpt(p)
                    ),
                )
            })?,
        };
        if protocol == OtlpProtocol::Grpc && endpoint.starts_with("https://") {
            return Err(TelemetryError::new(
                "endpoint",
                "https is not built in for protocol = \"grpc\"; use protocol = \"http/protobuf\" for TLS",
            ));
        }
        let sampling_ratio = raw.sampling_ratio.unwrap_or(1.0);
        if !(0.0..=1.0).contains(&sampling_ratio) {
            return Err(TelemetryError::new(
                "sampling_ratio",
                format!("must be between 0 and 1, got {sampling_ratio}"),
            ));
        }
        let service_name = raw.service_name.unwrap_or_else(|| "modelrt".into());
        if service_name.trim().is_empty() {
            return Err(TelemetryError::new("service_name", "must not be empty"));
        }
        let queue_size = raw.queue_size.unwrap_or(2048);
        if !(1..=MAX_QUEUE).contains(&queue_size) {
            return Err(TelemetryError::new(
                "queue_size",
                format!("must be between 1 and {MAX_QUEUE}, got {queue_size}"),
            ));
        }
        let interval = raw.metrics_interval_secs.unwrap_or(60);
        if !(1..=MAX_METRICS_INTERVAL).contains(&interval) {
            return Err(TelemetryError::new(
                "metrics_interval_secs",
                format!("must be between 1 and {MAX_METRICS_INTERVAL}, got {interval}"),
            ));
        }
        if raw.metrics_interval_secs.is_some() && !raw.metrics {
            return Err(TelemetryError::new(
                "metrics_interval_secs",
                "is set but `metrics` is not true (metrics are not exported)",
            ));
        }
        let metrics_interval = raw
            .metrics
            .then_some(std::time::Duration::from_secs(interval));
        Ok(Self {
            log_format: raw.log_format,
            traces: Some(TracesConfig {
                endpoint,
                protocol,
                sampling_ratio,
                service_name,
                capture_content: raw.capture_content,
                queue_size,
                metrics_interval,
            }),
        })
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

/// A layer for the process's subscriber (over the registry).
pub type BoxedLayer =
    Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync + 'static>;

/// Installs the process's subscriber: `RUST_LOG` (else `default_level`) to stderr in
/// `format`, and beside it the OpenTelemetry layer when traces are exported
/// ([`crate::otel::layer`]; it sees spans at `info` whatever `RUST_LOG` says).
pub fn init_logging(default_level: &str, format: LogFormat, otel: Option<BoxedLayer>) {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let Some(otel) = otel else {
        // Without traces: one global filter, as cheap as logging gets.
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
        return;
    };
    // With traces: each layer filters for itself.
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let fmt: BoxedLayer = match format {
        LogFormat::Text => fmt
            .with_ansi(std::io::stderr().is_terminal())
            .with_filter(filter)
            .boxed(),
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_filter(filter)
            .boxed(),
    };
    tracing_subscriber::registry().with(vec![fmt, otel]).init();
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

    fn traces(text: &str) -> Result<TelemetryConfig, TelemetryError> {
        let t: toml::Table = text.parse().unwrap();
        TelemetryConfig::from_table(&t).map_err(|e| e.unwrap())
    }

    #[test]
    fn trace_settings_validate_with_errors_naming_the_key() {
        let t = traces("endpoint = \"http://c:4318/\"\nsampling_ratio = 0.25\n")
            .unwrap()
            .traces
            .unwrap();
        assert_eq!(t.export_url(), "http://c:4318/v1/traces");
        assert_eq!(t.sampling_ratio, 0.25);
        assert_eq!((t.queue_size, t.capture_content), (2048, false));
        assert_eq!(t.service_name, "modelrt");
        assert_eq!(t.metrics_interval, None);
        assert_eq!(t.metrics_url(), "http://c:4318/v1/metrics");
        let m = traces(
            "endpoint = \"http://c/v1/traces\"\nmetrics = true\nmetrics_interval_secs = 5\n",
        )
        .unwrap()
        .traces
        .unwrap();
        assert_eq!(m.metrics_interval, Some(std::time::Duration::from_secs(5)));
        assert_eq!(m.metrics_url(), "http://c/v1/metrics");
        assert_eq!(
            traces("endpoint = \"http://c\"\nmetrics = true\n")
                .unwrap()
                .traces
                .unwrap()
                .metrics_interval,
            Some(std::time::Duration::from_secs(60))
        );
        let g = traces("endpoint = \"http://c:4317\"\nprotocol = \"grpc\"\n")
            .unwrap()
            .traces
            .unwrap();
        assert_eq!(
            (g.protocol, g.export_url().as_str()),
            (OtlpProtocol::Grpc, "http://c:4317")
        );
        assert!(traces("log_format = \"json\"\n").unwrap().traces.is_none());
        for (text, field) in [
            ("endpoint = \"c:4318\"", "endpoint"),
            ("endpoint = \"https://c\"\nprotocol = \"grpc\"", "endpoint"),
            ("endpoint = \"http://c\"\nprotocol = \"zipkin\"", "protocol"),
            (
                "endpoint = \"http://c\"\nsampling_ratio = -0.1",
                "sampling_ratio",
            ),
            ("endpoint = \"http://c\"\nqueue_size = 0", "queue_size"),
            (
                "endpoint = \"http://c\"\nservice_name = \" \"",
                "service_name",
            ),
            ("sampling_ratio = 0.5", "endpoint"),
            ("metrics = true", "endpoint"),
            (
                "endpoint = \"http://c\"\nmetrics = true\nmetrics_interval_secs = 0",
                "metrics_interval_secs",
            ),
            (
                "endpoint = \"http://c\"\nmetrics_interval_secs = 10",
                "metrics_interval_secs",
            ),
        ] {
            assert_eq!(traces(text).unwrap_err().field, field, "{text}");
        }
    }
}
