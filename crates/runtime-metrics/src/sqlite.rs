//! The SQLite usage database: a connection pool that never hands out a connection left in a
//! failed transaction, and that notices when its file is deleted or replaced.
//!
//! Two faults made SQLite lose records that the writer believed stored:
//!
//! - **A connection left inside a transaction.** When a write fails with a disk-full or I/O
//!   error, SQLite rolls the transaction back by itself; sqlx's `ROLLBACK` then fails ("no
//!   transaction is active"), so sqlx still counts the connection as one transaction deep.
//!   The next write on it opens with `SAVEPOINT` and, when that fails too, `ROLLBACK TO`
//!   leaves a real transaction open. Every later "commit" on that connection only released a
//!   savepoint: its records were visible to that connection alone (so `/v1/usage` flipped
//!   between totals, depending on which pooled connection answered) and vanished when the pool
//!   closed. Here a connection whose write failed is closed, never pooled again, and the pool
//!   refuses back any connection that sqlx still counts inside a transaction.
//! - **A file deleted or replaced while open.** In WAL mode SQLite keeps writing into the
//!   unlinked file without an error. Here every operation compares the path's file identity
//!   (device and inode) with the one its connections opened; on a change, every connection to
//!   the old file is closed before a new one opens the file now at the path, migrations run
//!   on it, and a write that raced the change is reported failed, so the writer spills it and
//!   replays it into the new file. SQLite does not checkpoint or remove the write-ahead log
//!   of a moved file when it closes it, and a new file would adopt that `-wal` (pages of
//!   another database: corruption): the old file's `-wal` — recognised by the identity last
//!   seen while the old file was in use — is moved aside (`-wal.replaced-<ms>`, kept for
//!   forensics) and its `-shm` removed before the new file is opened.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Connection, Sqlite, SqlitePool};

use crate::store::StoreError;

/// How long a reopen waits for the old file's connections to be returned and closed.
const CLOSE_OLD_TIMEOUT: Duration = Duration::from_secs(10);

/// A file's identity: (device, inode).
type FileId = (u64, u64);

/// The identity of the file at `path`: `Ok(None)` when there is none, `Err` when it cannot
/// be told (then nothing is compared).
fn file_id(path: &Path) -> Result<Option<FileId>, ()> {
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some(id_of(&m))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(_) => Err(()),
    }
}

#[cfg(unix)]
fn id_of(m: &std::fs::Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn id_of(_: &std::fs::Metadata) -> FileId {
    (0, 0)
}

struct Current {
    pool: SqlitePool,
    /// The identity of the file the pool's connections opened (`None`: not seen yet).
    id: Option<FileId>,
    /// The identities of its `-wal` and `-shm` last seen while that file was in use.
    companions: [Option<FileId>; 2],
}

/// `<path>-wal` and `<path>-shm`.
fn companions(path: &Path) -> [PathBuf; 2] {
    ["-wal", "-shm"].map(|suffix| {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        PathBuf::from(p)
    })
}

fn companion_ids(path: &Path) -> [Option<FileId>; 2] {
    companions(path).map(|p| file_id(&p).ok().flatten())
}

struct Inner {
    opts: SqliteConnectOptions,
    max_connections: u32,
    acquire_timeout: Duration,
    /// The database file (`None` for an in-memory database).
    path: Option<PathBuf>,
    current: parking_lot::Mutex<Current>,
    reopen: tokio::sync::Mutex<()>,
    reopened: AtomicU64,
}

/// A SQLite usage database (cheap to clone; clones share the pool).
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .field("reopened", &self.reopened())
            .finish()
    }
}

fn build_pool(opts: &SqliteConnectOptions, max: u32, acquire_timeout: Duration) -> SqlitePool {
    SqlitePoolOptions::new()
        .max_connections(max)
        .acquire_timeout(acquire_timeout)
        // A connection sqlx still counts inside a transaction is closed, not pooled (see the
        // module docs). The ping first lets a queued rollback finish before the count is read.
        .after_release(|conn, _meta| {
            Box::pin(async move {
                conn.ping().await?;
                Ok(!conn.is_in_transaction())
            })
        })
        .connect_lazy_with(opts.clone())
}

impl SqliteStore {
    /// A lazily connecting pool over `opts` (nothing is opened yet).
    pub(crate) fn open(opts: SqliteConnectOptions, max: u32, acquire_timeout: Duration) -> Self {
        let filename = opts.get_filename();
        let path = (!filename.as_os_str().is_empty() && filename != Path::new(":memory:"))
            .then(|| filename.to_path_buf());
        let pool = build_pool(&opts, max, acquire_timeout);
        Self {
            inner: Arc::new(Inner {
                opts,
                max_connections: max,
                acquire_timeout,
                path,
                current: parking_lot::Mutex::new(Current {
                    pool,
                    id: None,
                    companions: [None, None],
                }),
                reopen: tokio::sync::Mutex::new(()),
                reopened: AtomicU64::new(0),
            }),
        }
    }

    /// The database file, when it is one.
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// How often the file was found deleted or replaced and opened again.
    pub fn reopened(&self) -> u64 {
        self.inner.reopened.load(Ordering::Relaxed)
    }

