#![doc = include_str!("../README.md")]

pub mod browse;
pub mod config;
pub mod failure;
pub mod histogram;
mod keybuf;
pub mod meter;
pub mod metering;
pub mod pricing;
pub mod provider;
pub mod record;
pub mod responses;
pub mod sessions;

pub use config::{MetricsConfig, PriceConfig, PricingConfig, StorageConfig};
pub use histogram::{Quantiles, WindowedHistogram};
pub use meter::{Metrics, Observation, Operation, Scope, SeriesSnapshot, SharedRecorder};
pub use pricing::{CatalogEntry, Cost, PriceCatalog, PriceSource, Pricing, Provenance};
pub use provider::{Meter, MeteredProvider};
pub use record::{Status, UsageRecord, UsageSink};
pub use responses::StoredResponse;
pub use sessions::UiSession;
pub mod spend;
pub mod spill;
pub mod sqlite;
pub mod store;
pub mod writer;

pub use failure::FailureKind;
pub use metering::{Metering, MeteringConfig};
pub use spend::{Bucket, SpendBy, SpendRow};
pub use store::{BatchStore, GroupBy, StoreError, SummaryRow, UsageStore};
pub use writer::{UsageWriter, WriterStats};
