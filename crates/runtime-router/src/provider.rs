//! The router as a [`Service`]: chat, completion, embeddings and rankings routed; counting
//! asked of the deployments in order; capabilities and models the union of its deployments'.

use async_trait::async_trait;
use runtime_core::{
    Call, Capabilities, Error, Failure, HealthStatus, ModelInfo, ModelKind, Op, Reply,
    RequestContext, Result, Service,
};

use crate::config::ModelType;
use crate::model::LogicalModel;
use crate::router::Router;

#[async_trait]
impl Service for Router {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::new().list_models(true);
        for m in self.inner.models.values() {
            for d in &m.deployments {
                let c = d.caps;
                caps.chat |= c.chat;
                caps.streaming |= c.streaming;
                caps.tools |= c.tools;
                caps.vision |= c.vision;
                caps.json_schema |= c.json_schema;
                caps.completion |= c.completion || c.chat;
                caps.embeddings |= c.embeddings;
                caps.rerank |= c.rerank;
                if c.embeddings {
                    caps.max_embedding_inputs =
                        match (caps.max_embedding_inputs, c.max_embedding_inputs) {
                            (Some(a), Some(b)) => Some(a.min(b)),
                            (a, b) => a.or(b),
                        };
                }
            }
        }
        caps
    }

    fn models(&self) -> Vec<ModelInfo> {
        self.inner
            .order
            .iter()
            .filter_map(|n| self.inner.models.get(n))
            .map(|m| model_info(&self.inner.name, m))
            .collect()
    }

    async fn call(&self, call: Call<'_>, ctx: &RequestContext) -> Result<Reply, Failure> {
        match call.op {
            Op::CountTokens(_) => Ok(self.count_tokens(call, ctx).await?),
            Op::ListModels => Ok(Reply::Models(self.models())),
            Op::Health => Ok(Reply::Health(self.health().await)),
            _ => match self.inner.route(call, ctx).await {
                Ok((reply, _)) => Ok(reply),
                Err(e) => Err(e.into_failure()),
            },
        }
    }
}

impl Router {
    /// The deployments of the logical model are asked in their configured order; the first
    /// that can count answers (counting spends nothing, so no routing state is touched).
    /// Deployments whose upstream cannot count are skipped; when none can, `Unsupported`.
    async fn count_tokens(&self, call: Call<'_>, ctx: &RequestContext) -> Result<Reply> {
        let m = self.inner.model(call.model)?;
        let mut last = None;
        for d in &m.deployments {
            let mut c = ctx.clone();
            if !d.keys.is_empty() {
                c.api_key = crate::health::first_live_key(&self.inner, d).await;
            }
            match d.provider.call(call.with_model(&d.model), &c).await {
                Ok(n) => return Ok(n),
                Err(Failure {
                    error: Error::Unsupported { .. },
                    ..
                }) => {}
                Err(f) => last = Some(f.error),
            }
        }
        Err(last.unwrap_or_else(|| Error::unsupported(&self.inner.name, "count_tokens")))
    }

    /// Healthy when every logical model has at least one deployment that is neither down
    /// nor cooling down.
    async fn health(&self) -> HealthStatus {
        let start = std::time::Instant::now();
        let mut bad = Vec::new();
        for name in &self.inner.order {
            let Ok(m) = self.inner.model(name) else {
                continue;
            };
            let flags = self.inner.flags(&m).await;
            let up = (0..m.deployments.len())
                .filter(|i| flags[3 * i].is_none() && flags[3 * i + 2].is_none())
                .count();
            if up == 0 {
                bad.push(name.clone());
            }
        }
        HealthStatus {
            healthy: bad.is_empty(),
            latency: start.elapsed(),
            detail: if bad.is_empty() {
                format!("{} logical models routable", self.inner.order.len())
            } else {
                format!("no available deployment for: {}", bad.join(", "))
            },
        }
    }
}

/// What [`Service::models`] lists for logical model `m` of router `router`.
fn model_info(router: &str, m: &LogicalModel) -> ModelInfo {
    let any = |f: fn(&Capabilities) -> bool| m.deployments.iter().any(|d| f(&d.caps));
    ModelInfo {
        id: m.name.clone(),
        provider: router.to_owned(),
        kind: match m.model_type {
            ModelType::Embedding => ModelKind::Embedding,
            ModelType::Rerank => ModelKind::Other,
            _ => ModelKind::Chat,
        },
        supports_streaming: any(|c| c.streaming),
        supports_tools: any(|c| c.tools),
        supports_vision: any(|c| c.vision),
        supports_json_schema: any(|c| c.json_schema),
        owned_by: Some(router.to_owned()),
        ..ModelInfo::default()
    }
}
