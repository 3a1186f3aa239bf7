//! What went wrong with the usage database, in the operator's words: each store error is
//! sorted into a [`FailureKind`] that names the condition (read-only, disk full, locked,
//! corrupt, …), labels the `modelrt_usage_database_errors_by_kind_total` metric, and carries a
//! hint for the log line.

use crate::store::StoreError;

/// The condition behind a failed usage-database operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FailureKind {
    /// The file or its directory cannot be written (permissions, `chattr +i`, a read-only
    /// mount), or the connection was opened read-only while it could not.
    ReadOnly,
    /// No space left on the device (SQLite `SQLITE_FULL`, PostgreSQL `53100`).
    DiskFull,
    /// Another connection or process holds the write lock past the busy timeout.
    Locked,
    /// The file is not a database or is damaged.
    Corrupt,
    /// The file (or its `-wal`/`-shm` companions) cannot be opened or created.
    CantOpen,
    /// The operating system reported an I/O error.
    Io,
    /// The file was deleted or replaced while open.
    Replaced,
    /// The usage tables are missing (a new or foreign file; migrations run again).
    Schema,
    /// The server could not be reached, or no connection came within the timeout.
    Unreachable,
    /// Anything else.
    Other,
}

impl FailureKind {
    /// Every kind, in a fixed order (metric export).
    pub const ALL: [FailureKind; 10] = [
        FailureKind::ReadOnly,
        FailureKind::DiskFull,
        FailureKind::Locked,
        FailureKind::Corrupt,
        FailureKind::CantOpen,
        FailureKind::Io,
        FailureKind::Replaced,
        FailureKind::Schema,
        FailureKind::Unreachable,
        FailureKind::Other,
    ];

    /// The metric label value.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::ReadOnly => "read_only",
            FailureKind::DiskFull => "disk_full",
            FailureKind::Locked => "locked",
            FailureKind::Corrupt => "corrupt",
            FailureKind::CantOpen => "cant_open",
            FailureKind::Io => "io",
            FailureKind::Replaced => "replaced",
            FailureKind::Schema => "schema",
            FailureKind::Unreachable => "unreachable",
            FailureKind::Other => "other",
        }
    }

    /// What the operator should look at.
    pub fn hint(self) -> &'static str {
        match self {
            FailureKind::ReadOnly => {
                "the database file or its directory is read-only: make both writable"
            }
            FailureKind::DiskFull => "the disk holding the database is full: free space",
            FailureKind::Locked => {
                "another process holds the database's write lock longer than [storage] busy_timeout"
            }
            FailureKind::Corrupt => {
                "the database file is damaged or not a database: restore or move it aside"
            }
            FailureKind::CantOpen => {
                "the database file or its -wal/-shm files cannot be opened or created"
            }
            FailureKind::Io => "the operating system reported an I/O error on the database",
            FailureKind::Replaced => {
                "the database file was deleted or replaced while open; the file now at the path is used"
            }
            FailureKind::Schema => "the usage tables are missing; migrations run again",
            FailureKind::Unreachable => "the database server cannot be reached",
            FailureKind::Other => "see the error",
        }
    }

    pub(crate) fn index(self) -> usize {
        FailureKind::ALL
            .iter()
            .position(|k| *k == self)
            .unwrap_or(FailureKind::ALL.len() - 1)
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SQLite extended result code sorted by its primary code (the low byte).
fn sqlite_kind(code: i64, message: &str) -> FailureKind {
    match code & 0xff {
        8 => FailureKind::ReadOnly,   // SQLITE_READONLY (and its extended codes)
        13 => FailureKind::DiskFull,  // SQLITE_FULL
        5 | 6 => FailureKind::Locked, // SQLITE_BUSY, SQLITE_LOCKED
        11 | 26 => FailureKind::Corrupt, // SQLITE_CORRUPT, SQLITE_NOTADB
        14 => FailureKind::CantOpen,  // SQLITE_CANTOPEN
        10 | 15 => FailureKind::Io,   // SQLITE_IOERR, SQLITE_PROTOCOL
        1 if message.contains("no such table") => FailureKind::Schema,
        _ => FailureKind::Other,
    }
}

/// A PostgreSQL SQLSTATE sorted.
fn postgres_kind(state: &str) -> FailureKind {
    match state {
        "53100" => FailureKind::DiskFull,
        "25006" => FailureKind::ReadOnly,
        "55P03" | "40P01" => FailureKind::Locked,
        "XX001" | "XX002" => FailureKind::Corrupt,
        "42P01" => FailureKind::Schema,
        s if s.starts_with("08") || s.starts_with("57P") => FailureKind::Unreachable,
        _ => FailureKind::Other,
    }
}

impl StoreError {
    /// The condition behind this error.
    pub fn kind(&self) -> FailureKind {
        match self {
            StoreError::Replaced(_) => FailureKind::Replaced,
            StoreError::Io(e) if e.raw_os_error() == Some(28) => FailureKind::DiskFull,
            StoreError::Io(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                FailureKind::ReadOnly
            }
            StoreError::Io(_) => FailureKind::Io,
            StoreError::Database(e) => match e {
                sqlx::Error::Database(d) => {
                    let code = d.code().map(|c| c.into_owned()).unwrap_or_default();
                    if d.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                        sqlite_kind(code.parse().unwrap_or(0), d.message())
                    } else {
                        postgres_kind(&code)
                    }
                }
                sqlx::Error::Io(io) if io.raw_os_error() == Some(28) => FailureKind::DiskFull,
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Tls(_) => FailureKind::Unreachable,
                _ => FailureKind::Other,
            },
            _ => FailureKind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_codes_are_sorted_by_primary_code() {
        assert_eq!(sqlite_kind(8, ""), FailureKind::ReadOnly);
        assert_eq!(sqlite_kind(1032, ""), FailureKind::ReadOnly); // READONLY_DBMOVED
        assert_eq!(sqlite_kind(13, ""), FailureKind::DiskFull);
        assert_eq!(sqlite_kind(5, ""), FailureKind::Locked);
        assert_eq!(sqlite_kind(517, ""), FailureKind::Locked); // BUSY_SNAPSHOT
        assert_eq!(sqlite_kind(26, ""), FailureKind::Corrupt);
        assert_eq!(sqlite_kind(14, ""), FailureKind::CantOpen);
        assert_eq!(sqlite_kind(778, ""), FailureKind::Io); // IOERR_WRITE
        assert_eq!(
            sqlite_kind(1, "no such table: usage_records"),
            FailureKind::Schema
        );
        assert_eq!(sqlite_kind(1, "syntax error"), FailureKind::Other);
        assert_eq!(postgres_kind("53100"), FailureKind::DiskFull);
        assert_eq!(postgres_kind("08006"), FailureKind::Unreachable);
        let full = StoreError::Io(std::io::Error::from_raw_os_error(28));
        assert_eq!(full.kind(), FailureKind::DiskFull);
        for (i, k) in FailureKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
    }
}
