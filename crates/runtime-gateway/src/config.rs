//! The `[gateway]` section of the configuration file.
//!
//! ```toml
//! [gateway]
//! listen = "127.0.0.1:4000"
//! master_key = "${MODELRT_MASTER_KEY}"     # hashed at load; the plain key is not kept
//! max_body_bytes = 4194304
//! request_timeout = "600s"
//! shutdown_grace = "30s"                 # drain deadline after SIGTERM
//! ready_grace = "30s"                    # a store may be down (degraded) this long before /ready fails
//! header_timeout = "30s"                 # a request head must arrive within this
//! body_timeout = "60s"                   # longest gap between two reads of a request body
//! idle_timeout = "75s"                   # an idle keep-alive connection is closed after this
//! send_timeout = "60s"                   # longest a response write may wait for the client
//! max_connections = 10000                # beyond it, idle connections are closed oldest-first
//! redis = true                           # optional: share key rpm limits through [redis]
//! # redis_url = "redis://127.0.0.1:6379/"  # or through this standalone Redis
//!
//! [[gateway.keys]]
//! id = "team-a"
//! key_hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"  # sha256 hex
//! models = ["openai/gpt-4o-mini", "fast"]     # empty or absent: every model
//! rpm = 60
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use model_runtime::{Config, ConfigError};
use serde::{Deserialize, Deserializer};
use sha2::{Digest, Sha256};

/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4000";
/// The default request body limit (4 MiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// The default time in-flight requests get to finish after SIGTERM/ctrl-c.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// The default whole-request deadline (retries included).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(600);
/// The default time a client has to send a whole request head (nginx `client_header_timeout`).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// The default longest gap between two reads of a request body (nginx `client_body_timeout`).
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(60);
/// The default time an idle keep-alive connection is kept (nginx `keepalive_timeout`).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(75);
/// The default longest wait of one response write for a client that does not read (nginx
/// `send_timeout`).
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// The default cap on open client connections (further lowered to what the process's open-file
/// limit allows, see [`crate::listener`]).
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// The default prefix of the gateway's Redis keys.
pub const DEFAULT_REDIS_PREFIX: &str = "modelrt:gateway";

/// The shortest connection timeout accepted (the sweeper's tick is a quarter of it).
const MIN_CONN_TIMEOUT: Duration = Duration::from_millis(100);

/// A SHA-256 digest of a key.
pub type KeyHash = [u8; 32];

/// SHA-256 of a key, as stored and compared.
pub fn hash_key(key: &str) -> KeyHash {
    Sha256::digest(key.as_bytes()).into()
}

/// The validated gateway settings.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Where `serve` listens.
    pub listen: SocketAddr,
    /// SHA-256 of the master key (admin: every model, `/v1/usage`); `None`: not set.
    pub master_key_hash: Option<KeyHash>,
    /// Gateway keys.
    pub keys: Vec<GatewayKey>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// How long in-flight requests and streams may run after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Deadline of one request, retries included.
    pub request_timeout: Duration,
    /// Whether `/metrics` needs the master key.
    pub metrics_require_auth: bool,
    /// Client connection limits and timeouts.
    pub connections: ConnLimits,
    /// Where replicas share their per-key rpm limits (`None`: each process counts alone).
    pub redis: Option<RedisSettings>,
    /// Database keys, teams and budgets (`[gateway.governance]`; `None`: off).
    pub governance: Option<crate::govern::GovSettings>,
    /// Stored responses of `/v1/responses` (`[gateway.responses]`).
    pub responses: crate::responses::StoreSettings,
    /// How long the usage database or Redis may be unreachable (serving degraded) before
    /// `/ready` answers 503.
    pub ready_grace: Duration,
}

