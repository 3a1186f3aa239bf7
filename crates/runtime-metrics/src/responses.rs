//! Responses the gateway keeps for `/v1/responses` (`store: true`), in the usage database
//! (table `stored_responses`, migration 3), so that `previous_response_id` and
//! `GET /v1/responses/{id}` work through any replica sharing the database.
//!
//! A row belongs to the key that created it (`owner`): every read and delete names the owner,
//! so another key's id is simply not found. Rows expire at `expires_ms`; reads ignore expired
//! rows and [`UsageStore::purge_responses`] deletes them.
//!
//! ```no_run
//! # async fn demo() -> Result<(), runtime_metrics::StoreError> {
//! use runtime_metrics::{StoredResponse, UsageStore};
//! let store = UsageStore::connect("sqlite://usage.sqlite").await?;
//! let row = StoredResponse {
//!     id: "resp_1".into(),
//!     owner: "team-a".into(),
//!     created_ms: 1_000,
//!     expires_ms: 2_000,
//!     response: "{}".into(),
//!     items: "[]".into(),
//! };
//! assert!(store.put_response(&row).await?);
//! assert!(store.get_response("resp_1", "team-b", 1_500).await?.is_none());
//! # Ok(()) }
//! ```

use sqlx::{PgPool, QueryBuilder, Row, SqlitePool};

use crate::store::{StoreError, UsageStore};

/// One stored response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The response id (`resp_…`).
    pub id: String,
    /// Who may read and delete it (the gateway key's id).
    pub owner: String,
    /// When it was created (Unix ms).
    pub created_ms: i64,
    /// When it expires (Unix ms).
    pub expires_ms: i64,
    /// The Response object, as JSON text.
    pub response: String,
    /// The conversation a follow-up continues from (input items, then output items), as a
    /// JSON array.
    pub items: String,
}

const COLUMNS: &str = "id, owner, created_ms, expires_ms, response, items";

macro_rules! backend {
    ($modname:ident, $db:ty, $pool:ty) => {
        mod $modname {
            use super::*;

            pub(super) async fn put(pool: &$pool, r: &StoredResponse) -> Result<bool, StoreError> {
                let mut q = QueryBuilder::<$db>::new(format!(
                    "INSERT INTO stored_responses ({COLUMNS}) VALUES ("
                ));
                q.push_bind(r.id.as_str())
                    .push(", ")
                    .push_bind(r.owner.as_str())
                    .push(", ")
                    .push_bind(r.created_ms)
                    .push(", ")
                    .push_bind(r.expires_ms)
                    .push(", ")
                    .push_bind(r.response.as_str())
                    .push(", ")
                    .push_bind(r.items.as_str())
                    .push(") ON CONFLICT (id) DO NOTHING");
                Ok(q.build().execute(pool).await?.rows_affected() == 1)
            }

            pub(super) async fn get(
                pool: &$pool,
                id: &str,
                owner: &str,
                now_ms: i64,
            ) -> Result<Option<StoredResponse>, StoreError> {
                let mut q = QueryBuilder::<$db>::new(format!(
                    "SELECT {COLUMNS} FROM stored_responses WHERE id = "
                ));
                q.push_bind(id)
                    .push(" AND owner = ")
                    .push_bind(owner)
                    .push(" AND expires_ms > ")
                    .push_bind(now_ms);
                let Some(row) = q.build().fetch_optional(pool).await? else {
                    return Ok(None);
                };
                Ok(Some(StoredResponse {
                    id: row.try_get(0)?,
                    owner: row.try_get(1)?,
                    created_ms: row.try_get(2)?,
                    expires_ms: row.try_get(3)?,
                    response: row.try_get(4)?,
                    items: row.try_get(5)?,
                }))
            }

            pub(super) async fn delete(
                pool: &$pool,
                id: &str,
                owner: &str,
                now_ms: i64,
            ) -> Result<bool, StoreError> {
                let mut q = QueryBuilder::<$db>::new("DELETE FROM stored_responses WHERE id = ");
                q.push_bind(id)
                    .push(" AND owner = ")
                    .push_bind(owner)
                    .push(" AND expires_ms > ")
                    .push_bind(now_ms);
                Ok(q.build().execute(pool).await?.rows_affected() > 0)
            }

            pub(super) async fn purge(pool: &$pool, now_ms: i64) -> Result<u64, StoreError> {
                let mut q =
                    QueryBuilder::<$db>::new("DELETE FROM stored_responses WHERE expires_ms <= ");
                q.push_bind(now_ms);
                Ok(q.build().execute(pool).await?.rows_affected())
            }
        }
    };
}

