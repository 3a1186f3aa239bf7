#![doc = include_str!("../README.md")]

pub mod auth;
pub mod cli;
pub mod config;
pub mod encode;
pub mod error;
pub mod listener;
pub mod server;
pub mod timeq;
pub mod usage;

pub use config::GatewayConfig;
pub use error::ApiError;
pub use listener::serve;
pub use server::{Gateway, router, shutdown_signal};
