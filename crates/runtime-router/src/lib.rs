#![doc = include_str!("../README.md")]
// `runtime_core::Error` is the one error type of the project; it is large by design.
#![allow(clippy::result_large_err)]

mod bookkeeping;
mod breaker;
mod builder;
mod call;
pub mod config;
mod deployment;
mod error;
mod failover;
mod health;
mod inner;
mod metrics;
mod model;
mod provider;
mod recent;
#[cfg(feature = "redis")]
pub mod redis_store;
mod router;
mod select;
#[cfg(feature = "redis")]
pub mod shared;
pub mod state;
mod stats;
mod strategy;
mod stream;

pub use builder::{Resolver, RouterBuilder};
pub use config::{
    DeploymentConfig, ModelConfig, ModelType, RequestKind, RouterConfig, RouterDefaults, Strategy,
};
pub use error::{Attempt, RouteError, Routed};
pub use recent::RecentError;
#[cfg(feature = "redis")]
pub use redis_store::RedisStore;
pub use router::{DeploymentStatus, Router};
#[cfg(feature = "redis")]
pub use runtime_redis::{Redis, RedisConfig};
#[cfg(feature = "redis")]
pub use shared::SharedStore;
pub use state::{Acquire, MemoryStore, RateLimits, Snapshot, StateStore, WindowUsage};
