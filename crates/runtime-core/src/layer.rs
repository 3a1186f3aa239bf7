//! Layers: decorators over a [`Provider`], stacked from the innermost provider outwards the
//! way tower's `ServiceBuilder` stacks services.
//!
//! A layer wraps one provider in another (a cache, a meter, your own middleware) and knows
//! nothing about the layers around it; [`Stack`] applies them in order. The runtime builds
//! its stack this way (`Stack::new(dispatcher).layer(cache).layer(meter)`), and a library
//! user can put their own layer anywhere in it.
//!
//! ```
//! use std::sync::Arc;
//! use runtime_core::layer::{Stack, layer_fn};
//! use runtime_core::{Capabilities, ChatRequest, ChatResponse, ChatStream, Error, Provider};
//! use runtime_core::{RequestContext, Result};
//!
//! #[derive(Debug)]
//! struct Named(&'static str);
//! #[runtime_core::async_trait]
//! impl Provider for Named {
//!     fn name(&self) -> &str { self.0 }
//!     fn capabilities(&self) -> Capabilities { Capabilities::default() }
//!     async fn chat(&self, _: &ChatRequest, _: &RequestContext) -> Result<ChatResponse> {
//!         Err(Error::unsupported(self.0, "chat"))
//!     }
//!     async fn chat_stream(&self, _: &ChatRequest, _: &RequestContext) -> Result<ChatStream> {
//!         Err(Error::unsupported(self.0, "chat"))
//!     }
//! }
//!
//! let stack = Stack::new(Arc::new(Named("inner")))
//!     // A layer that leaves the provider as it is when it has nothing to do…
//!     .layer(None::<runtime_core::layer::Identity>)
//!     // …and one that replaces it.
//!     .layer(layer_fn(|_inner| Arc::new(Named("outer")) as Arc<dyn Provider>))
//!     .into_provider();
//! assert_eq!(stack.name(), "outer");
//! ```

use std::sync::Arc;

use crate::Provider;

/// Wraps a provider in another: the one method every decorator implements.
pub trait Layer {
    /// `inner` wrapped by this layer.
    fn layer(&self, inner: Arc<dyn Provider>) -> Arc<dyn Provider>;
}

/// A layer that is not configured leaves the stack as it is (tower's `option_layer`).
impl<L: Layer> Layer for Option<L> {
    fn layer(&self, inner: Arc<dyn Provider>) -> Arc<dyn Provider> {
        match self {
            Some(l) => l.layer(inner),
            None => inner,
        }
    }
}

impl<L: Layer + ?Sized> Layer for &L {
    fn layer(&self, inner: Arc<dyn Provider>) -> Arc<dyn Provider> {
        (**self).layer(inner)
    }
}

/// The layer that changes nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Identity;

impl Layer for Identity {
    fn layer(&self, inner: Arc<dyn Provider>) -> Arc<dyn Provider> {
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

/// A layer made of a function from the inner provider to the wrapped one.
pub fn layer_fn<F>(f: F) -> LayerFn<F>
where
    F: Fn(Arc<dyn Provider>) -> Arc<dyn Provider>,
{
    LayerFn(f)
}

impl<F> Layer for LayerFn<F>
where
    F: Fn(Arc<dyn Provider>) -> Arc<dyn Provider>,
{
    fn layer(&self, inner: Arc<dyn Provider>) -> Arc<dyn Provider> {
        (self.0)(inner)
    }
}

/// A provider stack under construction: each [`Stack::layer`] wraps everything so far.
#[derive(Clone)]
pub struct Stack {
    provider: Arc<dyn Provider>,
}

impl std::fmt::Debug for Stack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stack")
            .field("outermost", &self.provider.name())
            .finish()
    }
}

impl Stack {
    /// A stack whose innermost provider is `inner`.
    pub fn new(inner: Arc<dyn Provider>) -> Self {
        Self { provider: inner }
    }

    /// Wraps the stack so far in `layer` (the last layer added is the outermost).
    #[must_use]
    pub fn layer(self, layer: impl Layer) -> Self {
        Self {
            provider: layer.layer(self.provider),
        }
    }

    /// The finished stack, as one provider.
    pub fn into_provider(self) -> Arc<dyn Provider> {
        self.provider
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Capabilities, ChatRequest, ChatResponse, ChatStream, RequestContext, Result};

    /// Answers with its name so far, prefixed by each layer.
    struct Prefix(String, Option<Arc<dyn Provider>>);

    impl std::fmt::Debug for Prefix {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(&self.0)
        }
    }

    #[async_trait::async_trait]
    impl Provider for Prefix {
        fn name(&self) -> &str {
            &self.0
        }
        fn capabilities(&self) -> Capabilities {
            Capabilities::default()
        }
        async fn chat(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatResponse> {
            let mut r = match &self.1 {
                Some(inner) => inner.chat(req, ctx).await?,
                None => ChatResponse::default(),
            };
            r.model = format!("{}>{}", self.0, r.model);
            Ok(r)
        }
        async fn chat_stream(&self, _: &ChatRequest, _: &RequestContext) -> Result<ChatStream> {
            Ok(ChatStream::from_events(Vec::new()))
        }
    }

    fn wrap(name: &'static str) -> impl Layer {
        layer_fn(move |inner| Arc::new(Prefix(name.into(), Some(inner))) as Arc<dyn Provider>)
    }

    #[tokio::test]
    async fn the_last_layer_added_is_outermost_and_calls_reach_the_inner_provider() {
        let stack = Stack::new(Arc::new(Prefix("inner".into(), None)))
            .layer(wrap("a"))
            .layer(None::<Identity>)
            .layer(Some(wrap("b")))
            .into_provider();
        assert_eq!(stack.name(), "b");
        let r = stack
            .chat(&ChatRequest::new("m", Vec::new()), &RequestContext::new())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.model, "b>a>inner>");
    }
}
