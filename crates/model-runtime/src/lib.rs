#![doc = include_str!("../README.md")]

pub mod config;
mod defaults;
mod dispatch;
mod factories;
pub mod listing;
mod readiness;
mod ready_state;
mod runtime;
#[cfg(feature = "redis")]
mod shared_redis;
mod start;

pub use config::{Config, ConfigError};
pub use dispatch::{Dispatcher, Resolved};
pub use factories::{builtin_factories, registry};
pub use readiness::DEFAULT_READY_GRACE;
pub use ready_state::ReadyCheck;
pub use runtime::Runtime;
pub use runtime_core::*;

#[cfg(feature = "anthropic")]
pub use provider_anthropic;
#[cfg(feature = "azure-openai")]
pub use provider_azure_openai;
#[cfg(feature = "bedrock")]
pub use provider_bedrock;
#[cfg(feature = "cohere")]
pub use provider_cohere;
#[cfg(feature = "google")]
pub use provider_google;
#[cfg(feature = "huggingface")]
pub use provider_huggingface;
#[cfg(feature = "jina")]
pub use provider_jina;
#[cfg(feature = "local")]
pub use provider_local;
#[cfg(feature = "mistral")]
pub use provider_mistral;
#[cfg(feature = "openai")]
pub use provider_openai;
#[cfg(any(
    feature = "groq",
    feature = "deepseek",
    feature = "xai",
    feature = "openrouter",
    feature = "together",
    feature = "fireworks",
    feature = "cerebras",
    feature = "perplexity"
))]
pub use provider_presets;
#[cfg(feature = "vertex")]
pub use provider_vertex;

/// The response cache (`runtime-cache`), with the `cache` feature.
#[cfg(feature = "cache")]
pub mod cache {
    pub use runtime_cache::*;
}

/// Metrics, pricing and usage records (`runtime-metrics`), with the `metrics` feature.
#[cfg(feature = "metrics")]
pub mod metrics {
    pub use runtime_metrics::*;
}

/// The Redis connection layer (`runtime-redis`), with the `redis` feature.
#[cfg(feature = "redis")]
pub mod redis {
    pub use runtime_redis::*;
}

/// Logical models over deployments (`runtime-router`), with the `router` feature.
#[cfg(feature = "router")]
pub mod router {
    pub use runtime_router::*;
}
