//! Sign-in sessions of the admin UI: an opaque random id in an `HttpOnly`, `SameSite=Strict`
//! cookie scoped to `/ui`, expiring; a per-session CSRF token (derived from the id) that
//! every change must echo in the `x-csrf-token` header.
//!
//! Where they live: with a usage database (`[storage]`), in its `ui_sessions` table, so every
//! replica sharing the database knows every session (sign in through one, go on through
//! another; sign out through any ends it everywhere). Without one, in this process's memory
//! (a sign-in is per replica; a restart signs everyone out).
//!
//! Either way only hashes are kept: the SHA-256 of the session id and of the key the session
//! was opened with. The key hash is checked again on every call (the master key, a config
//! key, or a database key as the governance cache knows it now), so a revoked, expired or
//! rotated-out admin key ends its sessions at once, on every replica.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, HeaderValue, header};
use model_runtime::metrics::{StoreError, UiSession, UsageStore};
use parking_lot::Mutex;
use rand::Rng;
use sha2::{Digest, Sha256};

use crate::config::KeyHash;

/// The session cookie's name.
pub const COOKIE: &str = "modelrt_session";
/// How long a session lasts after sign-in.
pub const LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// The most sessions kept in memory at once (oldest dropped first past it).
const MAX_SESSIONS: usize = 10_000;

/// One signed-in person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// SHA-256 of the key they signed in with (re-checked on every call).
    pub key_hash: KeyHash,
    /// The database key's id (`None`: master or config key).
    pub key_id: Option<String>,
    /// The token every state-changing call must send in `x-csrf-token`.
    pub csrf: String,
    /// When the session ends (Unix ms).
    pub expires_ms: i64,
}

/// Where sessions are kept.
pub enum Sessions {
    /// This process's memory, by id hash.
    Memory(Mutex<HashMap<String, Session>>),
    /// The shared usage database.
    Database {
        /// The store.
        store: UsageStore,
        /// Whether its migrations ran (they add the sessions table).
        migrated: AtomicBool,
    },
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions::Memory(Mutex::default())
    }
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill(&mut b);
    hex::encode(b)
}

