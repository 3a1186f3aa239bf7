//! Shared by this crate's integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use provider_openai::{CompatProvider, OpenAiSettings};
use runtime_core::{Provider, Secret, http::HttpClient};

pub fn provider(base: &str, key: &str, timeout: Duration) -> CompatProvider {
    let mut s = OpenAiSettings::new("openai", Secret::new(key));
    s.base_url = base.to_owned();
    s.timeout = timeout;
    s.stream_idle_timeout = timeout;
    // A client per provider: wiremock reuses ports, and a pooled connection to a stopped
    // server must not leak into the next test.
    s.build(HttpClient::new(&Default::default()).unwrap())
}

pub fn dyn_provider(
    base: &str,
    key: &Secret,
    timeout: Duration,
) -> runtime_core::Result<Arc<dyn Provider>> {
    Ok(Arc::new(provider(base, key.expose(), timeout)))
}
