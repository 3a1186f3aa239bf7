//! Providers' live model listings, kept for a while.
//!
//! `GET /v1/models` and [`Provider::list_models`] on the runtime would otherwise ask every
//! provider on every call: slow (one round trip each), and a cost against the provider's own
//! rate limits. A listing is kept for [`DEFAULT_LISTING_TTL`]; a failed one falls back to the
//! provider's static catalog, kept for [`FAILED_LISTING_TTL`] so a provider that is down is
//! not asked again on every call. Concurrent callers of a stale listing share one request. A
//! request with its own upstream key (`RequestContext::api_key`) is never served from, nor
//! stored in, the shared listing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use runtime_core::{ModelInfo, Provider, RequestContext};
use tokio::time::Instant;

/// How long a provider's listing is reused.
pub const DEFAULT_LISTING_TTL: Duration = Duration::from_secs(300);
/// How long the static catalog stands in after a listing failed.
pub const FAILED_LISTING_TTL: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct Fresh {
    at: Instant,
    ttl: Duration,
    models: Arc<Vec<ModelInfo>>,
}

/// Listings by provider instance; one async lock per instance makes concurrent callers of a
/// stale entry wait for one request instead of each sending their own.
#[derive(Debug)]
pub struct ListingCache {
    ttl: Duration,
    failed_ttl: Duration,
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Option<Fresh>>>>>,
}

impl Default for ListingCache {
    fn default() -> Self {
        Self::new(DEFAULT_LISTING_TTL, FAILED_LISTING_TTL)
    }
}

impl ListingCache {
    /// Listings kept for `ttl`, failed ones (static catalog) for `failed_ttl`.
    pub fn new(ttl: Duration, failed_ttl: Duration) -> Self {
        Self {
            ttl,
            failed_ttl,
            slots: Mutex::new(HashMap::new()),
        }
    }

    /// The models of `provider` (instance `name`): its live listing when fresh or fetched now,
    /// else its static catalog.
    pub async fn get(
        &self,
        name: &str,
        provider: &dyn Provider,
        ctx: &RequestContext,
    ) -> Arc<Vec<ModelInfo>> {
        if ctx.api_key.is_some() {
            return Arc::new(Self::fetch(name, provider, ctx).await.0);
        }
        let slot = self
            .slots
            .lock()
            .entry(name.to_owned())
            .or_default()
            .clone();
        let mut entry = slot.lock().await;
        if let Some(f) = entry.as_ref() {
            if f.at.elapsed() < f.ttl {
                return f.models.clone();
            }
        }
        let (models, listed) = Self::fetch(name, provider, ctx).await;
        let models = Arc::new(models);
        // A listing cut short by this caller's cancellation says nothing about the provider.
        if listed || !ctx.cancel.is_cancelled() {
            *entry = Some(Fresh {
                at: Instant::now(),
                ttl: if listed { self.ttl } else { self.failed_ttl },
                models: models.clone(),
            });
        }
        models
    }

