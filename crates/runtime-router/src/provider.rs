//! The router as a [`Provider`]: every operation routed, capabilities and models the union
//! of its deployments'.

use async_trait::async_trait;
use runtime_core::{
    Capabilities, ChatRequest, ChatResponse, ChatStream, CompletionRequest, CompletionResponse,
    EmbeddingRequest, EmbeddingResponse, Error, HealthStatus, ModelInfo, ModelKind, Provider,
    RequestContext, RerankRequest, RerankResponse, Result,
};

use crate::call::{Call, Out};
use crate::config::ModelType;
use crate::error::internal;
use crate::model::LogicalModel;
use crate::router::Router;

#[async_trait]
impl Provider for Router {
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

    async fn chat(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatResponse> {
        self.chat_routed(req, ctx)
            .await
            .map(|r| r.value)
            .map_err(|e| e.report(ctx))
    }

    async fn chat_stream(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatStream> {
        self.chat_stream_routed(req, ctx)
            .await
            .map(|r| r.value)
            .map_err(|e| e.report(ctx))
    }

    async fn complete(
        &self,
        req: &CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<CompletionResponse> {
        match self.inner.route(Call::Complete(req), ctx).await {
            Ok((Out::Complete(r), _)) => Ok(r),
            Ok((_, a)) => Err(internal(a).error),
            Err(e) => Err(e.report(ctx)),
        }
    }

    async fn complete_stream(
        &self,
        req: &CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        match self.inner.route(Call::CompleteStream(req), ctx).await {
            Ok((Out::Stream(s), _)) => Ok(s),
            Ok((_, a)) => Err(internal(a).error),
            Err(e) => Err(e.report(ctx)),
        }
    }

    async fn embed(
        &self,
        req: &EmbeddingRequest,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        self.embed_routed(req, ctx)
            .await
            .map(|r| r.value)
            .map_err(|e| e.report(ctx))
    }

    /// The deployments of the logical model are asked in their configured order; the first
    /// that can count answers (counting spends nothing, so no routing state is touched).
    /// Deployments whose upstream cannot count are skipped; when none can, `Unsupported`.
    async fn count_tokens(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<u64> {
        let m = self.inner.model(&req.model)?;
        let mut last = None;
        for d in &m.deployments {
            let mut r = req.clone();
            r.model.clone_from(&d.model);
            let mut c = ctx.clone();
            if !d.keys.is_empty() {
                c.api_key = crate::health::first_live_key(&self.inner, d).await;
            }
            match d.provider.count_tokens(&r, &c).await {
                Ok(n) => return Ok(n),
                Err(Error::Unsupported { .. }) => {}
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::unsupported(&self.inner.name, "count_tokens")))
    }

    async fn rerank(&self, req: &RerankRequest, ctx: &RequestContext) -> Result<RerankResponse> {
        self.rerank_routed(req, ctx)
            .await
            .map(|r| r.value)
            .map_err(|e| e.report(ctx))
    }

    fn models(&self) -> Vec<ModelInfo> {
        self.inner
            .order
            .iter()
            .filter_map(|n| self.inner.models.get(n))
            .map(|m| model_info(&self.inner.name, m))
            .collect()
    }

    async fn list_models(&self, _ctx: &RequestContext) -> Result<Vec<ModelInfo>> {
        Ok(self.models())
    }

    /// Healthy when every logical model has at least one deployment that is neither down
    /// nor cooling down.
    async fn health(&self, _ctx: &RequestContext) -> Result<HealthStatus> {
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
        Ok(HealthStatus {
            healthy: bad.is_empty(),
            latency: start.elapsed(),
            detail: if bad.is_empty() {
                format!("{} logical models routable", self.inner.order.len())
            } else {
                format!("no available deployment for: {}", bad.join(", "))
            },
        })
    }
}

/// What [`Provider::models`] lists for logical model `m` of router `router`.
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
