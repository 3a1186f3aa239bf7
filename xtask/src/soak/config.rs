//! The replicas' config: one logical chat model over two deployments (one with an rpm limit),
//! an embedding model, health checks against the mocks, router and key limits in the shared
//! Redis, usage records in the shared PostgreSQL.
//!
//! The circuit breaker runs with its defaults (`cooldown_failures = 3` in a row at low volume,
//! a 50 % failure rate over 10 s at volume), with a short `cooldown`. Before the breaker
//! judged by rate, the soak had to set `cooldown_failures = 25`: counting failures per window
//! whatever the volume, the default opened the circuit on the mocks' 1 % error rate and kept
//! it open (the first soak runs answered 86 % of requests with 503 `no_healthy_deployment`).

use std::time::Duration;

/// Gateway key without a limit (most workers).
pub const KEY_MAIN: &str = "sk-soak-main-0123456789";
/// Gateway key with an rpm limit (a few aggressive workers).
pub const KEY_LIMITED: &str = "sk-soak-limited-0123456789";

/// The numbers the checks compare against.
#[derive(Debug, Clone)]
pub struct Limits {
    /// rpm of deployment `a` (fleet-wide, per minute window on Redis' clock).
    pub rpm_a: u64,
    /// rpm of the embedding deployment `e`.
    pub rpm_e: u64,
    /// rpm of gateway key `limited`.
    pub key_rpm: u64,
    /// Active health check interval.
    pub health_interval: Duration,
    /// The gateway's whole-request deadline.
    pub request_timeout: Duration,
}

impl Limits {
    /// The limits of a run of `minutes`.
    pub fn for_run(minutes: f64) -> Self {
        Self {
            rpm_a: 240,
            rpm_e: 300,
            key_rpm: 60,
            // Short runs probe more often, so the probe count says something.
            health_interval: if minutes < 5.0 {
                Duration::from_secs(2)
            } else {
                Duration::from_secs(5)
            },
            request_timeout: Duration::from_secs(20),
        }
    }
}

/// Where the shared services and the mocks listen.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Redis URL.
    pub redis: String,
    /// PostgreSQL URL.
    pub postgres: String,
    /// Mock upstream of deployment `a`.
    pub up_a: String,
    /// Mock upstream of deployment `b`.
    pub up_b: String,
    /// Mock upstream of the embedding deployment `e`.
    pub up_e: String,
}

/// The config text every replica runs with.
pub fn render(ep: &Endpoints, l: &Limits) -> String {
    let hc = l.health_interval.as_millis();
    let rt = l.request_timeout.as_secs();
    format!(
        r#"# Written by `cargo xtask soak`.
[providers.up-a]
type = "openai"
base_url = "{a}/v1"
api_key = "sk-soak-upstream-a"
timeout = "5s"
stream_idle_timeout = "3s"

[providers.up-b]
type = "openai"
base_url = "{b}/v1"
api_key = "sk-soak-upstream-b"
timeout = "5s"
stream_idle_timeout = "3s"

[providers.up-e]
type = "openai"
base_url = "{e}/v1"
api_key = "sk-soak-upstream-e"
timeout = "5s"

[router]
redis_url = "{redis}"
redis_prefix = "soak:router"
health_check_interval = "{hc}ms"
cooldown = "2s"
timeout = "{rt}s"
ttft_timeout = "4s"
backoff_base = "50ms"
backoff_max = "1s"
queue_max_wait = "2s"

[[models]]
name = "chat"

[[models.deployments]]
provider = "up-a"
model = "mock-model"
name = "a"
rpm = {rpm_a}
health_check = true
health_check_url = "{a}/health"

[[models.deployments]]
provider = "up-b"
model = "mock-model"
name = "b"
health_check = true
health_check_url = "{b}/health"

[[models]]
name = "embed"
type = "embedding"

[[models.deployments]]
provider = "up-e"
model = "mock-embed"
name = "e"
rpm = {rpm_e}
health_check = true
health_check_url = "{e}/health"

[cache]
enabled = false

[storage]
database_url = "{pg}"
spill_path = "usage.spill.jsonl"
flush_interval = "200ms"
connect_timeout = "1s"

[pricing.overrides."up-a/mock-model"]
input_per_mtok = 1.0
output_per_mtok = 2.0

[gateway]
request_timeout = "{rt}s"
shutdown_grace = "10s"
redis_url = "{redis}"
redis_prefix = "soak:gateway"

[[gateway.keys]]
id = "main"
key = "{KEY_MAIN}"

[[gateway.keys]]
id = "limited"
key = "{KEY_LIMITED}"
rpm = {key_rpm}
"#,
        a = ep.up_a,
        b = ep.up_b,
        e = ep.up_e,
        redis = ep.redis,
        pg = ep.postgres,
        rpm_a = l.rpm_a,
        rpm_e = l.rpm_e,
        key_rpm = l.key_rpm,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replicas_config_parses() {
        let ep = Endpoints {
            redis: "redis://127.0.0.1:1/".into(),
            postgres: "postgres://postgres@127.0.0.1:2/postgres".into(),
            up_a: "http://127.0.0.1:3".into(),
            up_b: "http://127.0.0.1:4".into(),
            up_e: "http://127.0.0.1:5".into(),
        };
        for minutes in [1.5, 10.0] {
            let text = render(&ep, &Limits::for_run(minutes));
            model_runtime::Config::from_toml_str(&text, "soak.toml")
                .unwrap_or_else(|e| panic!("{e}\n{text}"));
        }
    }
}
