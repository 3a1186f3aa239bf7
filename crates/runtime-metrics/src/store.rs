//! The usage store: SQLite or PostgreSQL through sqlx, with embedded migrations, idempotent
//! batch inserts, hourly rollups maintained in the same transaction, and cost queries.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, PgPool};

pub use crate::sqlite::SqliteStore;

pub(crate) mod backend;
mod types;
pub use types::{BatchStore, GroupBy, StoreError, SummaryRow};

pub use crate::config::DEFAULT_BUSY_TIMEOUT;
use crate::record::UsageRecord;
use backend::{HOUR_MS, pg_backend, pg_finish, sqlite_backend};

/// The usage database.
#[derive(Debug, Clone)]
pub enum UsageStore {
    /// A SQLite file.
    Sqlite(SqliteStore),
    /// A PostgreSQL database.
    Postgres(PgPool),
}

impl UsageStore {
    /// Opens `url` (`sqlite://path` — created if missing — or `postgres://…`) on the current
    /// Tokio runtime, without connecting yet: connections are made on first use, each waiting at most
    /// `acquire_timeout`, so an unreachable database does not stop the caller.
    pub fn open(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> Result<Self, StoreError> {
        Self::open_with(url, max_connections, acquire_timeout, DEFAULT_BUSY_TIMEOUT)
    }

    /// Opens the database of a `[storage]` section (see [`UsageStore::open`]).
    pub fn open_config(config: &crate::StorageConfig) -> Result<Self, StoreError> {
        Self::open_with(
            &config.database_url,
            config.max_connections,
            config.connect_timeout,
            config.busy_timeout,
        )
    }

    /// Like [`UsageStore::open`]; a SQLite writer waits up to `busy_timeout` for a write lock
    /// another process holds.
    pub fn open_with(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
        busy_timeout: Duration,
    ) -> Result<Self, StoreError> {
        // The pool spawns its maintenance task on the current runtime.
        tokio::runtime::Handle::try_current().map_err(|_| StoreError::NoRuntime)?;
        let max = max_connections.max(1);
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(busy_timeout);
            Ok(UsageStore::Sqlite(SqliteStore::open(
                opts,
                max,
                acquire_timeout,
            )))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url)?;
            let pool = PgPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(acquire_timeout)
                // A connection sqlx still counts inside a transaction is closed, not pooled
                // (sqlx-postgres updates the count when it queues a rollback: no round trip).
                .after_release(|conn, _meta| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
                .connect_lazy_with(opts);
            Ok(UsageStore::Postgres(pool))
        } else {
            Err(StoreError::UnsupportedUrl(
                url.split('@').next_back().unwrap_or("").to_owned(),
            ))
        }
    }

