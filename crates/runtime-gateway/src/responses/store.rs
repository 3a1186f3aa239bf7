//! Where `/v1/responses` keeps responses (`store`, default true as OpenAI's): the usage
//! database when `[storage]` configures one (SQLite or PostgreSQL, table `stored_responses`
//! of runtime-metrics' migration 3), so a conversation continues through any replica sharing
//! it; otherwise an in-memory map, per process (a follow-up that reaches another replica, or
//! this one after a restart, gets 404).
//!
//! ```toml
//! [gateway.responses]
//! store_ttl = "720h"            # how long a stored response can be read or continued (30 days)
//! purge_interval = "10m"        # how often expired rows are deleted (at most)
//! memory_max_entries = 10000    # the in-memory store's cap (oldest-expiring dropped first)
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use std::sync::Arc;

use model_runtime::metrics::{StoreError, StoredResponse, UsageStore};
use model_runtime::{Config, ConfigError};
use parking_lot::Mutex;
use runtime_dialects::openai_responses::response::ResponseObject;
use serde::Deserialize;
use serde_json::Value;

/// The default time a stored response is kept: 30 days, as OpenAI keeps them.
pub const DEFAULT_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// The default least time between two purges of expired responses.
pub const DEFAULT_PURGE_INTERVAL: Duration = Duration::from_secs(600);
/// The default cap of the in-memory store.
pub const DEFAULT_MEMORY_MAX_ENTRIES: usize = 10_000;
/// The longest a store operation may take on the request path.
const OP_TIMEOUT: Duration = Duration::from_secs(5);

/// `[gateway.responses]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreSettings {
    /// How long a stored response is kept.
    pub ttl: Duration,
    /// Least time between two purges of expired responses.
    pub purge_interval: Duration,
    /// Most responses the in-memory store holds.
    pub memory_max_entries: usize,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            ttl: DEFAULT_TTL,
            purge_interval: DEFAULT_PURGE_INTERVAL,
            memory_max_entries: DEFAULT_MEMORY_MAX_ENTRIES,
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default, deserialize_with = "crate::config::duration")]
    store_ttl: Option<Duration>,
    #[serde(default, deserialize_with = "crate::config::duration")]
    purge_interval: Option<Duration>,
    #[serde(default)]
    memory_max_entries: Option<u64>,
}

impl StoreSettings {
    /// Reads `[gateway.responses]` (defaults when absent); errors name the key.
    pub fn parse(config: &Config, table: Option<toml::Value>) -> Result<Self, ConfigError> {
        let Some(table) = table else {
            return Ok(Self::default());
        };
        let raw: Raw = serde_path_to_error::deserialize(table).map_err(|e| {
            let key = crate::config_path::dotted_path("gateway.responses", e.path());
            config.invalid(key, e.into_inner().to_string())
        })?;
        let mut out = Self::default();
        if let Some(ttl) = raw.store_ttl {
            if ttl < Duration::from_secs(1) {
                return Err(config.invalid("gateway.responses.store_ttl", "must be at least 1s"));
            }
            out.ttl = ttl;
        }
        if let Some(p) = raw.purge_interval {
            if p < Duration::from_secs(1) {
                return Err(
                    config.invalid("gateway.responses.purge_interval", "must be at least 1s")
                );
            }
            out.purge_interval = p;
        }
        if let Some(n) = raw.memory_max_entries {
            if n == 0 {
                return Err(
                    config.invalid("gateway.responses.memory_max_entries", "must be at least 1")
                );
            }
            out.memory_max_entries = usize::try_from(n).unwrap_or(usize::MAX);
        }
        Ok(out)
    }
}

enum Backend {
    Memory(Mutex<HashMap<String, StoredResponse>>),
    Database {
        store: UsageStore,
        migrated: tokio::sync::OnceCell<()>,
    },
}

/// The response store of one gateway.
pub struct ResponseStore {
    backend: Backend,
    settings: StoreSettings,
    last_purge_ms: AtomicI64,
}

impl std::fmt::Debug for ResponseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseStore")
            .field("kind", &self.kind())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Why the store could not answer.
