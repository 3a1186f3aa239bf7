#![doc = include_str!("../README.md")]
// `runtime_core::Error` is the one error type of the project; it is large by design.
#![allow(clippy::result_large_err)]

mod breaker;
pub mod config;
mod deployment;
mod health;
mod recent;
#[cfg(feature = "redis")]
pub mod redis_store;
mod router;
#[cfg(feature = "redis")]
pub mod shared;
pub mod state;
mod stats;
mod strategy;
mod stream;

pub use config::{
    DeploymentConfig, ModelConfig, ModelType, RequestKind, RouterConfig, RouterDefaults, Strategy,
};
pub use recent::RecentError;
#[cfg(feature = "redis")]
pub use redis_store::RedisStore;
pub use router::{Attempt, DeploymentStatus, Resolver, RouteError, Routed, Router, RouterBuilder};
#[cfg(feature = "redis")]
pub use runtime_redis::{Redis, RedisConfig};
#[cfg(feature = "redis")]
pub use shared::SharedStore;
pub use state::{Acquire, MemoryStore, RateLimits, Snapshot, StateStore, WindowUsage};
