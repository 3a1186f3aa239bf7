//! `[router]` and `[[models]]`: logical models served by the router over deployments.

use std::sync::Arc;

use runtime_core::{ProviderRegistry, Service};

use crate::config::{Config, ConfigError};

use super::metering::{self, Pricing};
use super::redis::Hub;

/// The router's configuration (with the `router` feature).
#[cfg(feature = "router")]
pub(super) type Routes = runtime_router::RouterConfig;
/// The router's configuration (with the `router` feature).
#[cfg(not(feature = "router"))]
pub(super) type Routes = ();

/// The router, when logical models are configured (with the `router` feature).
#[cfg(feature = "router")]
pub(super) type RouterHandle = Option<Arc<runtime_router::Router>>;
/// The router, when logical models are configured (with the `router` feature).
#[cfg(not(feature = "router"))]
pub(super) type RouterHandle = ();

/// `[router]` and `[[models]]`, validated: each model alone first, so an error names the
/// model it is in. Deployments without prices get the catalog's, and deployment prices
/// become metering overrides (one `pricing` serves lowest-cost routing and cost).
#[cfg(feature = "router")]
pub(super) fn config(config: &Config, pricing: Pricing) -> Result<(Routes, Pricing), ConfigError> {
    for (i, m) in config.models.iter().enumerate() {
        let at = match m.get("name").and_then(|n| n.as_str()) {
            Some(name) => format!("models[{i}] (`{}`)", runtime_core::error::excerpt(name)),
            None => format!("models[{i}]"),
        };
        <runtime_router::ModelConfig as serde::Deserialize>::deserialize(toml::Value::Table(
            m.clone(),
        ))
        .map_err(|e: toml::de::Error| config.invalid(at, e.message().to_owned()))?;
    }
    let mut table = toml::Table::new();
    if let Some(r) = &config.router {
        table.insert("router".into(), toml::Value::Table(r.clone()));
    }
    table.insert(
        "models".into(),
        toml::Value::Array(
            config
                .models
                .iter()
                .cloned()
                .map(toml::Value::Table)
                .collect(),
        ),
    );
    #[allow(unused_mut)]
    let mut rc: Routes = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| config.invalid("models", e.message().to_owned()))?;
    #[cfg(feature = "metrics")]
    let pricing = share_deployment_prices(&mut rc, pricing);
    Ok((rc, pricing))
}

/// Without the `router` feature: logical models are an error.
#[cfg(not(feature = "router"))]
pub(super) fn config(config: &Config, pricing: Pricing) -> Result<(Routes, Pricing), ConfigError> {
    if !config.models.is_empty() {
        return Err(config.invalid("models", "logical models need the `router` feature"));
    }
    Ok(((), pricing))
}

/// The router over the configured deployments (none without logical models). Each
/// deployment is resolved through the registry and wrapped in the attempt meter; its shared
/// state lives in Redis when configured.
#[cfg(feature = "router")]
pub(super) async fn build(
    config: &Config,
    rc: Routes,
    registry: &Arc<ProviderRegistry>,
    metering: &metering::Handle,
    redis: &Hub,
    offline: bool,
) -> Result<RouterHandle, ConfigError> {
    use runtime_core::layer::Layer;
    if rc.models.is_empty() {
        return Ok(None);
    }
    let reg = registry.clone();
    let attempt = metering::attempt_layer(metering);
    #[allow(unused_mut)]
    let mut builder = runtime_router::Router::builder().health_checks(!offline);
    #[cfg(feature = "redis")]
    {
        let d = &rc.router;
        if let Some(cfg) =
            config.component_redis("router", d.redis_url.as_deref(), None, d.redis)?
        {
            builder = builder.redis(redis.get(config, &cfg, "router")?);
        }
    }
    #[cfg(not(feature = "redis"))]
    let _ = redis;
    let r = builder
        .config(rc)
        .resolver(move |instance: &str| {
            let p = crate::dispatch::resolve_instance(&reg, instance)?;
            Ok(attempt.layer(runtime_core::ProviderService::shared(p)))
        })
        .http(registry.http().clone())
        .build_async()
        .await
        .map_err(|e| config.invalid("models", e.to_string()))?;
    Ok(Some(Arc::new(r)))
}

/// Without the `router` feature: no router.
#[cfg(not(feature = "router"))]
#[allow(clippy::unused_async)]
pub(super) async fn build(
    _config: &Config,
    _rc: Routes,
    _registry: &Arc<ProviderRegistry>,
    _metering: &metering::Handle,
    _redis: &Hub,
    _offline: bool,
) -> Result<RouterHandle, ConfigError> {
    Ok(())
}

/// The router as the dispatcher's service for logical models, and their names.
pub(super) fn logical(router: &RouterHandle) -> (Option<Arc<dyn Service>>, Vec<String>) {
    #[cfg(feature = "router")]
    if let Some(r) = router {
        return (
            Some(r.clone() as Arc<dyn Service>),
            r.model_names().to_vec(),
        );
    }
    let _ = router;
    (None, Vec::new())
}

/// Router deployments without prices get the catalog's; deployment prices become metrics
/// overrides, so one `pricing` in the deployment serves both lowest-cost routing and cost.
#[cfg(all(feature = "router", feature = "metrics"))]
fn share_deployment_prices(rc: &mut Routes, mut pricing: Pricing) -> Pricing {
    let mut overrides = Vec::new();
    for m in &mut rc.models {
        for d in &mut m.deployments {
            let name = d
                .name
                .clone()
                .unwrap_or_else(|| format!("{}/{}", d.provider, d.model));
            match d.pricing {
                Some(p) => overrides.push((name, p)),
                None => {
                    d.pricing = pricing
                        .price(&d.provider, Some(&name), &d.model)
                        .map(|(p, _)| p)
                }
            }
        }
    }
    for (name, p) in overrides {
        pricing = pricing.with_override(name, p);
    }
    pricing
}
