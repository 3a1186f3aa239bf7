//! The contract of every layer: [`Service`].

use async_trait::async_trait;

use super::op::{Call, Failure, Reply};
use crate::provider::{Capabilities, RequestContext};
use crate::types::ModelInfo;

/// The contract of every layer: one method, [`Service::call`], over calls as data.
///
/// Object-safe: a stack is an `Arc<dyn Service>`. Implemented by the metering and cache
/// layers, the router, the runtime's dispatcher, and — through
/// [`ProviderService`](crate::ProviderService) — by every [`Provider`](crate::Provider).
#[async_trait]
pub trait Service: Send + Sync + 'static {
    /// The instance name (a provider's, or the layer's own).
    fn name(&self) -> &str;

    /// What the service can do.
    fn capabilities(&self) -> Capabilities;

    /// The static catalog of models the service knows (may be empty).
    fn models(&self) -> Vec<ModelInfo> {
        Vec::new()
    }

    /// Serves one call. A layer matches the operations it cares about and hands the rest to
    /// the service it wraps unchanged.
    async fn call(&self, call: Call<'_>, ctx: &RequestContext) -> Result<Reply, Failure>;
}
