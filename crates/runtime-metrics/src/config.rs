//! Config sections: `[metrics]`, `[storage]` and `[pricing]`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use runtime_core::ModelPricing;
use serde::{Deserialize, Deserializer};

/// The default SQLite busy timeout (see [`StorageConfig::busy_timeout`]).
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Deserializes `"30s"`, `"500ms"`, `"2m"` or a number of seconds.
pub(crate) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Num(f64),
        Str(String),
    }
    match Raw::deserialize(d)? {
        Raw::Num(n) if Duration::try_from_secs_f64(n).is_ok() => Ok(Duration::from_secs_f64(n)),
        Raw::Num(n) => Err(serde::de::Error::custom(format!(
            "expected a non-negative number of seconds, got {n}"
        ))),
        Raw::Str(s) => {
            runtime_core::registry::parse_duration_str(&s).map_err(serde::de::Error::custom)
        }
    }
}

/// `[metrics]`: in-process metrics and the Prometheus export.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Whether requests are metered at all.
    pub enabled: bool,
    /// The sliding window of the p50/p95/p99 percentiles.
    #[serde(deserialize_with = "duration")]
    pub window: Duration,
    /// How many rotating slots the window is cut into (more: smoother window, more memory).
    pub window_slots: usize,
    /// Most label sets kept; models seen after that are counted under the model `__other__`
    /// (the model label comes from clients, so it must not grow without bound). Each series
    /// holds its windowed histograms in fixed memory (about 11 KB per histogram with 6 slots,
    /// two or three histograms per series).
    pub max_series: usize,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            window: Duration::from_secs(300),
            window_slots: 6,
            max_series: 1_000,
        }
    }
}

/// `[storage]`: durable usage records.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// Whether usage records are written.
    pub enabled: bool,
    /// `sqlite://file.sqlite` (created if missing) or `postgres://user:pass@host/db`.
    pub database_url: String,
    /// The JSON-lines file that keeps records while the database is unreachable.
    pub spill_path: PathBuf,
    /// Records queued between the request path and the writer.
    pub channel_capacity: usize,
    /// Records written per database transaction.
    pub batch_size: usize,
    /// Longest time a record waits in a partial batch.
    #[serde(deserialize_with = "duration")]
    pub flush_interval: Duration,
    /// Records kept in memory while the database is down before they go to the spill file.
    pub buffer_max_records: usize,
    /// Database connections in the writer's pool.
    pub max_connections: u32,
    /// How long one database attempt may wait for a connection.
    #[serde(deserialize_with = "duration")]
    pub connect_timeout: Duration,
    /// SQLite: how long a write waits for the write lock another process holds before it
    /// fails (the batch then goes to the spill file).
    #[serde(deserialize_with = "duration")]
    pub busy_timeout: Duration,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            database_url: "sqlite://modelrt-usage.sqlite".to_owned(),
            spill_path: PathBuf::from("modelrt-usage.spill.jsonl"),
            channel_capacity: 10_000,
            batch_size: 500,
            flush_interval: Duration::from_secs(1),
            buffer_max_records: 100_000,
            max_connections: 4,
            connect_timeout: Duration::from_secs(2),
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
        }
    }
}

/// One price override, in US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceConfig {
    /// Uncached input tokens.
    pub input_per_mtok: f64,
    /// Output tokens.
    pub output_per_mtok: f64,
    /// Cached input tokens (default: the input price).
    #[serde(default)]
    pub cached_input_per_mtok: Option<f64>,
    /// Cache-write tokens (default: the input price).
    #[serde(default)]
    pub cache_write_per_mtok: Option<f64>,
    /// Reasoning tokens, when priced apart from output.
    #[serde(default)]
    pub reasoning_per_mtok: Option<f64>,
    /// One search unit of a rerank call, in US dollars.
    #[serde(default)]
    pub per_search_unit: Option<f64>,
}

impl From<PriceConfig> for ModelPricing {
    fn from(p: PriceConfig) -> Self {
        ModelPricing {
            input_per_mtok: p.input_per_mtok,
            output_per_mtok: p.output_per_mtok,
            cached_input_per_mtok: p.cached_input_per_mtok,
            cache_write_per_mtok: p.cache_write_per_mtok,
            reasoning_per_mtok: p.reasoning_per_mtok,
            per_search_unit: p.per_search_unit,
        }
    }
}

/// `[pricing]`: overrides of the shipped catalog.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PricingConfig {
    /// Prices keyed by deployment name, or by `provider/model` (provider instance or type).
    pub overrides: BTreeMap<String, PriceConfig>,
    /// Provider instances or types whose unknown models cost nothing (e.g. `local`). Without
    /// this, an unpriced model's cost is recorded as unknown.
    pub free_providers: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct File {
        metrics: MetricsConfig,
        storage: StorageConfig,
        pricing: PricingConfig,
    }

    #[test]
    fn parses_the_documented_shape() {
        let f: File = toml::from_str(
            r#"
[metrics]
enabled = true
window = "5m"
[storage]
enabled = true
database_url = "sqlite://modelrt-usage.sqlite"
spill_path = "modelrt-usage.spill.jsonl"
channel_capacity = 10000
batch_size = 500
flush_interval = "1s"
buffer_max_records = 100000
[pricing.overrides."openai/gpt-4o-mini"]
input_per_mtok = 0.15
output_per_mtok = 0.6
"#,
        )
        .unwrap();
        assert_eq!(f.metrics.window, Duration::from_secs(300));
        assert_eq!(f.storage.flush_interval, Duration::from_secs(1));
        assert_eq!(f.storage.batch_size, 500);
        let p = f.pricing.overrides["openai/gpt-4o-mini"];
        assert_eq!(p.output_per_mtok, 0.6);
        assert_eq!(p.cached_input_per_mtok, None);
    }

    #[test]
    fn rejects_unknown_fields_and_bad_durations() {
        assert!(toml::from_str::<MetricsConfig>("windw = \"5m\"").is_err());
        assert!(toml::from_str::<MetricsConfig>("window = \"soon\"").is_err());
        let m: MetricsConfig = toml::from_str("window = 90").unwrap();
        assert_eq!(m.window, Duration::from_secs(90));
        assert_eq!(
            toml::from_str::<StorageConfig>("").unwrap(),
            StorageConfig::default()
        );
    }
}
