#![doc = include_str!("../README.md")]

pub mod admin;
pub mod auth;
pub mod cli;
pub mod cli_admin;
pub mod config;
pub mod encode;
pub mod error;
pub mod govern;
pub mod listener;
pub mod server;
pub mod timeq;
pub mod ui;
pub mod usage;

pub use config::GatewayConfig;
pub use error::ApiError;
pub use listener::serve;
pub use server::{Gateway, router, shutdown_signal};
