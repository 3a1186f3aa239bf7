//! The innermost layer of the stack: sends `provider/model` to that provider instance,
//! re-targeted to `model` (the body is not copied), and logical models to the router, when
//! there is one.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use runtime_core::{
    Call, Capabilities, Error, Failure, HealthStatus, ModelInfo, Op, Provider, ProviderRegistry,
    Reply, RequestContext, Result, Service,
};

use crate::listing::ListingCache;

/// Resolves a model name to the provider that serves it and the model to send.
pub struct Dispatcher {
    registry: Arc<ProviderRegistry>,
    logical: Option<Arc<dyn Service>>,
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
        logical: Option<Arc<dyn Service>>,
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

    /// Who serves `model`: the router (a logical model), or a provider instance and the
    /// model to send it.
    pub fn resolve<'m>(&self, model: &'m str) -> Result<Resolved<'m>> {
        if let Some(router) = &self.logical {
            if self.logical_names.iter().any(|n| n == model) {
                return Ok(Resolved::Logical(router.clone()));
            }
        }
        let Some((instance, rest)) = model.split_once('/') else {
            return Err(self.not_found(model));
        };
        if self.registry.get(instance).is_none() && self.registry.factory(instance).is_err() {
            return Err(self.not_found(model));
        }
        Ok(Resolved::Instance(
            resolve_instance(&self.registry, instance)?,
            rest,
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

/// Who serves a model ([`Dispatcher::resolve`]).
pub enum Resolved<'m> {
    /// The router, for a logical model.
    Logical(Arc<dyn Service>),
    /// A provider instance and the model to send it (`model` of `provider/model`).
    Instance(Arc<dyn Provider>, &'m str),
}

impl std::fmt::Debug for Resolved<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Resolved::Logical(r) => write!(f, "Logical({})", r.name()),
            Resolved::Instance(p, m) => write!(f, "Instance({}, {m})", p.name()),
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

#[async_trait]
impl Service for Dispatcher {
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

    /// Listings and probes are the dispatcher's own; every other call goes to the service
    /// its model names.
    async fn call(&self, call: Call<'_>, ctx: &RequestContext) -> Result<Reply, Failure> {
        match call.op {
            Op::ListModels => return Ok(Reply::Models(self.list_models(ctx).await?)),
            Op::Health => {
                let start = std::time::Instant::now();
                let models = self.list_models(ctx).await?;
                return Ok(Reply::Health(HealthStatus {
                    healthy: true,
                    latency: start.elapsed(),
                    detail: format!("{} models listed", models.len()),
                }));
            }
            _ => {}
        }
        match self.resolve(call.model)? {
            Resolved::Logical(router) => router.call(call, ctx).await,
            Resolved::Instance(p, model) => {
                Ok(runtime_core::call::serve(&*p, call.with_model(model), ctx).await?)
            }
        }
    }
}

impl Dispatcher {
    /// The router's models and every instance's live listing, as `provider/model`.
    async fn list_models(&self, ctx: &RequestContext) -> Result<Vec<ModelInfo>> {
        let mut out = Vec::new();
        if let Some(r) = &self.logical {
            out.extend(r.call(Call::list_models(), ctx).await?.into_models()?);
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
