#![doc = include_str!("../README.md")]
// `runtime_core::Error` is the one error type of the project; it is large by design.
#![allow(clippy::result_large_err)]

pub mod config;
mod conn;
mod handle;
mod pool;

pub use config::{RedisConfig, RedisMode, redact_url};
pub use conn::Conn;
pub use handle::{Redis, RedisError, RedisState, RedisStatus};
pub use pool::RedisPool;
/// The `redis` crate this layer is built on (one version for the workspace).
pub use redis;
