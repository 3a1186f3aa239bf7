//! The SQL of [`super::Db`], once per backend (the statements are the same text; the macro
//! binds them to each backend's types and placeholders).

use sha2::{Digest, Sha256};

use super::{
    Conflict, CounterRow, DbError, DbReserve, LeaseRow, MIGRATIONS, ModeTimes, Settlement, State,
};
use crate::model::{Budget, Key, Limits, Role, Team, User};
use crate::period::Period;

fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

fn json_text(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

fn parse_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, DbError> {
    serde_json::from_str(text).map_err(|e| DbError::Corrupt(what.into(), e.to_string()))
}

fn budget_of(micros: Option<i64>, period: Option<String>) -> Result<Option<Budget>, DbError> {
    match (micros, period) {
        (Some(m), Some(p)) => Ok(Some(Budget {
            max_micros: m,
            period: Period::parse(&p)
                .ok_or_else(|| DbError::Corrupt("budget_period".into(), p.clone()))?,
        })),
        _ => Ok(None),
    }
}

fn u32_of(v: Option<i64>) -> Option<u32> {
    v.and_then(|n| u32::try_from(n).ok())
}

fn role_of(s: &str) -> Role {
    if s == "admin" {
        Role::Admin
    } else {
        Role::User
    }
}

fn role_str(r: Role) -> &'static str {
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

const KEY_COLUMNS: &str = "id, hash, prefix, prev_hash, prev_valid_until_ms, team_id, user_id, \
    role, models, aliases, rpm, tpm, max_parallel, budget_micros, budget_period, allow_unpriced, \
    expires_ms, metadata, revoked_ms, created_ms, updated_ms, version";
const TEAM_COLUMNS: &str = "id, budget_micros, budget_period, rpm, tpm, max_parallel, models, \
    metadata, created_ms, updated_ms, version, deleted";
const USER_COLUMNS: &str = "id, budget_micros, budget_period, rpm, metadata, created_ms, \
    updated_ms, version, deleted";
const STATE_SELECT: &str =
    "SELECT version, generation, db_since_ms, db_heartbeat_ms FROM gov_state WHERE id = 1";

macro_rules! backend {
    ($name:ident, $db:ty, $pool:ty, $pg:expr, $begin:expr) => {
        pub(crate) mod $name {
            use super::*;
            use sqlx::{Connection, QueryBuilder, Row};

            type Tx<'a> = sqlx::Transaction<'a, $db>;
            type Conn = sqlx::pool::PoolConnection<$db>;

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
            async fn lock_state(tx: &mut Tx<'_>, exclusive: bool) -> Result<State, DbError> {
                let sql = match ($pg, exclusive) {
                    (false, _) => STATE_SELECT.to_owned(),
                    (true, true) => format!("{STATE_SELECT} FOR UPDATE"),
                    (true, false) => format!("{STATE_SELECT} FOR SHARE"),
                };
                let r = sqlx::query(&sql).fetch_one(&mut **tx).await?;
                state_of(&r)
            }

            /// Moves the change version; returns it.
            async fn bump(tx: &mut Tx<'_>) -> Result<i64, DbError> {
                let s = lock_state(tx, true).await?;
                let v = s.version + 1;
                let mut q = QueryBuilder::<$db>::new("UPDATE gov_state SET version = ");
                q.push_bind(v).push(" WHERE id = 1");
                q.build().execute(&mut **tx).await?;
                Ok(v)
            }

            /// Ends a unit of work: a connection whose work failed is closed, not pooled.
            fn finish<T>(mut conn: Conn, r: Result<T, DbError>) -> Result<T, DbError> {
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

            fn key_row(r: &<$db as sqlx::Database>::Row) -> Result<Key, DbError> {
                Ok(Key {
                    id: r.try_get("id")?,
                    hash: r.try_get("hash")?,
                    prefix: r.try_get("prefix")?,
                    prev_hash: r.try_get("prev_hash")?,
                    prev_valid_until_ms: r.try_get("prev_valid_until_ms")?,
                    team_id: r.try_get("team_id")?,
                    user_id: r.try_get("user_id")?,
                    role: role_of(&r.try_get::<String, _>("role")?),
                    models: parse_json("models", &r.try_get::<String, _>("models")?)?,
                    aliases: parse_json("aliases", &r.try_get::<String, _>("aliases")?)?,
                    limits: Limits {
                        rpm: u32_of(r.try_get("rpm")?),
                        tpm: u32_of(r.try_get("tpm")?),
                        max_parallel: u32_of(r.try_get("max_parallel")?),
                    },
                    budget: budget_of(r.try_get("budget_micros")?, r.try_get("budget_period")?)?,
                    allow_unpriced: r.try_get("allow_unpriced")?,
                    expires_ms: r.try_get("expires_ms")?,
                    metadata: parse_json("metadata", &r.try_get::<String, _>("metadata")?)?,
                    revoked_ms: r.try_get("revoked_ms")?,
                    created_ms: r.try_get("created_ms")?,
                    updated_ms: r.try_get("updated_ms")?,
                    version: r.try_get("version")?,
                })
            }

            fn team_row(r: &<$db as sqlx::Database>::Row) -> Result<Team, DbError> {
                Ok(Team {
                    id: r.try_get("id")?,
                    budget: budget_of(r.try_get("budget_micros")?, r.try_get("budget_period")?)?,
                    limits: Limits {
                        rpm: u32_of(r.try_get("rpm")?),
                        tpm: u32_of(r.try_get("tpm")?),
                        max_parallel: u32_of(r.try_get("max_parallel")?),
                    },
                    models: parse_json("models", &r.try_get::<String, _>("models")?)?,
                    metadata: parse_json("metadata", &r.try_get::<String, _>("metadata")?)?,
                    created_ms: r.try_get("created_ms")?,
                    updated_ms: r.try_get("updated_ms")?,
                    version: r.try_get("version")?,
                    deleted: r.try_get("deleted")?,
                })
            }

            fn user_row(r: &<$db as sqlx::Database>::Row) -> Result<User, DbError> {
                Ok(User {
                    id: r.try_get("id")?,
                    budget: budget_of(r.try_get("budget_micros")?, r.try_get("budget_period")?)?,
                    rpm: u32_of(r.try_get("rpm")?),
                    metadata: parse_json("metadata", &r.try_get::<String, _>("metadata")?)?,
                    created_ms: r.try_get("created_ms")?,
                    updated_ms: r.try_get("updated_ms")?,
                    version: r.try_get("version")?,
                    deleted: r.try_get("deleted")?,
                })
            }

            pub(crate) async fn changes(
                pool: &$pool,
                since: i64,
            ) -> Result<(Vec<Key>, Vec<Team>, Vec<User>), DbError> {
                let mut out = (Vec::new(), Vec::new(), Vec::new());
                let mut q = QueryBuilder::<$db>::new(format!(
                    "SELECT {KEY_COLUMNS} FROM gov_keys WHERE version > "
                ));
                q.push_bind(since);
                for r in q.build().fetch_all(pool).await? {
                    out.0.push(key_row(&r)?);
                }
                let mut q = QueryBuilder::<$db>::new(format!(
                    "SELECT {TEAM_COLUMNS} FROM gov_teams WHERE version > "
                ));
                q.push_bind(since);
                for r in q.build().fetch_all(pool).await? {
                    out.1.push(team_row(&r)?);
                }
                let mut q = QueryBuilder::<$db>::new(format!(
                    "SELECT {USER_COLUMNS} FROM gov_users WHERE version > "
                ));
                q.push_bind(since);
                for r in q.build().fetch_all(pool).await? {
                    out.2.push(user_row(&r)?);
                }
                Ok(out)
            }

            pub(crate) async fn key(pool: &$pool, id: &str) -> Result<Option<Key>, DbError> {
                let mut q = QueryBuilder::<$db>::new(format!(
                    "SELECT {KEY_COLUMNS} FROM gov_keys WHERE id = "
                ));
                q.push_bind(id);
                q.build().fetch_optional(pool).await?.map(|r| key_row(&r)).transpose()
            }

            pub(crate) async fn team(pool: &$pool, id: &str) -> Result<Option<Team>, DbError> {
                let mut q = QueryBuilder::<$db>::new(format!(
                    "SELECT {TEAM_COLUMNS} FROM gov_teams WHERE deleted = "
                ));
                q.push_bind(false).push(" AND id = ").push_bind(id);
                q.build().fetch_optional(pool).await?.map(|r| team_row(&r)).transpose()
            }

            pub(crate) async fn user(pool: &$pool, id: &str) -> Result<Option<User>, DbError> {
                let mut q = QueryBuilder::<$db>::new(format!(
                    "SELECT {USER_COLUMNS} FROM gov_users WHERE deleted = "
                ));
                q.push_bind(false).push(" AND id = ").push_bind(id);
                q.build().fetch_optional(pool).await?.map(|r| user_row(&r)).transpose()
            }

            fn push_key(q: &mut QueryBuilder<'_, $db>, k: &Key) {
                let mut s = q.separated(", ");
                s.push_bind(k.id.clone())
                    .push_bind(k.hash.clone())
                    .push_bind(k.prefix.clone())
                    .push_bind(k.prev_hash.clone())
                    .push_bind(k.prev_valid_until_ms)
                    .push_bind(k.team_id.clone())
                    .push_bind(k.user_id.clone())
                    .push_bind(role_str(k.role))
                    .push_bind(json_text(&k.models))
                    .push_bind(json_text(&k.aliases))
                    .push_bind(k.limits.rpm.map(i64::from))
                    .push_bind(k.limits.tpm.map(i64::from))
                    .push_bind(k.limits.max_parallel.map(i64::from))
                    .push_bind(k.budget.map(|b| b.max_micros))
                    .push_bind(k.budget.map(|b| b.period.as_str()))
                    .push_bind(k.allow_unpriced)
                    .push_bind(k.expires_ms)
                    .push_bind(json_text(&k.metadata))
                    .push_bind(k.revoked_ms)
                    .push_bind(k.created_ms)
                    .push_bind(k.updated_ms)
                    .push_bind(k.version);
            }

            fn push_team(q: &mut QueryBuilder<'_, $db>, t: &Team) {
                let mut s = q.separated(", ");
                s.push_bind(t.id.clone())
                    .push_bind(t.budget.map(|b| b.max_micros))
                    .push_bind(t.budget.map(|b| b.period.as_str()))
                    .push_bind(t.limits.rpm.map(i64::from))
                    .push_bind(t.limits.tpm.map(i64::from))
                    .push_bind(t.limits.max_parallel.map(i64::from))
                    .push_bind(json_text(&t.models))
                    .push_bind(json_text(&t.metadata))
                    .push_bind(t.created_ms)
                    .push_bind(t.updated_ms)
                    .push_bind(t.version)
                    .push_bind(t.deleted);
            }

            fn push_user(q: &mut QueryBuilder<'_, $db>, u: &User) {
                let mut s = q.separated(", ");
                s.push_bind(u.id.clone())
                    .push_bind(u.budget.map(|b| b.max_micros))
                    .push_bind(u.budget.map(|b| b.period.as_str()))
                    .push_bind(u.rpm.map(i64::from))
                    .push_bind(json_text(&u.metadata))
                    .push_bind(u.created_ms)
                    .push_bind(u.updated_ms)
                    .push_bind(u.version)
                    .push_bind(u.deleted);
            }

            async fn found(tx: &mut Tx<'_>, sql: &str, v: &str) -> Result<Option<bool>, DbError> {
                let mut q = QueryBuilder::<$db>::new(sql);
                q.push_bind(v.to_owned());
                match q.build().fetch_optional(&mut **tx).await? {
                    Some(r) => Ok(Some(r.try_get::<bool, _>(0)?)),
                    None => Ok(None),
                }
            }

            async fn delete(tx: &mut Tx<'_>, table: &str, id: &str) -> Result<(), DbError> {
                let mut q = QueryBuilder::<$db>::new(format!("DELETE FROM {table} WHERE id = "));
                q.push_bind(id.to_owned());
                q.build().execute(&mut **tx).await?;
                Ok(())
            }

            async fn write_key(tx: &mut Tx<'_>, k: &Key) -> Result<(), DbError> {
                let mut q = QueryBuilder::<$db>::new(format!(
                    "INSERT INTO gov_keys ({KEY_COLUMNS}) VALUES ("
                ));
                push_key(&mut q, k);
                q.push(")");
                q.build().execute(&mut **tx).await?;
                Ok(())
            }

            pub(crate) async fn insert_key(
                pool: &$pool,
                k: &Key,
            ) -> Result<Result<i64, Conflict>, DbError> {
                let mut conn = pool.acquire().await?;
                let r = async {
                    let mut tx = conn.begin_with($begin).await?;
                    let v = bump(&mut tx).await?;
                    if found(&mut tx, "SELECT TRUE FROM gov_keys WHERE id = ", &k.id).await?.is_some()
                        || found(&mut tx, "SELECT TRUE FROM gov_keys WHERE hash = ", &k.hash).await?.is_some()
                    {
                        return Ok(Err(Conflict));
                    }
                    let mut k = k.clone();
                    k.version = v;
                    write_key(&mut tx, &k).await?;
                    tx.commit().await?;
                    Ok(Ok(v))
                }
                .await;
                finish(conn, r)
            }

            pub(crate) async fn update_key<F>(
                pool: &$pool,
                id: &str,
                f: F,
            ) -> Result<Option<Result<Key, String>>, DbError>
            where
                F: FnOnce(&mut Key, i64) -> Result<(), String> + Send,
            {
                let mut conn = pool.acquire().await?;
                let r = async {
                    let mut tx = conn.begin_with($begin).await?;
                    let v = bump(&mut tx).await?;
                    let mut q = QueryBuilder::<$db>::new(format!(
                        "SELECT {KEY_COLUMNS} FROM gov_keys WHERE id = "
                    ));
                    q.push_bind(id.to_owned());
                    let Some(row) = q.build().fetch_optional(&mut *tx).await? else {
                        return Ok(None);
                    };
                    let mut k = key_row(&row)?;
                    if let Err(e) = f(&mut k, v) {
                        return Ok(Some(Err(e)));
                    }
                    k.version = v;
                    delete(&mut tx, "gov_keys", id).await?;
                    if found(&mut tx, "SELECT TRUE FROM gov_keys WHERE hash = ", &k.hash).await?.is_some() {
                        return Ok(Some(Err("the new secret collides with another key".into())));
                    }
                    write_key(&mut tx, &k).await?;
                    tx.commit().await?;
                    Ok(Some(Ok(k)))
                }
                .await;
                finish(conn, r)
            }

            async fn write_team(tx: &mut Tx<'_>, t: &Team) -> Result<(), DbError> {
                let mut q = QueryBuilder::<$db>::new(format!(
                    "INSERT INTO gov_teams ({TEAM_COLUMNS}) VALUES ("
                ));
                push_team(&mut q, t);
                q.push(")");
                q.build().execute(&mut **tx).await?;
                Ok(())
            }

            async fn write_user(tx: &mut Tx<'_>, u: &User) -> Result<(), DbError> {
                let mut q = QueryBuilder::<$db>::new(format!(
                    "INSERT INTO gov_users ({USER_COLUMNS}) VALUES ("
                ));
                push_user(&mut q, u);
                q.push(")");
                q.build().execute(&mut **tx).await?;
                Ok(())
            }

            pub(crate) async fn insert_team(
                pool: &$pool,
                t: &Team,
            ) -> Result<Result<i64, Conflict>, DbError> {
                let mut conn = pool.acquire().await?;
                let r = async {
                    let mut tx = conn.begin_with($begin).await?;
                    let v = bump(&mut tx).await?;
                    // A deleted team's id may be used again.
                    match found(&mut tx, "SELECT deleted FROM gov_teams WHERE id = ", &t.id).await? {
                        Some(false) => return Ok(Err(Conflict)),
                        Some(true) => delete(&mut tx, "gov_teams", &t.id).await?,
                        None => {}
                    }
                    let mut t = t.clone();
                    t.version = v;
                    write_team(&mut tx, &t).await?;
                    tx.commit().await?;
                    Ok(Ok(v))
                }
                .await;
                finish(conn, r)
            }

            pub(crate) async fn update_team<F>(
                pool: &$pool,
                id: &str,
                f: F,
            ) -> Result<Option<Result<Team, String>>, DbError>
            where
                F: FnOnce(&mut Team, i64) -> Result<(), String> + Send,
            {
                let mut conn = pool.acquire().await?;
                let r = async {
                    let mut tx = conn.begin_with($begin).await?;
                    let v = bump(&mut tx).await?;
                    let mut q = QueryBuilder::<$db>::new(format!(
                        "SELECT {TEAM_COLUMNS} FROM gov_teams WHERE deleted = "
                    ));
                    q.push_bind(false).push(" AND id = ").push_bind(id.to_owned());
                    let Some(row) = q.build().fetch_optional(&mut *tx).await? else {
                        return Ok(None);
                    };
                    let mut t = team_row(&row)?;
                    if let Err(e) = f(&mut t, v) {
                        return Ok(Some(Err(e)));
                    }
                    if t.deleted {
                        let mut q = QueryBuilder::<$db>::new(
                            "SELECT TRUE FROM gov_keys WHERE revoked_ms IS NULL AND team_id = ",
                        );
                        q.push_bind(id.to_owned());
                        if q.build().fetch_optional(&mut *tx).await?.is_some() {
                            return Ok(Some(Err(
                                "the team still has keys that are not revoked".into()
                            )));
                        }
                    }
                    t.version = v;
                    delete(&mut tx, "gov_teams", id).await?;
                    write_team(&mut tx, &t).await?;
                    tx.commit().await?;
                    Ok(Some(Ok(t)))
                }
                .await;
                finish(conn, r)
            }

            pub(crate) async fn insert_user(
                pool: &$pool,
                u: &User,
            ) -> Result<Result<i64, Conflict>, DbError> {
                let mut conn = pool.acquire().await?;
                let r = async {
                    let mut tx = conn.begin_with($begin).await?;
                    let v = bump(&mut tx).await?;
                    match found(&mut tx, "SELECT deleted FROM gov_users WHERE id = ", &u.id).await? {
                        Some(false) => return Ok(Err(Conflict)),
                        Some(true) => delete(&mut tx, "gov_users", &u.id).await?,
                        None => {}
                    }
                    let mut u = u.clone();
                    u.version = v;
                    write_user(&mut tx, &u).await?;
                    tx.commit().await?;
                    Ok(Ok(v))
                }
                .await;
                finish(conn, r)
            }

            pub(crate) async fn update_user<F>(
                pool: &$pool,
                id: &str,
                f: F,
            ) -> Result<Option<Result<User, String>>, DbError>
            where
                F: FnOnce(&mut User, i64) -> Result<(), String> + Send,
            {
                let mut conn = pool.acquire().await?;
                let r = async {
                    let mut tx = conn.begin_with($begin).await?;
                    let v = bump(&mut tx).await?;
                    let mut q = QueryBuilder::<$db>::new(format!(
                        "SELECT {USER_COLUMNS} FROM gov_users WHERE deleted = "
                    ));
                    q.push_bind(false).push(" AND id = ").push_bind(id.to_owned());
                    let Some(row) = q.build().fetch_optional(&mut *tx).await? else {
                        return Ok(None);
                    };
                    let mut u = user_row(&row)?;
                    if let Err(e) = f(&mut u, v) {
                        return Ok(Some(Err(e)));
                    }
                    u.version = v;
                    delete(&mut tx, "gov_users", id).await?;
                    write_user(&mut tx, &u).await?;
                    tx.commit().await?;
                    Ok(Some(Ok(u)))
                }
                .await;
                finish(conn, r)
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
