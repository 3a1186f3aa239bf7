//! The provider at the top of the stack: sends `provider/model` to that provider instance (and
//! logical models to the router, when there is one).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use runtime_core::{
    Capabilities, ChatRequest, ChatResponse, ChatStream, CompletionRequest, CompletionResponse,
    EmbeddingRequest, EmbeddingResponse, Error, ModelInfo, Provider, ProviderRegistry,
    RequestContext, RerankRequest, RerankResponse, Result,
};

use crate::listing::ListingCache;

/// Resolves a model name to the provider that serves it and the model to send.
pub struct Dispatcher {
    registry: Arc<ProviderRegistry>,
    logical: Option<Arc<dyn Provider>>,
    logical_names: Vec<String>,
    listings: ListingCache,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("logical_names", &self.logical_names)
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher over the registry's instances and, optionally, a router that serves the
    /// named logical models.
    pub fn new(
        registry: Arc<ProviderRegistry>,
        logical: Option<Arc<dyn Provider>>,
        logical_names: Vec<String>,
    ) -> Self {
        Self {
            registry,
            logical,
            logical_names,
            listings: ListingCache::default(),
        }
    }

    /// Keeps each provider's live model listing for `ttl`, and the static catalog that stands
    /// in for a failed listing for `failed_ttl` (defaults:
    /// [`DEFAULT_LISTING_TTL`](crate::listing::DEFAULT_LISTING_TTL),
    /// [`FAILED_LISTING_TTL`](crate::listing::FAILED_LISTING_TTL)).
    pub fn with_listing_ttl(mut self, ttl: Duration, failed_ttl: Duration) -> Self {
        self.listings = ListingCache::new(ttl, failed_ttl);
        self
    }

    /// The provider and the model to send for `model`.
    pub fn resolve(&self, model: &str) -> Result<(Arc<dyn Provider>, Option<String>)> {
        if let Some(router) = &self.logical {
            if self.logical_names.iter().any(|n| n == model) {
                return Ok((router.clone(), None));
            }
        }
        let Some((instance, rest)) = model.split_once('/') else {
            return Err(self.not_found(model));
        };
        if self.registry.get(instance).is_none() && self.registry.factory(instance).is_err() {
            return Err(self.not_found(model));
        }
        Ok((
            resolve_instance(&self.registry, instance)?,
            Some(rest.to_owned()),
        ))
    }

    fn not_found(&self, model: &str) -> Error {
        let mut known = self.registry.instances();
        known.extend(self.logical_names.iter().cloned());
        Error::ModelNotFound {
            provider: "model-runtime".into(),
            model: model.to_owned(),
            message: format!(
                "use `<provider>/<model>` with a configured provider ({}) or a logical model{}",
                self.registry.instances().join(", "),
                if self.logical_names.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", self.logical_names.join(", "))
                }
            ),
        }
    }
}

/// A provider instance by name: a configured one, or a linked provider type built from the
/// environment — whose error, when a credential is missing, says exactly what to set.
pub(crate) fn resolve_instance(
    registry: &ProviderRegistry,
    instance: &str,
) -> Result<Arc<dyn Provider>> {
    if let Some(p) = registry.get(instance) {
        return Ok(p);
    }
    registry.build(instance, instance, &serde_json::Map::new())
}

fn with_model<T: Clone>(
    req: &T,
    model: Option<String>,
    set: impl FnOnce(&mut T, String),
) -> std::borrow::Cow<'_, T> {
    match model {
        None => std::borrow::Cow::Borrowed(req),
        Some(m) => {
            let mut r = req.clone();
            set(&mut r, m);
            std::borrow::Cow::Owned(r)
        }
    }
}

#[async_trait]
impl Provider for Dispatcher {
    fn name(&self) -> &str {
        "model-runtime"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
            .vision(true)
            .json_schema(true)
            .embeddings(true)
            .rerank(true)
            .list_models(true)
    }

    async fn chat(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatResponse> {
        let (p, m) = self.resolve(&req.model)?;
        p.chat(&with_model(req, m, |r, m| r.model = m), ctx).await
    }

    async fn chat_stream(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatStream> {
        let (p, m) = self.resolve(&req.model)?;
        p.chat_stream(&with_model(req, m, |r, m| r.model = m), ctx)
            .await
    }

    async fn complete(
        &self,
        req: &CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<CompletionResponse> {
        let (p, m) = self.resolve(&req.model)?;
        p.complete(&with_model(req, m, |r, m| r.model = m), ctx)
            .await
    }

    async fn complete_stream(
        &self,
        req: &CompletionRequest,
        ctx: &RequestContext,
    ) -> Result<ChatStream> {
        let (p, m) = self.resolve(&req.model)?;
        p.complete_stream(&with_model(req, m, |r, m| r.model = m), ctx)
            .await
    }

    async fn embed(
        &self,
        req: &EmbeddingRequest,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        let (p, m) = self.resolve(&req.model)?;
        p.embed(&with_model(req, m, |r, m| r.model = m), ctx).await
    }

    async fn count_tokens(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<u64> {
        let (p, m) = self.resolve(&req.model)?;
        p.count_tokens(&with_model(req, m, |r, m| r.model = m), ctx)
            .await
    }

    async fn rerank(&self, req: &RerankRequest, ctx: &RequestContext) -> Result<RerankResponse> {
        let (p, m) = self.resolve(&req.model)?;
        p.rerank(&with_model(req, m, |r, m| r.model = m), ctx).await
    }

    fn models(&self) -> Vec<ModelInfo> {
        let mut out = Vec::new();
        if let Some(r) = &self.logical {
            out.extend(r.models());
        }
        for name in self.registry.instances() {
            if let Some(p) = self.registry.get(&name) {
                out.extend(p.models().into_iter().map(|mut m| {
                    m.id = format!("{name}/{}", m.id);
                    m
                }));
            }
        }
        out
    }

    async fn list_models(&self, ctx: &RequestContext) -> Result<Vec<ModelInfo>> {
        let mut out = Vec::new();
        if let Some(r) = &self.logical {
            out.extend(r.list_models(ctx).await?);
        }
        // Every provider at once; one failing to list falls back to its static catalog and
        // does not hide the others.
        let instances: Vec<(String, Arc<dyn Provider>)> = self
            .registry
            .instances()
            .into_iter()
            .filter_map(|name| self.registry.get(&name).map(|p| (name, p)))
            .collect();
        let listings = futures::future::join_all(
            instances
                .iter()
                .map(|(name, p)| self.listings.get(name, p.as_ref(), ctx)),
        )
        .await;
        for ((name, _), models) in instances.iter().zip(listings) {
            out.extend(models.iter().map(|m| ModelInfo {
                id: format!("{name}/{}", m.id),
                ..m.clone()
            }));
        }
        Ok(out)
    }
}