fn sha_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// The CSRF token of session `id`: derived from the id (so no replica needs to store it), and
/// not derivable from what is stored (the id's plain hash).
fn csrf_of(id: &str) -> String {
    sha_hex(&format!("modelrt-ui-csrf:{id}"))
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Sessions {
    /// Sessions in `store`.
    pub fn database(store: UsageStore) -> Self {
        Sessions::Database {
            store,
            migrated: AtomicBool::new(false),
        }
    }

    /// Whether sessions are shared through the database.
    pub fn shared(&self) -> bool {
        matches!(self, Sessions::Database { .. })
    }

    async fn ready(store: &UsageStore, migrated: &AtomicBool) -> Result<(), StoreError> {
        if !migrated.load(Ordering::Acquire) {
            store.migrate().await?;
            migrated.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Opens a session for the key with hash `key_hash`; returns its id and the session.
    pub async fn open(
        &self,
        key_hash: KeyHash,
        key_id: Option<String>,
    ) -> Result<(String, Session), StoreError> {
        let id = random_token();
        let now = now_ms();
        let s = Session {
            key_hash,
            key_id,
            csrf: csrf_of(&id),
            expires_ms: now + LIFETIME.as_millis() as i64,
        };
        match self {
            Sessions::Memory(map) => {
                let mut map = map.lock();
                map.retain(|_, v| v.expires_ms > now);
                if map.len() >= MAX_SESSIONS
                    && let Some(oldest) = map
                        .iter()
                        .min_by_key(|(_, v)| v.expires_ms)
                        .map(|(k, _)| k.clone())
                {
                    map.remove(&oldest);
                }
                map.insert(sha_hex(&id), s.clone());
            }
            Sessions::Database { store, migrated } => {
                Self::ready(store, migrated).await?;
                // Now and then, the ended sessions go.
                if rand::rng().random_range(0..64) == 0 {
                    let _ = store.purge_ui_sessions(now).await;
                }
                store
                    .put_ui_session(&UiSession {
                        id_hash: sha_hex(&id),
                        key_hash: hex::encode(key_hash),
                        key_id: s.key_id.clone(),
                        created_ms: now,
                        expires_ms: s.expires_ms,
                    })
                    .await?;
            }
        }
        Ok((id, s))
    }

    /// The live session of a request's cookie.
    pub async fn get(&self, headers: &HeaderMap) -> Result<Option<(String, Session)>, StoreError> {
        let Some(id) = cookie(headers, COOKIE) else {
            return Ok(None);
        };
        // A session id is 64 hex digits; anything else is not looked up.
        if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let now = now_ms();
        let id_hash = sha_hex(id);
        let found = match self {
            Sessions::Memory(map) => {
                let mut map = map.lock();
                match map.get(&id_hash) {
                    Some(s) if s.expires_ms > now => Some(s.clone()),
                    Some(_) => {
                        map.remove(&id_hash);
                        None
                    }
                    None => None,
                }
            }
            Sessions::Database { store, migrated } => {
                Self::ready(store, migrated).await?;
                store.get_ui_session(&id_hash, now).await?.and_then(|row| {
                    let mut key_hash: KeyHash = [0; 32];
                    hex::decode_to_slice(&row.key_hash, &mut key_hash).ok()?;
                    Some(Session {
                        key_hash,
                        key_id: row.key_id,
                        csrf: csrf_of(id),
                        expires_ms: row.expires_ms,
                    })
                })
            }
        };
        Ok(found.map(|s| (id.to_owned(), s)))
    }

    /// Ends a session (on every replica, when shared).
    pub async fn close(&self, id: &str) -> Result<(), StoreError> {
        match self {
            Sessions::Memory(map) => {
                map.lock().remove(&sha_hex(id));
            }
            Sessions::Database { store, migrated } => {
                Self::ready(store, migrated).await?;
                store.delete_ui_session(&sha_hex(id)).await?;
            }
        }
        Ok(())
    }

    /// Ends every session opened with the database key `key_id` (it was revoked).
    pub async fn close_key(&self, key_id: &str) -> Result<(), StoreError> {
        match self {
            Sessions::Memory(map) => {
                map.lock()
                    .retain(|_, s| s.key_id.as_deref() != Some(key_id));
            }
            Sessions::Database { store, migrated } => {
                Self::ready(store, migrated).await?;
                store.delete_ui_sessions_of_key(key_id).await?;
            }
        }
        Ok(())
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The `Set-Cookie` value that stores session `id` (`None`: one that deletes it).
pub fn set_cookie(id: Option<&str>) -> HeaderValue {
    let v = match id {
        Some(id) => format!(
            "{COOKIE}={id}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}",
            LIFETIME.as_secs()
        ),
        None => format!("{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0"),
    };
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Whether a state-changing request may proceed: it echoes the session's CSRF token, and, when
/// the browser says where it comes from (`Origin`), that is this host.
pub fn csrf_ok(headers: &HeaderMap, session: &Session) -> bool {
    let token = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !constant_time_eq(token.as_bytes(), session.csrf.as_bytes()) {
        return false;
    }
    match (headers.get(header::ORIGIN), headers.get(header::HOST)) {
        (None, _) => true,
        (Some(o), Some(h)) => {
            let o = o.to_str().unwrap_or("");
            let host = h.to_str().unwrap_or("-");
            o.strip_prefix("http://")
                .or_else(|| o.strip_prefix("https://"))
                .is_some_and(|rest| rest == host)
        }
        (Some(_), None) => false,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    async fn found_and_closed(s: &Sessions, other: &Sessions) {
        let (id, sess) = s.open([7; 32], Some("ops".into())).await.unwrap();
        assert_eq!(id.len(), 64);
        let h = headers(&[("cookie", &format!("a=b; {COOKIE}={id}; c=d"))]);
        let (got, found) = other.get(&h).await.unwrap().unwrap();
        assert_eq!((got.as_str(), &found), (id.as_str(), &sess));
        assert_eq!(found.key_hash, [7; 32]);
        let forged = "0".repeat(64);
        for bad in ["nope", forged.as_str()] {
            let h = headers(&[("cookie", &format!("{COOKIE}={bad}"))]);
            assert!(s.get(&h).await.unwrap().is_none());
        }
        other.close(&id).await.unwrap();
        assert!(s.get(&h).await.unwrap().is_none());
        let (id2, _) = s.open([8; 32], Some("gone".into())).await.unwrap();
        other.close_key("gone").await.unwrap();
        let h2 = headers(&[("cookie", &format!("{COOKIE}={id2}"))]);
        assert!(s.get(&h2).await.unwrap().is_none(), "revoked key");
    }

    #[tokio::test]
    async fn a_session_is_found_by_its_cookie_and_closed_in_memory() {
        let s = Sessions::default();
        found_and_closed(&s, &s).await;
    }

    #[tokio::test]
    async fn a_database_session_is_shared_and_stored_as_hashes_only() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("u.sqlite").display());
        let a = Sessions::database(UsageStore::connect(&url).await.unwrap());
        let b = Sessions::database(UsageStore::connect(&url).await.unwrap());
        found_and_closed(&a, &b).await;
        let (id, _) = a.open([9; 32], None).await.unwrap();
        let Sessions::Database { store, .. } = &b else {
            unreachable!()
        };
        let row = store
            .get_ui_session(&sha_hex(&id), now_ms())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.key_hash, hex::encode([9u8; 32]));
        assert!(store.get_ui_session(&id, now_ms()).await.unwrap().is_none());
    }

    #[test]
    fn the_cookie_is_httponly_strict_scoped_and_expiring() {
        let v = set_cookie(Some("abc"));
        let v = v.to_str().unwrap();
        for part in ["HttpOnly", "SameSite=Strict", "Path=/ui", "Max-Age=28800"] {
            assert!(v.contains(part), "{v}");
        }
        assert!(set_cookie(None).to_str().unwrap().contains("Max-Age=0"));
    }

    #[tokio::test]
    async fn changes_need_the_token_and_a_same_origin() {
        let s = Sessions::default();
        let (_, sess) = s.open([1; 32], None).await.unwrap();
        let tok = sess.csrf.clone();
        assert!(!csrf_ok(&headers(&[]), &sess));
        assert!(!csrf_ok(&headers(&[("x-csrf-token", "wrong")]), &sess));
        assert!(csrf_ok(&headers(&[("x-csrf-token", &tok)]), &sess));
        let same = headers(&[
            ("x-csrf-token", &tok),
            ("origin", "http://127.0.0.1:4000"),
            ("host", "127.0.0.1:4000"),
        ]);
        assert!(csrf_ok(&same, &sess));
        let cross = headers(&[
            ("x-csrf-token", &tok),
            ("origin", "http://evil.example"),
            ("host", "127.0.0.1:4000"),
        ]);
        assert!(!csrf_ok(&cross, &sess));
    }
}
