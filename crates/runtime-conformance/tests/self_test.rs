//! The suite must catch a bad provider: this one maps every error to a 500, leaks its key into
//! errors, ignores timeouts' retryability and has no scenarios.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use runtime_conformance::{Outcome, Target};
use runtime_core::{
    Capabilities, ChatRequest, ChatResponse, ChatStream, Error, Provider, RequestContext, Result,
    Secret,
};

struct Bad {
    base: String,
    key: Secret,
}

#[async_trait]
impl Provider for Bad {
    fn name(&self) -> &str {
        "bad"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default().streaming(false)
    }
    async fn chat(&self, _req: &ChatRequest, _ctx: &RequestContext) -> Result<ChatResponse> {
        let status = reqwest_status(&self.base).await;
        Err(Error::Api {
            provider: "bad".into(),
            model: "m".into(),
            status: 500,
            error_type: None,
            code: None,
            message: format!("failed with {status} using key {}", self.key.expose()),
            retry_after: None,
            should_retry: None,
        })
    }
    async fn chat_stream(&self, _req: &ChatRequest, _ctx: &RequestContext) -> Result<ChatStream> {
        Ok(ChatStream::from_events(Vec::new()))
    }
}

async fn reqwest_status(base: &str) -> u16 {
    let http = runtime_core::http::HttpClient::new(&Default::default()).unwrap();
    match tokio::time::timeout(
        Duration::from_secs(2),
        http.reqwest().post(format!("{base}/chat")).send(),
    )
    .await
    {
        Ok(Ok(r)) => r.status().as_u16(),
        _ => 0,
    }
}

#[tokio::test]
async fn a_bad_provider_fails_the_suite() {
    let target = Target::new("bad", |base, key, _t| {
        Ok(Arc::new(Bad {
            base: base.to_owned(),
            key: key.clone(),
        }) as Arc<dyn Provider>)
    })
    .model("m")
    .stream_event(b"data: {}\n\n".to_vec(), "text/event-stream");
    let report = runtime_conformance::run(target).await;
    let outcome = |check: &str| {
        report
            .results
            .iter()
            .find(|r| r.check == check)
            .map(|r| r.outcome.clone())
            .unwrap_or_else(|| panic!("no check {check}: {}", report.table()))
    };
    assert!(matches!(outcome("covers plain_chat"), Outcome::Fail(_)));
    assert!(
        matches!(outcome("covers streaming"), Outcome::Fail(_)),
        "streaming is false but chat_stream did not return Unsupported"
    );
    assert!(matches!(
        outcome("covers embeddings"),
        Outcome::Unsupported(_)
    ));
    assert!(matches!(
        outcome("status 401 -> authentication, not retryable"),
        Outcome::Fail(_)
    ));
    assert!(matches!(
        outcome("status 429 -> rate_limited + retry-after, retryable"),
        Outcome::Fail(_)
    ));
    assert!(matches!(outcome("auth header sent"), Outcome::Fail(_)));
    assert!(matches!(
        outcome("malformed body is a decode error"),
        Outcome::Fail(_)
    ));
    assert!(matches!(
        outcome("api key never in errors"),
        Outcome::Fail(_)
    ));
    assert!(matches!(
        outcome("status 500 -> api error, retryable"),
        Outcome::Pass
    ));
    // It sends no credential at all, so the per-request key cannot reach the upstream; and
    // with no case there is no answer for the unknown-field probe.
    assert!(matches!(
        outcome("per-request key reaches upstream"),
        Outcome::Fail(_)
    ));
    assert!(matches!(
        outcome("unknown field is sent or refused by name"),
        Outcome::Fail(_)
    ));
    assert!(matches!(
        outcome("covers model_listing"),
        Outcome::Unsupported(_)
    ));
}
