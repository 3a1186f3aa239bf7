//! The `[cache]` section of the runtime's TOML file.

use std::time::Duration;

use serde::{Deserialize, Deserializer};

/// Which backend stores entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// In-process (moka): the default, one cache per replica.
    #[default]
    Memory,
    /// Redis, shared by replicas (needs the `redis` feature).
    Redis,
}

/// The `[cache]` section.
///
/// ```toml
/// [cache]
/// enabled = true
/// backend = "memory"        # memory | redis
/// # redis_url = "redis://127.0.0.1:6379/"  # default: the runtime's [redis] connection
/// # redis_timeout = "50ms"                 # default: [redis] timeout
/// default_ttl = "1h"
/// max_entries = 10000
/// max_bytes = 104857600
/// namespace = "modelrt"     # key prefix
/// [cache.embedding_batch]
/// enabled = true
/// max_batch = 128
/// max_wait = "5ms"
/// ```
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Whether answers are cached at all (the batcher has its own switch).
    pub enabled: bool,
    /// Where entries live.
    pub backend: BackendKind,
    /// A standalone Redis for this cache only (backend `redis`); unset: the runtime's shared
    /// `[redis]` connection, or `redis://127.0.0.1:6379/` when there is none.
    pub redis_url: Option<String>,
    /// Longest wait for one Redis operation (slower means a miss and opens the breaker);
    /// unset: the `[redis]` timeout.
    #[serde(deserialize_with = "de_opt_duration")]
    pub redis_timeout: Option<Duration>,
    /// Time to live of an entry when the request does not say.
    #[serde(deserialize_with = "de_duration")]
    pub default_ttl: Duration,
    /// Most entries the memory backend holds.
    pub max_entries: u64,
    /// Most bytes the memory backend holds.
    pub max_bytes: u64,
    /// Prefix of every key (`<namespace>:<kind>:<sha256>`).
    pub namespace: String,
    /// The embedding batcher.
    pub embedding_batch: BatchConfig,
}

impl std::fmt::Debug for CacheConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheConfig")
            .field("enabled", &self.enabled)
            .field("backend", &self.backend)
            .field("redis_url", &self.redis_url.as_deref().map(redact_url))
            .field("redis_timeout", &self.redis_timeout)
            .field("default_ttl", &self.default_ttl)
            .field("max_entries", &self.max_entries)
            .field("max_bytes", &self.max_bytes)
            .field("namespace", &self.namespace)
            .field("embedding_batch", &self.embedding_batch)
            .finish()
    }
}

fn redact_url(url: &str) -> String {
    #[cfg(feature = "redis")]
    {
        runtime_redis::redact_url(url)
    }
    #[cfg(not(feature = "redis"))]
    {
        match url.split_once('@') {
            Some((_, host)) => format!("***@{host}"),
            None => url.to_owned(),
        }
    }
}

#[cfg(feature = "redis")]
impl CacheConfig {
    /// The Redis this cache uses: `shared` (the runtime's `[redis]`) or the default local
    /// server, with `redis_url` and `redis_timeout` applied on top when set.
    pub fn redis_config(
        &self,
        shared: Option<&runtime_redis::RedisConfig>,
    ) -> runtime_redis::RedisConfig {
        let mut cfg = match (&self.redis_url, shared) {
            (Some(url), Some(base)) => runtime_redis::RedisConfig {
                url: Some(url.clone()),
                urls: Vec::new(),
                mode: runtime_redis::RedisMode::Standalone,
                master_name: None,
                db: None,
                username: None,
                password: None,
                ..base.clone()
            },
            (Some(url), None) => runtime_redis::RedisConfig::standalone(url.clone()),
            (None, Some(base)) => base.clone(),
            (None, None) => runtime_redis::RedisConfig::standalone("redis://127.0.0.1:6379/"),
        };
        if let Some(t) = self.redis_timeout {
            cfg.timeout = t;
        }
        cfg
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            backend: BackendKind::Memory,
            redis_url: None,
            redis_timeout: None,
            default_ttl: Duration::from_secs(3600),
            max_entries: 10_000,
            max_bytes: 100 * 1024 * 1024,
            namespace: "modelrt".into(),
            embedding_batch: BatchConfig::default(),
        }
    }
}

/// The `[cache.embedding_batch]` section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BatchConfig {
    /// Whether concurrent embedding requests are coalesced.
    pub enabled: bool,
    /// Most inputs in one upstream call (the provider's own limit applies too).
    pub max_batch: usize,
    /// How long the first request of a batch waits for others.
    #[serde(deserialize_with = "de_duration")]
    pub max_wait: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_batch: 128,
            max_wait: Duration::from_millis(5),
        }
    }
}

fn de_opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    de_duration(d).map(Some)
}

/// Accepts `"30s"`, `"500ms"`, `"2m"`, `"1h"` or a number of seconds.
fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Secs(f64),
    }
    match Raw::deserialize(d)? {
        Raw::Text(s) => {
            runtime_core::registry::parse_duration_str(&s).map_err(serde::de::Error::custom)
        }
        Raw::Secs(f) if Duration::try_from_secs_f64(f).is_ok() => Ok(Duration::from_secs_f64(f)),
        Raw::Secs(f) => Err(serde::de::Error::custom(format!(
            "expected a non-negative duration, got {f}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct File {
        cache: CacheConfig,
    }

    #[test]
    fn parses_the_documented_section() {
        let f: File = toml::from_str(
            r#"
[cache]
enabled = true
backend = "redis"
redis_url = "redis://127.0.0.1:6380/"
redis_timeout = "20ms"
default_ttl = "2h"
max_entries = 5
max_bytes = 1000
namespace = "t"
[cache.embedding_batch]
enabled = false
max_batch = 64
max_wait = "3ms"
"#,
        )
        .unwrap();
        let c = f.cache;
        assert_eq!(c.backend, BackendKind::Redis);
        assert_eq!(c.redis_url.as_deref(), Some("redis://127.0.0.1:6380/"));
        assert_eq!(c.redis_timeout, Some(Duration::from_millis(20)));
        assert_eq!(c.default_ttl, Duration::from_secs(7200));
        assert_eq!((c.max_entries, c.max_bytes), (5, 1000));
        assert_eq!(c.namespace, "t");
        assert_eq!(
            c.embedding_batch,
            BatchConfig {
                enabled: false,
                max_batch: 64,
                max_wait: Duration::from_millis(3)
            }
        );
    }

    #[test]
    fn debug_hides_the_redis_password() {
        let c = CacheConfig {
            redis_url: Some("redis://user:hunter2@host:6379/0".into()),
            ..CacheConfig::default()
        };
        let d = format!("{c:?}");
        assert!(!d.contains("hunter2"), "{d}");
        assert!(d.contains("redis://user:***@host:6379/0"), "{d}");
        assert_eq!(redact_url("redis://:pw@h/"), "redis://:***@h/");
        assert_eq!(redact_url("redis://h:1/"), "redis://h:1/");
    }

    #[test]
    fn defaults_and_unknown_fields() {
        let f: File = toml::from_str("[cache]\n").unwrap();
        assert_eq!(f.cache, CacheConfig::default());
        assert!(toml::from_str::<File>("[cache]\nttl = \"1h\"\n").is_err());
        assert!(toml::from_str::<File>("[cache]\nbackend = \"disk\"\n").is_err());
        assert!(toml::from_str::<File>("[cache]\ndefault_ttl = \"soon\"\n").is_err());
        let f: File = toml::from_str("[cache]\ndefault_ttl = 60\n").unwrap();
        assert_eq!(f.cache.default_ttl, Duration::from_secs(60));
    }
}