backend!(sqlite_responses, sqlx::Sqlite, SqlitePool);
backend!(pg_responses, sqlx::Postgres, PgPool);

impl UsageStore {
    /// Stores a response. Returns false when a response with this id already exists (it is
    /// left as it was).
    pub async fn put_response(&self, r: &StoredResponse) -> Result<bool, StoreError> {
        match self {
            UsageStore::Sqlite(s) => sqlite_responses::put(&s.checked().await.0, r).await,
            UsageStore::Postgres(p) => pg_responses::put(p, r).await,
        }
    }

    /// The response `id` of `owner`, unless it expired before `now_ms`.
    pub async fn get_response(
        &self,
        id: &str,
        owner: &str,
        now_ms: i64,
    ) -> Result<Option<StoredResponse>, StoreError> {
        match self {
            UsageStore::Sqlite(s) => {
                sqlite_responses::get(&s.checked().await.0, id, owner, now_ms).await
            }
            UsageStore::Postgres(p) => pg_responses::get(p, id, owner, now_ms).await,
        }
    }

    /// Deletes the response `id` of `owner` (not an expired one). Returns whether it existed.
    pub async fn delete_response(
        &self,
        id: &str,
        owner: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        match self {
            UsageStore::Sqlite(s) => {
                sqlite_responses::delete(&s.checked().await.0, id, owner, now_ms).await
            }
            UsageStore::Postgres(p) => pg_responses::delete(p, id, owner, now_ms).await,
        }
    }

    /// Deletes every response that expired at or before `now_ms`; returns how many.
    pub async fn purge_responses(&self, now_ms: i64) -> Result<u64, StoreError> {
        match self {
            UsageStore::Sqlite(s) => sqlite_responses::purge(&s.checked().await.0, now_ms).await,
            UsageStore::Postgres(p) => pg_responses::purge(p, now_ms).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, owner: &str, expires_ms: i64) -> StoredResponse {
        StoredResponse {
            id: id.into(),
            owner: owner.into(),
            created_ms: 1,
            expires_ms,
            response: format!("{{\"id\":\"{id}\"}}"),
            items: "[]".into(),
        }
    }

    #[tokio::test]
    async fn rows_are_owned_expire_and_purge() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("u.sqlite").display());
        let store = UsageStore::connect(&url).await.unwrap();
        assert!(store.put_response(&row("resp_a", "k1", 100)).await.unwrap());
        assert!(
            !store.put_response(&row("resp_a", "k2", 100)).await.unwrap(),
            "an id is never taken over"
        );
        assert!(store.put_response(&row("resp_b", "k1", 50)).await.unwrap());
        let got = store.get_response("resp_a", "k1", 10).await.unwrap();
        assert_eq!(got, Some(row("resp_a", "k1", 100)));
        assert_eq!(store.get_response("resp_a", "k2", 10).await.unwrap(), None);
        assert_eq!(store.get_response("resp_b", "k1", 50).await.unwrap(), None);
        assert!(!store.delete_response("resp_a", "k2", 10).await.unwrap());
        assert_eq!(store.purge_responses(60).await.unwrap(), 1);
        assert!(store.delete_response("resp_a", "k1", 10).await.unwrap());
        assert_eq!(store.get_response("resp_a", "k1", 10).await.unwrap(), None);
    }
}
