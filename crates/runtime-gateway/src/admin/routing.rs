//! `/admin/routing`: each logical model's deployments as this replica sees them — healthy,
//! circuit (closed, open until when, half-open), calls in flight, latency estimates, recent
//! errors.

use runtime_governance::AdminError;
use serde_json::json;

use super::answer::{AdminCtx, Answer, ok};

pub(super) async fn routing(ctx: &AdminCtx<'_>) -> Result<Answer, AdminError> {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut models = Vec::new();
    if let Some(router) = ctx.runtime.router() {
        for name in router.model_names() {
            let status = router.status(name).await.map_err(AdminError::unavailable)?;
            let deployments: Vec<_> = status
                .iter()
                .map(|d| {
                    let circuit = if d.cooldown_remaining.is_some() {
                        "open"
                    } else if d.half_open {
                        "half_open"
                    } else {
                        "closed"
                    };
                    json!({
                        "name": d.name,
                        "provider": d.provider,
                        "model": d.model,
                        "healthy": d.healthy,
                        "circuit": circuit,
                        "cooling_down_until": d.cooldown_remaining.map(|r| (now_ms + r.as_millis() as u64) / 1000),
                        "in_flight": d.in_flight,
                        "latency_ewma_s": d.latency_ewma,
                        "ttft_ewma_s": d.ttft_ewma,
                        "dead_keys": d.dead_keys,
                        "recent_errors": d.recent_errors,
                    })
                })
                .collect();
            models.push(json!({"model": name, "deployments": deployments}));
        }
    }
    Ok(ok(json!({"object": "routing", "data": models})))
}
