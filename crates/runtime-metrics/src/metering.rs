//! `Metering`: everything this crate runs, built from one config, for the facade to wire in.

use std::sync::Arc;

use serde::Deserialize;

use crate::config::{MetricsConfig, PricingConfig, StorageConfig};
use crate::meter::Metrics;
use crate::pricing::Pricing;
use crate::provider::Meter;
use crate::store::{GroupBy, StoreError, SummaryRow, UsageStore};
use crate::writer::UsageWriter;

/// The `[metrics]`, `[storage]` and `[pricing]` sections together.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeteringConfig {
    /// `[metrics]`.
    pub metrics: MetricsConfig,
    /// `[storage]`.
    pub storage: StorageConfig,
    /// `[pricing]`.
    pub pricing: PricingConfig,
}

impl MeteringConfig {
    /// Builds the config from the raw `[metrics]`, `[storage]` and `[pricing]` tables (as the
    /// facade keeps them); a missing table means its defaults.
    pub fn from_tables(
        metrics: Option<&toml::Table>,
        storage: Option<&toml::Table>,
        pricing: Option<&toml::Table>,
    ) -> Result<Self, toml::de::Error> {
        fn section<T: serde::de::DeserializeOwned + Default>(
            t: Option<&toml::Table>,
        ) -> Result<T, toml::de::Error> {
            match t {
                Some(t) => t.clone().try_into(),
                None => Ok(T::default()),
            }
        }
        Ok(Self {
            metrics: section(metrics)?,
            storage: section(storage)?,
            pricing: section(pricing)?,
        })
    }
}

/// Metrics, prices, and (when storage is enabled) the usage writer and store.
#[derive(Debug)]
pub struct Metering {
    metrics: Arc<Metrics>,
    pricing: Arc<Pricing>,
    enabled: bool,
    storage: Option<(UsageWriter, UsageStore)>,
    stop: tokio_util::sync::CancellationToken,
    upkeep: parking_lot::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// Counters of the usage writer, exported with the other metrics.
mod writer_names {
    pub const WRITTEN: &str = "modelrt_usage_records_written_total";
    pub const DUPLICATES: &str = "modelrt_usage_records_duplicate_total";
    pub const SPILLED: &str = "modelrt_usage_records_spilled_total";
    pub const OVERFLOWED: &str = "modelrt_usage_records_overflowed_total";
    pub const REPLAYED: &str = "modelrt_usage_records_replayed_total";
    pub const DROPPED: &str = "modelrt_usage_records_dropped_total";
    pub const DB_ERRORS: &str = "modelrt_usage_database_errors_total";
    pub const DB_ERRORS_BY_KIND: &str = "modelrt_usage_database_errors_by_kind_total";
    pub const SPILL_ERRORS: &str = "modelrt_usage_spill_errors_total";
    pub const SPILL_SKIPPED: &str = "modelrt_usage_spill_lines_skipped_total";
    pub const DB_REOPENED: &str = "modelrt_usage_database_reopened_total";
    pub const IN_MEMORY: &str = "modelrt_usage_records_in_memory";
    pub const DB_DOWN: &str = "modelrt_usage_database_down";

    /// Gives every writer family its `# HELP` line.
    pub(super) fn describe(m: &crate::meter::Metrics) {
        use crate::meter::MetricKind::{Counter, Gauge};
        for (kind, name, help) in [
            (
                Counter,
                WRITTEN,
                "Usage records stored in the database (replayed ones included).",
            ),
            (
                Counter,
                DUPLICATES,
                "Usage records ignored because their request id was already stored.",
            ),
            (
                Counter,
                SPILLED,
                "Usage records moved to the spill file while the database was down.",
            ),
            (
                Counter,
                OVERFLOWED,
                "Usage records that found the writer's channel full.",
            ),
            (
                Counter,
                REPLAYED,
                "Usage records stored from the spill file.",
            ),
            (
                Counter,
                DROPPED,
                "Usage records lost: neither the database nor the spill file took them.",
            ),
            (Counter, DB_ERRORS, "Failed usage-database attempts."),
            (
                Counter,
                DB_ERRORS_BY_KIND,
                "Failed usage-database attempts, by condition.",
            ),
            (
                Counter,
                SPILL_ERRORS,
                "Failed appends to the usage spill file.",
            ),
            (
                Counter,
                SPILL_SKIPPED,
                "Unreadable spill-file lines skipped by a replay.",
            ),
            (
                Counter,
                DB_REOPENED,
                "Times the SQLite usage database was reopened.",
            ),
            (
                Gauge,
                IN_MEMORY,
                "Usage records held in memory only (neither stored nor spilled).",
            ),
            (
                Gauge,
                DB_DOWN,
                "1 while the last usage-database attempt failed (records spill), else 0.",
            ),
        ] {
            m.describe(kind, name, help);
        }
    }
}

impl Metering {
    /// Builds everything from `config`: prices from the shipped catalog with its overrides.
    /// The metrics upkeep task and (with storage enabled) the writer task are spawned on the
    /// current Tokio runtime (storage without a runtime is an error); the database is opened
    /// lazily.
    pub fn start(config: &MeteringConfig) -> Result<Self, StoreError> {
        Self::start_with_pricing(config, Pricing::new(&config.pricing))
    }

