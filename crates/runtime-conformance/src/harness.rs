//! What every check shares: the run's state, a mock upstream, building the provider and
//! making one call on it.

use std::sync::Arc;
use std::time::Duration;

use runtime_core::{Capabilities, ChatRequest, Error, Message, Provider, RequestContext, Secret};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::cases::embed_probe;
use crate::report::Outcome;
use crate::scenario::{Call, Got, MockReply, Scenario};
use crate::target::Target;

/// The API key the suite configures; it must never show up in an error.
pub const TEST_KEY: &str = "sk-conformance-Zq8VtW2xK9-secret";

pub(crate) const TIMEOUT: Duration = Duration::from_secs(10);
pub(crate) const SHORT: Duration = Duration::from_millis(400);

pub(crate) fn template(r: &MockReply) -> ResponseTemplate {
    let mut t = ResponseTemplate::new(r.status).set_body_raw(r.body.clone(), &r.content_type);
    for (k, v) in &r.headers {
        t = t.insert_header(k.as_str(), v.as_str());
    }
    t
}

pub(crate) fn key() -> Secret {
    Secret::new(TEST_KEY)
}

/// Everything one run shares.
pub(crate) struct Run<'a> {
    pub(crate) target: &'a Target,
    pub(crate) caps: Capabilities,
    pub(crate) model: String,
    pub(crate) scenarios: Vec<Scenario>,
    pub(crate) errors: Vec<Error>,
}

pub(crate) async fn mock(reply: &MockReply) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(template(reply))
        .mount(&server)
        .await;
    server
}

pub(crate) async fn call(
    provider: &Arc<dyn Provider>,
    c: &Call,
    ctx: &RequestContext,
) -> runtime_core::Result<Got> {
    match c {
        Call::Chat(r) => provider.chat(r, ctx).await.map(Got::Chat),
        Call::Stream(r) | Call::StreamEqualsChat(r, _) => {
            let s = provider.chat_stream(r, ctx).await?;
            s.collect_response().await.map(Got::Chat)
        }
        Call::Embed(r) => provider.embed(r, ctx).await.map(Got::Embed),
        Call::Complete(r) => provider.complete(r, ctx).await.map(Got::Complete),
        Call::ListModels => provider.list_models(ctx).await.map(Got::Models),
    }
}

/// The path of a URL (`https://host/v1/x?q` → `/v1/x`).
pub(crate) fn url_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    path.split('?').next().unwrap_or(path)
}

/// The call the generic checks make: a one-message chat, or embeddings for a provider
/// without chat.
pub(crate) fn probe(run: &Run<'_>) -> Call {
    if !run.caps.chat && run.caps.embeddings {
        Call::Embed(embed_probe(&run.model))
    } else {
        Call::Chat(ChatRequest::new(
            run.model.clone(),
            vec![Message::user("hi")],
        ))
    }
}

pub(crate) async fn with_mock(
    run: &Run<'_>,
    reply: ResponseTemplate,
    ctx: &RequestContext,
    c: &Call,
) -> Result<(runtime_core::Result<Got>, Vec<wiremock::Request>), Outcome> {
    let server = MockServer::start().await;
    Mock::given(any()).respond_with(reply).mount(&server).await;
    let p = run
        .target
        .build(&server.uri(), &key(), TIMEOUT)
        .map_err(|e| Outcome::Fail(format!("build: {e}")))?;
    let r = call(&p, c, ctx).await;
    Ok((r, server.received_requests().await.unwrap_or_default()))
}
