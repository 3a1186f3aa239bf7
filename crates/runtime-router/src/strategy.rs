//! Picking one deployment of a tier by strategy.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rand::Rng;

use crate::config::{RequestKind, Strategy};
use crate::deployment::Deployment;
use crate::state::WindowUsage;

/// What a strategy may look at besides the deployments.
pub(crate) struct PickInput<'a> {
    pub deployments: &'a [Arc<Deployment>],
    /// Indices into `deployments`; never empty.
    pub candidates: &'a [usize],
    pub rr: &'a AtomicUsize,
    /// The request kind (streams compare time to first token, others whole latency).
    pub kind: RequestKind,
    /// Estimated (prompt, completion) tokens, for `lowest_cost`.
    pub cost_tokens: (u64, u64),
    /// Window usage per candidate (same order), for `usage_based`.
    pub usage: &'a [WindowUsage],
}

/// The position in `candidates` of the chosen deployment.
pub(crate) fn pick(strategy: Strategy, inp: &PickInput<'_>) -> usize {
    let n = inp.candidates.len();
    if n <= 1 {
        return 0;
    }
    let dep = |pos: usize| &inp.deployments[inp.candidates[pos]];
    match strategy {
        Strategy::RoundRobin => inp.rr.fetch_add(1, Ordering::Relaxed) % n,
        Strategy::Random => rand::rng().random_range(0..n),
        Strategy::Weighted => {
            let total: u64 = (0..n).map(|p| u64::from(dep(p).weight)).sum();
            if total == 0 {
                return rand::rng().random_range(0..n);
            }
            let mut r = rand::rng().random_range(0..total);
            for p in 0..n {
                let w = u64::from(dep(p).weight);
                if r < w {
                    return p;
                }
                r -= w;
            }
            n - 1
        }
        Strategy::LeastConnections => min_by_rotating(n, inp.rr, |p| dep(p).in_flight() as f64),
        Strategy::LowestLatency => {
            // Power of two choices over PeakEWMA × (in-flight + 1): never stampedes the
            // single fastest deployment.
            let mut rng = rand::rng();
            let a = rng.random_range(0..n);
            let mut b = rng.random_range(0..n - 1);
            if b >= a {
                b += 1;
            }
            let load = |p: usize| {
                let d = dep(p);
                d.ewma(inp.kind).get().unwrap_or(0.0) * (d.in_flight() as f64 + 1.0)
            };
            let (la, lb) = (load(a), load(b));
            // Loads within 5% of each other are a tie: latency noise is not a reason to
            // prefer one deployment every time.
            if (la - lb).abs() <= 0.05 * la.max(lb) {
                if rng.random_bool(0.5) { a } else { b }
            } else if la < lb {
                a
            } else {
                b
            }
        }
        Strategy::LowestCost => min_by_rotating(n, inp.rr, |p| {
            dep(p)
                .pricing
                .map(|pr| pr.estimate(inp.cost_tokens.0, inp.cost_tokens.1))
                .unwrap_or(f64::INFINITY)
        }),
        Strategy::UsageBased => min_by_rotating(n, inp.rr, |p| {
            let d = dep(p);
            let u = inp.usage.get(p).copied().unwrap_or_default();
            let mut headroom: f64 = 1.0;
            if let Some(r) = d.limits.rpm.filter(|r| *r > 0) {
                headroom = headroom.min(r.saturating_sub(u.requests) as f64 / r as f64);
            }
            if let Some(t) = d.limits.tpm.filter(|t| *t > 0) {
                headroom = headroom.min(t.saturating_sub(u.tokens) as f64 / t as f64);
            }
            -headroom
        }),
    }
}

/// The position with the smallest score; ties go to the first one after a rotating start,
/// so equal deployments share the load.
fn min_by_rotating(n: usize, rr: &AtomicUsize, score: impl Fn(usize) -> f64) -> usize {
    let start = rr.fetch_add(1, Ordering::Relaxed) % n;
    let mut best = start;
    let mut best_score = score(start);
    for k in 1..n {
        let p = (start + k) % n;
        let s = score(p);
        if s < best_score {
            best = p;
            best_score = s;
        }
    }
    best
}
