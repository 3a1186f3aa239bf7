//! What a provider crate declares: its factory, registered at link time.

use std::sync::Arc;

use super::config::ProviderConfig;
use super::settings::SettingSpec;
use crate::error::Result;
use crate::http::HttpClient;
use crate::provider::Provider;

/// The signature of a provider's constructor: a validated config and the shared resources in,
/// a shared instance out.
pub type BuildFn = fn(ProviderConfig, &BuildContext) -> Result<Arc<dyn Provider>>;

/// Everything the registry needs to know about a provider type.
///
/// Built with `const` functions, so it can be the `static` that
/// [`register_provider!`](crate::register_provider) submits:
///
/// ```
/// use std::sync::Arc;
/// use runtime_core::{BuildContext, Error, Provider, ProviderConfig, ProviderFactory, Result,
///                    SettingSpec};
///
/// static SETTINGS: &[SettingSpec] = &[SettingSpec::api_key("ACME_API_KEY")];
///
/// pub static FACTORY: ProviderFactory = ProviderFactory::new("acme", build)
///     .display_name("Acme")
///     .description("Acme's chat API")
///     .crate_info(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
///     .settings(SETTINGS);
/// runtime_core::register_provider!(FACTORY);
///
/// fn build(cfg: ProviderConfig, _ctx: &BuildContext) -> Result<Arc<dyn Provider>> {
///     Err(Error::unsupported(cfg.instance(), "building (an example)"))
/// }
/// # assert_eq!(FACTORY.display_name, "Acme");
/// ```
#[non_exhaustive]
pub struct ProviderFactory {
    /// The provider type's name (`openai`, `anthropic`…); also the default instance name.
    pub name: &'static str,
    /// A human name.
    pub display_name: &'static str,
    /// One line on what it talks to.
    pub description: &'static str,
    /// The crate that provides it (`env!("CARGO_PKG_NAME")`).
    pub crate_name: &'static str,
    /// Its version.
    pub crate_version: &'static str,
    /// Its config fields.
    pub settings: &'static [SettingSpec],
    /// Builds an instance from a validated config.
    pub build: BuildFn,
}

impl ProviderFactory {
    /// A factory named `name` (display name `name`, no settings yet).
    pub const fn new(name: &'static str, build: BuildFn) -> Self {
        Self {
            name,
            display_name: name,
            description: "",
            crate_name: "",
            crate_version: "",
            settings: &[],
            build,
        }
    }

    /// A human name, shown by `modelrt providers`.
    pub const fn display_name(mut self, display_name: &'static str) -> Self {
        self.display_name = display_name;
        self
    }

    /// One line on what it talks to.
    pub const fn description(mut self, description: &'static str) -> Self {
        self.description = description;
        self
    }

    /// The crate and version that provide it: pass `env!("CARGO_PKG_NAME")` and
    /// `env!("CARGO_PKG_VERSION")`.
    pub const fn crate_info(mut self, name: &'static str, version: &'static str) -> Self {
        self.crate_name = name;
        self.crate_version = version;
        self
    }

    /// Its config fields.
    pub const fn settings(mut self, settings: &'static [SettingSpec]) -> Self {
        self.settings = settings;
        self
    }
}

impl std::fmt::Debug for ProviderFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderFactory")
            .field("name", &self.name)
            .field("crate", &self.crate_name)
            .finish_non_exhaustive()
    }
}

/// What `inventory` collects: a reference to a provider crate's factory.
#[derive(Debug)]
pub struct ProviderRegistration(pub &'static ProviderFactory);

inventory::collect!(ProviderRegistration);

/// Registers a provider crate's `static` [`ProviderFactory`] at link time.
///
/// Linking the crate is then enough for the registry to find it (an application that names
/// nothing else from it writes `use the_provider as _;`). See [`ProviderFactory`] for a whole
/// declaration.
#[macro_export]
macro_rules! register_provider {
    ($factory:path) => {
        $crate::macro_support::inventory::submit! {
            $crate::registry::ProviderRegistration(&$factory)
        }
    };
}

/// Shared resources handed to every provider constructor.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct BuildContext {
    /// The one HTTP client (and connection pool) all providers share.
    pub http: HttpClient,
}

impl BuildContext {
    /// A context sharing `http`.
    pub fn new(http: HttpClient) -> Self {
        Self { http }
    }
}
