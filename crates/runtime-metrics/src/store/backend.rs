//! The SQL behind [`super::UsageStore`]: embedded migrations, idempotent batch inserts with
//! the hourly rollups maintained in the same transaction, and the summary queries, written
//! once for SQLite and PostgreSQL (`backend!`).

use std::collections::{BTreeMap, HashSet};

use sqlx::pool::PoolConnection;
use sqlx::{Connection, PgPool, QueryBuilder, Row, SqlitePool};

use super::types::{GroupBy, StoreError, SummaryRow};
use crate::record::{Status, UsageRecord};

pub(super) const HOUR_MS: i64 = 3_600_000;
/// Rows per INSERT statement, largest first (25 binds per record row; all under every
/// backend's bind limit). A batch is cut into chunks of these sizes only, so the statement
/// texts repeat and the connection's prepared-statement cache serves them: with a free size
/// per batch, every flush parsed and planned a fresh multi-row INSERT (about 10 % of the
/// gateway's instructions per request in the full bench configuration).
const INSERT_SIZES: [usize; 5] = [256, 64, 16, 4, 1];

/// `items` cut into consecutive chunks whose lengths are all in [`INSERT_SIZES`].
fn fixed_chunks<T>(mut items: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        let size = INSERT_SIZES.iter().copied().find(|&n| n <= items.len())?;
        let (head, rest) = items.split_at(size);
        items = rest;
        Some(head)
    })
}

/// Migrations: (version, name, SQLite SQL, Postgres SQL).
const MIGRATIONS: &[(i64, &str, &str, &str)] = &[
    (
        1,
        "usage records and hourly rollups",
        include_str!("../../migrations/sqlite/0001_usage.sql"),
        include_str!("../../migrations/postgres/0001_usage.sql"),
    ),
    (
        2,
        "team and end user of each record",
        include_str!("../../migrations/sqlite/0002_attribution.sql"),
        include_str!("../../migrations/postgres/0002_attribution.sql"),
    ),
    (
        3,
        "stored responses of /v1/responses",
        include_str!("../../migrations/sqlite/0003_responses.sql"),
        include_str!("../../migrations/postgres/0003_responses.sql"),
    ),
    (
        4,
        "search units of rerank calls",
        include_str!("../../migrations/sqlite/0004_search_units.sql"),
        include_str!("../../migrations/postgres/0004_search_units.sql"),
    ),
    (
        5,
        "sign-in sessions of the admin UI",
        include_str!("../../migrations/sqlite/0005_ui_sessions.sql"),
        include_str!("../../migrations/postgres/0005_ui_sessions.sql"),
    ),
];

/// The rollup key and increments of one record.
#[derive(Debug, Default)]
struct Rollup {
    row: SummaryRow,
}

fn rollup_key(r: &UsageRecord) -> (i64, String, String, String, String) {
    (
        r.time_ms - r.time_ms.rem_euclid(HOUR_MS),
        r.provider.clone(),
        r.logical_model.clone(),
        r.deployment.clone().unwrap_or_default(),
        r.key_id.clone().unwrap_or_default(),
    )
}

type RollupKey = (i64, String, String, String, String);

fn aggregate<'a>(records: impl Iterator<Item = &'a UsageRecord>) -> BTreeMap<RollupKey, Rollup> {
    let mut out: BTreeMap<RollupKey, Rollup> = BTreeMap::new();
    for r in records {
        let e = out.entry(rollup_key(r)).or_default();
        e.row.add(&SummaryRow {
            requests: 1,
            errors: u64::from(r.status != Status::Ok),
            cache_hits: u64::from(r.cache_hit),
            unpriced_requests: u64::from(r.cost_usd.is_none() && r.total_tokens > 0),
            prompt_tokens: r.prompt_tokens,
            completion_tokens: r.completion_tokens,
            cached_tokens: r.cached_tokens,
            cache_write_tokens: r.cache_write_tokens,
            reasoning_tokens: r.reasoning_tokens,
            cost_usd: r.cost_usd.unwrap_or(0.0),
            saved_usd: r.saved_usd.unwrap_or(0.0),
            latency_ms_sum: r.latency_ms,
            ..SummaryRow::default()
        });
    }
    out
}

