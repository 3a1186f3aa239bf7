//! Active health checks: one background task per deployment that asks for it.

use std::sync::Arc;
use std::time::Duration;

use runtime_core::http::{CallInfo, HttpRequestSpec};
use runtime_core::{ChatRequest, Error, Message, RequestContext, Result, Secret, ServiceExt};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::deployment::{Deployment, HealthProbe};
use crate::inner::Inner;

/// The running health tasks; owned by the router.
pub(crate) struct HealthTasks {
    cancel: CancellationToken,
    handles: Vec<JoinHandle<()>>,
}

impl HealthTasks {
    /// Stops the tasks and waits for them.
    pub async fn shutdown(self) {
        self.cancel.cancel();
        for h in self.handles {
            let _ = h.await;
        }
    }

    /// Aborts the tasks without waiting (on drop).
    pub fn abort(self) {
        self.cancel.cancel();
        for h in &self.handles {
            h.abort();
        }
    }

    /// Tasks still running.
    pub fn running(&self) -> usize {
        self.handles.iter().filter(|h| !h.is_finished()).count()
    }
}

/// Starts one task per deployment with an active check (a deployment listed under several
/// models is checked once). Must run inside a tokio runtime.
pub(crate) fn spawn(inner: &Arc<Inner>) -> HealthTasks {
    let cancel = CancellationToken::new();
    let mut handles = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for name in &inner.order {
        let Some(m) = inner.models.get(name) else {
            continue;
        };
        for d in &m.deployments {
            if d.probe.is_none() || !seen.insert(d.name.clone()) {
                continue;
            }
            let inner = inner.clone();
            let d = d.clone();
            let cancel = cancel.clone();
            handles.push(tokio::spawn(async move {
                run(inner, d, cancel).await;
            }));
        }
    }
    HealthTasks { cancel, handles }
}

async fn run(inner: Arc<Inner>, d: Arc<Deployment>, cancel: CancellationToken) {
    let interval = inner
        .defaults
        .health_check_interval
        .max(Duration::from_millis(10));
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        // One probe per interval for the whole fleet sharing the store.
        match inner.store.try_lock(&d.skeys.probe, interval).await {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                tracing::warn!(deployment = %d.name, error = %e, "health lock failed; probing anyway");
            }
        }
        let result = tokio::select! {
            biased;
            _ = cancel.cancelled() => return,
            r = probe(&inner, &d, interval) => r,
        };
        let store = &inner.store;
        match result {
            Ok(()) => {
                tracing::debug!(deployment = %d.name, "health check passed");
                let _ = store.clear_flags(&[d.skeys.down.as_str()]).await;
            }
            Err(e) => {
                tracing::warn!(deployment = %d.name, error = %e, "health check failed; deployment marked down");
                // The next passing probe (by any router of the fleet) clears it; the expiry
                // only matters when every prober is gone.
                let _ = store
                    .set_flag(&d.skeys.down, interval * 3 + Duration::from_secs(10))
                    .await;
            }
        }
    }
}

async fn probe(inner: &Inner, d: &Deployment, interval: Duration) -> Result<()> {
    let timeout = interval.min(Duration::from_secs(10));
    let mut ctx = RequestContext::new().with_timeout(timeout);
    ctx.api_key = first_live_key(inner, d).await;
    let fut = async {
        match &d.probe {
            Some(HealthProbe::Url(url)) => {
                let http = inner.http.as_ref().ok_or_else(|| Error::InvalidConfig {
                    provider: inner.name.clone(),
                    field: "http".into(),
                    reason: "no HTTP client for health_check_url".into(),
                })?;
                let call =
                    CallInfo::new(Arc::from(d.provider_name.as_str()), &d.model, None, timeout);
                http.bytes(&call, HttpRequestSpec::get(url.clone()), &ctx)
                    .await
                    .map(|_| ())
            }
            Some(HealthProbe::Paid) => {
                let mut req = ChatRequest::new(d.model.clone(), vec![Message::user("ping")]);
                req.max_tokens = Some(1);
                d.provider.chat(&req, &ctx).await.map(|_| ())
            }
            Some(HealthProbe::Provider) | None => {
                let st = d.provider.health(&ctx).await?;
                if st.healthy {
                    Ok(())
                } else {
                    Err(Error::Connect {
                        provider: d.provider_name.clone(),
                        model: d.model.clone(),
                        message: format!("health probe: {}", st.detail),
                    })
                }
            }
        }
    };
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(Error::Timeout {
            provider: d.provider_name.clone(),
            model: d.model.clone(),
            phase: runtime_core::TimeoutPhase::Response,
            after: timeout,
        }),
    }
}

pub(crate) async fn first_live_key(inner: &Inner, d: &Deployment) -> Option<Secret> {
    if d.keys.is_empty() {
        return None;
    }
    let refs: Vec<&str> = d.skeys.keys.iter().map(String::as_str).collect();
    let dead = inner.store.flags(&refs).await.unwrap_or_default();
    d.keys
        .iter()
        .enumerate()
        .find(|(i, _)| dead.get(*i).is_none_or(Option::is_none))
        .map(|(_, k)| k.clone())
        .or_else(|| d.keys.first().cloned())
}