    /// The live listing (`true`), or the static catalog after a failure (`false`).
    async fn fetch(
        name: &str,
        provider: &dyn Provider,
        ctx: &RequestContext,
    ) -> (Vec<ModelInfo>, bool) {
        match provider.list_models(ctx).await {
            Ok(m) => (m, true),
            Err(e) => {
                tracing::warn!(provider = %name, error = %e, "model listing failed; using the static catalog");
                (provider.models(), false)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    use async_trait::async_trait;
    use runtime_core::{
        Capabilities, ChatRequest, ChatResponse, ChatStream, Error, Result, Secret,
    };

    use super::*;

    /// A provider whose live listing is counted, can fail, and takes a little while.
    #[derive(Default)]
    struct Lister {
        calls: AtomicUsize,
        failing: AtomicBool,
    }

    fn model(id: &str) -> ModelInfo {
        ModelInfo {
            id: id.into(),
            ..ModelInfo::default()
        }
    }

    #[async_trait]
    impl Provider for Lister {
        fn name(&self) -> &str {
            "lister"
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::default()
        }
        async fn chat(&self, _: &ChatRequest, _: &RequestContext) -> Result<ChatResponse> {
            Err(Error::unsupported("lister", "chat"))
        }
        async fn chat_stream(&self, _: &ChatRequest, _: &RequestContext) -> Result<ChatStream> {
            Err(Error::unsupported("lister", "chat"))
        }
        fn models(&self) -> Vec<ModelInfo> {
            vec![model("static")]
        }
        async fn list_models(&self, _: &RequestContext) -> Result<Vec<ModelInfo>> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
            if self.failing.load(Ordering::SeqCst) {
                return Err(Error::unsupported("lister", "listing"));
            }
            Ok(vec![model(&format!("live-{n}"))])
        }
    }

    fn ids(models: &[ModelInfo]) -> Vec<&str> {
        models.iter().map(|m| m.id.as_str()).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_listing_is_reused_until_its_ttl_then_fetched_again() {
        let p = Lister::default();
        let cache = ListingCache::new(Duration::from_millis(300), Duration::from_millis(300));
        let ctx = RequestContext::new();
        assert_eq!(ids(&cache.get("p", &p, &ctx).await), ["live-1"]);
        assert_eq!(ids(&cache.get("p", &p, &ctx).await), ["live-1"]);
        assert_eq!(p.calls.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(ids(&cache.get("p", &p, &ctx).await), ["live-2"]);
        // Another instance has its own entry.
        assert_eq!(ids(&cache.get("q", &p, &ctx).await), ["live-3"]);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_callers_of_a_stale_listing_share_one_request() {
        let p = Lister::default();
        let cache = ListingCache::default();
        let ctx = RequestContext::new();
        let all = futures::future::join_all((0..20).map(|_| cache.get("p", &p, &ctx))).await;
        assert!(all.iter().all(|m| ids(m) == ["live-1"]));
        assert_eq!(p.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_listing_serves_the_static_catalog_for_the_shorter_ttl() {
        let p = Lister::default();
        p.failing.store(true, Ordering::SeqCst);
        let cache = ListingCache::new(Duration::from_secs(60), Duration::from_millis(200));
        let ctx = RequestContext::new();
        assert_eq!(ids(&cache.get("p", &p, &ctx).await), ["static"]);
        // Not asked again while the failure is fresh…
        assert_eq!(ids(&cache.get("p", &p, &ctx).await), ["static"]);
        assert_eq!(p.calls.load(Ordering::SeqCst), 1);
        // …and asked again once it is not; a recovered provider's listing is then kept.
        p.failing.store(false, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(ids(&cache.get("p", &p, &ctx).await), ["live-2"]);
        assert_eq!(ids(&cache.get("p", &p, &ctx).await), ["live-2"]);
        assert_eq!(p.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_with_its_own_key_is_neither_served_nor_stored() {
        let p = Lister::default();
        let cache = ListingCache::default();
        let shared = RequestContext::new();
        assert_eq!(ids(&cache.get("p", &p, &shared).await), ["live-1"]);
        let mut own = RequestContext::new();
        own.api_key = Some(Secret::new("sk-caller"));
        assert_eq!(ids(&cache.get("p", &p, &own).await), ["live-2"]);
        assert_eq!(ids(&cache.get("p", &p, &shared).await), ["live-1"]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_callers_failure_is_not_stored() {
        let p = Lister::default();
        p.failing.store(true, Ordering::SeqCst);
        let cache = ListingCache::default();
        let ctx = RequestContext::new();
        ctx.cancel.cancel();
        assert_eq!(ids(&cache.get("p", &p, &ctx).await), ["static"]);
        p.failing.store(false, Ordering::SeqCst);
        let ctx = RequestContext::new();
        assert_eq!(ids(&cache.get("p", &p, &ctx).await), ["live-2"]);
    }
}
