#![doc = include_str!("../README.md")]

pub mod config;
mod dispatch;

use std::path::Path;
use std::sync::Arc;

pub use config::{Config, ConfigError};
pub use dispatch::Dispatcher;
pub use runtime_core::*;

#[cfg(feature = "openai")]
pub use provider_openai;

/// The provider factories compiled into this build, by feature. The registry merges them with
/// what `inventory` found, so an enabled provider can never be dropped by the linker.
#[allow(unused_mut, clippy::vec_init_then_push)]
pub fn builtin_factories() -> Vec<&'static ProviderFactory> {
    let mut v: Vec<&'static ProviderFactory> = Vec::new();
    #[cfg(feature = "openai")]
    v.push(&provider_openai::FACTORY);
    v
}

/// A registry of every linked provider with a shared HTTP client.
pub fn registry() -> Result<ProviderRegistry> {
    ProviderRegistry::new(&builtin_factories(), http::HttpClient::shared()?)
}

/// Providers, routing, caching and metrics assembled from one configuration.
pub struct Runtime {
    registry: Arc<ProviderRegistry>,
    stack: Arc<dyn Provider>,
    config: Config,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("providers", &self.registry.instances())
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// A runtime from a TOML file.
    pub fn from_file(path: &Path) -> std::result::Result<Self, ConfigError> {
        Self::from_config(Config::from_file(path)?)
    }

    /// A runtime from TOML text (`source` names it in errors).
    pub fn from_toml_str(text: &str, source: &str) -> std::result::Result<Self, ConfigError> {
        Self::from_config(Config::from_toml_str(text, source)?)
    }

    /// A runtime from a parsed configuration: every `[providers.*]` instance is validated and
    /// built now, so a bad config fails at start, naming the key.
    pub fn from_config(config: Config) -> std::result::Result<Self, ConfigError> {
        let registry =
            Arc::new(registry().map_err(|e| config.invalid("providers", e.to_string()))?);
        for (name, table) in &config.providers {
            let ty = config.provider_type(name)?;
            registry
                .build(ty, name, &config::table_to_json(table))
                .map_err(|e| provider_config_error(&config, name, e))?;
        }
        let stack: Arc<dyn Provider> =
            Arc::new(Dispatcher::new(registry.clone(), None, Vec::new()));
        Ok(Self {
            registry,
            stack,
            config,
        })
    }

    /// A runtime in code: add providers to the registry, then call [`Runtime::new`].
    pub fn new(registry: Arc<ProviderRegistry>) -> Self {
        let stack: Arc<dyn Provider> =
            Arc::new(Dispatcher::new(registry.clone(), None, Vec::new()));
        Self {
            registry,
            stack,
            config: Config::default(),
        }
    }

    /// The registry of linked provider types and built instances.
    pub fn registry(&self) -> &Arc<ProviderRegistry> {
        &self.registry
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The whole stack as one provider (what the gateway serves).
    pub fn provider(&self) -> Arc<dyn Provider> {
        self.stack.clone()
    }

    /// A chat answer from `model` (`provider/model`, or a logical model).
    pub async fn chat(&self, model: &str, mut req: ChatRequest) -> Result<ChatResponse> {
        model.clone_into(&mut req.model);
        self.stack.chat(&req, &RequestContext::new()).await
    }

    /// A streamed chat answer.
    pub async fn chat_stream(&self, model: &str, mut req: ChatRequest) -> Result<ChatStream> {
        model.clone_into(&mut req.model);
        self.stack.chat_stream(&req, &RequestContext::new()).await
    }

    /// A text completion.
    pub async fn complete(
        &self,
        model: &str,
        mut req: CompletionRequest,
    ) -> Result<CompletionResponse> {
        model.clone_into(&mut req.model);
        self.stack.complete(&req, &RequestContext::new()).await
    }

    /// Embeddings.
    pub async fn embed(&self, model: &str, mut req: EmbeddingRequest) -> Result<EmbeddingResponse> {
        model.clone_into(&mut req.model);
        self.stack.embed(&req, &RequestContext::new()).await
    }

    /// Every model of every configured provider (and logical model), live where possible.
    pub async fn list_models(&self) -> Result<Vec<ModelInfo>> {
        self.stack.list_models(&RequestContext::new()).await
    }
}

fn provider_config_error(config: &Config, instance: &str, e: Error) -> ConfigError {
    match e {
        Error::InvalidConfig { field, reason, .. } => {
            config.invalid(format!("providers.{instance}.{field}"), reason)
        }
        Error::ProviderNotFound { name, known } => config.invalid(
            format!("providers.{instance}.type"),
            format!("provider type `{name}` is not linked into this build (linked: {known})"),
        ),
        other => config.invalid(format!("providers.{instance}"), other.to_string()),
    }
}
