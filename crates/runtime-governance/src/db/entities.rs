//! The SQL of keys, teams and users, once per backend (see [`super::queries`] for the
//! macro's shape). Every write moves the change version in the same transaction.

use super::queries::{
    KEY_COLUMNS, TEAM_COLUMNS, USER_COLUMNS, budget_of, json_text, parse_json, role_of, role_str,
    u32_of,
};
use super::rows::{Conflict, DbError};
use crate::model::{Key, Limits, Team, User};

macro_rules! entities {
    ($name:ident, $db:ty, $pool:ty, $begin:expr) => {
        pub(crate) mod $name {
            use super::super::queries::$name::{Tx, bump, finish};
            use super::*;
            use sqlx::{Connection, QueryBuilder, Row};

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
                q.build()
                    .fetch_optional(pool)
                    .await?
                    .map(|r| key_row(&r))
                    .transpose()
            }

            pub(crate) async fn team(pool: &$pool, id: &str) -> Result<Option<Team>, DbError> {
                let mut q = QueryBuilder::<$db>::new(format!(
                    "SELECT {TEAM_COLUMNS} FROM gov_teams WHERE deleted = "
                ));
                q.push_bind(false).push(" AND id = ").push_bind(id);
                q.build()
                    .fetch_optional(pool)
                    .await?
                    .map(|r| team_row(&r))
                    .transpose()
            }

            pub(crate) async fn user(pool: &$pool, id: &str) -> Result<Option<User>, DbError> {
                let mut q = QueryBuilder::<$db>::new(format!(
                    "SELECT {USER_COLUMNS} FROM gov_users WHERE deleted = "
                ));
                q.push_bind(false).push(" AND id = ").push_bind(id);
                q.build()
                    .fetch_optional(pool)
                    .await?
                    .map(|r| user_row(&r))
                    .transpose()
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
                    if found(&mut tx, "SELECT TRUE FROM gov_keys WHERE id = ", &k.id)
                        .await?
                        .is_some()
                        || found(&mut tx, "SELECT TRUE FROM gov_keys WHERE hash = ", &k.hash)
                            .await?
                            .is_some()
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
                    if found(&mut tx, "SELECT TRUE FROM gov_keys WHERE hash = ", &k.hash)
                        .await?
                        .is_some()
                    {
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
                    match found(&mut tx, "SELECT deleted FROM gov_teams WHERE id = ", &t.id).await?
                    {
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
                    q.push_bind(false)
                        .push(" AND id = ")
                        .push_bind(id.to_owned());
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
                    match found(&mut tx, "SELECT deleted FROM gov_users WHERE id = ", &u.id).await?
                    {
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
                    q.push_bind(false)
                        .push(" AND id = ")
                        .push_bind(id.to_owned());
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
        }
    };
}

entities!(sqlite, sqlx::Sqlite, sqlx::SqlitePool, "BEGIN IMMEDIATE");
entities!(pg, sqlx::Postgres, sqlx::PgPool, "BEGIN");