#[derive(Debug, thiserror::Error)]
pub enum ResponseStoreError {
    /// The database failed.
    #[error("{0}")]
    Database(#[from] StoreError),
    /// The database did not answer in time.
    #[error("the response store did not answer within {0:?}")]
    Timeout(Duration),
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

async fn bounded<T>(
    f: impl std::future::Future<Output = Result<T, StoreError>>,
) -> Result<T, ResponseStoreError> {
    match tokio::time::timeout(OP_TIMEOUT, f).await {
        Ok(r) => r.map_err(ResponseStoreError::from),
        Err(_) => Err(ResponseStoreError::Timeout(OP_TIMEOUT)),
    }
}

impl ResponseStore {
    /// A store in `usage` (the usage database) when there is one, else in memory.
    pub fn new(settings: StoreSettings, usage: Option<UsageStore>) -> Self {
        let backend = match usage {
            Some(store) => Backend::Database {
                store,
                migrated: tokio::sync::OnceCell::new(),
            },
            None => Backend::Memory(Mutex::new(HashMap::new())),
        };
        Self {
            backend,
            settings,
            last_purge_ms: AtomicI64::new(now_ms()),
        }
    }

    /// `database` or `memory`.
    pub fn kind(&self) -> &'static str {
        match self.backend {
            Backend::Memory(_) => "memory",
            Backend::Database { .. } => "database",
        }
    }

    /// The settings.
    pub fn settings(&self) -> &StoreSettings {
        &self.settings
    }

    /// When a response created now expires (Unix ms).
    pub fn expiry(&self, now_ms: i64) -> i64 {
        let ttl = i64::try_from(self.settings.ttl.as_millis()).unwrap_or(i64::MAX);
        now_ms.saturating_add(ttl)
    }

    async fn db(&self) -> Result<Option<&UsageStore>, ResponseStoreError> {
        match &self.backend {
            Backend::Memory(_) => Ok(None),
            Backend::Database { store, migrated } => {
                // The runtime migrates at start; a database that was down then is migrated here.
                bounded(migrated.get_or_try_init(|| store.migrate())).await?;
                Ok(Some(store))
            }
        }
    }

    /// Stores a response (an id already taken is left as it was); purges expired ones when
    /// the purge interval has passed.
    pub async fn put(&self, r: StoredResponse) -> Result<(), ResponseStoreError> {
        let now = now_ms();
        self.maybe_purge(now).await;
        match self.db().await? {
            Some(db) => {
                if !bounded(db.put_response(&r)).await? {
                    tracing::warn!(id = %r.id, "a stored response with this id exists; kept");
                }
            }
            None => {
                if let Backend::Memory(map) = &self.backend {
                    let mut m = map.lock();
                    if m.len() >= self.settings.memory_max_entries {
                        m.retain(|_, v| v.expires_ms > now);
                    }
                    while m.len() >= self.settings.memory_max_entries {
                        let Some(oldest) = m
                            .values()
                            .min_by_key(|v| v.expires_ms)
                            .map(|v| v.id.clone())
                        else {
                            break;
                        };
                        m.remove(&oldest);
                    }
                    m.entry(r.id.clone()).or_insert(r);
                }
            }
        }
        Ok(())
    }

    /// The response `id` of `owner`, unless it expired.
    pub async fn get(
        &self,
        id: &str,
        owner: &str,
    ) -> Result<Option<StoredResponse>, ResponseStoreError> {
        let now = now_ms();
        match self.db().await? {
            Some(db) => bounded(db.get_response(id, owner, now)).await,
            None => Ok(match &self.backend {
                Backend::Memory(map) => map
                    .lock()
                    .get(id)
                    .filter(|r| r.owner == owner && r.expires_ms > now)
                    .cloned(),
                Backend::Database { .. } => None,
            }),
        }
    }

    /// Deletes the response `id` of `owner`; whether there was one.
    pub async fn delete(&self, id: &str, owner: &str) -> Result<bool, ResponseStoreError> {
        let now = now_ms();
        match self.db().await? {
            Some(db) => bounded(db.delete_response(id, owner, now)).await,
            None => Ok(match &self.backend {
                Backend::Memory(map) => {
                    let mut m = map.lock();
                    let mine = m
                        .get(id)
                        .is_some_and(|r| r.owner == owner && r.expires_ms > now);
                    mine && m.remove(id).is_some()
                }
                Backend::Database { .. } => false,
            }),
        }
    }

    /// Deletes expired responses now; how many.
    pub async fn purge(&self) -> Result<u64, ResponseStoreError> {
        let now = now_ms();
        self.last_purge_ms.store(now, Ordering::Relaxed);
        match self.db().await? {
            Some(db) => bounded(db.purge_responses(now)).await,
            None => Ok(match &self.backend {
                Backend::Memory(map) => {
                    let mut m = map.lock();
                    let before = m.len();
                    m.retain(|_, v| v.expires_ms > now);
                    (before - m.len()) as u64
                }
                Backend::Database { .. } => 0,
            }),
        }
    }

    async fn maybe_purge(&self, now: i64) {
        let interval = i64::try_from(self.settings.purge_interval.as_millis()).unwrap_or(i64::MAX);
        let last = self.last_purge_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) < interval
            || self
                .last_purge_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        match self.purge().await {
            Ok(n) if n > 0 => tracing::debug!(purged = n, "expired stored responses deleted"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not purge expired stored responses"),
        }
    }
}

/// Stores a finished response with the conversation it ends.
pub(crate) struct Saver {
    pub(crate) store: Arc<ResponseStore>,
    pub(crate) owner: String,
    /// The conversation before the answer (the stored history and this request's input).
    pub(crate) items: Vec<Value>,
}

impl Saver {
    /// Stores `obj` (a failure is logged: the client has its answer, a follow-up gets 404).
    pub(crate) async fn save(&self, obj: &ResponseObject) {
        let mut items = self.items.clone();
        items.extend(
            obj.output
                .iter()
                .filter_map(|o| serde_json::to_value(o).ok()),
        );
        let now = now_ms();
        let (Ok(response), Ok(items)) = (serde_json::to_string(obj), serde_json::to_string(&items))
        else {
            return;
        };
        let row = StoredResponse {
            id: obj.id.clone(),
            owner: self.owner.clone(),
            created_ms: now,
            expires_ms: self.store.expiry(now),
            response,
            items,
        };
        if let Err(e) = self.store.put(row).await {
            tracing::warn!(error = %e, id = %obj.id, "could not store the response");
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
            created_ms: 0,
            expires_ms,
            response: "{}".into(),
            items: "[]".into(),
        }
    }

