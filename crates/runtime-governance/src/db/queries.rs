//! The SQL of [`super::Db`], once per backend (the statements are the same text; the macro
//! binds them to each backend's types and placeholders).

use sha2::{Digest, Sha256};

use super::rows::{
    CounterRow, DbError, DbReserve, LeaseRow, MIGRATIONS, ModeTimes, Settlement, State,
};
use crate::model::{Budget, Role};
use crate::period::Period;

fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

pub(crate) fn json_text(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    what: &str,
    text: &str,
) -> Result<T, DbError> {
    serde_json::from_str(text).map_err(|e| DbError::Corrupt(what.into(), e.to_string()))
}

pub(crate) fn budget_of(
    micros: Option<i64>,
    period: Option<String>,
) -> Result<Option<Budget>, DbError> {
    match (micros, period) {
        (Some(m), Some(p)) => Ok(Some(Budget {
            max_micros: m,
            period: Period::parse(&p)
                .ok_or_else(|| DbError::Corrupt("budget_period".into(), p.clone()))?,
        })),
        _ => Ok(None),
    }
}

pub(crate) fn u32_of(v: Option<i64>) -> Option<u32> {
    v.and_then(|n| u32::try_from(n).ok())
}

pub(crate) fn role_of(s: &str) -> Role {
    if s == "admin" {
        Role::Admin
    } else {
        Role::User
    }
}

pub(crate) fn role_str(r: Role) -> &'static str {
    match r {
        Role::Admin => "admin",
        Role::User => "user",
    }
}

/// Whether the fleet admits from the database at `now` (heartbeat fresh, fence passed).
pub(crate) fn db_admits(s: &State, now: i64, t: ModeTimes) -> bool {
    matches!((s.db_heartbeat_ms, s.db_since_ms), (Some(hb), Some(since))
        if now - hb < t.active_ms && now - since >= t.fence_ms)
}

/// Whether the fleet is in Redis mode at `now` (no heartbeat for `quiet_ms`).
pub(crate) fn redis_mode(s: &State, now: i64, t: ModeTimes) -> bool {
    s.db_heartbeat_ms.is_none_or(|hb| now - hb >= t.quiet_ms)
}

pub(crate) const KEY_COLUMNS: &str = "id, hash, prefix, prev_hash, prev_valid_until_ms, team_id, user_id, \
    role, models, aliases, rpm, tpm, max_parallel, budget_micros, budget_period, allow_unpriced, \
    expires_ms, metadata, revoked_ms, created_ms, updated_ms, version";
pub(crate) const TEAM_COLUMNS: &str = "id, budget_micros, budget_period, rpm, tpm, max_parallel, models, \
    metadata, created_ms, updated_ms, version, deleted";
pub(crate) const USER_COLUMNS: &str = "id, budget_micros, budget_period, rpm, metadata, created_ms, \
    updated_ms, version, deleted";
const STATE_SELECT: &str =
    "SELECT version, generation, db_since_ms, db_heartbeat_ms FROM gov_state WHERE id = 1";

