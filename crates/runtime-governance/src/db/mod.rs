//! The governance tables in the usage database (SQLite or PostgreSQL, the same
//! `[storage] database_url`): keys, teams, users, budget counters, reservation leases, the
//! settled-spend ledger and the fleet state row.
//!
//! **Migrations.** The usage store (runtime-metrics) records its migrations in its own table,
//! `modelrt_migrations`; this crate records its own in `modelrt_governance_migrations`, so
//! the two never see each other's versions (sqlx 0.8's `Migrator` has one fixed table,
//! `_sqlx_migrations`, which a second migrator — or an operator's own application sharing the
//! database — would conflict on). Each migration is checked by its SHA-256: a changed
//! migration that was already applied is an error, not silently skipped. On PostgreSQL,
//! replicas starting together serialise on an advisory lock of their own.
//!
//! Every write an admin makes is one transaction that also moves the change version
//! (`gov_state.version`), which every replica polls.

mod entities;
mod queries;
mod rows;

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

use crate::model::{Key, Team, User};
pub use rows::{Conflict, CounterRow, DbError, DbReserve, LeaseRow, ModeTimes, Settlement, State};

/// One pool on the governance tables.
#[derive(Debug, Clone)]
pub enum Db {
    /// A SQLite file.
    Sqlite(SqlitePool),
    /// A PostgreSQL database.
    Postgres(PgPool),
}

macro_rules! dispatch_e {
    ($self:ident, $f:ident ( $($arg:expr),* )) => {
        match $self {
            Db::Sqlite(p) => entities::sqlite::$f(p, $($arg),*).await,
            Db::Postgres(p) => entities::pg::$f(p, $($arg),*).await,
        }
    };
}

macro_rules! dispatch {
    ($self:ident, $f:ident ( $($arg:expr),* )) => {
        match $self {
            Db::Sqlite(p) => queries::sqlite::$f(p, $($arg),*).await,
            Db::Postgres(p) => queries::pg::$f(p, $($arg),*).await,
        }
    };
}

