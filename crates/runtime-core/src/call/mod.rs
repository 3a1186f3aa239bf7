//! The operations as data: the one contract every layer implements.
//!
//! A [`Call`] is one operation on a [`Service`]: what to do and with which body ([`Op`]), the
//! model it targets — kept apart from the body, so a layer that re-targets a call (the
//! dispatcher to a provider's own model id, the router to a deployment's) changes one
//! borrowed string and copies no request — and whether the answer is streamed. Its answer is
//! a [`Reply`]; its failure a [`Failure`], which carries the route a router took.
//!
//! A layer (metering, cache, router, dispatcher, your own middleware) implements
//! [`Service::call`] once, matches the operations it cares about and hands the rest on:
//!
//! ```
//! use std::sync::Arc;
//! use runtime_core::{Call, Capabilities, Failure, Op, Reply, RequestContext, Service};
//!
//! /// Counts chat calls, passes everything through.
//! struct CountChats {
//!     inner: Arc<dyn Service>,
//!     chats: std::sync::atomic::AtomicU64,
//! }
//!
//! #[runtime_core::async_trait]
//! impl Service for CountChats {
//!     fn name(&self) -> &str { self.inner.name() }
//!     fn capabilities(&self) -> Capabilities { self.inner.capabilities() }
//!     async fn call(&self, call: Call<'_>, ctx: &RequestContext) -> Result<Reply, Failure> {
//!         if let Op::Chat(_) = call.op {
//!             self.chats.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
//!         }
//!         self.inner.call(call, ctx).await
//!     }
//! }
//! ```
//!
//! Provider authors implement the typed [`Provider`](crate::Provider) instead (one method per
//! operation, `Unsupported` by default); [`ProviderService`] adapts a provider to this
//! contract, in one place. Callers keep a typed API: [`ServiceExt`] on every service, or a
//! [`Client`], whose methods keep the [`Failure`] with its route.

mod adapt;
mod op;
#[cfg(test)]
mod serve_as_tests;
mod service;
#[cfg(test)]
mod tests;

pub use adapt::{Client, ProviderService, ServiceExt};
pub use op::{Call, Failure, FromReply, Op, Reply, RouteSummary};
pub use service::Service;

pub use crate::provider::{serve, serve_as, serve_copied};
