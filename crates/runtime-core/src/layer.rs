//! Layers: decorators over a [`Service`], stacked from the innermost service outwards the way
//! tower's `ServiceBuilder` stacks services.
//!
//! A layer wraps one service in another (a cache, a meter, your own middleware) and knows
//! nothing about the layers around it; [`Stack`] applies them in order. The runtime builds
//! its stack this way (`Stack::new(dispatcher).layer(cache).layer(meter)`), and a library
//! user can put their own layer anywhere in it. A provider enters a stack through
//! [`ProviderService`](crate::ProviderService).
//!
//! ```
//! use std::sync::Arc;
//! use runtime_core::layer::{Stack, layer_fn};
//! use runtime_core::{Call, Capabilities, ChatRequest, ChatResponse, ChatStream, Error};
//! use runtime_core::{Failure, Op, Provider, ProviderService, Reply, RequestContext, Result};
//! use runtime_core::{Service, ServiceExt};
//!
//! /// A provider that answers every chat with an empty message.
//! struct Quiet;
//! #[runtime_core::async_trait]
//! impl Provider for Quiet {
//!     fn name(&self) -> &str { "quiet" }
//!     fn capabilities(&self) -> Capabilities { Capabilities::default() }
//!     async fn chat(&self, req: &ChatRequest, _: &RequestContext) -> Result<ChatResponse> {
//!         Ok(ChatResponse { model: req.model.clone(), ..ChatResponse::default() })
//!     }
//!     async fn chat_stream(&self, _: &ChatRequest, _: &RequestContext) -> Result<ChatStream> {
//!         Err(Error::unsupported("quiet", "streaming"))
//!     }
//! }
//!
//! /// A layer of one's own: sends every chat to one model, passes the rest through.
//! struct Pin(Arc<dyn Service>);
//! #[runtime_core::async_trait]
//! impl Service for Pin {
//!     fn name(&self) -> &str { self.0.name() }
//!     fn capabilities(&self) -> Capabilities { self.0.capabilities() }
//!     async fn call(&self, call: Call<'_>, ctx: &RequestContext) -> Result<Reply, Failure> {
//!         match call.op {
//!             Op::Chat(_) => self.0.call(call.with_model("pinned"), ctx).await,
//!             _ => self.0.call(call, ctx).await,
//!         }
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap_or_else(|e| panic!("{e}")).block_on(async {
//! let stack = Stack::new(ProviderService::shared(Arc::new(Quiet)))
//!     // A layer that leaves the stack as it is when it has nothing to do…
//!     .layer(None::<runtime_core::layer::Identity>)
//!     // …and one that wraps it.
//!     .layer(layer_fn(|inner| Arc::new(Pin(inner)) as Arc<dyn Service>))
//!     .into_service();
//! let answer = stack.chat(&ChatRequest::new("any", Vec::new()), &RequestContext::new()).await?;
//! assert_eq!(answer.model, "pinned");
//! # Ok::<(), Error>(())
//! # }).unwrap_or_else(|e| panic!("{e}"));
//! ```

use std::sync::Arc;

use crate::Service;

/// Wraps a service in another: what makes a decorator a layer of a stack.
pub trait Layer {
    /// `inner` wrapped by this layer.
    fn layer(&self, inner: Arc<dyn Service>) -> Arc<dyn Service>;
}

/// A layer that is not configured leaves the stack as it is (tower's `option_layer`).
impl<L: Layer> Layer for Option<L> {
    fn layer(&self, inner: Arc<dyn Service>) -> Arc<dyn Service> {
        match self {
            Some(l) => l.layer(inner),
            None => inner,
        }
    }
}

impl<L: Layer + ?Sized> Layer for &L {
    fn layer(&self, inner: Arc<dyn Service>) -> Arc<dyn Service> {
        (**self).layer(inner)
    }
}

/// The layer that changes nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity;

impl Layer for Identity {
    fn layer(&self, inner: Arc<dyn Service>) -> Arc<dyn Service> {
        inner
    }
}

/// A layer from a function (see [`layer_fn`]).
#[derive(Clone, Copy)]
pub struct LayerFn<F>(F);

impl<F> std::fmt::Debug for LayerFn<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LayerFn")
    }
}

/// A layer made of a function from the inner service to the wrapped one.
pub fn layer_fn<F>(f: F) -> LayerFn<F>
where
    F: Fn(Arc<dyn Service>) -> Arc<dyn Service>,
{
    LayerFn(f)
}

impl<F> Layer for LayerFn<F>
where
    F: Fn(Arc<dyn Service>) -> Arc<dyn Service>,
{
    fn layer(&self, inner: Arc<dyn Service>) -> Arc<dyn Service> {
        (self.0)(inner)
    }
}

/// A service stack under construction: each [`Stack::layer`] wraps everything so far.
#[derive(Clone)]
pub struct Stack {
    service: Arc<dyn Service>,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("outermost", &self.service.name())
            .finish()
    }
}

impl Stack {
    /// A stack whose innermost service is `inner`.
    pub fn new(inner: Arc<dyn Service>) -> Self {
        Self { service: inner }
    }

    /// Wraps the stack so far in `layer` (the last layer added is the outermost).
    #[must_use]
    pub fn layer(self, layer: impl Layer) -> Self {
        Self {
            service: layer.layer(self.service),
        }
    }

    /// The finished stack, as one service.
    pub fn into_service(self) -> Arc<dyn Service> {
        self.service
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::{Call, Failure, Reply, ServiceExt};
    use crate::{Capabilities, ChatRequest, ChatResponse, RequestContext};

    /// Answers with its name so far, prefixed by each layer.
    struct Prefix(String, Option<Arc<dyn Service>>);

    #[async_trait::async_trait]
    impl Service for Prefix {
        fn name(&self) -> &str {
            &self.0
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::default()
        }
        async fn call(&self, call: Call<'_>, ctx: &RequestContext) -> Result<Reply, Failure> {
            let mut r = match &self.1 {
                Some(inner) => inner.call(call, ctx).await?.into_chat()?,
                None => ChatResponse::default(),
            };
            r.model = format!("{}>{}", self.0, r.model);
            Ok(Reply::Chat(r))
        }
    }

    fn wrap(name: &'static str) -> impl Layer {
        layer_fn(move |inner| Arc::new(Prefix(name.into(), Some(inner))) as Arc<dyn Service>)
    }

    #[tokio::test]
    async fn the_last_layer_added_is_outermost_and_calls_reach_the_inner_service() {
        let stack = Stack::new(Arc::new(Prefix("inner".into(), None)))
            .layer(wrap("a"))
            .layer(None::<Identity>)
            .layer(Some(wrap("b")))
            .into_service();
        assert_eq!(stack.name(), "b");
        let r = stack
            .chat(&ChatRequest::new("m", Vec::new()), &RequestContext::new())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.model, "b>a>inner>");
    }
}