    /// Opens and migrates.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let s = Self::open(url, 4, Duration::from_secs(5))?;
        s.migrate().await?;
        Ok(s)
    }

    /// Runs the embedded migrations not yet applied (recorded in `modelrt_migrations`).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            UsageStore::Sqlite(s) => {
                let mut c = s.acquire().await?;
                let r = sqlite_backend::migrate(&mut c.conn).await;
                c.finish(r)
            }
            UsageStore::Postgres(p) => {
                let mut c = p.acquire().await?;
                let r = pg_backend::migrate(&mut c).await;
                pg_finish(c, r)
            }
        }
    }

    /// Inserts records, ignoring request ids already stored, and adds the new ones to the
    /// hourly rollups in the same transaction. Returns how many were new.
    pub async fn insert_batch(&self, records: &[UsageRecord]) -> Result<u64, StoreError> {
        if records.is_empty() {
            return Ok(0);
        }
        match self {
            UsageStore::Sqlite(s) => {
                let mut c = s.acquire().await?;
                let r = sqlite_backend::write(&mut c.conn, records).await;
                c.finish(r)
            }
            UsageStore::Postgres(p) => {
                let mut c = p.acquire().await?;
                let r = pg_backend::write(&mut c, records).await;
                pg_finish(c, r)
            }
        }
    }

    /// Records stored.
    pub async fn count(&self) -> Result<u64, StoreError> {
        match self {
            UsageStore::Sqlite(s) => sqlite_backend::count(&s.checked().await.0).await,
            UsageStore::Postgres(p) => pg_backend::count(p).await,
        }
    }

    /// Every stored request id, sorted (for audits and tests).
    pub async fn request_ids(&self) -> Result<Vec<String>, StoreError> {
        match self {
            UsageStore::Sqlite(s) => sqlite_backend::ids(&s.checked().await.0).await,
            UsageStore::Postgres(p) => pg_backend::ids(p).await,
        }
    }

    async fn summary_part(
        &self,
        group_by: &[GroupBy],
        rollup: bool,
        from: i64,
        to: i64,
    ) -> Result<Vec<SummaryRow>, StoreError> {
        if from >= to {
            return Ok(Vec::new());
        }
        match self {
            UsageStore::Sqlite(s) => {
                sqlite_backend::summary(&s.checked().await.0, group_by, rollup, from, to).await
            }
            UsageStore::Postgres(p) => pg_backend::summary(p, group_by, rollup, from, to).await,
        }
    }

    /// Totals over `[from_ms, to_ms)` (Unix ms), grouped by `group_by` (empty: one total).
    ///
    /// Whole hours are read from the hourly rollups; only the partial hours at the two edges
    /// are aggregated from the records (by the database, over the time index), so the cost
    /// stays flat however many records there are.
    pub async fn usage_summary(
        &self,
        from_ms: i64,
        to_ms: i64,
        group_by: &[GroupBy],
    ) -> Result<Vec<SummaryRow>, StoreError> {
        let mut groups: Vec<GroupBy> = group_by.to_vec();
        groups.sort();
        groups.dedup();
        let first_full = from_ms.div_euclid(HOUR_MS) * HOUR_MS
            + if from_ms.rem_euclid(HOUR_MS) == 0 {
                0
            } else {
                HOUR_MS
            };
        let end_full = to_ms.div_euclid(HOUR_MS) * HOUR_MS;
        let mut parts = Vec::new();
        if first_full < end_full {
            parts.extend(
                self.summary_part(&groups, true, first_full, end_full)
                    .await?,
            );
            parts.extend(
                self.summary_part(&groups, false, from_ms, first_full)
                    .await?,
            );
            parts.extend(self.summary_part(&groups, false, end_full, to_ms).await?);
        } else {
            parts.extend(self.summary_part(&groups, false, from_ms, to_ms).await?);
        }
        let mut merged: BTreeMap<[Option<String>; 4], SummaryRow> = BTreeMap::new();
        for p in parts {
            merged
                .entry(p.group_key())
                .or_insert_with(|| SummaryRow {
                    provider: p.provider.clone(),
                    model: p.model.clone(),
                    deployment: p.deployment.clone(),
                    key_id: p.key_id.clone(),
                    ..SummaryRow::default()
                })
                .add(&p);
        }
        let mut rows: Vec<SummaryRow> = merged.into_values().collect();
        rows.sort_by(|a, b| {
            b.cost_usd
                .partial_cmp(&a.cost_usd)
                .unwrap_or(std::cmp::Ordering::Equal)
                .then_with(|| a.group_key().cmp(&b.group_key()))
        });
        Ok(rows)
    }

    /// Closes the pool.
    pub async fn close(&self) {
        match self {
            UsageStore::Sqlite(s) => s.close().await,
            UsageStore::Postgres(p) => p.close().await,
        }
    }
}

#[async_trait]
impl BatchStore for UsageStore {
    async fn prepare(&self) -> Result<(), StoreError> {
        self.migrate().await
    }

    async fn write(&self, records: &[UsageRecord]) -> Result<u64, StoreError> {
        self.insert_batch(records).await
    }
}