fn i(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn u(n: Option<i64>) -> u64 {
    n.unwrap_or(0).max(0) as u64
}

const RECORD_COLUMNS: &str = "request_id, time_ms, key_id, team_id, end_user, provider, deployment, operation, \
    logical_model, provider_model, prompt_tokens, completion_tokens, cached_tokens, \
    cache_write_tokens, reasoning_tokens, total_tokens, cost_usd, saved_usd, latency_ms, \
    ttft_ms, status, error_kind, cache_hit, attempts, search_units";

const ROLLUP_INSERT: &str = "INSERT INTO usage_rollup_hourly (hour_ms, provider, model, \
    deployment, key_id, requests, errors, cache_hits, unpriced_requests, prompt_tokens, \
    completion_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, cost_usd, saved_usd, \
    latency_ms_sum) ";

const ROLLUP_CONFLICT: &str = " ON CONFLICT (hour_ms, provider, model, deployment, key_id) DO UPDATE SET \
    requests = usage_rollup_hourly.requests + excluded.requests, \
    errors = usage_rollup_hourly.errors + excluded.errors, \
    cache_hits = usage_rollup_hourly.cache_hits + excluded.cache_hits, \
    unpriced_requests = usage_rollup_hourly.unpriced_requests + excluded.unpriced_requests, \
    prompt_tokens = usage_rollup_hourly.prompt_tokens + excluded.prompt_tokens, \
    completion_tokens = usage_rollup_hourly.completion_tokens + excluded.completion_tokens, \
    cached_tokens = usage_rollup_hourly.cached_tokens + excluded.cached_tokens, \
    cache_write_tokens = usage_rollup_hourly.cache_write_tokens + excluded.cache_write_tokens, \
    reasoning_tokens = usage_rollup_hourly.reasoning_tokens + excluded.reasoning_tokens, \
    cost_usd = usage_rollup_hourly.cost_usd + excluded.cost_usd, \
    saved_usd = usage_rollup_hourly.saved_usd + excluded.saved_usd, \
    latency_ms_sum = usage_rollup_hourly.latency_ms_sum + excluded.latency_ms_sum";

/// Totals selected by both summary queries, in [`SummaryRow`] order.
const SUM_ROLLUP: &str = "CAST(SUM(requests) AS BIGINT), CAST(SUM(errors) AS BIGINT), \
    CAST(SUM(cache_hits) AS BIGINT), CAST(SUM(unpriced_requests) AS BIGINT), \
    CAST(SUM(prompt_tokens) AS BIGINT), CAST(SUM(completion_tokens) AS BIGINT), \
    CAST(SUM(cached_tokens) AS BIGINT), CAST(SUM(cache_write_tokens) AS BIGINT), \
    CAST(SUM(reasoning_tokens) AS BIGINT), CAST(SUM(cost_usd) AS DOUBLE PRECISION), \
    CAST(SUM(saved_usd) AS DOUBLE PRECISION), CAST(SUM(latency_ms_sum) AS DOUBLE PRECISION)";

const SUM_RECORDS: &str = "CAST(COUNT(*) AS BIGINT), \
    CAST(SUM(CASE WHEN status <> 'ok' THEN 1 ELSE 0 END) AS BIGINT), \
    CAST(SUM(CASE WHEN cache_hit THEN 1 ELSE 0 END) AS BIGINT), \
    CAST(SUM(CASE WHEN cost_usd IS NULL AND total_tokens > 0 THEN 1 ELSE 0 END) AS BIGINT), \
    CAST(SUM(prompt_tokens) AS BIGINT), CAST(SUM(completion_tokens) AS BIGINT), \
    CAST(SUM(cached_tokens) AS BIGINT), CAST(SUM(cache_write_tokens) AS BIGINT), \
    CAST(SUM(reasoning_tokens) AS BIGINT), CAST(SUM(COALESCE(cost_usd, 0)) AS DOUBLE PRECISION), \
    CAST(SUM(COALESCE(saved_usd, 0)) AS DOUBLE PRECISION), \
    CAST(SUM(latency_ms) AS DOUBLE PRECISION)";

/// Builds a grouped summary query over the rollups (`rollup`) or the raw records.
fn summary_sql(group_by: &[GroupBy], rollup: bool) -> String {
    let cols: Vec<&str> = group_by
        .iter()
        .map(|g| {
            if rollup {
                g.rollup_column()
            } else {
                g.record_column()
            }
        })
        .collect();
    let (table, time, sums) = if rollup {
        ("usage_rollup_hourly", "hour_ms", SUM_ROLLUP)
    } else {
        ("usage_records", "time_ms", SUM_RECORDS)
    };
    let mut sql = String::from("SELECT ");
    for c in &cols {
        sql.push_str(c);
        sql.push_str(", ");
    }
    sql.push_str(sums);
    sql.push_str(&format!(" FROM {table} WHERE {time} >= "));
    sql
}

macro_rules! backend {
    ($modname:ident, $db:ty, $pool:ty, $pg:expr, $begin:expr) => {
        pub(crate) mod $modname {
            use super::*;

            pub(crate) async fn migrate(conn: &mut PoolConnection<$db>) -> Result<(), StoreError> {
                // One transaction; on Postgres, replicas starting together serialise on an
                // advisory lock (CREATE TABLE IF NOT EXISTS alone races there).
                let mut tx = conn.begin_with($begin).await?;
                if $pg {
                    sqlx::query("SELECT pg_advisory_xact_lock(726373001)")
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::Executor::execute(
                    &mut *tx,
                    "CREATE TABLE IF NOT EXISTS modelrt_migrations (version BIGINT PRIMARY KEY, \
                     name TEXT NOT NULL, applied_ms BIGINT NOT NULL)",
                )
                .await?;
                for &(version, name, sqlite_sql, pg_sql) in MIGRATIONS {
                    let mut q = QueryBuilder::<$db>::new(
                        "SELECT COUNT(*) FROM modelrt_migrations WHERE version = ",
                    );
                    q.push_bind(version);
                    let done: i64 = q.build().fetch_one(&mut *tx).await?.try_get(0)?;
                    if done > 0 {
                        continue;
                    }
                    let sql = if $pg { pg_sql } else { sqlite_sql };
                    sqlx::Executor::execute(&mut *tx, sql).await?;
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_millis() as i64)
                        .unwrap_or(0);
                    let mut q = QueryBuilder::<$db>::new(
                        "INSERT INTO modelrt_migrations (version, name, applied_ms) VALUES (",
                    );
                    q.push_bind(version)
                        .push(", ")
                        .push_bind(name)
                        .push(", ")
                        .push_bind(now)
                        .push(")");
                    q.build().execute(&mut *tx).await?;
                    tracing::info!(version, name, "usage database migrated");
                }
                tx.commit().await?;
                Ok(())
            }

            pub(crate) async fn write(
                conn: &mut PoolConnection<$db>,
                records: &[UsageRecord],
            ) -> Result<u64, StoreError> {
                // One delivery per id within the batch; the database rejects earlier ones.
                let mut seen = HashSet::new();
                let unique: Vec<&UsageRecord> = records
                    .iter()
                    .filter(|r| seen.insert(r.request_id.as_str()))
                    .collect();
                let mut tx = conn.begin_with($begin).await?;
                let mut inserted: HashSet<String> = HashSet::new();
                for chunk in fixed_chunks(&unique) {
                    let mut q = QueryBuilder::<$db>::new(format!(
                        "INSERT INTO usage_records ({RECORD_COLUMNS}) "
                    ));
                    q.push_values(chunk.iter(), |mut b, r| {
                        b.push_bind(r.request_id.as_str())
                            .push_bind(r.time_ms)
                            .push_bind(r.key_id.as_deref())
                            .push_bind(r.team_id.as_deref())
                            .push_bind(r.end_user.as_deref())
                            .push_bind(r.provider.as_str())
                            .push_bind(r.deployment.as_deref())
                            .push_bind(r.operation.as_str())
                            .push_bind(r.logical_model.as_str())
                            .push_bind(r.provider_model.as_deref())
                            .push_bind(i(r.prompt_tokens))
                            .push_bind(i(r.completion_tokens))
                            .push_bind(i(r.cached_tokens))
                            .push_bind(i(r.cache_write_tokens))
                            .push_bind(i(r.reasoning_tokens))
                            .push_bind(i(r.total_tokens))
                            .push_bind(r.cost_usd)
                            .push_bind(r.saved_usd)
                            .push_bind(r.latency_ms)
                            .push_bind(r.ttft_ms)
                            .push_bind(r.status.as_str())
                            .push_bind(r.error_kind.as_deref())
                            .push_bind(r.cache_hit)
                            .push_bind(i64::from(r.attempts))
                            .push_bind(i(r.search_units));
                    });
                    q.push(" ON CONFLICT (request_id) DO NOTHING RETURNING request_id");
                    for row in q.build().fetch_all(&mut *tx).await? {
                        inserted.insert(row.try_get::<String, _>(0)?);
                    }
                }
                let rollups = aggregate(
                    unique
                        .iter()
                        .copied()
                        .filter(|r| inserted.contains(&r.request_id)),
                );
                let rollups: Vec<_> = rollups.into_iter().collect();
                for chunk in fixed_chunks(&rollups) {
                    let mut q = QueryBuilder::<$db>::new(ROLLUP_INSERT);
                    q.push_values(chunk.iter(), |mut b, ((hour, p, m, d, k), r)| {
                        let r = &r.row;
                        b.push_bind(*hour)
                            .push_bind(p.as_str())
                            .push_bind(m.as_str())
                            .push_bind(d.as_str())
                            .push_bind(k.as_str())
                            .push_bind(i(r.requests))
                            .push_bind(i(r.errors))
                            .push_bind(i(r.cache_hits))
                            .push_bind(i(r.unpriced_requests))
                            .push_bind(i(r.prompt_tokens))
                            .push_bind(i(r.completion_tokens))
                            .push_bind(i(r.cached_tokens))
                            .push_bind(i(r.cache_write_tokens))
                            .push_bind(i(r.reasoning_tokens))
                            .push_bind(r.cost_usd)
                            .push_bind(r.saved_usd)
                            .push_bind(r.latency_ms_sum);
                    });
                    q.push(ROLLUP_CONFLICT);
                    q.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(inserted.len() as u64)
            }

            pub(crate) async fn summary(
                pool: &$pool,
                group_by: &[GroupBy],
                rollup: bool,
                from: i64,
                to: i64,
            ) -> Result<Vec<SummaryRow>, StoreError> {
                let mut q = QueryBuilder::<$db>::new(summary_sql(group_by, rollup));
                let time = if rollup { "hour_ms" } else { "time_ms" };
                q.push_bind(from)
                    .push(format!(" AND {time} < "))
                    .push_bind(to);
                if !group_by.is_empty() {
                    q.push(" GROUP BY ");
                    let mut sep = q.separated(", ");
                    for g in group_by {
                        sep.push(if rollup {
                            g.rollup_column()
                        } else {
                            g.record_column()
                        });
                    }
                }
                let rows = q.build().fetch_all(pool).await?;
                let mut out = Vec::with_capacity(rows.len());
                for row in rows {
                    let mut s = SummaryRow::default();
                    for (idx, g) in group_by.iter().enumerate() {
                        let v: Option<String> = row.try_get(idx)?;
                        let v = Some(v.unwrap_or_default());
                        match g {
                            GroupBy::Provider => s.provider = v,
                            GroupBy::Model => s.model = v,
                            GroupBy::Deployment => s.deployment = v,
                            GroupBy::Key => s.key_id = v,
                        }
                    }
                    let n = group_by.len();
                    s.requests = u(row.try_get(n)?);
                    if s.requests == 0 {
                        continue; // an aggregate over no rows
                    }
                    s.errors = u(row.try_get(n + 1)?);
                    s.cache_hits = u(row.try_get(n + 2)?);
                    s.unpriced_requests = u(row.try_get(n + 3)?);
                    s.prompt_tokens = u(row.try_get(n + 4)?);
                    s.completion_tokens = u(row.try_get(n + 5)?);
                    s.cached_tokens = u(row.try_get(n + 6)?);
                    s.cache_write_tokens = u(row.try_get(n + 7)?);
                    s.reasoning_tokens = u(row.try_get(n + 8)?);
                    s.cost_usd = row.try_get::<Option<f64>, _>(n + 9)?.unwrap_or(0.0);
                    s.saved_usd = row.try_get::<Option<f64>, _>(n + 10)?.unwrap_or(0.0);
                    s.latency_ms_sum = row.try_get::<Option<f64>, _>(n + 11)?.unwrap_or(0.0);
                    out.push(s);
                }
                Ok(out)
            }

            pub(crate) async fn count(pool: &$pool) -> Result<u64, StoreError> {
                let n: i64 = sqlx::query("SELECT COUNT(*) FROM usage_records")
                    .fetch_one(pool)
                    .await?
                    .try_get(0)?;
                Ok(n.max(0) as u64)
            }

            pub(crate) async fn ids(pool: &$pool) -> Result<Vec<String>, StoreError> {
                let rows = sqlx::query("SELECT request_id FROM usage_records ORDER BY request_id")
                    .fetch_all(pool)
                    .await?;
                rows.into_iter()
                    .map(|r| r.try_get::<String, _>(0).map_err(StoreError::from))
                    .collect()
            }
        }
    };
}

// SQLite takes the write lock when the transaction begins (waiting up to the busy timeout),
// so a writer never fails half-way through a batch because another one holds it.
backend!(
    sqlite_backend,
    sqlx::Sqlite,
    SqlitePool,
    false,
    "BEGIN IMMEDIATE"
);
backend!(pg_backend, sqlx::Postgres, PgPool, true, "BEGIN");

/// Migrates the SQLite database behind `pool` (used when the file is opened anew).
pub(crate) async fn sqlite_migrate(pool: &SqlitePool) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    let r = sqlite_backend::migrate(&mut conn).await;
    if r.is_err() {
        conn.close_on_drop();
    }
    r
}

/// Ends a unit of work on a PostgreSQL connection: one whose work failed is closed, not
/// pooled again.
pub(super) fn pg_finish<T>(
    mut conn: PoolConnection<sqlx::Postgres>,
    r: Result<T, StoreError>,
) -> Result<T, StoreError> {
    if r.is_err() {
        conn.close_on_drop();
    }
    r
}

#[cfg(test)]
mod chunk_tests {
    use super::*;

    #[test]
    fn batches_are_cut_into_the_fixed_sizes_only_and_keep_every_item_in_order() {
        for n in [0usize, 1, 3, 4, 5, 17, 250, 256, 257, 1000, 1234] {
            let items: Vec<usize> = (0..n).collect();
            let chunks: Vec<&[usize]> = fixed_chunks(&items).collect();
            assert!(
                chunks.iter().all(|c| INSERT_SIZES.contains(&c.len())),
                "n={n}: {:?}",
                chunks.iter().map(|c| c.len()).collect::<Vec<_>>()
            );
            let joined: Vec<usize> = chunks.concat();
            assert_eq!(joined, items, "n={n}");
        }
        // 250 = 3×64 + 3×16 + 2×4 + 2×1: ten statements, four distinct texts.
        let items = vec![0u8; 250];
        let sizes: Vec<usize> = fixed_chunks(&items).map(<[u8]>::len).collect();
        assert_eq!(sizes, [64, 64, 64, 16, 16, 16, 4, 4, 1, 1]);
    }
}
