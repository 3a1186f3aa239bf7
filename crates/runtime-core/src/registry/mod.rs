//! Link-time provider registration and the registry that builds configured instances.
//!
//! A provider crate declares one [`ProviderFactory`] (with [`SettingSpec`]s for its config
//! fields) and registers it with [`register_provider!`](crate::register_provider). Linking the
//! crate is enough: the registry finds it through `inventory`, with no call by name.

mod config;
mod factory;
mod settings;
mod validate;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use serde_json::{Map, Value};

pub use config::{ProviderConfig, Timeouts};
pub use factory::{BuildContext, BuildFn, ProviderFactory, ProviderRegistration};
pub use settings::{
    API_KEY, BASE_URL, STREAM_IDLE_TIMEOUT, SettingKind, SettingSpec, TIMEOUT, parse_duration_str,
    parse_duration_value,
};
pub use validate::validate_with;

use crate::error::{Error, Result};
use crate::http::HttpClient;
use crate::provider::Provider;

/// The linked provider types and the instances built from them.
pub struct ProviderRegistry {
    factories: BTreeMap<&'static str, &'static ProviderFactory>,
    instances: RwLock<HashMap<String, Arc<dyn Provider>>>,
    ctx: BuildContext,
}

impl std::fmt::Debug for ProviderRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderRegistry")
            .field("factories", &self.factories.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Every provider factory linked into this binary: those registered through `inventory` (a
/// third-party crate's [`register_provider!`](crate::register_provider)) and `builtin`, once
/// each, sorted by name. Two factories of one name are both kept (the registry rejects them).
pub fn linked(builtin: &[&'static ProviderFactory]) -> Vec<&'static ProviderFactory> {
    let mut v: Vec<&'static ProviderFactory> = inventory::iter::<ProviderRegistration>
        .into_iter()
        .map(|r| r.0)
        .chain(builtin.iter().copied())
        .collect();
    v.sort_by_key(|f| f.name);
    v.dedup_by(|a, b| std::ptr::eq(*a, *b));
    v
}

impl ProviderRegistry {
    /// Every provider registered through `inventory`, plus `builtin` (a facade passes its
    /// enabled providers here so the linker can never drop one). Two different factories with
    /// one name are an error.
    pub fn new(builtin: &[&'static ProviderFactory], http: HttpClient) -> Result<Self> {
        let mut factories: BTreeMap<&'static str, &'static ProviderFactory> = BTreeMap::new();
        for f in linked(builtin) {
            match factories.get(f.name) {
                Some(existing) if !std::ptr::eq(*existing, f) => {
                    return Err(Error::InvalidConfig {
                        provider: f.name.to_owned(),
                        field: "name".into(),
                        reason: format!(
                            "two linked crates register provider `{}`: {} and {}",
                            f.name, existing.crate_name, f.crate_name
                        ),
                    });
                }
                _ => {
                    factories.insert(f.name, f);
                }
            }
        }
        Ok(Self {
            factories,
            instances: RwLock::new(HashMap::new()),
            ctx: BuildContext::new(http),
        })
    }

    /// The linked provider types, sorted by name.
    pub fn factories(&self) -> impl Iterator<Item = &'static ProviderFactory> + '_ {
        self.factories.values().copied()
    }

    /// The names of the linked provider types.
    pub fn names(&self) -> Vec<&'static str> {
        self.factories.keys().copied().collect()
    }

    /// A provider type by name.
    pub fn factory(&self, provider_type: &str) -> Result<&'static ProviderFactory> {
        self.factories
            .get(provider_type)
            .copied()
            .ok_or_else(|| Error::ProviderNotFound {
                name: provider_type.to_owned(),
                known: self.names().join(", "),
            })
    }

    /// The shared HTTP client.
    pub fn http(&self) -> &HttpClient {
        &self.ctx.http
    }

    /// Checks a config table against a provider type's fields: unknown keys and missing
    /// required fields are errors naming the field; env variables and defaults fill the rest.
    pub fn validate(
        &self,
        provider_type: &str,
        instance: &str,
        table: &Map<String, Value>,
    ) -> Result<ProviderConfig> {
        let factory = self.factory(provider_type)?;
        validate_with(factory, instance, table, &|k| std::env::var(k).ok())
    }

    /// Builds (once) and returns the instance `instance` of `provider_type`. Later calls with
    /// the same instance name hand out the same shared instance.
    pub fn build(
        &self,
        provider_type: &str,
        instance: &str,
        table: &Map<String, Value>,
    ) -> Result<Arc<dyn Provider>> {
        if let Some(p) = self.get(instance) {
            return Ok(p);
        }
        let config = self.validate(provider_type, instance, table)?;
        let factory = self.factory(provider_type)?;
        let built = (factory.build)(config, &self.ctx)?;
        let mut map = self
            .instances
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(map.entry(instance.to_owned()).or_insert(built).clone())
    }

    /// A built instance by name.
    pub fn get(&self, instance: &str) -> Option<Arc<dyn Provider>> {
        self.instances
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(instance)
            .cloned()
    }

    /// Adds an instance built elsewhere (a test double, a router).
    pub fn insert(&self, instance: impl Into<String>, provider: Arc<dyn Provider>) {
        self.instances
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(instance.into(), provider);
    }

    /// The names of the built instances, sorted.
    pub fn instances(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .instances
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .cloned()
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn build(_: ProviderConfig, _: &BuildContext) -> Result<Arc<dyn Provider>> {
        Err(Error::unsupported("test", "building"))
    }

    static SPECS: &[SettingSpec] = &[
        SettingSpec::api_key("TEST_KEY_VAR").help("the key"),
        SettingSpec::base_url("https://example.test/v1"),
        SettingSpec::TIMEOUT.default("60s"),
    ];

    static TEST: ProviderFactory = ProviderFactory::new("test", build)
        .display_name("Test")
        .crate_info("runtime-core", "0")
        .settings(SPECS);

    #[test]
    fn unknown_and_missing_fields_are_named() {
        let t = json!({"api_key": "k", "bse_url": "x"});
        let e = validate_with(&TEST, "t", t.as_object().unwrap(), &|_| None).unwrap_err();
        assert!(e.to_string().contains("bse_url"), "{e}");
        let e = validate_with(&TEST, "t", &Map::new(), &|_| None).unwrap_err();
        let s = e.to_string();
        assert!(s.contains("api_key") && s.contains("TEST_KEY_VAR"), "{s}");
    }

    #[test]
    fn env_and_defaults_fill_in() {
        let c = validate_with(&TEST, "t", &Map::new(), &|v| {
            (v == "TEST_KEY_VAR").then(|| "sk-env".to_owned())
        })
        .unwrap();
        assert_eq!(c.secret("api_key").unwrap().unwrap().expose(), "sk-env");
        assert_eq!(
            c.string("base_url").unwrap().unwrap(),
            "https://example.test/v1"
        );
        assert_eq!(
            c.duration("timeout").unwrap(),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn wrong_type_never_prints_a_secret() {
        let t = json!({"api_key": 12345678});
        let e = validate_with(&TEST, "t", t.as_object().unwrap(), &|_| None).unwrap_err();
        assert!(!e.to_string().contains("12345678"), "{e}");
        let t = json!({"api_key": "k", "base_url": "ftp://x"});
        assert!(validate_with(&TEST, "t", t.as_object().unwrap(), &|_| None).is_err());
    }
}

#[cfg(test)]
mod standard_settings_tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn build(_: ProviderConfig, _: &BuildContext) -> Result<Arc<dyn Provider>> {
        Err(Error::unsupported("t", "building"))
    }

    static SPECS: &[SettingSpec] = &[
        SettingSpec::api_key("STD_KEY"),
        SettingSpec::base_url("https://std.example/v1/"),
        SettingSpec::TIMEOUT,
        SettingSpec::STREAM_IDLE_TIMEOUT.default("300s"),
    ];
    static STD: ProviderFactory = ProviderFactory::new("std", build).settings(SPECS);

    #[test]
    fn the_standard_fields_read_back() {
        let t = json!({"api_key": "k", "timeout": "5s"});
        let c = validate_with(&STD, "s", t.as_object().unwrap(), &|_| None).unwrap();
        assert_eq!(c.api_key().unwrap().unwrap().expose(), "k");
        assert_eq!(c.base_url().unwrap(), "https://std.example/v1");
        assert_eq!(
            c.timeouts().unwrap(),
            Timeouts::new(Duration::from_secs(5), Duration::from_secs(300))
        );
    }

    #[test]
    fn a_missing_required_secret_names_its_variable() {
        let c = validate_with(&STD, "s", &Map::new(), &|_| Some("k".into())).unwrap();
        let e = c.required_secret("other").unwrap_err().to_string();
        assert!(e.contains("`other`"), "{e}");
        let e = validate_with(&STD, "s", &Map::new(), &|_| None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("STD_KEY"), "{e}");
    }
}
