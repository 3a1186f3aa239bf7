//! [Voyage AI](https://docs.voyageai.com/reference/embeddings-api) embeddings for
//! model-runtime — the example provider crate of `docs/writing-a-provider.md`, built outside the
//! workspace as any third-party provider would be.
//!
//! Linking it registers the provider type `voyage`; an application (or a custom `modelrt`)
//! adds the dependency and writes `use provider_voyage as _;`.

pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use runtime_core::http::{CallInfo, HttpClient, HttpRequestSpec};
use runtime_core::{
    BuildContext, Capabilities, ChatRequest, ChatResponse, ChatStream, EmbeddingRequest,
    EmbeddingResponse, Error, ModelInfo, Provider, ProviderConfig, ProviderFactory, Reply,
    RequestContext, Result, Secret, ServeAs, SettingSpec,
};

/// Voyage's API.
pub const DEFAULT_BASE_URL: &str = "https://api.voyageai.com/v1";

/// Most texts one call embeds (Voyage's documented list limit).
pub const MAX_INPUTS: usize = 1000;

static SETTINGS: &[SettingSpec] = &[
    SettingSpec::api_key("VOYAGE_API_KEY").help("Voyage AI API key, sent as a bearer token"),
    SettingSpec::base_url(DEFAULT_BASE_URL),
    SettingSpec::TIMEOUT,
];

/// The registry entry of the Voyage provider (type `voyage`).
pub static FACTORY: ProviderFactory = ProviderFactory::new("voyage", build)
    .display_name("Voyage AI")
    .description("Voyage AI text embeddings")
    .crate_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    .settings(SETTINGS);

runtime_core::register_provider!(FACTORY);

/// Embeddings only.
pub const CAPABILITIES: Capabilities = Capabilities::new()
    .embeddings(true)
    .max_embedding_inputs(Some(MAX_INPUTS));

fn build(cfg: ProviderConfig, ctx: &BuildContext) -> Result<Arc<dyn Provider>> {
    Ok(Arc::new(VoyageProvider {
        name: Arc::from(cfg.instance()),
        key: cfg.required_secret("api_key")?,
        base_url: cfg.base_url()?,
        timeout: cfg.timeouts()?.request,
        http: ctx.http.clone(),
    }))
}

/// The Voyage AI provider.
#[derive(Debug, Clone)]
pub struct VoyageProvider {
    name: Arc<str>,
    key: Secret,
    base_url: String,
    timeout: Duration,
    http: HttpClient,
}

/// The request builders take the model apart from the request: each operation is written once,
/// for any model.
#[async_trait]
impl ServeAs for VoyageProvider {
    async fn chat_as(
        &self,
        _req: &ChatRequest,
        _model: &str,
        _ctx: &RequestContext,
    ) -> Result<ChatResponse> {
        Err(Error::unsupported(
            &self.name,
            "chat (Voyage serves embeddings)",
        ))
    }

    async fn chat_stream_as(
        &self,
        _req: &ChatRequest,
        _model: &str,
        _ctx: &RequestContext,
    ) -> Result<ChatStream> {
        Err(Error::unsupported(
            &self.name,
            "streaming (Voyage serves embeddings)",
        ))
    }

    async fn embed_as(
        &self,
        req: &EmbeddingRequest,
        model: &str,
        ctx: &RequestContext,
    ) -> Result<EmbeddingResponse> {
        let body = wire::embed_request(req, model, &self.name)?;
        // The per-request key (the router rotates keys through it) wins over the configured one.
        let key = ctx.credential(Some(&self.key)).unwrap_or(&self.key);
        let spec =
            HttpRequestSpec::post_json(format!("{}/embeddings", self.base_url), &body).bearer(key);
        let call = CallInfo::new(self.name.clone(), model, Some(key.clone()), self.timeout);
        let (answer, _headers): (wire::EmbedResponse, _) =
            self.http.json(&call, spec, ctx, "embeddings").await?;
        wire::parse_response(answer, req.input.len(), &self.name, model)
    }
}

#[async_trait]
impl Provider for VoyageProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn capabilities(&self) -> Capabilities {
        CAPABILITIES
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

    /// A call re-targeted to another model (`voyage/<model>`, a router deployment's model) is
    /// sent with that model, without a copy of its request.
    async fn serve_retargeted(
        &self,
        call: runtime_core::Call<'_>,
        ctx: &RequestContext,
    ) -> Result<Reply> {
        runtime_core::serve_as(self, call, ctx).await
    }

    fn models(&self) -> Vec<ModelInfo> {
        [
            "voyage-4-large",
            "voyage-4",
            "voyage-4-lite",
            "voyage-3.5",
            "voyage-3.5-lite",
            "voyage-code-3",
        ]
        .into_iter()
        .map(|id| ModelInfo::embedding(&self.name, id, 32_000))
        .collect()
    }
}
