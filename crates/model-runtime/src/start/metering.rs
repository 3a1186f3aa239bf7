//! `[metrics]`, `[storage]` and `[pricing]`: the meter (metrics, cost, usage records) as the
//! outermost layer, and per attempt inside the router.

use crate::config::{Config, ConfigError};

/// Prices (with the `metrics` feature).
#[cfg(feature = "metrics")]
pub(super) type Pricing = runtime_metrics::Pricing;
/// Prices (with the `metrics` feature).
#[cfg(not(feature = "metrics"))]
pub(super) type Pricing = ();

/// The running metering (with the `metrics` feature).
#[cfg(feature = "metrics")]
pub(super) type Handle = Option<std::sync::Arc<runtime_metrics::Metering>>;
/// The running metering (with the `metrics` feature).
#[cfg(not(feature = "metrics"))]
pub(super) type Handle = ();

/// The layer that meters (with the `metrics` feature).
#[cfg(feature = "metrics")]
pub(super) type MeterLayer = runtime_metrics::Meter;
/// The layer that meters (with the `metrics` feature).
#[cfg(not(feature = "metrics"))]
pub(super) type MeterLayer = runtime_core::layer::Identity;

/// `[pricing]` with each configured instance's provider type (catalog prices are by type).
#[cfg(feature = "metrics")]
pub(super) fn pricing(config: &Config) -> Result<Pricing, ConfigError> {
    let pc: runtime_metrics::PricingConfig =
        super::section::section(config, "pricing", config.pricing.as_ref())?;
    let mut p = runtime_metrics::Pricing::new(&pc);
    for name in config.providers.keys() {
        p = p.with_provider_type(name.clone(), config.provider_type(name)?.to_owned());
    }
    Ok(p)
}

/// Without the `metrics` feature: nothing to price, and `[metrics]` or `[storage]` that ask
/// for something are errors.
#[cfg(not(feature = "metrics"))]
pub(super) fn pricing(config: &Config) -> Result<Pricing, ConfigError> {
    for (key, t) in [("metrics", &config.metrics), ("storage", &config.storage)] {
        super::section::refuse_if_on(
            config,
            key,
            t.as_ref(),
            "metrics and usage records need the `metrics` feature",
        )?;
    }
    Ok(())
}

/// Starts metrics and the usage writer. Usage records are written only where `[storage]`
/// asks for them (the gateway's embedded default does); a library user gets no surprise
/// file. Migrations run now, so queries work before the first record; a database that is
/// down is not fatal (records buffer and spill until it is back).
#[cfg(feature = "metrics")]
pub(super) async fn start(
    config: &Config,
    pricing: Pricing,
    offline: bool,
) -> Result<Handle, ConfigError> {
    let storage = match &config.storage {
        Some(t) => {
            let mut sc: runtime_metrics::StorageConfig =
                super::section::section(config, "storage", Some(t))?;
            if offline && sc.enabled {
                // Checked (the URL's kind), not opened.
                runtime_metrics::UsageStore::open(&sc.database_url, 1, sc.connect_timeout)
                    .map_err(|e| config.invalid("storage.database_url", e.to_string()))?;
                sc.enabled = false;
            }
            sc
        }
        None => runtime_metrics::StorageConfig {
            enabled: false,
            ..Default::default()
        },
    };
    let mc = runtime_metrics::MeteringConfig {
        metrics: super::section::section(config, "metrics", config.metrics.as_ref())?,
        storage,
        pricing: super::section::section(config, "pricing", config.pricing.as_ref())?,
    };
    let m = runtime_metrics::Metering::start_with_pricing(&mc, pricing)
        .map_err(|e| config.invalid("storage", e.to_string()))?;
    if let Some(store) = m.store() {
        match tokio::time::timeout(std::time::Duration::from_secs(10), store.migrate()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "usage database not migrated at start; records will buffer and spill until it is reachable")
            }
            Err(_) => tracing::warn!(
                "usage database did not answer within 10 s at start; records will buffer and spill until it is reachable"
            ),
        }
    }
    Ok(Some(std::sync::Arc::new(m)))
}

/// Without the `metrics` feature: nothing runs.
#[cfg(not(feature = "metrics"))]
#[allow(clippy::unused_async)]
pub(super) async fn start(
    _config: &Config,
    _pricing: Pricing,
    _offline: bool,
) -> Result<Handle, ConfigError> {
    Ok(())
}

/// The outermost layer: each call metered once (`modelrt_request*`, a usage record).
pub(super) fn layer(metering: &Handle) -> Option<MeterLayer> {
    #[cfg(feature = "metrics")]
    {
        metering.as_ref().filter(|m| m.enabled()).map(|m| m.meter())
    }
    #[cfg(not(feature = "metrics"))]
    {
        let () = metering;
        None
    }
}

/// The layer around each router deployment: every attempt metered (`modelrt_attempt*`, no
/// usage record), so retries and failovers show without counting a request twice.
#[cfg_attr(not(feature = "router"), allow(dead_code))]
pub(super) fn attempt_layer(metering: &Handle) -> Option<MeterLayer> {
    #[cfg(feature = "metrics")]
    {
        metering
            .as_ref()
            .filter(|m| m.enabled())
            .map(|m| m.meter().for_attempts())
    }
    #[cfg(not(feature = "metrics"))]
    {
        let () = metering;
        None
    }
}
