#![doc = include_str!("../README.md")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod disk;
pub mod fake;
pub mod fault;
pub mod fixtures;
#[cfg(feature = "otlp")]
pub mod otlp;
pub mod prom;
pub mod redis;
pub mod services;
pub mod stream;
pub mod upstream;
