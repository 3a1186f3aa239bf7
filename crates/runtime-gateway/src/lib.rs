#![doc = include_str!("../README.md")]

pub mod admin;
pub mod auth;
pub mod call;
pub mod cli;
pub mod cli_admin;
pub mod cli_common;
pub mod cli_models;
pub mod config;
pub mod config_path;
pub mod encode;
pub mod error;
pub mod fit;
pub mod govern;
pub mod http;
pub mod listener;
pub mod observe;
pub mod otel;
pub mod responses;
pub mod route_template;
pub mod routes;
pub mod server;
pub mod sse;
pub mod state;
pub mod telemetry;
pub mod timeq;
pub mod ui;
pub mod unprefixed;
pub mod usage;

pub use config::GatewayConfig;
pub use error::ApiError;
pub use listener::serve;
pub use server::{Gateway, router, shutdown_signal};