    #[tokio::test]
    async fn memory_store_is_scoped_expires_and_is_capped() {
        let settings = StoreSettings {
            memory_max_entries: 2,
            ..StoreSettings::default()
        };
        let s = ResponseStore::new(settings, None);
        assert_eq!(s.kind(), "memory");
        let later = now_ms() + 60_000;
        s.put(row("a", "k1", later)).await.unwrap();
        assert!(s.get("a", "k1").await.unwrap().is_some());
        assert!(s.get("a", "k2").await.unwrap().is_none());
        assert!(!s.delete("a", "k2").await.unwrap());
        s.put(row("old", "k1", now_ms() - 1)).await.unwrap();
        assert!(s.get("old", "k1").await.unwrap().is_none(), "expired");
        // At the cap: the expired one goes first, then the one expiring soonest.
        s.put(row("b", "k1", later + 1)).await.unwrap();
        s.put(row("c", "k1", later + 2)).await.unwrap();
        assert!(s.get("a", "k1").await.unwrap().is_none());
        assert!(s.get("b", "k1").await.unwrap().is_some());
        assert!(s.get("c", "k1").await.unwrap().is_some());
        assert!(s.delete("c", "k1").await.unwrap());
        assert!(s.get("c", "k1").await.unwrap().is_none());
    }

    #[test]
    fn settings_parse_and_name_bad_keys() {
        let cfg = |t: &str| Config::from_toml_str(t, "t.toml").unwrap();
        let c = cfg("[gateway.responses]\nstore_ttl = \"2h\"\nmemory_max_entries = 5\n");
        let table = c.gateway.as_ref().and_then(|g| g.get("responses")).cloned();
        let s = StoreSettings::parse(&c, table).unwrap();
        assert_eq!(s.ttl, Duration::from_secs(7200));
        assert_eq!(s.memory_max_entries, 5);
        let c = cfg("[gateway.responses]\nstore_tll = \"2h\"\n");
        let table = c.gateway.as_ref().and_then(|g| g.get("responses")).cloned();
        let e = StoreSettings::parse(&c, table).unwrap_err().to_string();
        assert!(e.contains("store_tll"), "{e}");
    }
}
