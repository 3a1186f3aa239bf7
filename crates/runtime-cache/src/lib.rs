#![doc = include_str!("../README.md")]
// `runtime_core::Error` is the project-wide error type every `Provider` method returns.
#![allow(clippy::result_large_err)]

pub mod backend;
pub mod batch;
pub mod cache;
pub mod clock;
pub mod config;
pub mod control;
pub mod flight;
mod hashser;
pub mod key;
pub mod layer;
pub mod memory;
pub mod provider;
#[cfg(feature = "redis")]
pub mod redis;
pub mod stats;

pub use backend::{BackendError, CacheBackend, Decoded, Entry};
pub use batch::{EmbeddingBatcher, apportion, apportion_usage};
pub use cache::ResponseCache;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{BackendKind, BatchConfig, CacheConfig};
pub use control::{cache_control_from_headers, cache_status, parse_cache_control};
pub use key::{CacheKey, KeyKind, chat_key, completion_key, rerank_key};
pub use layer::CacheLayer;
pub use memory::MemoryBackend;
pub use provider::{CACHED_INPUTS_ANNOTATION, CachedProvider};
#[cfg(feature = "redis")]
pub use redis::RedisBackend;
pub use stats::{CacheStats, CacheStatsSnapshot};
