//! [`ServeAs`](crate::ServeAs): a re-targeted call reaches the twins with the call's model and
//! no copy; twins a provider does not write fall back to a copy of the body.

use std::sync::Arc;

use async_trait::async_trait;

use super::tests::Log;
use super::*;
use crate::error::{Error, Result};
use crate::provider::{Capabilities, Provider, RequestContext, ServeAs};
use crate::stream::ChatStream;
use crate::types::*;

/// Writes the chat and embedding twins; records `twin model` or `typed model`.
#[derive(Default)]
struct Twins {
    log: Log,
}

#[async_trait]
impl ServeAs for Twins {
    const COMPLETION_OVER_CHAT: bool = true;

    async fn chat_as(
        &self,
        req: &ChatRequest,
        model: &str,
        _: &RequestContext,
    ) -> Result<ChatResponse> {
        self.log
            .note(&format!("chat_as(body {})", req.model), model);
        Ok(ChatResponse {
            model: model.to_owned(),
            ..ChatResponse::default()
        })
    }
    async fn chat_stream_as(
        &self,
        req: &ChatRequest,
        model: &str,
        _: &RequestContext,
    ) -> Result<ChatStream> {
        self.log
            .note(&format!("chat_stream_as(body {})", req.model), model);
        Ok(ChatStream::from_events(Vec::new()))
    }
    async fn embed_as(
        &self,
        req: &EmbeddingRequest,
        model: &str,
        _: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        self.log
            .note(&format!("embed_as(body {})", req.model), model);
        Ok(EmbeddingResponse::default())
    }
}

#[async_trait]
impl Provider for Twins {
    fn name(&self) -> &str {
        "twins"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::new()
            .chat(true)
            .streaming(true)
            .embeddings(true)
    }
    async fn chat(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatResponse> {
        self.chat_as(req, &req.model, ctx).await
    }
    async fn chat_stream(&self, req: &ChatRequest, ctx: &RequestContext) -> Result<ChatStream> {
        self.chat_stream_as(req, &req.model, ctx).await
    }
    async fn embed(
        &self,
        req: &EmbeddingRequest,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        self.embed_as(req, &req.model, ctx).await
    }
    async fn rerank(&self, req: &RerankRequest, _: &RequestContext) -> Result<RerankResponse> {
        self.log.note("rerank", &req.model);
        Err(Error::unsupported("twins", "rerank"))
    }
    async fn serve_retargeted(&self, call: Call<'_>, ctx: &RequestContext) -> Result<Reply> {
        crate::serve_as(self, call, ctx).await
    }
}

#[tokio::test]
async fn retargeted_calls_reach_the_twins_with_the_calls_model_and_the_untouched_body() {
    let twins = Arc::new(Twins::default());
    let svc = ProviderService::new(twins.clone());
    let ctx = RequestContext::new();
    let c = ChatRequest::new("m", Vec::new());
    let e = EmbeddingRequest {
        model: "m".into(),
        input: vec!["a".into()],
        ..EmbeddingRequest::default()
    };
    let reply = svc
        .call(Call::chat(&c).with_model("deployment"), &ctx)
        .await
        .map_err(|f| f.error)
        .and_then(Reply::into_chat);
    assert_eq!(reply.map(|r| r.model).ok(), Some("deployment".into()));
    assert!(
        svc.call(Call::chat_stream(&c).with_model("deployment"), &ctx)
            .await
            .is_ok()
    );
    assert!(
        svc.call(Call::embed(&e).with_model("deployment"), &ctx)
            .await
            .is_ok()
    );
    // Not re-targeted: the typed method, which forwards the body's model.
    assert!(svc.call(Call::chat(&c), &ctx).await.is_ok());
    assert_eq!(
        twins.log.seen(),
        [
            "chat_as(body m) deployment",
            "chat_stream_as(body m) deployment",
            "embed_as(body m) deployment",
            "chat_as(body m) m",
        ]
    );
}

#[tokio::test]
async fn a_twin_not_written_serves_a_copy_naming_the_calls_model() {
    let twins = Arc::new(Twins::default());
    let svc = ProviderService::new(twins.clone());
    let ctx = RequestContext::new();
    let r = RerankRequest {
        model: "m".into(),
        query: "q".into(),
        documents: vec![RerankDocument::Text("d".into())],
        ..RerankRequest::default()
    };
    let err = svc
        .call(Call::rerank(&r).with_model("deployment"), &ctx)
        .await
        .err()
        .map(|f| f.error);
    assert!(matches!(err, Some(Error::Unsupported { .. })), "{err:?}");
    // The typed method saw a copy naming the deployment; the caller's body is unchanged.
    assert_eq!(twins.log.seen(), ["rerank deployment"]);
    assert_eq!(r.model, "m");
}

#[tokio::test]
async fn a_retargeted_completion_over_chat_reaches_the_chat_twins() {
    let twins = Arc::new(Twins::default());
    let svc = ProviderService::new(twins.clone());
    let ctx = RequestContext::new();
    let p = CompletionRequest {
        model: "m".into(),
        prompt: "p".into(),
        ..CompletionRequest::default()
    };
    let reply = svc
        .call(Call::complete(&p).with_model("deployment"), &ctx)
        .await
        .map_err(|f| f.error)
        .and_then(Reply::into_completion);
    assert_eq!(reply.map(|r| r.model).ok(), Some("deployment".into()));
    assert!(
        svc.call(Call::complete_stream(&p).with_model("deployment"), &ctx)
            .await
            .is_ok()
    );
    // What chat cannot express is refused as for a direct completion.
    let fim = CompletionRequest {
        suffix: Some("s".into()),
        ..p.clone()
    };
    let err = svc
        .call(Call::complete(&fim).with_model("deployment"), &ctx)
        .await
        .err()
        .map(|f| f.error);
    assert!(
        matches!(&err, Some(Error::InvalidRequest { param: Some(f), .. }) if f == "suffix"),
        "{err:?}"
    );
    assert_eq!(
        twins.log.seen(),
        [
            "chat_as(body m) deployment",
            "chat_stream_as(body m) deployment"
        ]
    );
}
