//! The one Redis configuration shape: the top-level `[redis]` table of the config file, which
//! the router, the cache and the gateway's key limits share.

use std::time::Duration;

use runtime_core::Error;
use serde::{Deserialize, Deserializer};

/// How the addresses in [`RedisConfig`] are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RedisMode {
    /// One server (`url`).
    #[default]
    Standalone,
    /// A Redis Cluster: `urls` are seed nodes; the slot map is read from them.
    Cluster,
    /// Behind Redis Sentinel: `urls` are the sentinels, `master_name` the monitored master.
    Sentinel,
}

impl RedisMode {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RedisMode::Standalone => "standalone",
            RedisMode::Cluster => "cluster",
            RedisMode::Sentinel => "sentinel",
        }
    }
}

/// Where shared state lives and how long to wait for it.
///
/// ```toml
/// [redis]
/// url = "redis://127.0.0.1:6379/"        # standalone: one server
/// # urls = ["redis://10.0.0.1:7000", "redis://10.0.0.2:7000"]  # cluster seeds or sentinels
/// # mode = "cluster"                     # standalone | cluster | sentinel
/// # master_name = "mymaster"             # sentinel only
/// timeout = "100ms"                      # per command; slower counts as down
/// connect_timeout = "1s"
/// probe_interval = "200ms"               # first recovery probe; doubles up to probe_max_interval
/// probe_max_interval = "1s"               # a returning Redis is seen within this
/// ```
///
/// Nothing here connects: [`crate::Redis::new`] only parses and validates, the connection is
/// made in the background when first needed.
#[derive(Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// One address (`redis://[user:password@]host:port/db`, `rediss://` for TLS).
    pub url: Option<String>,
    /// Several addresses: cluster seed nodes, or the sentinels.
    pub urls: Vec<String>,
    /// Standalone, cluster or sentinel.
    pub mode: RedisMode,
    /// The master name the sentinels monitor (sentinel mode).
    pub master_name: Option<String>,
    /// Database of the data nodes (sentinel mode; otherwise in the URL).
    pub db: Option<i64>,
    /// User on the data nodes (sentinel mode; otherwise in the URL).
    pub username: Option<String>,
    /// Password of the data nodes (sentinel mode; otherwise in the URL). Never printed.
    pub password: Option<String>,
    /// Longest wait for one command. A slower or failed command opens the breaker: callers
    /// use local state at once until a background probe sees Redis back.
    #[serde(deserialize_with = "de_duration")]
    pub timeout: Duration,
    /// Longest wait for a (re)connection, in the background probe.
    #[serde(deserialize_with = "de_duration")]
    pub connect_timeout: Duration,
    /// Delay before the first recovery probe after a failure.
    #[serde(deserialize_with = "de_duration")]
    pub probe_interval: Duration,
    /// Longest delay between probes (the delay doubles after each failed probe): a Redis that
    /// comes back is used again at most this long after. A probe of a dead Redis is one
    /// connect attempt in the background, so a short bound costs nothing on the request path.
    #[serde(deserialize_with = "de_duration")]
    pub probe_max_interval: Duration,
}

/// The default bound on one command.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(100);

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            url: None,
            urls: Vec::new(),
            mode: RedisMode::Standalone,
            master_name: None,
            db: None,
            username: None,
            password: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: Duration::from_secs(1),
            probe_interval: Duration::from_millis(200),
            probe_max_interval: Duration::from_secs(1),
        }
    }
}

impl std::fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisConfig")
            .field("addresses", &self.display_addresses())
            .field("mode", &self.mode)
            .field("master_name", &self.master_name)
            .field("db", &self.db)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("probe_interval", &self.probe_interval)
            .field("probe_max_interval", &self.probe_max_interval)
            .finish()
    }
}

impl RedisConfig {
    /// One standalone server at `url`, default timings.
    pub fn standalone(url: impl Into<String>) -> Self {
        Self {
            url: Some(url.into()),
            ..Self::default()
        }
    }

    /// A cluster reached through these seed nodes.
    pub fn cluster<S: Into<String>>(urls: impl IntoIterator<Item = S>) -> Self {
        Self {
            urls: urls.into_iter().map(Into::into).collect(),
            mode: RedisMode::Cluster,
            ..Self::default()
        }
    }

    /// The master `master_name` found through these sentinels.
    pub fn sentinel<S: Into<String>>(
        urls: impl IntoIterator<Item = S>,
        master_name: impl Into<String>,
    ) -> Self {
        Self {
            urls: urls.into_iter().map(Into::into).collect(),
            mode: RedisMode::Sentinel,
            master_name: Some(master_name.into()),
            ..Self::default()
        }
    }

    /// Sets the per-command timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the first and the longest probe delay.
    pub fn with_probe(mut self, first: Duration, max: Duration) -> Self {
        self.probe_interval = first;
        self.probe_max_interval = max;
        self
    }

    /// `url` and `urls`, in order.
    pub fn addresses(&self) -> Vec<&str> {
        self.url
            .iter()
            .chain(self.urls.iter())
            .map(String::as_str)
            .collect()
    }

