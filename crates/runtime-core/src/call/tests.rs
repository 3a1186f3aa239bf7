use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use super::*;
use crate::error::{Error, Result};
use crate::provider::{Capabilities, HealthStatus, Provider, RequestContext};
use crate::stream::ChatStream;
use crate::types::*;

/// What a test provider was asked: `what model` lines, in order.
#[derive(Default)]
pub(super) struct Log(Mutex<Vec<String>>);

impl Log {
    pub(super) fn note(&self, what: &str, model: &str) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(format!("{what} {model}"));
    }
    pub(super) fn seen(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Records which typed method was called, with which model.
#[derive(Default)]
struct Recorder {
    log: Log,
    /// Serves re-targeted calls itself (no copy) when set.
    native: bool,
}

#[async_trait]
impl Provider for Recorder {
    fn name(&self) -> &str {
        "rec"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
    async fn chat(&self, req: &ChatRequest, _: &RequestContext) -> Result<ChatResponse> {
        self.log.note("chat", &req.model);
        Ok(ChatResponse {
            model: req.model.clone(),
            ..ChatResponse::default()
        })
    }
    async fn chat_stream(&self, req: &ChatRequest, _: &RequestContext) -> Result<ChatStream> {
        self.log.note("chat_stream", &req.model);
        Ok(ChatStream::from_events(Vec::new()))
    }
    async fn complete(
        &self,
        req: &CompletionRequest,
        _: &RequestContext,
    ) -> Result<CompletionResponse> {
        self.log.note("complete", &req.model);
        Ok(CompletionResponse {
            model: req.model.clone(),
            ..CompletionResponse::default()
        })
    }
    async fn complete_stream(
        &self,
        req: &CompletionRequest,
        _: &RequestContext,
    ) -> Result<ChatStream> {
        self.log.note("complete_stream", &req.model);
        Ok(ChatStream::from_events(Vec::new()))
    }
    async fn embed(&self, req: &EmbeddingRequest, _: &RequestContext) -> Result<EmbeddingResponse> {
        self.log.note("embed", &req.model);
        Ok(EmbeddingResponse {
            model: req.model.clone(),
            ..EmbeddingResponse::default()
        })
    }
    async fn rerank(&self, req: &RerankRequest, _: &RequestContext) -> Result<RerankResponse> {
        self.log.note("rerank", &req.model);
        Ok(RerankResponse {
            model: req.model.clone(),
            results: vec![RerankResult {
                index: 0,
                relevance_score: 1.0,
                document: None,
            }],
            ..RerankResponse::default()
        })
    }
    async fn count_tokens(&self, req: &ChatRequest, _: &RequestContext) -> Result<u64> {
        self.log.note("count_tokens", &req.model);
        Ok(7)
    }
    async fn list_models(&self, _: &RequestContext) -> Result<Vec<ModelInfo>> {
        self.log.note("list_models", "");
        Ok(vec![ModelInfo::default()])
    }
    async fn health(&self, _: &RequestContext) -> Result<HealthStatus> {
        self.log.note("health", "");
        Ok(HealthStatus {
            healthy: true,
            latency: Duration::ZERO,
            detail: String::new(),
        })
    }
    async fn serve_retargeted(&self, call: Call<'_>, ctx: &RequestContext) -> Result<Reply> {
        if !self.native {
            return crate::call::serve_copied(self, call, ctx).await;
        }
        self.log
            .note(&format!("native {}", call.operation()), call.model);
        Ok(Reply::Tokens(0))
    }
}

/// A provider that implements only what is required.
struct Bare;

#[async_trait]
impl Provider for Bare {
    fn name(&self) -> &str {
        "bare"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::new()
    }
    async fn chat(&self, _: &ChatRequest, _: &RequestContext) -> Result<ChatResponse> {
        Err(Error::unsupported("bare", "chat"))
    }
    async fn chat_stream(&self, _: &ChatRequest, _: &RequestContext) -> Result<ChatStream> {
        Err(Error::unsupported("bare", "streaming"))
    }
}

fn chat() -> ChatRequest {
    ChatRequest::new("m", Vec::new())
}

fn completion() -> CompletionRequest {
    CompletionRequest {
        model: "m".into(),
        prompt: "p".into(),
        ..CompletionRequest::default()
    }
}

fn embedding() -> EmbeddingRequest {
    EmbeddingRequest {
        model: "m".into(),
        input: vec!["a".into()],
        ..EmbeddingRequest::default()
    }
}

fn rerank() -> RerankRequest {
    RerankRequest {
        model: "m".into(),
        query: "q".into(),
        documents: vec![RerankDocument::Text("d".into())],
        ..RerankRequest::default()
    }
}

#[tokio::test]
async fn every_operation_reaches_its_typed_method_with_the_bodys_model() {
    let rec = Arc::new(Recorder::default());
    let svc = ProviderService::new(rec.clone());
    let ctx = RequestContext::new();
    let (c, p, e, r) = (chat(), completion(), embedding(), rerank());
    assert_eq!(
        svc.chat(&c, &ctx).await.map(|r| r.model).ok(),
        Some("m".into())
    );
    assert!(svc.chat_stream(&c, &ctx).await.is_ok());
    assert_eq!(
        svc.complete(&p, &ctx).await.map(|r| r.model).ok(),
        Some("m".into())
    );
    assert!(svc.complete_stream(&p, &ctx).await.is_ok());
    assert_eq!(
        svc.embed(&e, &ctx).await.map(|r| r.model).ok(),
        Some("m".into())
    );
    assert_eq!(
        svc.rerank(&r, &ctx).await.map(|r| r.results.len()).ok(),
        Some(1)
    );
    assert_eq!(svc.count_tokens(&c, &ctx).await.ok(), Some(7));
    assert_eq!(svc.list_models(&ctx).await.map(|m| m.len()).ok(), Some(1));
    assert_eq!(svc.health(&ctx).await.map(|h| h.healthy).ok(), Some(true));
    assert_eq!(
        rec.log.seen(),
        [
            "chat m",
            "chat_stream m",
            "complete m",
            "complete_stream m",
            "embed m",
            "rerank m",
            "count_tokens m",
            "list_models ",
            "health ",
        ]
    );
}

#[tokio::test]
async fn a_retargeted_call_reaches_the_provider_with_the_new_model() {
    let rec = Arc::new(Recorder::default());
    let svc = ProviderService::new(rec.clone());
    let ctx = RequestContext::new();
    let (c, p, e, r) = (chat(), completion(), embedding(), rerank());
    let reply = svc
        .call(Call::chat(&c).with_model("other"), &ctx)
        .await
        .map_err(|f| f.error)
        .and_then(Reply::into_chat);
    assert_eq!(reply.map(|r| r.model).ok(), Some("other".into()));
    for call in [
        Call::chat_stream(&c),
        Call::complete(&p),
        Call::complete_stream(&p),
        Call::embed(&e),
        Call::rerank(&r),
        Call::count_tokens(&c),
    ] {
        let call = call.with_model("other");
        assert!(call.is_retargeted() && call.body_model() == "m");
        assert!(svc.call(call, &ctx).await.is_ok());
    }
    assert_eq!(
        rec.log.seen(),
        [
            "chat other",
            "chat_stream other",
            "complete other",
            "complete_stream other",
            "embed other",
            "rerank other",
            "count_tokens other",
        ]
    );
    // The body the caller holds is never changed.
    assert_eq!(c.model, "m");
}

#[tokio::test]
async fn a_provider_that_serves_retargeted_calls_itself_gets_them_and_only_them() {
    let rec = Arc::new(Recorder {
        native: true,
        ..Recorder::default()
    });
    let svc = ProviderService::new(rec.clone());
    let ctx = RequestContext::new();
    let c = chat();
    assert!(svc.call(Call::chat(&c), &ctx).await.is_ok());
    assert!(
        svc.call(Call::chat_stream(&c).with_model("x"), &ctx)
            .await
            .is_ok()
    );
    // Same model as the body: not re-targeted, the typed method.
    assert!(svc.call(Call::chat(&c).with_model("m"), &ctx).await.is_ok());
    assert_eq!(rec.log.seen(), ["chat m", "native chat x", "chat m"]);
}

#[tokio::test]
async fn operations_a_provider_does_not_implement_are_unsupported() {
    let svc = ProviderService::new(Arc::new(Bare));
    let ctx = RequestContext::new();
    let unsupported = |e: Error| matches!(e, Error::Unsupported { .. });
    assert!(svc.embed(&embedding(), &ctx).await.is_err_and(unsupported));
    assert!(svc.rerank(&rerank(), &ctx).await.is_err_and(unsupported));
    assert!(
        svc.count_tokens(&chat(), &ctx)
            .await
            .is_err_and(unsupported)
    );
    // Completion is served over chat, which is unsupported here too.
    assert!(
        svc.complete(&completion(), &ctx)
            .await
            .is_err_and(unsupported)
    );
    // Listing defaults to the static catalog (empty), health to the listing.
    assert_eq!(svc.list_models(&ctx).await.ok(), Some(Vec::new()));
    assert!(svc.health(&ctx).await.is_ok_and(|h| h.healthy));
}

/// Answers every call with a count.
struct Miscounts;

#[async_trait]
impl Service for Miscounts {
    fn name(&self) -> &str {
        "miscounts"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::new()
    }
    async fn call(&self, _: Call<'_>, _: &RequestContext) -> Result<Reply, Failure> {
        Ok(Reply::Tokens(1))
    }
}

#[tokio::test]
async fn a_reply_of_the_wrong_kind_is_an_error_not_a_panic() {
    let ctx = RequestContext::new();
    let err = Miscounts.chat(&chat(), &ctx).await.err();
    assert!(
        matches!(&err, Some(Error::InvalidConfig { reason, .. }) if reason.contains("a chat call was answered with a tokens reply")),
        "{err:?}"
    );
    assert!(Miscounts.chat_stream(&chat(), &ctx).await.is_err());
    assert_eq!(Miscounts.count_tokens(&chat(), &ctx).await.ok(), Some(1));
    assert!(Reply::Tokens(1).into_models().is_err());
}

#[test]
fn the_route_round_trips_through_response_metadata() {
    let route = RouteSummary {
        provider: "p".into(),
        deployment: "d".into(),
        attempts: 3,
    };
    let mut meta = ResponseMeta::default();
    route.write(&mut meta);
    assert_eq!(RouteSummary::of(&meta), Some(route.clone()));
    let f = Failure::routed(Error::Cancelled, Some(route));
    assert_eq!(f.route.map(|r| r.attempts), Some(3));
    assert_eq!(RouteSummary::of(&ResponseMeta::default()), None);
}
