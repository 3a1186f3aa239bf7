//! The router's families in the Prometheus text format: its counters ([`crate::stats`])
//! and the state of each deployment (health, circuit, cooldown, in flight, queue). Every
//! family has `# HELP` and `# TYPE`, written through [`runtime_core::prom`].

use std::sync::Arc;
use std::sync::atomic::Ordering;

use runtime_core::prom::{Family, Kind};

use crate::model::LogicalModel;
use crate::router::Router;
use crate::stats::ModelStats;

impl Router {
    /// The router's families in the Prometheus text format (`modelrt_router_*`): attempts by
    /// deployment and outcome, retries, failovers and fallbacks by model, and per deployment
    /// its health, circuit state (0 closed, 1 half-open, 2 open), cooldown left and calls in
    /// flight, and per model the requests waiting in its queue. Reads the shared state store
    /// for the deployment states.
    pub async fn metrics_text(&self) -> String {
        let inner = &self.inner;
        let mut out = String::new();
        let models: Vec<(&String, &ModelStats, &Arc<LogicalModel>)> = inner
            .order
            .iter()
            .filter_map(|n| Some((n, inner.stats.models.get(n)?, inner.models.get(n)?)))
            .collect();
        let mut f = Family::new(
            &mut out,
            "modelrt_router_attempts_total",
            Kind::Counter,
            "Router attempts at a deployment, by outcome (ok or error).",
        );
        for (name, s, m) in &models {
            for (d, a) in m.deployments.iter().zip(&s.attempts) {
                for (outcome, n) in [("ok", &a[0]), ("error", &a[1])] {
                    f.sample(
                        &[
                            ("model", name),
                            ("deployment", &d.name),
                            ("outcome", &outcome),
                        ],
                        n.load(Ordering::Relaxed),
                    );
                }
            }
        }
        for (family, help, get) in [
            (
                "modelrt_router_retries_total",
                "Attempts again at a deployment the request already tried.",
                (|s: &ModelStats| s.retries.load(Ordering::Relaxed)) as fn(&ModelStats) -> u64,
            ),
            (
                "modelrt_router_failovers_total",
                "Attempts moved to another deployment after a failure.",
                |s: &ModelStats| s.failovers.load(Ordering::Relaxed),
            ),
            (
                "modelrt_router_fallbacks_total",
                "Requests moved from this model to one of its fallback models.",
                |s: &ModelStats| s.fallbacks.load(Ordering::Relaxed),
            ),
        ] {
            let mut f = Family::new(&mut out, family, Kind::Counter, help);
            for (name, s, _) in &models {
                f.sample(&[("model", name)], get(s));
            }
        }
        let mut f = Family::new(
            &mut out,
            "modelrt_router_queue_waiting",
            Kind::Gauge,
            "Requests waiting in the model's queue for a deployment.",
        );
        for (name, _, m) in &models {
            f.sample(&[("model", name)], m.queue_waiting());
        }
        let mut states = Vec::new();
        for (name, _, _) in &models {
            if let Ok(st) = self.status(name).await {
                states.push((name, st));
            }
        }
        for (family, help) in [
            (
                "modelrt_router_deployment_healthy",
                "1 while the deployment passes its active health check (or has none), else 0.",
            ),
            (
                "modelrt_router_deployment_circuit_state",
                "The deployment's circuit: 0 closed, 1 half-open (next request is a trial), 2 open (cooling down).",
            ),
            (
                "modelrt_router_deployment_cooldown_seconds",
                "Time left in the deployment's cooldown (0 when not cooling down).",
            ),
            (
                "modelrt_router_deployment_in_flight",
                "Calls under way at the deployment from this process.",
            ),
        ] {
            let mut f = Family::new(&mut out, family, Kind::Gauge, help);
            for (model, st) in &states {
                for d in st {
                    let v = match family {
                        "modelrt_router_deployment_healthy" => f64::from(u8::from(d.healthy)),
                        "modelrt_router_deployment_circuit_state" => {
                            if d.cooldown_remaining.is_some() {
                                2.0
                            } else if d.half_open {
                                1.0
                            } else {
                                0.0
                            }
                        }
                        "modelrt_router_deployment_cooldown_seconds" => {
                            d.cooldown_remaining.map_or(0.0, |c| c.as_secs_f64())
                        }
                        _ => d.in_flight as f64,
                    };
                    f.sample(&[("model", model), ("deployment", &d.name)], v);
                }
            }
        }
        out
    }
}
