//! `[gateway.governance]`: database keys, teams and budgets.
//!
//! ```toml
//! [gateway.governance]
//! enabled = true                   # keys, teams, users and budgets in the usage database
//! # database_url = "postgres://…"  # default: [storage] database_url
//! sync_interval = "250ms"          # how often each replica reads changes and the fleet mode
//! lease_ttl = "15m"                # a hold never settled (a crashed replica's) is released after this
//! allow_unpriced = false           # budgeted keys may call models without a known price (counted 0)
//! default_max_output_tokens = 4096 # output bound of a budgeted call that sets no max_tokens
//!                                  # for a model whose limit is unknown (sent as max_tokens)
//! end_user_header = "x-modelrt-end-user"
//! redis_prefix = "modelrt:gov"     # in the gateway's Redis ([gateway] redis / redis_url)
//! ```

use std::time::Duration;

use model_runtime::{Config, ConfigError};
use serde::Deserialize;

/// The validated `[gateway.governance]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GovSettings {
    /// Where keys and budgets live.
    pub database_url: String,
    /// Change and mode poll period.
    pub sync_interval: Duration,
    /// Lease time of holds and parallel slots.
    pub lease_ttl: Duration,
    /// Budgeted keys may call unpriced models.
    pub allow_unpriced: bool,
    /// Output bound when neither the request nor the model says.
    pub default_max_output_tokens: u32,
    /// The header naming the end user (besides the body's `user`).
    pub end_user_header: String,
    /// Redis key prefix.
    pub redis_prefix: String,
    /// Test builds only: the clock moved by this many ms (`MODELRT_TEST_TIME_OFFSET_MS`).
    pub time_offset_ms: i64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    database_url: Option<String>,
    #[serde(default)]
    sync_interval: Option<String>,
    #[serde(default)]
    lease_ttl: Option<String>,
    #[serde(default)]
    allow_unpriced: bool,
    #[serde(default)]
    default_max_output_tokens: Option<u32>,
    #[serde(default)]
    end_user_header: Option<String>,
    #[serde(default)]
    redis_prefix: Option<String>,
}

fn dur(
    config: &Config,
    key: &str,
    v: Option<String>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match v {
        None => Ok(default),
        Some(s) => model_runtime::registry::parse_duration_str(&s)
            .map_err(|e| config.invalid(format!("gateway.governance.{key}"), e.to_string())),
    }
}

/// Reads `gateway.governance` (`None`: not enabled).
pub fn parse(
    config: &Config,
    table: Option<&toml::Value>,
) -> Result<Option<GovSettings>, ConfigError> {
    let Some(table) = table else { return Ok(None) };
    let raw: Raw = serde_path_to_error::deserialize(table.clone()).map_err(|e| {
        let key = crate::config_path::dotted_path("gateway.governance", e.path());
        config.invalid(key, e.into_inner().to_string())
    })?;
    if !raw.enabled {
        return Ok(None);
    }
    let database_url = match raw.database_url {
        Some(u) => u,
        None => config
            .storage
            .as_ref()
            .and_then(|s| s.get("database_url"))
            .and_then(|v| v.as_str())
            .unwrap_or("sqlite://modelrt-usage.sqlite")
            .to_owned(),
    };
    if !(database_url.starts_with("sqlite:") || database_url.starts_with("postgres")) {
        return Err(config.invalid(
            "gateway.governance.database_url",
            "use sqlite://file or postgres://…",
        ));
    }
    let sync_interval = dur(
        config,
        "sync_interval",
        raw.sync_interval,
        Duration::from_millis(250),
    )?;
    if sync_interval < Duration::from_millis(10) || sync_interval > Duration::from_secs(1) {
        return Err(config.invalid(
            "gateway.governance.sync_interval",
            "must be 10ms to 1s (changes reach every replica within about this long)",
        ));
    }
    let lease_ttl = dur(config, "lease_ttl", raw.lease_ttl, Duration::from_secs(900))?;
    if lease_ttl < Duration::from_secs(1) {
        return Err(config.invalid("gateway.governance.lease_ttl", "must be at least 1s"));
    }
    if raw.default_max_output_tokens == Some(0) {
        return Err(config.invalid(
            "gateway.governance.default_max_output_tokens",
            "must be at least 1",
        ));
    }
    let end_user_header = raw
        .end_user_header
        .unwrap_or_else(|| "x-modelrt-end-user".into())
        .to_ascii_lowercase();
    if http::HeaderName::from_bytes(end_user_header.as_bytes()).is_err() {
        return Err(config.invalid("gateway.governance.end_user_header", "not a header name"));
    }
    Ok(Some(GovSettings {
        database_url,
        sync_interval,
        lease_ttl,
        allow_unpriced: raw.allow_unpriced,
        default_max_output_tokens: raw.default_max_output_tokens.unwrap_or(4096),
        end_user_header,
        redis_prefix: raw.redis_prefix.unwrap_or_else(|| "modelrt:gov".into()),
        time_offset_ms: test_time_offset(),
    }))
}

/// `MODELRT_TEST_TIME_OFFSET_MS`, honoured by debug (test) builds only, so an end-to-end test
/// can put the gateway just before a UTC midnight. Release builds always read 0.
fn test_time_offset() -> i64 {
    if cfg!(debug_assertions) {
        std::env::var("MODELRT_TEST_TIME_OFFSET_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    } else {
        0
    }
}
