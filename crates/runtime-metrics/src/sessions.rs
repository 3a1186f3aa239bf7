//! Sign-in sessions of the gateway's admin UI, in the usage database (table `ui_sessions`,
//! migration 5), so that every replica behind a load balancer knows every session.
//!
//! Only hashes are stored: the SHA-256 of the session id (the cookie's value) and of the key
//! the session was opened with; a copy of the database signs no one in. Reads ignore expired
//! rows and [`UsageStore::purge_ui_sessions`] deletes them;
//! [`UsageStore::delete_ui_sessions_of_key`] ends every session of a revoked key.
//!
//! ```no_run
//! # async fn demo() -> Result<(), runtime_metrics::StoreError> {
//! use runtime_metrics::{UiSession, UsageStore};
//! let store = UsageStore::connect("sqlite://usage.sqlite").await?;
//! let s = UiSession {
//!     id_hash: "ab12…".into(),
//!     key_hash: "cd34…".into(),
//!     key_id: Some("ops-admin".into()),
//!     created_ms: 1_000,
//!     expires_ms: 2_000,
//! };
//! store.put_ui_session(&s).await?;
//! assert!(store.get_ui_session("ab12…", 1_500).await?.is_some());
//! store.delete_ui_session("ab12…").await?;
//! # Ok(()) }
//! ```

use sqlx::{PgPool, QueryBuilder, Row, SqlitePool};

use crate::store::{StoreError, UsageStore};

/// One signed-in admin UI session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiSession {
    /// SHA-256 of the session id, hex.
    pub id_hash: String,
    /// SHA-256 of the key it was opened with, hex (checked again on every call).
    pub key_hash: String,
    /// The database key's id (`None`: the master key or a key from the config).
    pub key_id: Option<String>,
    /// When it was opened (Unix ms).
    pub created_ms: i64,
    /// When it ends (Unix ms).
    pub expires_ms: i64,
}

const COLUMNS: &str = "id_hash, key_hash, key_id, created_ms, expires_ms";

macro_rules! backend {
    ($modname:ident, $db:ty, $pool:ty) => {
        mod $modname {
            use super::*;

            pub(super) async fn put(pool: &$pool, s: &UiSession) -> Result<(), StoreError> {
                let mut q = QueryBuilder::<$db>::new(format!(
                    "INSERT INTO ui_sessions ({COLUMNS}) VALUES ("
                ));
                q.push_bind(s.id_hash.as_str())
                    .push(", ")
                    .push_bind(s.key_hash.as_str())
                    .push(", ")
                    .push_bind(s.key_id.as_deref())
                    .push(", ")
                    .push_bind(s.created_ms)
                    .push(", ")
                    .push_bind(s.expires_ms)
                    .push(")");
                q.build().execute(pool).await?;
                Ok(())
            }

            pub(super) async fn get(
                pool: &$pool,
                id_hash: &str,
                now_ms: i64,
            ) -> Result<Option<UiSession>, StoreError> {
                let mut q = QueryBuilder::<$db>::new(format!(
                    "SELECT {COLUMNS} FROM ui_sessions WHERE id_hash = "
                ));
                q.push_bind(id_hash)
                    .push(" AND expires_ms > ")
                    .push_bind(now_ms);
                let Some(row) = q.build().fetch_optional(pool).await? else {
                    return Ok(None);
                };
                Ok(Some(UiSession {
                    id_hash: row.try_get(0)?,
                    key_hash: row.try_get(1)?,
                    key_id: row.try_get(2)?,
                    created_ms: row.try_get(3)?,
                    expires_ms: row.try_get(4)?,
                }))
            }

            pub(super) async fn delete(pool: &$pool, id_hash: &str) -> Result<bool, StoreError> {
                let mut q = QueryBuilder::<$db>::new("DELETE FROM ui_sessions WHERE id_hash = ");
                q.push_bind(id_hash);
                Ok(q.build().execute(pool).await?.rows_affected() > 0)
            }

            pub(super) async fn delete_key(pool: &$pool, key_id: &str) -> Result<u64, StoreError> {
                let mut q = QueryBuilder::<$db>::new("DELETE FROM ui_sessions WHERE key_id = ");
                q.push_bind(key_id);
                Ok(q.build().execute(pool).await?.rows_affected())
            }

            pub(super) async fn purge(pool: &$pool, now_ms: i64) -> Result<u64, StoreError> {
                let mut q =
                    QueryBuilder::<$db>::new("DELETE FROM ui_sessions WHERE expires_ms <= ");
                q.push_bind(now_ms);
                Ok(q.build().execute(pool).await?.rows_affected())
            }
        }
    };
}

