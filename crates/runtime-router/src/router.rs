//! The router façade: [`Router`], its routed calls and its diagnostics.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use runtime_core::{
    Call, ChatRequest, ChatResponse, ChatStream, EmbeddingRequest, EmbeddingResponse, Error,
    FromReply, RequestContext, RerankRequest, RerankResponse, Result,
};
use serde::Serialize;

use crate::config::RequestKind;
use crate::deployment::Needs;
use crate::error::{RouteError, Routed, internal};
use crate::health::HealthTasks;
use crate::inner::Inner;
use crate::select::{Pick, Want};

/// The state of one deployment, for dashboards and tests.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeploymentStatus {
    /// Deployment name.
    pub name: String,
    /// Provider instance.
    pub provider: String,
    /// Provider model.
    pub model: String,
    /// False when the active health check found it down.
    pub healthy: bool,
    /// Time left in cooldown (circuit open), if cooling down.
    pub cooldown_remaining: Option<Duration>,
    /// True when the circuit is half-open (the next request is a trial).
    pub half_open: bool,
    /// Calls under way from this process.
    pub in_flight: usize,
    /// Indices of keys currently marked dead.
    pub dead_keys: Vec<usize>,
    /// Current latency average of whole answers, in seconds.
    pub latency_ewma: Option<f64>,
    /// Current time-to-first-token average of streams, in seconds.
    pub ttft_ewma: Option<f64>,
    /// Its last errors, newest first (at most 5, from this process).
    pub recent_errors: Vec<crate::recent::RecentError>,
}

/// Routes requests for logical models to deployments. Implements
/// [`Service`](runtime_core::Service).
///
/// Build with [`Router::builder`]. Active health checks run until [`Router::shutdown`] or
/// until the router is dropped.
pub struct Router {
    pub(crate) inner: Arc<Inner>,
    pub(crate) health: Mutex<Option<HealthTasks>>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("name", &self.inner.name)
            .field("models", &self.inner.order)
            .finish_non_exhaustive()
    }
}

impl Router {
    /// The logical model names, in config order.
    pub fn model_names(&self) -> &[String] {
        &self.inner.order
    }

    /// Stops the active health checks and waits for them to end.
    pub async fn shutdown(&self) {
        let tasks = self.health.lock().take();
        if let Some(t) = tasks {
            t.shutdown().await;
        }
    }

    /// Whether active health-check tasks are running.
    pub fn health_tasks_running(&self) -> usize {
        self.health.lock().as_ref().map_or(0, HealthTasks::running)
    }

    /// The state of every deployment of `model`.
    pub async fn status(&self, model: &str) -> Result<Vec<DeploymentStatus>> {
        let m = self.inner.model(model)?;
        let flags = self.inner.flags(&m).await;
        let mut out = Vec::with_capacity(m.deployments.len());
        for (i, d) in m.deployments.iter().enumerate() {
            let dead_keys = if d.keys.is_empty() {
                Vec::new()
            } else {
                let refs: Vec<&str> = d.skeys.keys.iter().map(String::as_str).collect();
                let kf = self
                    .inner
                    .store
                    .flags(&refs)
                    .await
                    .unwrap_or_else(|_| vec![None; refs.len()]);
                kf.iter()
                    .enumerate()
                    .filter(|(_, f)| f.is_some())
                    .map(|(k, _)| k)
                    .collect()
            };
            out.push(DeploymentStatus {
                name: d.name.to_string(),
                provider: d.provider_name.clone(),
                model: d.model.clone(),
                healthy: flags[3 * i + 2].is_none(),
                cooldown_remaining: flags[3 * i],
                half_open: flags[3 * i].is_none() && flags[3 * i + 1].is_some(),
                in_flight: d.in_flight(),
                dead_keys,
                latency_ewma: d.latency.get(),
                ttft_ewma: d.ttft.get(),
                recent_errors: d.recent_errors.snapshot(),
            });
        }
        Ok(out)
    }

    /// Runs the routing decision alone, as a request of `kind` for `model` would: the
    /// deployment it returns counts the request against its rate limit (when it has one)
    /// and, when half-open, holds its trial. For diagnostics and benchmarks.
    pub async fn choose(&self, model: &str, kind: RequestKind) -> Result<String> {
        let m = self.inner.model(model)?;
        let strategy = m.strategy_for(kind);
        let want = Want {
            kind,
            needs: Needs::default(),
        };
        match self
            .inner
            .select(&m, want, strategy, &[], &[], (0, 0))
            .await
        {
            Pick::Got(c) => Ok(m.deployments[c.idx].name.to_string()),
            Pick::Limited(ra) => Err(Error::RateLimited {
                provider: self.inner.name.clone(),
                model: m.name.clone(),
                retry_after: Some(ra),
                message: "every deployment is at its rate limit".into(),
            }),
            Pick::Unavailable(u) => Err(self.inner.no_healthy(&m, u)),
        }
    }

    /// A chat answer with the attempts it took.
    pub async fn chat_routed(
        &self,
        req: &ChatRequest,
        ctx: &RequestContext,
    ) -> Result<Routed<ChatResponse>, RouteError> {
        self.routed(Call::chat(req), ctx).await
    }

    /// A streamed chat answer with the attempts it took before committing.
    pub async fn chat_stream_routed(
        &self,
        req: &ChatRequest,
        ctx: &RequestContext,
    ) -> Result<Routed<ChatStream>, RouteError> {
        self.routed(Call::chat_stream(req), ctx).await
    }

    /// Embeddings with the attempts they took.
    pub async fn embed_routed(
        &self,
        req: &EmbeddingRequest,
        ctx: &RequestContext,
    ) -> Result<Routed<EmbeddingResponse>, RouteError> {
        self.routed(Call::embed(req), ctx).await
    }

    /// A ranking with the attempts it took.
    pub async fn rerank_routed(
        &self,
        req: &RerankRequest,
        ctx: &RequestContext,
    ) -> Result<Routed<RerankResponse>, RouteError> {
        self.routed(Call::rerank(req), ctx).await
    }

    /// Any routed call's answer as `T`, with the attempts it took.
    pub async fn routed<T: FromReply>(
        &self,
        call: Call<'_>,
        ctx: &RequestContext,
    ) -> Result<Routed<T>, RouteError> {
        let (out, attempts) = self.inner.route(call, ctx).await?;
        match T::from_reply(out) {
            Ok(value) => Ok(Routed { value, attempts }),
            Err(_) => Err(internal(attempts)),
        }
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        if let Some(t) = self.health.get_mut().take() {
            t.abort();
        }
    }
}
