//! Readiness: what the runtime can serve now, for `/ready`.
//!
//! - **Logical models** (router): a model whose every deployment is failing its active health
//!   check or cooling down (circuit open) cannot be served: the check fails, naming the model
//!   and why each deployment is out. A model with some deployments out is `degraded`.
//! - **Usage database**: while it fails, records go to the spill file (degraded); past the
//!   grace period the check fails.
//! - **Redis**: while it is down, shared state is answered from local state (degraded); past
//!   the grace period the check fails.
//!
//! The grace period keeps a blip (a Redis failover, a database restart) from taking every
//! replica out of the load balancer at once.

use std::time::Duration;

use crate::ready_state::ReadyCheck;
use crate::runtime::Runtime;

/// The default time a store may be unreachable (degraded) before `/ready` fails.
pub const DEFAULT_READY_GRACE: Duration = Duration::from_secs(30);

/// The longest a readiness probe waits for one component.
#[cfg_attr(not(any(feature = "router", feature = "metrics")), allow(dead_code))]
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

impl Runtime {
    /// Readiness with the default grace period ([`DEFAULT_READY_GRACE`]).
    pub async fn ready(&self) -> Vec<ReadyCheck> {
        self.ready_with(DEFAULT_READY_GRACE).await
    }

    /// Readiness: providers are configured, every logical model has a deployment it can
    /// use, and each store answers (or has been unreachable for less than `grace`, serving
    /// in its degraded mode meanwhile). One check per component; `/ready` is 503 when any
    /// is not `ok`.
    pub async fn ready_with(&self, grace: Duration) -> Vec<ReadyCheck> {
        let mut checks = Vec::new();
        let instances = self.registry.instances();
        checks.push(ReadyCheck {
            name: "providers".into(),
            ok: !instances.is_empty(),
            degraded: false,
            detail: if instances.is_empty() {
                "no provider is configured".into()
            } else {
                instances.join(", ")
            },
        });
        #[cfg(feature = "router")]
        if let Some(r) = &self.router {
            for model in r.model_names() {
                checks.push(model_check(r, model).await);
            }
        }
        #[cfg(feature = "metrics")]
        if let Some(m) = &self.metering {
            if m.store().is_some() {
                checks.push(self.usage_check(m, grace).await);
            }
        }
        #[cfg(feature = "redis")]
        checks.extend(self.redis.ready_checks(grace));
        #[cfg(not(any(feature = "metrics", feature = "redis")))]
        let _ = grace;
        checks
    }

    #[cfg(feature = "metrics")]
    async fn usage_check(&self, m: &runtime_metrics::Metering, grace: Duration) -> ReadyCheck {
        // A one-millisecond range: a real (indexed) query. An empty range is answered without
        // asking the database, which made this probe pass against a database that was down.
        let now = std::time::SystemTime::now();
        let from = now - Duration::from_millis(1);
        let ping =
            match tokio::time::timeout(PROBE_TIMEOUT, self.usage_summary(from, now, &[])).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(e.to_string()),
                Err(_) => Err(format!("no answer within {}s", PROBE_TIMEOUT.as_secs())),
            };
        let ping_down = self.ready_state.usage_ping(ping.is_ok());
        let writer_down = m.writer().and_then(runtime_metrics::UsageWriter::down_for);
        let down_for = match (ping_down, writer_down) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let Some(down_for) = down_for else {
            return ReadyCheck {
                name: "usage-store".into(),
                ok: true,
                degraded: false,
                detail: "reachable".into(),
            };
        };
        let spill = m
            .writer()
            .map(|w| w.spill_path().display().to_string())
            .unwrap_or_default();
        let why = ping
            .err()
            .unwrap_or_else(|| "the last write failed".to_owned());
        ReadyCheck {
            name: "usage-store".into(),
            ok: down_for < grace,
            degraded: true,
            detail: format!(
                "degraded: usage database unreachable for {:.1}s (grace {}s): {why}; usage records go to the spill file {spill}",
                down_for.as_secs_f64(),
                grace.as_secs()
            ),
        }
    }
}

/// The check of one logical model: ok while one of its deployments can take a request.
#[cfg(feature = "router")]
async fn model_check(r: &runtime_router::Router, model: &str) -> ReadyCheck {
    let name = format!("model:{model}");
    let status = match tokio::time::timeout(PROBE_TIMEOUT, r.status(model)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            return ReadyCheck {
                name,
                ok: false,
                degraded: false,
                detail: format!("no routing state: {e}"),
            };
        }
        Err(_) => {
            return ReadyCheck {
                name,
                ok: false,
                degraded: false,
                detail: format!(
                    "no routing state within {}s (shared state store slow)",
                    PROBE_TIMEOUT.as_secs()
                ),
            };
        }
    };
    let mut out = Vec::new();
    for d in &status {
        if !d.healthy {
            out.push(format!("{} (health check failing)", d.name));
        } else if let Some(left) = d.cooldown_remaining {
            out.push(format!(
                "{} (cooling down, {:.1}s left)",
                d.name,
                left.as_secs_f64()
            ));
        }
    }
    let usable = status.len() - out.len();
    let detail = if out.is_empty() {
        format!("{usable} of {} deployments available", status.len())
    } else if usable == 0 {
        format!("no healthy deployment: {}", out.join(", "))
    } else {
        format!(
            "{usable} of {} deployments available; out: {}",
            status.len(),
            out.join(", ")
        )
    };
    ReadyCheck {
        name,
        ok: usable > 0,
        degraded: usable > 0 && !out.is_empty(),
        detail,
    }
}