backend!(sqlite_sessions, sqlx::Sqlite, SqlitePool);
backend!(pg_sessions, sqlx::Postgres, PgPool);

impl UsageStore {
    /// Stores a new session.
    pub async fn put_ui_session(&self, s: &UiSession) -> Result<(), StoreError> {
        match self {
            UsageStore::Sqlite(st) => sqlite_sessions::put(&st.checked().await.0, s).await,
            UsageStore::Postgres(p) => pg_sessions::put(p, s).await,
        }
    }

    /// The session whose id hashes to `id_hash`, unless it ended before `now_ms`.
    pub async fn get_ui_session(
        &self,
        id_hash: &str,
        now_ms: i64,
    ) -> Result<Option<UiSession>, StoreError> {
        match self {
            UsageStore::Sqlite(st) => {
                sqlite_sessions::get(&st.checked().await.0, id_hash, now_ms).await
            }
            UsageStore::Postgres(p) => pg_sessions::get(p, id_hash, now_ms).await,
        }
    }

    /// Ends one session (sign-out). Returns whether it existed.
    pub async fn delete_ui_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        match self {
            UsageStore::Sqlite(st) => sqlite_sessions::delete(&st.checked().await.0, id_hash).await,
            UsageStore::Postgres(p) => pg_sessions::delete(p, id_hash).await,
        }
    }

    /// Ends every session opened with the database key `key_id` (it was revoked).
    pub async fn delete_ui_sessions_of_key(&self, key_id: &str) -> Result<u64, StoreError> {
        match self {
            UsageStore::Sqlite(st) => {
                sqlite_sessions::delete_key(&st.checked().await.0, key_id).await
            }
            UsageStore::Postgres(p) => pg_sessions::delete_key(p, key_id).await,
        }
    }

    /// Deletes every session that ended at or before `now_ms`; returns how many.
    pub async fn purge_ui_sessions(&self, now_ms: i64) -> Result<u64, StoreError> {
        match self {
            UsageStore::Sqlite(st) => sqlite_sessions::purge(&st.checked().await.0, now_ms).await,
            UsageStore::Postgres(p) => pg_sessions::purge(p, now_ms).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, key_id: Option<&str>, expires_ms: i64) -> UiSession {
        UiSession {
            id_hash: id.into(),
            key_hash: format!("h-{id}"),
            key_id: key_id.map(Into::into),
            created_ms: 1,
            expires_ms,
        }
    }

    #[tokio::test]
    async fn sessions_are_found_expire_end_and_end_with_their_key() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("u.sqlite").display());
        let store = UsageStore::connect(&url).await.unwrap();
        store.put_ui_session(&row("a", None, 100)).await.unwrap();
        store
            .put_ui_session(&row("b", Some("k1"), 100))
            .await
            .unwrap();
        store
            .put_ui_session(&row("c", Some("k1"), 100))
            .await
            .unwrap();
        store.put_ui_session(&row("d", None, 50)).await.unwrap();
        assert!(
            store.put_ui_session(&row("a", None, 100)).await.is_err(),
            "an id is never taken over"
        );
        assert_eq!(
            store.get_ui_session("a", 10).await.unwrap(),
            Some(row("a", None, 100))
        );
        assert_eq!(store.get_ui_session("d", 50).await.unwrap(), None);
        assert_eq!(store.purge_ui_sessions(60).await.unwrap(), 1);
        assert_eq!(store.delete_ui_sessions_of_key("k1").await.unwrap(), 2);
        assert_eq!(store.get_ui_session("b", 10).await.unwrap(), None);
        assert!(store.delete_ui_session("a").await.unwrap());
        assert!(!store.delete_ui_session("a").await.unwrap());
        assert_eq!(store.get_ui_session("a", 10).await.unwrap(), None);
    }
}
