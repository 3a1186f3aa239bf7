//! The runtime's Redis connections: the `[redis]` section, and one handle per distinct
//! configuration handed to the router, the cache and the gateway's key limits (so the three
//! share one connection when they use the same Redis). Reports each component's state for
//! `/ready` and `/metrics`.

use runtime_core::prom::{Family, Kind};
use runtime_redis::{Redis, RedisConfig, RedisPool, RedisState};

use crate::config::{Config, ConfigError};
use crate::ready_state::ReadyCheck;

impl Config {
    /// The `[redis]` section, validated (no connection is made).
    pub fn redis_config(&self) -> Result<Option<RedisConfig>, ConfigError> {
        let Some(t) = &self.redis else {
            return Ok(None);
        };
        let cfg: RedisConfig = toml::Value::Table(t.clone())
            .try_into()
            .map_err(|e: toml::de::Error| self.invalid("redis", e.message().to_owned()))?;
        cfg.validate("redis").map_err(|e| invalid_from(self, e))?;
        Ok(Some(cfg))
    }

    /// The Redis a component uses: its own standalone `url` (and `timeout`) over the
    /// `[redis]` timings when given, else `[redis]` when `use_shared`, else none.
    pub fn component_redis(
        &self,
        section: &str,
        url: Option<&str>,
        timeout: Option<std::time::Duration>,
        use_shared: bool,
    ) -> Result<Option<RedisConfig>, ConfigError> {
        let base = self.redis_config()?;
        let mut cfg = match (url, base) {
            (Some(u), Some(b)) => RedisConfig {
                url: Some(u.to_owned()),
                urls: Vec::new(),
                mode: runtime_redis::RedisMode::Standalone,
                master_name: None,
                db: None,
                username: None,
                password: None,
                ..b
            },
            (Some(u), None) => RedisConfig::standalone(u),
            (None, Some(b)) if use_shared => b,
            (None, None) if use_shared => {
                return Err(self.invalid(
                    format!("{section}.redis"),
                    "needs a `[redis]` section (or a redis_url in this section)",
                ));
            }
            (None, _) => return Ok(None),
        };
        if let Some(t) = timeout {
            cfg.timeout = t;
        }
        cfg.validate(section).map_err(|e| match e {
            runtime_core::Error::InvalidConfig { field, reason, .. } if url.is_some() => self
                .invalid(
                    if field.ends_with(".url") {
                        format!("{section}.redis_url")
                    } else {
                        field
                    },
                    reason,
                ),
            other => invalid_from(self, other),
        })?;
        Ok(Some(cfg))
    }
}

fn invalid_from(config: &Config, e: runtime_core::Error) -> ConfigError {
    match e {
        runtime_core::Error::InvalidConfig { field, reason, .. } => config.invalid(field, reason),
        other => config.invalid("redis", other.to_string()),
    }
}

/// The handles of one runtime.
#[derive(Debug, Default)]
pub(crate) struct SharedRedis {
    pool: RedisPool,
}

impl SharedRedis {
    pub(crate) fn get(&self, cfg: &RedisConfig, component: &str) -> runtime_core::Result<Redis> {
        self.pool.get(cfg, component)
    }

    pub(crate) fn warm(&self) {
        self.pool.warm();
    }

    pub(crate) async fn shutdown(&self) {
        self.pool.shutdown().await;
    }

    /// One check per component: ready stays true while degraded (the component serves from
    /// local state; `degraded` says so) for up to `grace`, then fails.
    pub(crate) fn ready_checks(&self, grace: std::time::Duration) -> Vec<ReadyCheck> {
        self.pool
            .statuses()
            .into_iter()
            .map(|(component, st)| {
                let down_too_long = st.state == RedisState::Down && st.since >= grace;
                ReadyCheck {
                    name: format!("redis:{component}"),
                    ok: !down_too_long,
                    degraded: matches!(st.state, RedisState::Down | RedisState::Connecting),
                    detail: if down_too_long {
                        format!(
                            "{} (past the {}s grace period)",
                            st.describe(),
                            grace.as_secs()
                        )
                    } else {
                        st.describe()
                    },
                }
            })
            .collect()
    }

    /// `modelrt_redis_*` in Prometheus text.
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn metrics_text(&self) -> String {
        let statuses = self.pool.statuses();
        if statuses.is_empty() {
            return String::new();
        }
        let mut out = String::new();
        let mut family = |name: &str, kind: Kind, help: &str, value: &dyn Fn(usize) -> u64| {
            let mut f = Family::new(&mut out, name, kind, help);
            for (i, (c, _)) in statuses.iter().enumerate() {
                f.sample(&[("component", c)], value(i));
            }
        };
        family(
            "modelrt_redis_up",
            Kind::Gauge,
            "1 while the component's shared state is in Redis, 0 while it is degraded to local state.",
            &|i| u64::from(statuses[i].1.state == RedisState::Up),
        );
        family(
            "modelrt_redis_down_transitions_total",
            Kind::Counter,
            "Times the component's Redis connection went down (breaker opened).",
            &|i| statuses[i].1.went_down,
        );
        family(
            "modelrt_redis_up_transitions_total",
            Kind::Counter,
            "Times the component's Redis connection came up (first connection included).",
            &|i| statuses[i].1.came_up,
        );
        family(
            "modelrt_redis_errors_total",
            Kind::Counter,
            "Redis commands that failed or timed out.",
            &|i| statuses[i].1.errors,
        );
        family(
            "modelrt_redis_local_calls_total",
            Kind::Counter,
            "Calls answered from local state because Redis was down.",
            &|i| statuses[i].1.local_calls,
        );
        out
    }
}