    /// The addresses with passwords hidden, for logs.
    pub fn display_addresses(&self) -> String {
        self.addresses()
            .into_iter()
            .map(redact_url)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Checks the shape without connecting. `section` names the table in errors (`redis`,
    /// `router`…).
    pub fn validate(&self, section: &str) -> Result<(), Error> {
        let bad = |field: &str, reason: String| Error::InvalidConfig {
            provider: "redis".into(),
            field: format!("{section}.{field}"),
            reason,
        };
        if self.url.is_some() && !self.urls.is_empty() {
            return Err(bad("urls", "set `url` or `urls`, not both".into()));
        }
        let addrs = self.addresses();
        if addrs.is_empty() {
            return Err(bad(
                "url",
                "no Redis address: set `url` (or `urls` for cluster / sentinel)".into(),
            ));
        }
        for (i, a) in addrs.iter().enumerate() {
            let field = if self.url.is_some() {
                "url".to_owned()
            } else {
                format!("urls[{i}]")
            };
            if let Err(e) = redis::Client::open(*a) {
                return Err(bad(
                    &field,
                    format!(
                        "`{}` is not a Redis URL such as redis://127.0.0.1:6379/: {e}",
                        redact_url(a)
                    ),
                ));
            }
        }
        match self.mode {
            RedisMode::Standalone if addrs.len() > 1 => {
                return Err(bad(
                    "urls",
                    "standalone mode takes one address; set `mode = \"cluster\"` or \"sentinel\" for several".into(),
                ));
            }
            RedisMode::Sentinel
                if self
                    .master_name
                    .as_deref()
                    .is_none_or(|m| m.trim().is_empty()) =>
            {
                return Err(bad(
                    "master_name",
                    "sentinel mode needs the name of the monitored master".into(),
                ));
            }
            _ => {}
        }
        if self.mode != RedisMode::Sentinel {
            for (field, set) in [
                ("master_name", self.master_name.is_some()),
                ("db", self.db.is_some()),
                ("username", self.username.is_some()),
                ("password", self.password.is_some()),
            ] {
                if set {
                    return Err(bad(
                        field,
                        format!(
                            "only used in sentinel mode (mode is `{}`; put credentials and db in the URL)",
                            self.mode.as_str()
                        ),
                    ));
                }
            }
        }
        for (field, d) in [
            ("timeout", self.timeout),
            ("connect_timeout", self.connect_timeout),
            ("probe_interval", self.probe_interval),
        ] {
            if d.is_zero() {
                return Err(bad(field, "must be more than 0".into()));
            }
        }
        if self.probe_max_interval < self.probe_interval {
            return Err(bad(
                "probe_max_interval",
                "must not be shorter than probe_interval".into(),
            ));
        }
        Ok(())
    }
}

/// The URL with any password replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{path}")
        }
        None => url.to_owned(),
    }
}

/// Accepts `"100ms"`, `"1s"`, `"2m"` or a number of seconds.
pub fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
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
        Raw::Secs(f) => Duration::try_from_secs_f64(f).map_err(|_| {
            serde::de::Error::custom(format!("expected a non-negative duration, got {f}"))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RedisConfig, String> {
        toml::from_str::<RedisConfig>(text).map_err(|e| e.to_string())
    }

    fn field_of(e: Error) -> String {
        match e {
            Error::InvalidConfig { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn shapes_parse_and_validate() {
        let c = parse("url = \"redis://127.0.0.1:6379/\"").unwrap();
        assert_eq!(c.mode, RedisMode::Standalone);
        assert_eq!(c.timeout, DEFAULT_TIMEOUT);
        c.validate("redis").unwrap();

        let c = parse(
            "urls = [\"redis://127.0.0.1:7000\", \"redis://127.0.0.1:7001\"]\nmode = \"cluster\"\ntimeout = \"50ms\"",
        )
        .unwrap();
        assert_eq!(c.timeout, Duration::from_millis(50));
        assert_eq!(c.addresses().len(), 2);
        c.validate("redis").unwrap();

        let c = parse(
            "urls = [\"redis://127.0.0.1:26379\"]\nmode = \"sentinel\"\nmaster_name = \"m\"\npassword = \"pw\"\ndb = 2",
        )
        .unwrap();
        c.validate("redis").unwrap();
        assert!(!format!("{c:?}").contains("pw\""), "{c:?}");
    }

    #[test]
    fn bad_shapes_name_the_field() {
        for (text, field) in [
            ("", "redis.url"),
            ("url = \"http://x\"", "redis.url"),
            (
                "urls = [\"redis://a:1\", \"nope://b\"]\nmode = \"cluster\"",
                "redis.urls[1]",
            ),
            ("urls = [\"redis://a:1\", \"redis://b:1\"]", "redis.urls"),
            (
                "url = \"redis://a:1\"\nurls = [\"redis://b:1\"]",
                "redis.urls",
            ),
            (
                "urls = [\"redis://a:1\"]\nmode = \"sentinel\"",
                "redis.master_name",
            ),
            (
                "url = \"redis://a:1\"\nmaster_name = \"m\"",
                "redis.master_name",
            ),
            ("url = \"redis://a:1\"\npassword = \"p\"", "redis.password"),
            ("url = \"redis://a:1\"\ntimeout = \"0s\"", "redis.timeout"),
            (
                "url = \"redis://a:1\"\nprobe_interval = \"2s\"\nprobe_max_interval = \"1s\"",
                "redis.probe_max_interval",
            ),
        ] {
            let c = parse(text).unwrap();
            assert_eq!(field_of(c.validate("redis").unwrap_err()), field, "{text}");
        }
        assert!(parse("mode = \"ring\"").is_err());
        assert!(parse("bogus = 1").is_err());
    }

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact_url("redis://user:hunter2@host:6379/0"),
            "redis://user:***@host:6379/0"
        );
        assert_eq!(redact_url("redis://:pw@h/"), "redis://:***@h/");
        assert_eq!(redact_url("redis://h:1/"), "redis://h:1/");
        let c = RedisConfig::standalone("redis://:hunter2@h:1/");
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