    /// Like [`Metering::start`] with prices built by the caller (e.g. after
    /// [`Pricing::with_provider_type`] for each configured provider instance).
    pub fn start_with_pricing(
        config: &MeteringConfig,
        pricing: Pricing,
    ) -> Result<Self, StoreError> {
        let metrics = Arc::new(Metrics::new(&config.metrics));
        writer_names::describe(&metrics);
        let storage = if config.storage.enabled {
            let store = UsageStore::open_config(&config.storage)?;
            let writer = UsageWriter::with_store(Arc::new(store.clone()), &config.storage)?;
            Some((writer, store))
        } else {
            None
        };
        let stop = tokio_util::sync::CancellationToken::new();
        // Outside a runtime (storage disabled) the recording path's fallback does the upkeep.
        let upkeep = metrics.spawn_upkeep(std::time::Duration::from_secs(1), stop.clone());
        Ok(Self {
            metrics,
            pricing: Arc::new(pricing),
            enabled: config.metrics.enabled,
            storage,
            stop,
            upkeep: parking_lot::Mutex::new(upkeep),
        })
    }

    /// Whether requests should be metered at all (`[metrics] enabled`); the facade skips the
    /// `MeteredProvider` layer when false.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// The meter to hand to [`crate::MeteredProvider::new`] (records usage when storage is on).
    pub fn meter(&self) -> Meter {
        let meter = Meter::new(self.metrics.clone(), self.pricing.clone());
        match &self.storage {
            Some((writer, _)) => meter.with_sink(Arc::new(writer.clone())),
            None => meter,
        }
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The prices.
    pub fn pricing(&self) -> &Arc<Pricing> {
        &self.pricing
    }

    /// The usage writer, when storage is enabled.
    pub fn writer(&self) -> Option<&UsageWriter> {
        self.storage.as_ref().map(|(w, _)| w)
    }

    /// The usage store, when storage is enabled.
    pub fn store(&self) -> Option<&UsageStore> {
        self.storage.as_ref().map(|(_, s)| s)
    }

    /// The Prometheus text for `GET /metrics` (request metrics and the writer's counters).
    pub fn render(&self) -> String {
        if let Some((w, _)) = &self.storage {
            let s = w.stats();
            for (name, v) in [
                (writer_names::WRITTEN, s.written),
                (writer_names::DUPLICATES, s.duplicates),
                (writer_names::SPILLED, s.spilled),
                (writer_names::OVERFLOWED, s.overflowed),
                (writer_names::REPLAYED, s.replayed),
                (writer_names::DROPPED, s.dropped),
                (writer_names::DB_ERRORS, s.db_errors),
                (writer_names::SPILL_ERRORS, s.spill_errors),
                (writer_names::SPILL_SKIPPED, s.spill_skipped),
            ] {
                self.metrics.plain_counter(name).absolute(v);
            }
            for (kind, v) in w.db_errors_by_kind() {
                self.metrics
                    .labeled_counter(writer_names::DB_ERRORS_BY_KIND, "kind", kind.as_str())
                    .absolute(v);
            }
            if let Some((_, crate::UsageStore::Sqlite(db))) = &self.storage {
                self.metrics
                    .plain_counter(writer_names::DB_REOPENED)
                    .absolute(db.reopened());
            }
            self.metrics
                .plain_gauge(writer_names::IN_MEMORY)
                .set(s.in_memory as f64);
            self.metrics
                .plain_gauge(writer_names::DB_DOWN)
                .set(s.database_down as f64);
        }
        self.metrics.render()
    }

    /// Cost and token totals over `[from_ms, to_ms)` grouped by `group_by` (see
    /// [`UsageStore::usage_summary`]).
    pub async fn usage_summary(
        &self,
        from_ms: i64,
        to_ms: i64,
        group_by: &[GroupBy],
    ) -> Result<Vec<SummaryRow>, StoreError> {
        match &self.storage {
            Some((_, store)) => store.usage_summary(from_ms, to_ms, group_by).await,
            None => Err(StoreError::Disabled),
        }
    }

    /// Stops the background tasks: flushes and stops the writer (records go to the database or
    /// the spill file) and the metrics upkeep.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        let upkeep = self.upkeep.lock().take();
        if let Some(task) = upkeep {
            let _ = task.await;
        }
        if let Some((w, store)) = &self.storage {
            w.shutdown().await;
            store.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_sections() {
        let c: MeteringConfig = toml::from_str(
            r#"
[metrics]
enabled = true
window = "5m"
[storage]
enabled = false
[pricing.overrides."openai/gpt-4o-mini"]
input_per_mtok = 0.15
output_per_mtok = 0.6
"#,
        )
        .unwrap();
        assert!(!c.storage.enabled);
        assert!(toml::from_str::<MeteringConfig>("[metric]\nenabled = true").is_err());
        let storage: toml::Table =
            toml::from_str("batch_size = 7\nflush_interval = \"250ms\"").unwrap();
        let c = MeteringConfig::from_tables(None, Some(&storage), None).unwrap();
        assert_eq!(c.storage.batch_size, 7);
        assert_eq!(
            c.storage.flush_interval,
            std::time::Duration::from_millis(250)
        );
        assert_eq!(c.metrics, MetricsConfig::default());
        let bad: toml::Table = toml::from_str("batch_sise = 7").unwrap();
        assert!(MeteringConfig::from_tables(None, Some(&bad), None).is_err());
    }

    #[test]
    fn storage_needs_a_runtime() {
        let m = Metering::start(&MeteringConfig::default());
        assert!(matches!(m, Err(StoreError::NoRuntime)), "{m:?}");
        let mut c = MeteringConfig::default();
        c.storage.enabled = false;
        assert!(Metering::start(&c).is_ok());
    }

    #[tokio::test]
    async fn storage_disabled_means_no_records_and_no_queries() {
        let mut c = MeteringConfig::default();
        c.storage.enabled = false;
        let m = Metering::start(&c).unwrap();
        assert!(m.enabled());
        assert!(m.writer().is_none());
        assert!(matches!(
            m.usage_summary(0, 1, &[]).await,
            Err(StoreError::Disabled)
        ));
        assert!(!m.render().contains("modelrt_usage"));
        m.shutdown().await;
    }

    #[tokio::test]
    async fn sqlite_metering_end_to_end() {
        use runtime_core::{ChatRequest, Message, ProviderService, RequestContext, ServiceExt};
        let dir = tempfile::tempdir().unwrap();
        let mut c = MeteringConfig::default();
        c.storage.database_url = format!("sqlite://{}", dir.path().join("u.sqlite").display());
        c.storage.spill_path = dir.path().join("spill.jsonl");
        let m = Metering::start_with_pricing(
            &c,
            Pricing::new(&c.pricing).with_provider_type("fake", "openai"),
        )
        .unwrap();
        let p = crate::MeteredProvider::new(
            std::sync::Arc::new(ProviderService::new(std::sync::Arc::new(
                runtime_testkit::fake::FakeProvider::new("fake"),
            ))),
            m.meter(),
        );
        for i in 0..5 {
            let ctx = RequestContext::new().with_request_id(format!("e2e-{i}"));
            p.chat(&ChatRequest::new("gpt-4o", vec![Message::user("hi")]), &ctx)
                .await
                .unwrap();
        }
        m.writer().unwrap().flush().await;
        let rows = m
            .usage_summary(0, i64::MAX / 2, &[GroupBy::Provider, GroupBy::Model])
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].requests, 5);
        assert_eq!(rows[0].provider.as_deref(), Some("fake"));
        // FakeProvider answers 10 prompt + 5 completion tokens; gpt-4o is 2.5 / 10 per MTok.
        let want = 5.0 * (10.0 * 2.5 + 5.0 * 10.0) / 1e6;
        assert!((rows[0].cost_usd - want).abs() < 1e-12, "{rows:?}");
        let text = m.render();
        assert!(
            text.contains("modelrt_usage_records_written_total 5"),
            "{text}"
        );
        m.shutdown().await;
    }
}
