//! The re-target check fails a provider that sends the body's model for a re-targeted call,
//! and passes one that sends the call's (here through the default copy).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use async_trait::async_trait;
use runtime_conformance::{Call, Category, MockReply, Outcome, Scenario, Target};
use runtime_core::{
    Capabilities, ChatRequest, ChatResponse, ChatStream, Error, Message, Op, Provider, Reply,
    RequestContext, Result,
};

/// Posts `{"model": …}` to `{base}/chat`; with `stale`, serves a re-targeted call with the
/// body's model.
struct Echo {
    base: String,
    stale: bool,
}

#[async_trait]
impl Provider for Echo {
    fn name(&self) -> &str {
        "echo"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::new().chat(true)
    }
    async fn chat(&self, req: &ChatRequest, _ctx: &RequestContext) -> Result<ChatResponse> {
        let http = runtime_core::http::HttpClient::new(&Default::default())?;
        let sent = http
            .reqwest()
            .post(format!("{}/chat", self.base))
            .json(&serde_json::json!({ "model": req.model }))
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => Ok(ChatResponse {
                model: req.model.clone(),
                ..ChatResponse::default()
            }),
            _ => Err(Error::unsupported("echo", "this upstream")),
        }
    }
    async fn chat_stream(&self, _req: &ChatRequest, _ctx: &RequestContext) -> Result<ChatStream> {
        Err(Error::unsupported("echo", "streaming"))
    }
    async fn serve_retargeted(
        &self,
        call: runtime_core::Call<'_>,
        ctx: &RequestContext,
    ) -> Result<Reply> {
        match call.op {
            Op::Chat(r) if self.stale => Ok(Reply::Chat(self.chat(r, ctx).await?)),
            _ => runtime_core::call::serve_copied(self, call, ctx).await,
        }
    }
}

async fn outcome(stale: bool) -> Outcome {
    let target = Target::new("echo", move |base, _key, _t| {
        Ok(Arc::new(Echo {
            base: base.to_owned(),
            stale,
        }) as Arc<dyn Provider>)
    })
    .model("m-1")
    .scenario(Scenario::new(
        "plain",
        vec![Category::PlainChat],
        Call::Chat(ChatRequest::new("m-1", vec![Message::user("hi")])),
        MockReply::json(b"{}".to_vec()),
    ));
    let report = runtime_conformance::run(target).await;
    report
        .outcome("re-targeted call sends the call's model")
        .cloned()
        .unwrap_or_else(|| panic!("no re-target check: {}", report.table()))
}

#[tokio::test]
async fn a_provider_sending_the_bodys_model_fails_and_one_sending_the_calls_passes() {
    let stale = outcome(true).await;
    assert!(
        matches!(&stale, Outcome::Fail(why) if why.contains("m-1-retargeted")),
        "{stale:?}"
    );
    assert_eq!(outcome(false).await, Outcome::Pass);
}
