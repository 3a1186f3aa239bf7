#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

pub mod call;
pub mod error;
mod health;
pub mod http;
pub mod layer;
#[doc(hidden)]
pub mod macro_support;
pub mod prom;
pub mod provider;
pub mod registry;
pub mod secret;
pub mod stream;
pub mod taxonomy;
pub mod time;
pub mod types;

pub use call::{
    Call, Client, Failure, FromReply, Op, ProviderService, Reply, RouteSummary, Service, ServiceExt,
};
pub use error::{Error, Result, Retryability, TimeoutPhase};
pub use provider::{
    CacheControl, CacheMode, Capabilities, HealthStatus, Provider, ReportedUsage, RequestContext,
    ServeAs, UsageReport, new_request_id, serve_as,
};
pub use registry::{
    BuildContext, ProviderConfig, ProviderFactory, ProviderRegistration, ProviderRegistry,
    SettingKind, SettingSpec, Timeouts,
};
pub use secret::Secret;
pub use stream::{ChatStream, FrameDecoder, StreamAccumulator, StreamEvent};
pub use taxonomy::Condition;
pub use types::*;

#[doc(hidden)]
pub use async_trait::async_trait;
#[doc(hidden)]
pub use inventory;
