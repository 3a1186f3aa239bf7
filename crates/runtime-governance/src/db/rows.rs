//! What the governance tables hold and the database layer returns: the migrations, the
//! error, and the row types (shared by `Db`, the SQL of `queries` and `entities`).

/// Migrations: (version, name, SQLite SQL, PostgreSQL SQL).
pub(crate) const MIGRATIONS: &[(i64, &str, &str, &str)] = &[(
    1,
    "keys, teams, users, budget counters, leases, ledger, fleet state",
    include_str!("../../migrations/sqlite/0001_governance.sql"),
    include_str!("../../migrations/postgres/0001_governance.sql"),
)];

/// A database failure.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database said no, or could not be reached.
    #[error("governance database error: {0}")]
    Sql(#[from] sqlx::Error),
    /// The URL is neither `sqlite:` nor `postgres:`.
    #[error("unsupported database_url: use sqlite://file or postgres://…")]
    UnsupportedUrl,
    /// An applied migration differs from the one this build ships.
    #[error("governance migration {0} was changed after it was applied (checksum differs)")]
    Checksum(i64),
    /// A stored row does not decode.
    #[error("governance row `{0}` is corrupt: {1}")]
    Corrupt(String, String),
}

/// The fleet state row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct State {
    /// The change version (moves with every admin write).
    pub version: i64,
    /// Moves each time the fleet enters database mode (Redis counters of older generations
    /// are stale).
    pub generation: i64,
    /// When the current database mode began, Unix ms.
    pub db_since_ms: Option<i64>,
    /// Last heartbeat of a replica that cannot reach Redis, Unix ms.
    pub db_heartbeat_ms: Option<i64>,
}

/// A reservation lease as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRow {
    /// Lease id.
    pub id: String,
    /// The counters it holds amounts on.
    pub counters: Vec<String>,
    /// µUSD held on each.
    pub amount: i64,
    /// When it is released if never settled, Unix ms.
    pub expires_ms: i64,
}

/// A budget counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterRow {
    /// `k:<key>:<period start>` and the like.
    pub counter: String,
    /// Settled spend, µUSD.
    pub spent: i64,
    /// Held by leases, µUSD.
    pub reserved: i64,
}

/// One settled amount to write: on each of `counters`, `amount` µUSD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// The lease it settles (idempotency key).
    pub lease_id: String,
    /// Counters charged.
    pub counters: Vec<String>,
    /// µUSD.
    pub amount: i64,
    /// When, Unix ms.
    pub time_ms: i64,
}

/// What a database reservation answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbReserve {
    /// Held.
    Held,
    /// Over `counter`'s limit: its spend and holds now.
    Rejected {
        /// The counter.
        counter: String,
        /// Its spend.
        spent: i64,
        /// Its holds.
        reserved: i64,
    },
    /// The fleet is not (or not yet) admitting from the database.
    NotNow,
}

/// Thresholds of the fleet mode (see [`crate::mode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModeTimes {
    /// A heartbeat younger than this keeps the fleet in database mode.
    pub active_ms: i64,
    /// Database admissions start this long after database mode began.
    pub fence_ms: i64,
    /// Redis is used again once the last heartbeat is this old.
    pub quiet_ms: i64,
}

/// A write refused because the id (or secret) is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conflict;