/// Client connection hygiene: how long the gateway waits for a client, and how many
/// connections it keeps open. Timeouts are about *reading the client* (and a client that does
/// not read); an upstream call or a stream in progress is never cut by them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// From accepting a connection, or from the first byte of a keep-alive connection's next
    /// request, to the end of the request head.
    pub header_timeout: Duration,
    /// The longest gap between two reads while a handler waits for the request body.
    pub body_timeout: Duration,
    /// How long a keep-alive connection may sit between requests.
    pub idle_timeout: Duration,
    /// How long one response write may wait for a client that does not read.
    pub send_timeout: Duration,
    /// Open client connections; at the cap, idle connections are closed oldest-first.
    pub max_connections: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        Self {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

/// The Redis that replicas share their per-key rpm limits through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisSettings {
    /// The connection: the runtime's `[redis]`, or `redis_url` (with `redis_timeout`) over
    /// its timings. Its Debug hides passwords.
    pub config: model_runtime::redis::RedisConfig,
    /// Prefix of every key the limiter writes.
    pub prefix: String,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 4000)),
            master_key_hash: None,
            keys: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            metrics_require_auth: false,
            connections: ConnLimits::default(),
            redis: None,
            governance: None,
            responses: crate::responses::StoreSettings::default(),
            ready_grace: model_runtime::DEFAULT_READY_GRACE,
        }
    }
}

/// One gateway key.
#[derive(Clone, PartialEq, Eq)]
pub struct GatewayKey {
    /// Its name in usage records and logs.
    pub id: String,
    /// SHA-256 of the key.
    pub hash: KeyHash,
    /// Models it may use (exact names, or a prefix ending in `*`); empty: all.
    pub models: Vec<String>,
    /// Requests per minute it may make; `None`: unlimited.
    pub rpm: Option<u32>,
}

impl std::fmt::Debug for GatewayKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayKey")
            .field("id", &self.id)
            .field("hash", &"***")
            .field("models", &self.models)
            .field("rpm", &self.rpm)
            .finish()
    }
}

impl GatewayKey {
    /// Whether this key may use `model`.
    pub fn allows(&self, model: &str) -> bool {
        model_allowed(&self.models, model)
    }
}

/// Whether `model` matches one of `patterns` (exact, or prefix before a trailing `*`); an
/// empty list allows everything.
pub fn model_allowed(patterns: &[String], model: &str) -> bool {
    patterns.is_empty()
        || patterns.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => model.starts_with(prefix),
            None => p == model,
        })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGateway {
    #[serde(default)]
    listen: Option<String>,
    #[serde(default)]
    master_key: Option<String>,
    #[serde(default)]
    master_key_hash: Option<String>,
    #[serde(default)]
    keys: Vec<RawKey>,
    #[serde(default)]
    max_body_bytes: Option<u64>,
    #[serde(default, deserialize_with = "duration")]
    shutdown_grace: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    request_timeout: Option<Duration>,
    #[serde(default)]
    metrics_require_auth: bool,
    #[serde(default, deserialize_with = "duration")]
    header_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    body_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    idle_timeout: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    send_timeout: Option<Duration>,
    #[serde(default)]
    max_connections: Option<u64>,
    #[serde(default)]
    redis: bool,
    #[serde(default)]
    redis_url: Option<String>,
    #[serde(default)]
    redis_prefix: Option<String>,
    #[serde(default, deserialize_with = "duration")]
    redis_timeout: Option<Duration>,
    #[serde(default)]
    governance: Option<toml::Value>,
    #[serde(default)]
    responses: Option<toml::Value>,
    #[serde(default, deserialize_with = "duration")]
    ready_grace: Option<Duration>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    id: String,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    key_hash: Option<String>,
    #[serde(default)]
    models: Vec<String>,
    #[serde(default)]
    rpm: Option<u32>,
}

pub(crate) fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Secs(u64),
        Text(String),
    }
    match Raw::deserialize(d) {
        Ok(Raw::Secs(s)) => Ok(Some(Duration::from_secs(s))),
        Ok(Raw::Text(s)) => model_runtime::registry::parse_duration_str(&s)
            .map(Some)
            .map_err(serde::de::Error::custom),
        Err(_) => Err(serde::de::Error::custom(
            "expected a duration such as \"30s\", \"500ms\" or a number of seconds",
        )),
    }
}

