//! Shared helpers for the routing tests: scripted fake providers, a router over them, a
//! request and a retryable error.
#![allow(dead_code, clippy::unwrap_used, clippy::result_large_err)]

use std::sync::Arc;
use std::time::Duration;

use runtime_core::{ChatRequest, Error, Provider};
use runtime_router::{DeploymentConfig, ModelConfig, Router, RouterDefaults, Strategy};
use runtime_testkit::fake::FakeProvider;

pub fn req(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![runtime_core::Message::user("hello there")])
}

pub fn server_error() -> Error {
    Error::Api {
        provider: "p".into(),
        model: "m".into(),
        status: 500,
        error_type: None,
        code: None,
        message: "boom".into(),
        retry_after: None,
        should_retry: None,
    }
}

pub fn fakes(names: &[&str]) -> Vec<Arc<FakeProvider>> {
    names
        .iter()
        .map(|n| Arc::new(FakeProvider::new(n)))
        .collect()
}

pub fn defaults() -> RouterDefaults {
    RouterDefaults {
        backoff_base: Duration::from_millis(10),
        backoff_max: Duration::from_millis(100),
        ..RouterDefaults::default()
    }
}

pub fn router(model: ModelConfig, fakes: &[Arc<FakeProvider>], d: RouterDefaults) -> Router {
    let mut b = Router::builder().defaults(d).model(model);
    for f in fakes {
        b = b.provider(f.name().to_owned(), f.clone());
    }
    b.build().unwrap()
}

pub fn model(name: &str, strategy: Strategy, fakes: &[Arc<FakeProvider>]) -> ModelConfig {
    let mut m = ModelConfig::new(name).strategy(strategy);
    for f in fakes {
        m = m.deployment(DeploymentConfig::new(
            f.name(),
            format!("{}-model", f.name()),
        ));
    }
    m
}