impl Db {
    /// Opens `url` lazily (nothing connects until the first query).
    pub fn open(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> Result<Self, DbError> {
        let max = max_connections.max(1);
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(5));
            Ok(Db::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(max)
                    .acquire_timeout(acquire_timeout)
                    .connect_lazy_with(opts),
            ))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url)?;
            Ok(Db::Postgres(
                PgPoolOptions::new()
                    .max_connections(max)
                    .acquire_timeout(acquire_timeout)
                    .after_release(|conn, _| {
                        Box::pin(async move { Ok(!sqlx::Connection::is_in_transaction(conn)) })
                    })
                    .connect_lazy_with(opts),
            ))
        } else {
            Err(DbError::UnsupportedUrl)
        }
    }

    /// Runs the migrations not yet applied.
    pub async fn migrate(&self) -> Result<(), DbError> {
        dispatch!(self, migrate())
    }

    /// The fleet state row.
    pub async fn state(&self) -> Result<State, DbError> {
        dispatch!(self, state())
    }

    /// Keys, teams and users written after change version `since`.
    pub async fn changes(&self, since: i64) -> Result<(Vec<Key>, Vec<Team>, Vec<User>), DbError> {
        dispatch_e!(self, changes(since))
    }

    /// One key by id.
    pub async fn key(&self, id: &str) -> Result<Option<Key>, DbError> {
        dispatch_e!(self, key(id))
    }

    /// One team by id.
    pub async fn team(&self, id: &str) -> Result<Option<Team>, DbError> {
        dispatch_e!(self, team(id))
    }

    /// One user by id.
    pub async fn user(&self, id: &str) -> Result<Option<User>, DbError> {
        dispatch_e!(self, user(id))
    }

    /// Writes a new key (fails on a duplicate id or hash); returns the new change version.
    pub async fn insert_key(&self, k: &Key) -> Result<Result<i64, Conflict>, DbError> {
        dispatch_e!(self, insert_key(k))
    }

    /// Reads, changes (with `f`) and writes back key `id` in one transaction. `f` may refuse
    /// with a message (nothing is written). `Ok(None)`: no such key.
    pub async fn update_key<F>(
        &self,
        id: &str,
        f: F,
    ) -> Result<Option<Result<Key, String>>, DbError>
    where
        F: FnOnce(&mut Key, i64) -> Result<(), String> + Send,
    {
        dispatch_e!(self, update_key(id, f))
    }

    /// Writes a new team; `Err(Conflict)` on a duplicate id.
    pub async fn insert_team(&self, t: &Team) -> Result<Result<i64, Conflict>, DbError> {
        dispatch_e!(self, insert_team(t))
    }

    /// Reads, changes and writes back team `id` in one transaction.
    pub async fn update_team<F>(
        &self,
        id: &str,
        f: F,
    ) -> Result<Option<Result<Team, String>>, DbError>
    where
        F: FnOnce(&mut Team, i64) -> Result<(), String> + Send,
    {
        dispatch_e!(self, update_team(id, f))
    }

    /// Writes a new user; `Err(Conflict)` on a duplicate id.
    pub async fn insert_user(&self, u: &User) -> Result<Result<i64, Conflict>, DbError> {
        dispatch_e!(self, insert_user(u))
    }

    /// Reads, changes and writes back user `id` in one transaction.
    pub async fn update_user<F>(
        &self,
        id: &str,
        f: F,
    ) -> Result<Option<Result<User, String>>, DbError>
    where
        F: FnOnce(&mut User, i64) -> Result<(), String> + Send,
    {
        dispatch_e!(self, update_user(id, f))
    }

    /// Counters by name (missing ones are left out).
    pub async fn counters(&self, names: &[String]) -> Result<Vec<CounterRow>, DbError> {
        dispatch!(self, counters(names))
    }

    /// Holds `amount` on each `(counter, limit)` (limit `None`: count only) under lease
    /// `lease`, if the fleet is in database mode at `now_ms` (`times`; `None`: there is no
    /// Redis, the database is the only shared state).
    pub async fn reserve(
        &self,
        lease: &LeaseRow,
        limits: &[(String, Option<i64>)],
        now_ms: i64,
        times: Option<ModeTimes>,
    ) -> Result<DbReserve, DbError> {
        dispatch!(self, reserve(lease, limits, now_ms, times))
    }

    /// Writes settlements (idempotent per lease and counter) and releases their database
    /// leases, in one transaction.
    pub async fn settle(&self, items: &[Settlement]) -> Result<(), DbError> {
        dispatch!(self, settle(items))
    }

    /// Records leases held in Redis as database holds (when the fleet leaves Redis).
    pub async fn register_leases(&self, leases: &[LeaseRow]) -> Result<(), DbError> {
        dispatch!(self, register_leases(leases))
    }

    /// Releases leases whose time ran out (a crashed replica's holds).
    pub async fn expire_leases(&self, now_ms: i64) -> Result<u64, DbError> {
        dispatch!(self, expire_leases(now_ms))
    }

    /// A heartbeat of a replica that cannot reach Redis: starts database mode (a new
    /// generation) when the fleet was not in it.
    pub async fn heartbeat(&self, now_ms: i64, times: ModeTimes) -> Result<State, DbError> {
        dispatch!(self, heartbeat(now_ms, times))
    }

    /// Under the fleet lock, when the fleet is in Redis mode: every lease and the named
    /// counters, handed to `load` (which writes them to Redis) before the lock is released.
    /// `Ok(false)`: not in Redis mode.
    pub async fn with_snapshot<F, Fut>(
        &self,
        counters: &[String],
        now_ms: i64,
        times: ModeTimes,
        load: F,
    ) -> Result<bool, DbError>
    where
        F: FnOnce(State, Vec<LeaseRow>, Vec<CounterRow>) -> Fut + Send,
        Fut: std::future::Future<Output = bool> + Send,
    {
        dispatch!(self, with_snapshot(counters, now_ms, times, load))
    }

    /// Closes the pool.
    pub async fn close(&self) {
        match self {
            Db::Sqlite(p) => p.close().await,
            Db::Postgres(p) => p.close().await,
        }
    }
}

/// Whether the fleet admits from the database at `now` (heartbeat fresh, fence passed).
pub fn db_admits_pub(s: &State, now: i64, t: ModeTimes) -> bool {
    queries::db_admits(s, now, t)
}

/// Whether the fleet is in Redis mode at `now` (no heartbeat for `quiet_ms`).
pub fn redis_mode_pub(s: &State, now: i64, t: ModeTimes) -> bool {
    queries::redis_mode(s, now, t)
}