    /// The pool, after checking that its file is still the one at the path (reopening it when
    /// not). Returns the file identity the pool's connections use, when known.
    pub(crate) async fn checked(&self) -> (SqlitePool, Option<FileId>) {
        let Some(path) = &self.inner.path else {
            return (self.inner.current.lock().pool.clone(), None);
        };
        let now = file_id(path);
        {
            let mut cur = self.inner.current.lock();
            let same = match (cur.id, now) {
                (_, Err(())) | (None, Ok(None)) => return (cur.pool.clone(), cur.id),
                (None, Ok(Some(id))) => {
                    cur.id = Some(id);
                    true
                }
                (Some(a), Ok(Some(b))) => a == b,
                (Some(_), Ok(None)) => false,
            };
            if same {
                // The file is ours: so are its -wal/-shm as they are now.
                let seen = companion_ids(path);
                for (known, now) in cur.companions.iter_mut().zip(seen) {
                    if now.is_some() {
                        *known = now;
                    }
                }
                return (cur.pool.clone(), cur.id);
            }
        }
        self.reopen(path).await
    }

    /// The pool in use, without checking the file.
    pub fn pool(&self) -> SqlitePool {
        self.inner.current.lock().pool.clone()
    }

    /// Closes every connection to the old file, then starts a pool on the file now at `path`
    /// and migrates it.
    async fn reopen(&self, path: &Path) -> (SqlitePool, Option<FileId>) {
        let _one = self.inner.reopen.lock().await;
        let (old, stale) = {
            let cur = self.inner.current.lock();
            match (cur.id, file_id(path)) {
                // Someone else reopened while this caller waited.
                (None, _) | (_, Err(())) => return (cur.pool.clone(), cur.id),
                (Some(a), Ok(Some(b))) if a == b => return (cur.pool.clone(), cur.id),
                _ => (cur.pool.clone(), cur.companions),
            }
        };
        self.inner.reopened.fetch_add(1, Ordering::Relaxed);
        tracing::error!(
            file = %path.display(),
            kind = "replaced",
            "usage database file was deleted or replaced while open: closing the old file's \
             connections and using the file now at the path (records already in the old file \
             stay there)"
        );
        // Connections to the old file share the -wal/-shm names with the new one: all must be
        // closed before a new connection opens.
        if tokio::time::timeout(CLOSE_OLD_TIMEOUT, old.close())
            .await
            .is_err()
        {
            tracing::warn!(
                file = %path.display(),
                "connections to the replaced usage database file still open after 10 s"
            );
        }
        set_aside_stale_companions(path, stale);
        let pool = build_pool(
            &self.inner.opts,
            self.inner.max_connections,
            self.inner.acquire_timeout,
        );
        {
            let mut cur = self.inner.current.lock();
            cur.pool = pool.clone();
            cur.id = None;
            cur.companions = [None, None];
        }
        if let Err(e) = crate::store::backend::sqlite_migrate(&pool).await {
            tracing::warn!(error = %e, kind = %e.kind(), "cannot migrate the new usage database file yet");
        }
        let id = file_id(path).ok().flatten();
        self.inner.current.lock().id = id;
        (pool, id)
    }

    /// A connection of the checked pool, for one unit of work; hand its result to
    /// [`Checked::finish`].
    pub(crate) async fn acquire(&self) -> Result<Checked, StoreError> {
        let (pool, before) = self.checked().await;
        let conn = pool.acquire().await?;
        Ok(Checked {
            conn,
            path: self.inner.path.clone(),
            before,
        })
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool().close().await;
    }
}

/// Moves the old file's `-wal` aside and removes its `-shm`, when the files at those names
/// are still the ones seen with the old file (a `-wal` that came with the new file is kept).
fn set_aside_stale_companions(path: &Path, stale: [Option<FileId>; 2]) {
    let [wal, shm] = companions(path);
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    if stale[0].is_some() && file_id(&wal).ok().flatten() == stale[0] {
        let mut aside = wal.clone().into_os_string();
        aside.push(format!(".replaced-{ms}"));
        match std::fs::rename(&wal, &aside) {
            Ok(()) => tracing::warn!(
                from = %wal.display(),
                to = %PathBuf::from(&aside).display(),
                "moved the replaced usage database's write-ahead log aside (applied to the new \
                 file it would corrupt it)"
            ),
            Err(e) => tracing::error!(error = %e, file = %wal.display(),
                "cannot move the replaced usage database's write-ahead log aside"),
        }
    }
    if stale[1].is_some() && file_id(&shm).ok().flatten() == stale[1] {
        if let Err(e) = std::fs::remove_file(&shm) {
            tracing::error!(error = %e, file = %shm.display(),
                "cannot remove the replaced usage database's shared-memory file");
        }
    }
}

/// A connection taken for one unit of work, with the file identity it was taken under.
pub(crate) struct Checked {
    pub(crate) conn: PoolConnection<Sqlite>,
    path: Option<PathBuf>,
    before: Option<FileId>,
}

impl Checked {
    /// Ends the work: a connection whose work failed is closed instead of pooled again, and
    /// work that raced a change of the file is reported failed (it may have gone to the old
    /// file).
    pub(crate) fn finish<T>(mut self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        match result {
            Ok(v) => {
                if let (Some(path), Some(before)) = (&self.path, self.before) {
                    if file_id(path).is_ok_and(|now| now != Some(before)) {
                        self.conn.close_on_drop();
                        return Err(StoreError::Replaced(path.clone()));
                    }
                }
                Ok(v)
            }
            Err(e) => {
                self.conn.close_on_drop();
                Err(e)
            }
        }
    }
}