macro_rules! backend {
    ($name:ident, $db:ty, $pool:ty, $pg:expr, $begin:expr) => {
        pub(crate) mod $name {
            use super::*;
            use sqlx::{Connection, QueryBuilder, Row};

            pub(crate) type Tx<'a> = sqlx::Transaction<'a, $db>;
            pub(crate) type Conn = sqlx::pool::PoolConnection<$db>;

            fn state_of(r: &<$db as sqlx::Database>::Row) -> Result<State, DbError> {
                Ok(State {
                    version: r.try_get(0)?,
                    generation: r.try_get(1)?,
                    db_since_ms: r.try_get(2)?,
                    db_heartbeat_ms: r.try_get(3)?,
                })
            }

            /// Locks the state row (exclusive or shared on PostgreSQL; SQLite's write
            /// transactions are exclusive already) and reads it.
            pub(crate) async fn lock_state(tx: &mut Tx<'_>, exclusive: bool) -> Result<State, DbError> {
                let sql = match ($pg, exclusive) {
                    (false, _) => STATE_SELECT.to_owned(),
                    (true, true) => format!("{STATE_SELECT} FOR UPDATE"),
                    (true, false) => format!("{STATE_SELECT} FOR SHARE"),
                };
                let r = sqlx::query(&sql).fetch_one(&mut **tx).await?;
                state_of(&r)
            }

            /// Moves the change version; returns it.
            pub(crate) async fn bump(tx: &mut Tx<'_>) -> Result<i64, DbError> {
                let s = lock_state(tx, true).await?;
                let v = s.version + 1;
                let mut q = QueryBuilder::<$db>::new("UPDATE gov_state SET version = ");
                q.push_bind(v).push(" WHERE id = 1");
                q.build().execute(&mut **tx).await?;
                Ok(v)
            }

            /// Ends a unit of work: a connection whose work failed is closed, not pooled.
            pub(crate) fn finish<T>(mut conn: Conn, r: Result<T, DbError>) -> Result<T, DbError> {
                if r.is_err() {
                    conn.close_on_drop();
                }
                r
            }

            pub(crate) async fn migrate(pool: &$pool) -> Result<(), DbError> {
                let mut conn = pool.acquire().await?;
                let r = migrate_on(&mut conn).await;
                finish(conn, r)
            }

            async fn migrate_on(conn: &mut Conn) -> Result<(), DbError> {
                let mut tx = conn.begin_with($begin).await?;
                if $pg {
                    sqlx::query("SELECT pg_advisory_xact_lock(726373017)")
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::Executor::execute(
                    &mut *tx,
                    "CREATE TABLE IF NOT EXISTS modelrt_governance_migrations (version BIGINT \
                     PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_ms BIGINT \
                     NOT NULL)",
                )
                .await?;
                for &(version, name, sqlite_sql, pg_sql) in MIGRATIONS {
                    let sql = if $pg { pg_sql } else { sqlite_sql };
                    let sum = checksum(sql);
                    let mut q = QueryBuilder::<$db>::new(
                        "SELECT checksum FROM modelrt_governance_migrations WHERE version = ",
                    );
                    q.push_bind(version);
                    if let Some(row) = q.build().fetch_optional(&mut *tx).await? {
                        let have: String = row.try_get(0)?;
                        if have != sum {
                            return Err(DbError::Checksum(version));
                        }
                        continue;
                    }
                    sqlx::Executor::execute(&mut *tx, sql).await?;
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as i64);
                    let mut q = QueryBuilder::<$db>::new(
                        "INSERT INTO modelrt_governance_migrations (version, name, checksum, applied_ms) VALUES (",
                    );
                    q.push_bind(version)
                        .push(", ")
                        .push_bind(name)
                        .push(", ")
                        .push_bind(sum)
                        .push(", ")
                        .push_bind(now)
                        .push(")");
                    q.build().execute(&mut *tx).await?;
                    tracing::info!(version, name, "governance tables migrated");
                }
                tx.commit().await?;
                Ok(())
            }

            pub(crate) async fn state(pool: &$pool) -> Result<State, DbError> {
                let r = sqlx::query(STATE_SELECT).fetch_one(pool).await?;
                state_of(&r)
            }

            pub(crate) async fn counters(
                pool: &$pool,
                names: &[String],
            ) -> Result<Vec<CounterRow>, DbError> {
                if names.is_empty() {
                    return Ok(Vec::new());
                }
                let mut q = QueryBuilder::<$db>::new(
                    "SELECT counter, spent, reserved FROM gov_counters WHERE counter IN (",
                );
                let mut s = q.separated(", ");
                for n in names {
                    s.push_bind(n.clone());
                }
                q.push(")");
                let mut out = Vec::new();
                for r in q.build().fetch_all(pool).await? {
                    out.push(CounterRow {
                        counter: r.try_get(0)?,
                        spent: r.try_get(1)?,
                        reserved: r.try_get(2)?,
                    });
                }
                Ok(out)
            }

            /// Creates `counter` when missing, its spend summed from the ledger.
            async fn ensure_counter(tx: &mut Tx<'_>, counter: &str) -> Result<(), DbError> {
                let mut q = QueryBuilder::<$db>::new(
                    "INSERT INTO gov_counters (counter, spent, reserved) SELECT ",
                );
                q.push_bind(counter.to_owned())
                    .push(
                        ", CAST(COALESCE(SUM(amount), 0) AS BIGINT), CAST(0 AS BIGINT) FROM \
                         gov_ledger WHERE counter = ",
                    )
                    .push_bind(counter.to_owned())
                    .push(" ON CONFLICT (counter) DO NOTHING");
                q.build().execute(&mut **tx).await?;
                Ok(())
            }

            async fn add(tx: &mut Tx<'_>, counter: &str, spent: i64, reserved: i64) -> Result<(), DbError> {
                ensure_counter(tx, counter).await?;
                let mut q = QueryBuilder::<$db>::new("UPDATE gov_counters SET spent = spent + ");
                q.push_bind(spent)
                    .push(", reserved = reserved + ")
                    .push_bind(reserved)
                    .push(" WHERE counter = ")
                    .push_bind(counter.to_owned());
                q.build().execute(&mut **tx).await?;
                Ok(())
            }

            async fn insert_lease(tx: &mut Tx<'_>, l: &LeaseRow) -> Result<bool, DbError> {
                let mut q = QueryBuilder::<$db>::new(
                    "INSERT INTO gov_leases (id, counters, amount, expires_ms) VALUES (",
                );
                q.push_bind(l.id.clone())
                    .push(", ")
                    .push_bind(l.counters.join(" "))
                    .push(", ")
                    .push_bind(l.amount)
                    .push(", ")
                    .push_bind(l.expires_ms)
                    .push(") ON CONFLICT (id) DO NOTHING");
                Ok(q.build().execute(&mut **tx).await?.rows_affected() == 1)
            }

            pub(crate) async fn reserve(
                pool: &$pool,
                lease: &LeaseRow,
                limits: &[(String, Option<i64>)],
                now: i64,
                times: Option<ModeTimes>,
            ) -> Result<DbReserve, DbError> {
                let mut conn = pool.acquire().await?;
                let r = async {
                    let mut tx = conn.begin_with($begin).await?;
                    let s = lock_state(&mut tx, false).await?;
                    if times.is_some_and(|t| !db_admits(&s, now, t)) {
                        return Ok(DbReserve::NotNow);
                    }
                    for (counter, limit) in limits {
                        ensure_counter(&mut tx, counter).await?;
                        let mut q = QueryBuilder::<$db>::new(
                            "UPDATE gov_counters SET reserved = reserved + ",
                        );
                        q.push_bind(lease.amount)
                            .push(" WHERE counter = ")
                            .push_bind(counter.clone());
                        if let Some(limit) = limit {
                            q.push(" AND spent + reserved + ")
                                .push_bind(lease.amount)
                                .push(" <= ")
                                .push_bind(*limit);
                        }
                        if q.build().execute(&mut *tx).await?.rows_affected() == 0 {
                            let mut q = QueryBuilder::<$db>::new(
                                "SELECT spent, reserved FROM gov_counters WHERE counter = ",
                            );
                            q.push_bind(counter.clone());
                            let r = q.build().fetch_one(&mut *tx).await?;
                            let answer = DbReserve::Rejected {
                                counter: counter.clone(),
                                spent: r.try_get(0)?,
                                reserved: r.try_get(1)?,
                            };
                            tx.rollback().await?;
                            return Ok(answer);
                        }
                    }
                    insert_lease(&mut tx, lease).await?;
                    tx.commit().await?;
                    Ok(DbReserve::Held)
                }
                .await;
                finish(conn, r)
            }

            async fn release_lease(tx: &mut Tx<'_>, id: &str) -> Result<(), DbError> {
                let mut q = QueryBuilder::<$db>::new(
                    "SELECT counters, amount FROM gov_leases WHERE id = ",
                );
                q.push_bind(id.to_owned());
                let Some(r) = q.build().fetch_optional(&mut **tx).await? else {
                    return Ok(());
                };
                let counters: String = r.try_get(0)?;
                let amount: i64 = r.try_get(1)?;
                let mut q = QueryBuilder::<$db>::new("DELETE FROM gov_leases WHERE id = ");
                q.push_bind(id.to_owned());
                q.build().execute(&mut **tx).await?;
                for c in counters.split(' ').filter(|c| !c.is_empty()) {
                    add(tx, c, 0, -amount).await?;
                }
                Ok(())
            }

            pub(crate) async fn settle(pool: &$pool, items: &[Settlement]) -> Result<(), DbError> {
                if items.is_empty() {
                    return Ok(());
                }
                let mut conn = pool.acquire().await?;
                let r = async {
                    let mut tx = conn.begin_with($begin).await?;
                    lock_state(&mut tx, false).await?;
                    for it in items {
                        for c in &it.counters {
                            let mut q = QueryBuilder::<$db>::new(
                                "INSERT INTO gov_ledger (lease_id, counter, amount, time_ms) VALUES (",
                            );
                            q.push_bind(it.lease_id.clone())
                                .push(", ")
                                .push_bind(c.clone())
                                .push(", ")
                                .push_bind(it.amount)
                                .push(", ")
                                .push_bind(it.time_ms)
                                .push(") ON CONFLICT (lease_id, counter) DO NOTHING");
                            if q.build().execute(&mut *tx).await?.rows_affected() == 1 {
                                add(&mut tx, c, it.amount, 0).await?;
                            }
                        }
                        release_lease(&mut tx, &it.lease_id).await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }
                .await;
                finish(conn, r)
            }

            pub(crate) async fn register_leases(
                pool: &$pool,
                leases: &[LeaseRow],
            ) -> Result<(), DbError> {
                if leases.is_empty() {
                    return Ok(());
                }
                let mut conn = pool.acquire().await?;
                let r = async {
                    let mut tx = conn.begin_with($begin).await?;
                    lock_state(&mut tx, false).await?;
                    for l in leases {
                        // A lease already settled (in the ledger) is not held again.
                        let mut q = QueryBuilder::<$db>::new(
                            "SELECT TRUE FROM gov_ledger WHERE lease_id = ",
                        );
                        q.push_bind(l.id.clone());
                        if q.build().fetch_optional(&mut *tx).await?.is_some() {
                            continue;
                        }
                        if insert_lease(&mut tx, l).await? {
                            for c in &l.counters {
                                add(&mut tx, c, 0, l.amount).await?;
                            }
                        }
                    }
                    tx.commit().await?;
                    Ok(())
                }
                .await;
                finish(conn, r)
            }

            pub(crate) async fn expire_leases(pool: &$pool, now: i64) -> Result<u64, DbError> {
                let mut q = QueryBuilder::<$db>::new("SELECT id FROM gov_leases WHERE expires_ms < ");
                q.push_bind(now);
                let ids: Vec<String> = q
                    .build()
                    .fetch_all(pool)
                    .await?
                    .iter()
                    .map(|r| r.try_get::<String, _>(0))
                    .collect::<Result<_, _>>()?;
                if ids.is_empty() {
                    return Ok(0);
                }
                let mut conn = pool.acquire().await?;
                let r = async {
                    let mut tx = conn.begin_with($begin).await?;
                    lock_state(&mut tx, false).await?;
                    for id in &ids {
                        release_lease(&mut tx, id).await?;
                    }
                    tx.commit().await?;
                    Ok(ids.len() as u64)
                }
                .await;
                finish(conn, r)
            }

            pub(crate) async fn heartbeat(
                pool: &$pool,
                now: i64,
                times: ModeTimes,
            ) -> Result<State, DbError> {
                let mut conn = pool.acquire().await?;
                let r = async {
                    let mut tx = conn.begin_with($begin).await?;
                    let s = lock_state(&mut tx, true).await?;
                    let entering = s.db_heartbeat_ms.is_none_or(|hb| now - hb >= times.active_ms);
                    let mut q = QueryBuilder::<$db>::new("UPDATE gov_state SET db_heartbeat_ms = ");
                    q.push_bind(now);
                    if entering {
                        q.push(", db_since_ms = ")
                            .push_bind(now)
                            .push(", generation = generation + 1");
                    }
                    q.push(" WHERE id = 1");
                    q.build().execute(&mut *tx).await?;
                    let s = lock_state(&mut tx, true).await?;
                    tx.commit().await?;
                    if entering {
                        tracing::warn!(
                            generation = s.generation,
                            "budgets: Redis unreachable; the fleet enforces budgets from the database until it is back"
                        );
                    }
                    Ok(s)
                }
                .await;
                finish(conn, r)
            }

            pub(crate) async fn with_snapshot<F, Fut>(
                pool: &$pool,
                counters: &[String],
                now: i64,
                times: ModeTimes,
                load: F,
            ) -> Result<bool, DbError>
            where
                F: FnOnce(State, Vec<LeaseRow>, Vec<CounterRow>) -> Fut + Send,
                Fut: std::future::Future<Output = bool> + Send,
            {
                let mut conn = pool.acquire().await?;
                let r = async {
                    let mut tx = conn.begin_with($begin).await?;
                    let s = lock_state(&mut tx, true).await?;
                    if !redis_mode(&s, now, times) {
                        return Ok(false);
                    }
                    let mut leases = Vec::new();
                    for r in sqlx::query("SELECT id, counters, amount, expires_ms FROM gov_leases")
                        .fetch_all(&mut *tx)
                        .await?
                    {
                        leases.push(LeaseRow {
                            id: r.try_get(0)?,
                            counters: r
                                .try_get::<String, _>(1)?
                                .split(' ')
                                .filter(|c| !c.is_empty())
                                .map(str::to_owned)
                                .collect(),
                            amount: r.try_get(2)?,
                            expires_ms: r.try_get(3)?,
                        });
                    }
                    let mut rows = Vec::new();
                    for c in counters {
                        ensure_counter(&mut tx, c).await?;
                        let mut q = QueryBuilder::<$db>::new(
                            "SELECT counter, spent, reserved FROM gov_counters WHERE counter = ",
                        );
                        q.push_bind(c.clone());
                        let r = q.build().fetch_one(&mut *tx).await?;
                        rows.push(CounterRow {
                            counter: r.try_get(0)?,
                            spent: r.try_get(1)?,
                            reserved: r.try_get(2)?,
                        });
                    }
                    let ok = load(s, leases, rows).await;
                    tx.commit().await?;
                    Ok(ok)
                }
                .await;
                finish(conn, r)
            }
        }
    };
}

backend!(
    sqlite,
    sqlx::Sqlite,
    sqlx::SqlitePool,
    false,
    "BEGIN IMMEDIATE"
);
backend!(pg, sqlx::Postgres, sqlx::PgPool, true, "BEGIN");
