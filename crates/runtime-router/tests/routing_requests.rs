//! Request kinds (embeddings, completions, tools and images), configuration errors and
//! routing on without the shared state store.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{defaults, fakes, model, req, router, server_error};
use runtime_core::{
    ChatRequest, EmbeddingRequest, Error, Message, RequestContext, Service, ServiceExt,
};
use runtime_router::{DeploymentConfig, ModelConfig, ModelType, Router, RouterDefaults, Strategy};
use runtime_testkit::fake::{FakeProvider, Step};

#[tokio::test(start_paused = true)]
async fn embeddings_route_to_embedding_deployments() {
    let chat_only = Arc::new(
        FakeProvider::new("chat-only")
            .with_capabilities(runtime_core::Capabilities::default().embeddings(false)),
    );
    let emb = Arc::new(FakeProvider::new("emb"));
    let r = Router::builder()
        .model(
            ModelConfig::new("embed")
                .model_type(ModelType::Embedding)
                .deployment(DeploymentConfig::new("chat-only", "c"))
                .deployment(DeploymentConfig::new("emb", "text-embedding-3-small")),
        )
        .provider("chat-only", chat_only.clone())
        .provider("emb", emb.clone())
        .build()
        .unwrap();
    for _ in 0..4 {
        let e = r
            .embed(
                &EmbeddingRequest::new("embed", vec!["a".into(), "bb".into()]),
                &RequestContext::new(),
            )
            .await
            .unwrap();
        assert_eq!(e.data.len(), 2);
        assert_eq!(
            e.meta.deployment.as_deref(),
            Some("emb/text-embedding-3-small")
        );
    }
    assert_eq!(chat_only.calls(), 0);
    assert_eq!(emb.embed_requests()[0].model, "text-embedding-3-small");
    let models = r.list_models(&RequestContext::new()).await.unwrap();
    assert_eq!(models[0].id, "embed");
    assert_eq!(models[0].kind, runtime_core::ModelKind::Embedding);
    assert!(r.capabilities().embeddings);
}

#[tokio::test(start_paused = true)]
async fn complete_and_unknown_models() {
    let f = fakes(&["a"]);
    let r = router(model("chat", Strategy::RoundRobin, &f), &f, defaults());
    let c = r
        .complete(
            &runtime_core::CompletionRequest {
                model: "chat".into(),
                prompt: "say ok".into(),
                ..Default::default()
            },
            &RequestContext::new(),
        )
        .await
        .unwrap();
    assert_eq!(c.text, "ok");
    assert_eq!(c.meta.deployment.as_deref(), Some("a/a-model"));
    let e = r
        .chat(&req("nope"), &RequestContext::new())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::ModelNotFound { .. }), "{e:?}");
    assert!(e.to_string().contains("chat"));
    let h = r.health(&RequestContext::new()).await.unwrap();
    assert!(h.healthy);
    assert_eq!(
        r.health_tasks_running(),
        0,
        "no health task when none is asked for"
    );
}

#[tokio::test(start_paused = true)]
async fn complete_stream_routes_and_holds_back() {
    let f = fakes(&["a"]);
    let r = router(model("chat", Strategy::RoundRobin, &f), &f, defaults());
    let s = r
        .complete_stream(
            &runtime_core::CompletionRequest {
                model: "chat".into(),
                prompt: "x".into(),
                ..Default::default()
            },
            &RequestContext::new(),
        )
        .await
        .unwrap();
    assert_eq!(s.meta().deployment.as_deref(), Some("a/a-model"));
    let resp = s.collect_response().await.unwrap();
    assert_eq!(resp.message.text().as_deref(), Some("ok"));
}

#[tokio::test(start_paused = true)]
async fn requests_needing_tools_or_images_skip_deployments_without_them() {
    let plain = Arc::new(
        FakeProvider::new("plain").with_capabilities(
            runtime_core::Capabilities::default()
                .tools(false)
                .vision(false),
        ),
    );
    let rich = Arc::new(
        FakeProvider::new("rich").with_capabilities(
            runtime_core::Capabilities::default()
                .tools(true)
                .vision(true),
        ),
    );
    let r = Router::builder()
        .model(
            ModelConfig::new("chat")
                .deployment(DeploymentConfig::new("plain", "p"))
                .deployment(DeploymentConfig::new("rich", "r")),
        )
        .provider("plain", plain.clone())
        .provider("rich", rich.clone())
        .build()
        .unwrap();
    let mut with_image = req("chat");
    with_image.messages = vec![runtime_core::Message::User {
        content: runtime_core::Content::Parts(vec![runtime_core::ContentPart::image_url(
            "https://example.invalid/cat.png",
        )]),
        name: None,
    }];
    for _ in 0..4 {
        let resp = r.chat(&with_image, &RequestContext::new()).await.unwrap();
        assert_eq!(resp.meta.deployment.as_deref(), Some("rich/r"));
    }
    for _ in 0..4 {
        r.chat(&req("chat"), &RequestContext::new()).await.unwrap();
    }
    assert_eq!(plain.calls(), 2, "plain requests still use both");
}