fn redis_settings(
    config: &Config,
    shared: bool,
    url: Option<String>,
    prefix: Option<String>,
    timeout: Option<Duration>,
) -> Result<Option<RedisSettings>, ConfigError> {
    let url = url.filter(|u| !u.trim().is_empty());
    if url.is_none() && !shared {
        if prefix.is_some() || timeout.is_some() {
            return Err(config.invalid(
                "gateway.redis_url",
                "redis_prefix and redis_timeout need redis_url (or redis = true)",
            ));
        }
        return Ok(None);
    }
    if timeout.is_some_and(|t| t.is_zero()) {
        return Err(config.invalid("gateway.redis_timeout", "must be more than 0"));
    }
    // Parsed and checked only: nothing connects here (`config check` relies on it).
    let Some(redis) = config.component_redis("gateway", url.as_deref(), timeout, shared)? else {
        return Ok(None);
    };
    let prefix = prefix.unwrap_or_else(|| DEFAULT_REDIS_PREFIX.to_owned());
    if prefix.trim().is_empty() {
        return Err(config.invalid("gateway.redis_prefix", "must not be empty"));
    }
    Ok(Some(RedisSettings {
        config: redis,
        prefix,
    }))
}

fn parse_hash(s: &str) -> Result<KeyHash, String> {
    let bytes = hex::decode(s.trim())
        .map_err(|_| "expected the SHA-256 of the key as 64 hex digits".to_owned())?;
    bytes
        .try_into()
        .map_err(|_| "expected the SHA-256 of the key as 64 hex digits".to_owned())
}

impl GatewayConfig {
    /// Reads and validates `config.gateway` (defaults when absent). Errors name the file and
    /// the key path (`gateway.keys.0.rpm`).
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let Some(table) = &config.gateway else {
            return Ok(Self::default());
        };
        let raw: RawGateway = serde_path_to_error::deserialize(toml::Value::Table(table.clone()))
            .map_err(|e| {
            let key = crate::config_path::dotted_path("gateway", e.path());
            config.invalid(key, e.into_inner().to_string())
        })?;
        let mut out = Self::default();
        if let Some(listen) = raw.listen {
            out.listen = listen.parse().map_err(|_| {
                config.invalid(
                    "gateway.listen",
                    format!("`{listen}` is not an address such as 127.0.0.1:4000"),
                )
            })?;
        }
        out.master_key_hash = match (raw.master_key, raw.master_key_hash) {
            (Some(_), Some(_)) => {
                return Err(config.invalid(
                    "gateway.master_key",
                    "set either master_key or master_key_hash, not both",
                ));
            }
            (Some(k), None) if k.is_empty() => None,
            (Some(k), None) => Some(hash_key(&k)),
            (None, Some(h)) => {
                Some(parse_hash(&h).map_err(|r| config.invalid("gateway.master_key_hash", r))?)
            }
            (None, None) => None,
        };
        for (i, k) in raw.keys.into_iter().enumerate() {
            let at = |field: &str| format!("gateway.keys.{i}.{field}");
            if k.id.trim().is_empty() {
                return Err(config.invalid(at("id"), "must not be empty"));
            }
            if out.keys.iter().any(|o| o.id == k.id) {
                return Err(config.invalid(at("id"), format!("duplicate key id `{}`", k.id)));
            }
            let hash = match (k.key, k.key_hash) {
                (Some(plain), None) if !plain.is_empty() => hash_key(&plain),
                (None, Some(h)) => parse_hash(&h).map_err(|r| config.invalid(at("key_hash"), r))?,
                (Some(_), None) => return Err(config.invalid(at("key"), "must not be empty")),
                _ => {
                    return Err(config.invalid(
                        at("key_hash"),
                        "set exactly one of key_hash (sha256 hex of the key) or key",
                    ));
                }
            };
            if out.keys.iter().any(|o| o.hash == hash) || out.master_key_hash == Some(hash) {
                return Err(config.invalid(at("key"), "the same key is configured twice"));
            }
            if k.rpm == Some(0) {
                return Err(config.invalid(at("rpm"), "must be at least 1 (omit it for no limit)"));
            }
            out.keys.push(GatewayKey {
                id: k.id,
                hash,
                models: k.models,
                rpm: k.rpm,
            });
        }
        if let Some(n) = raw.max_body_bytes {
            if n == 0 {
                return Err(config.invalid("gateway.max_body_bytes", "must be at least 1"));
            }
            out.max_body_bytes = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(d) = raw.shutdown_grace {
            out.shutdown_grace = d;
        }
        if let Some(d) = raw.ready_grace {
            out.ready_grace = d;
        }
        if let Some(d) = raw.request_timeout {
            if d.is_zero() {
                return Err(config.invalid("gateway.request_timeout", "must be more than 0"));
            }
            out.request_timeout = d;
        }
        out.metrics_require_auth = raw.metrics_require_auth;
        let limits = &mut out.connections;
        for (key, value, slot) in [
            (
                "header_timeout",
                raw.header_timeout,
                &mut limits.header_timeout,
            ),
            ("body_timeout", raw.body_timeout, &mut limits.body_timeout),
            ("idle_timeout", raw.idle_timeout, &mut limits.idle_timeout),
            ("send_timeout", raw.send_timeout, &mut limits.send_timeout),
        ] {
            if let Some(d) = value {
                if d < MIN_CONN_TIMEOUT {
                    return Err(config.invalid(
                        format!("gateway.{key}"),
                        "must be at least 100ms (a client cannot be served faster)",
                    ));
                }
                *slot = d;
            }
        }
        if let Some(n) = raw.max_connections {
            if n == 0 {
                return Err(config.invalid("gateway.max_connections", "must be at least 1"));
            }
            limits.max_connections = usize::try_from(n).unwrap_or(usize::MAX);
        }
        out.governance = crate::govern::config::parse(config, raw.governance.as_ref())?;
        out.responses = crate::responses::StoreSettings::parse(config, raw.responses)?;
        out.redis = redis_settings(
            config,
            raw.redis,
            raw.redis_url,
            raw.redis_prefix,
            raw.redis_timeout,
        )?;
        Ok(out)
    }