#[tokio::test]
async fn config_errors_are_reported() {
    let f = fakes(&["a"]);
    let bad_fallback = Router::builder()
        .model(
            ModelConfig::new("m")
                .fallbacks(["missing"])
                .deployment(DeploymentConfig::new("a", "x")),
        )
        .provider("a", f[0].clone())
        .build()
        .unwrap_err();
    assert!(bad_fallback.to_string().contains("missing"));
    let unresolved = Router::builder()
        .model(ModelConfig::new("m").deployment(DeploymentConfig::new("zzz", "x")))
        .build()
        .unwrap_err();
    assert!(unresolved.to_string().contains("zzz"));
    let resolved = Router::builder()
        .model(ModelConfig::new("m").deployment(DeploymentConfig::new("zzz", "x")))
        .resolver(|name| {
            Err(Error::ProviderNotFound {
                name: name.to_owned(),
                known: "openai".into(),
            })
        })
        .build()
        .unwrap_err();
    assert!(matches!(resolved, Error::ProviderNotFound { .. }));
}

#[tokio::test]
async fn a_router_with_an_unreachable_redis_url_builds_at_once_and_routes_on_local_state() {
    // Nothing listens on port 1. Before the breaker, `build` refused a redis_url and
    // `build_async` failed after ~9.6 s of connection retries.
    let f = fakes(&["a"]);
    let start = std::time::Instant::now();
    let r = Router::builder()
        .defaults(RouterDefaults {
            redis_url: Some("redis://127.0.0.1:1/".into()),
            queue_max_len: 0,
            ..RouterDefaults::default()
        })
        .model(ModelConfig::new("m").deployment(DeploymentConfig::new("a", "x").rpm(2)))
        .provider("a", f[0].clone())
        .build()
        .unwrap();
    let req = ChatRequest::new("m", vec![Message::user("hi")]);
    r.chat(&req, &RequestContext::new()).await.unwrap();
    r.chat(&req, &RequestContext::new()).await.unwrap();
    // The rpm limit still holds, counted in this process.
    let e = r.chat(&req, &RequestContext::new()).await.unwrap_err();
    assert!(matches!(e, Error::RateLimited { .. }), "{e:?}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
    let e = Router::builder()
        .defaults(RouterDefaults {
            redis_url: Some("http://not-redis/".into()),
            ..RouterDefaults::default()
        })
        .model(ModelConfig::new("m").deployment(DeploymentConfig::new("a", "x")))
        .provider("a", f[0].clone())
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("router.redis_url"), "{e}");
}

/// A store that always fails: the router routes on without shared state (fail open).
struct BrokenStore;

#[async_trait::async_trait]
impl runtime_router::StateStore for BrokenStore {
    async fn set_flag(&self, _k: &str, _t: Duration) -> runtime_core::Result<()> {
        Err(broken())
    }
    async fn clear_flags(&self, _k: &[&str]) -> runtime_core::Result<()> {
        Err(broken())
    }
    async fn flags(&self, _k: &[&str]) -> runtime_core::Result<Vec<Option<Duration>>> {
        Err(broken())
    }
    async fn try_lock(&self, _k: &str, _t: Duration) -> runtime_core::Result<bool> {
        Err(broken())
    }
    async fn record_failure(&self, _k: &str, _w: Duration) -> runtime_core::Result<u64> {
        Err(broken())
    }
    async fn acquire(
        &self,
        _k: &str,
        _l: runtime_router::RateLimits,
        _t: u64,
    ) -> runtime_core::Result<runtime_router::Acquire> {
        Err(broken())
    }
    async fn adjust_tokens(&self, _k: &str, _w: u64, _d: i64) -> runtime_core::Result<()> {
        Err(broken())
    }
    async fn usage(&self, _k: &str) -> runtime_core::Result<runtime_router::WindowUsage> {
        Err(broken())
    }
}

fn broken() -> Error {
    Error::Connect {
        provider: "redis".into(),
        model: String::new(),
        message: "connection refused".into(),
    }
}

#[tokio::test(start_paused = true)]
async fn a_failing_store_does_not_stop_routing() {
    let f = fakes(&["a", "b"]);
    f[0].push(Step::fail(server_error()));
    let r = Router::builder()
        .defaults(defaults())
        .model(
            ModelConfig::new("chat")
                .strategy(Strategy::UsageBased)
                .deployment(DeploymentConfig::new("a", "x").rpm(1).api_keys(["k"]))
                .deployment(DeploymentConfig::new("b", "y").rpm(1)),
        )
        .provider("a", f[0].clone())
        .provider("b", f[1].clone())
        .store(Arc::new(BrokenStore))
        .build()
        .unwrap();
    for _ in 0..4 {
        r.chat(&req("chat"), &RequestContext::new()).await.unwrap();
    }
}