    /// Whether requests need a key (a master key or any gateway key is configured).
    pub fn auth_enabled(&self) -> bool {
        self.master_key_hash.is_some() || !self.keys.is_empty() || self.governance.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<GatewayConfig, ConfigError> {
        let env = |k: &str| (k == "TEAM_KEY").then(|| "sk-team".to_owned());
        let cfg = Config::from_toml_str_with_env(text, "gw.toml", &env)?;
        GatewayConfig::from_config(&cfg)
    }

    #[test]
    fn full_section() {
        let g = load(
            r#"
            [gateway]
            listen = "0.0.0.0:8080"
            master_key = "sk-master"
            max_body_bytes = 1000
            shutdown_grace = "5s"
            request_timeout = 30
            [[gateway.keys]]
            id = "a"
            key = "${TEAM_KEY}"
            models = ["openai/*"]
            rpm = 10
            [[gateway.keys]]
            id = "b"
            key_hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
            "#,
        )
        .unwrap();
        assert_eq!(g.listen.port(), 8080);
        assert_eq!(g.master_key_hash, Some(hash_key("sk-master")));
        assert_eq!(g.keys[0].hash, hash_key("sk-team"));
        assert_eq!(g.keys[1].hash, hash_key("test"));
        assert!(g.keys[0].allows("openai/gpt-4o"));
        assert!(!g.keys[0].allows("anthropic/claude"));
        assert!(g.keys[1].allows("anything"));
        assert_eq!(g.shutdown_grace, Duration::from_secs(5));
        assert_eq!(g.request_timeout, Duration::from_secs(30));
        assert_eq!(g.max_body_bytes, 1000);
        assert!(!format!("{g:?}").contains("sk-"));
        assert_eq!(g.redis, None);
    }

    #[test]
    fn redis_settings_default_and_hide_the_url() {
        let g = load(
            r#"
            [gateway]
            redis_url = "redis://:hunter2@127.0.0.1:6379/0"
            "#,
        )
        .unwrap();
        let r = g.redis.clone().unwrap();
        assert_eq!(
            r.config.url.as_deref(),
            Some("redis://:hunter2@127.0.0.1:6379/0")
        );
        assert_eq!(r.prefix, DEFAULT_REDIS_PREFIX);
        assert_eq!(
            r.config.timeout,
            model_runtime::redis::config::DEFAULT_TIMEOUT
        );
        assert!(!format!("{g:?}").contains("hunter2"));
        let g = load(
            r#"
            [gateway]
            redis_url = "redis://127.0.0.1:6379/"
            redis_prefix = "fleet-a"
            redis_timeout = "200ms"
            "#,
        )
        .unwrap();
        let r = g.redis.unwrap();
        assert_eq!(r.prefix, "fleet-a");
        assert_eq!(r.config.timeout, Duration::from_millis(200));
        // `redis = true`: the runtime's [redis] connection, cluster mode included.
        let g = load(
            r#"
            [redis]
            urls = ["redis://127.0.0.1:7000", "redis://127.0.0.1:7001"]
            mode = "cluster"
            timeout = "80ms"
            [gateway]
            redis = true
            "#,
        )
        .unwrap();
        let r = g.redis.unwrap();
        assert_eq!(r.config.mode, model_runtime::redis::RedisMode::Cluster);
        assert_eq!(r.config.timeout, Duration::from_millis(80));
    }

    #[test]
    fn connection_limits_default_and_parse() {
        let g = load("[gateway]\n").unwrap();
        assert_eq!(g.connections, ConnLimits::default());
        assert_eq!(g.connections.header_timeout, Duration::from_secs(30));
        assert_eq!(g.connections.max_connections, 10_000);
        let g = load(
            r#"
            [gateway]
            header_timeout = "2s"
            body_timeout = "500ms"
            idle_timeout = 5
            send_timeout = "1m"
            max_connections = 50
            "#,
        )
        .unwrap();
        assert_eq!(
            g.connections,
            ConnLimits {
                header_timeout: Duration::from_secs(2),
                body_timeout: Duration::from_millis(500),
                idle_timeout: Duration::from_secs(5),
                send_timeout: Duration::from_secs(60),
                max_connections: 50,
            }
        );
    }

    #[test]
    fn errors_name_file_and_key_path() {
        for (text, key) in [
            ("[gateway]\nlisten = \"nope\"", "gateway.listen"),
            ("[gateway]\nlistn = \"x\"", "gateway"),
            (
                "[gateway]\nshutdown_grace = \"soon\"",
                "gateway.shutdown_grace",
            ),
            (
                "[[gateway.keys]]\nid = \"a\"\nkey = \"k\"\nrpm = \"many\"",
                "gateway.keys.0.rpm",
            ),
            (
                "[[gateway.keys]]\nid = \"a\"\nkey_hash = \"zz\"",
                "gateway.keys.0.key_hash",
            ),
            ("[[gateway.keys]]\nid = \"a\"", "gateway.keys.0.key_hash"),
            ("[gateway]\nredis_url = \"http://x\"", "gateway.redis_url"),
            ("[gateway]\nredis = true", "gateway.redis"),
            (
                "[redis]\nurl = \"redis://a:1\"\nmode = \"sentinel\"\n[gateway]\nredis = true",
                "redis.master_name",
            ),
            (
                "[gateway]\nheader_timeout = \"0s\"",
                "gateway.header_timeout",
            ),
            ("[gateway]\nbody_timeout = \"10ms\"", "gateway.body_timeout"),
            ("[gateway]\nidle_timeout = \"soon\"", "gateway.idle_timeout"),
            ("[gateway]\nsend_timeout = 0", "gateway.send_timeout"),
            ("[gateway]\nmax_connections = 0", "gateway.max_connections"),
            ("[gateway]\nmax_connections = -1", "gateway.max_connections"),
            ("[gateway]\nredis_prefix = \"p\"", "gateway.redis_url"),
            (
                "[gateway]\nredis_url = \"redis://127.0.0.1/\"\nredis_timeout = \"0s\"",
                "gateway.redis_timeout",
            ),
            (
                "[gateway]\nredis_url = \"redis://127.0.0.1/\"\nredis_prefix = \" \"",
                "gateway.redis_prefix",
            ),
            (
                "[[gateway.keys]]\nid = \"a\"\nkey = \"k\"\n[[gateway.keys]]\nid = \"a\"\nkey = \"j\"",
                "gateway.keys.1.id",
            ),
        ] {
            let e = load(text).unwrap_err().to_string();
            assert!(e.contains("gw.toml") && e.contains(key), "{text}: {e}");
        }
    }
}
