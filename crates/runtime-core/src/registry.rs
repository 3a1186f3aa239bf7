//! Link-time provider registration and the registry that builds configured instances.
//!
//! A provider crate declares one [`ProviderFactory`] and registers it with
//! [`register_provider!`](crate::register_provider). Linking the crate is enough: the registry
//! finds it through `inventory`, with no call by name.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::http::HttpClient;
use crate::provider::Provider;
use crate::secret::Secret;

/// The type of a config field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SettingKind {
    /// Any string.
    String,
    /// A credential (never printed).
    Secret,
    /// An `http(s)://` URL.
    Url,
    /// A non-negative integer.
    Integer,
    /// `true` / `false`.
    Bool,
    /// Seconds as a number, or a string such as `"30s"`, `"500ms"`, `"2m"`.
    Duration,
    /// A list of strings.
    StringList,
    /// A table of string to string.
    Map,
}

impl SettingKind {
    fn name(self) -> &'static str {
        match self {
            SettingKind::String => "string",
            SettingKind::Secret => "secret",
            SettingKind::Url => "url",
            SettingKind::Integer => "integer",
            SettingKind::Bool => "bool",
            SettingKind::Duration => "duration",
            SettingKind::StringList => "list of strings",
            SettingKind::Map => "table of strings",
        }
    }
}

/// One config field a provider accepts.
#[derive(Debug, Clone, Copy)]
pub struct SettingSpec {
    /// Key in the provider's config table.
    pub key: &'static str,
    /// Its type.
    pub kind: SettingKind,
    /// Whether the provider cannot work without it.
    pub required: bool,
    /// An environment variable read when the key is absent.
    pub env: Option<&'static str>,
    /// The value used when neither the key nor the variable is set.
    pub default: Option<&'static str>,
    /// One line of help.
    pub help: &'static str,
}

impl SettingSpec {
    /// True for credentials.
    pub fn is_secret(&self) -> bool {
        self.kind == SettingKind::Secret
    }
}

/// Everything the registry needs to know about a provider type.
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
    pub build: fn(ProviderConfig, &BuildContext) -> Result<Arc<dyn Provider>>,
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
/// ```ignore
/// pub static FACTORY: ProviderFactory = ProviderFactory { /* … */ };
/// runtime_core::register_provider!(FACTORY);
/// ```
#[macro_export]
macro_rules! register_provider {
    ($factory:path) => {
        $crate::inventory::submit! {
            $crate::registry::ProviderRegistration(&$factory)
        }
    };
}

/// Shared resources handed to every provider constructor.
#[derive(Debug, Clone)]
pub struct BuildContext {
    /// The one HTTP client (and connection pool) all providers share.
    pub http: HttpClient,
}

/// A provider's validated config: every declared field with env and default filled in.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    instance: String,
    provider_type: &'static str,
    values: Map<String, Value>,
}

impl ProviderConfig {
    /// The instance name.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The provider type.
    pub fn provider_type(&self) -> &'static str {
        self.provider_type
    }

    fn err(&self, field: &str, reason: impl Into<String>) -> Error {
        Error::InvalidConfig {
            provider: self.instance.clone(),
            field: field.to_owned(),
            reason: reason.into(),
        }
    }

    /// A string field, if set.
    pub fn string(&self, key: &str) -> Result<Option<String>> {
        match self.values.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.err(key, format!("expected a string, got {other}"))),
        }
    }

    /// A required string field.
    pub fn required_string(&self, key: &str) -> Result<String> {
        self.string(key)?
            .ok_or_else(|| self.err(key, "is required"))
    }

    /// A credential field, if set and non-empty.
    pub fn secret(&self, key: &str) -> Result<Option<Secret>> {
        Ok(self
            .string(key)
            .map_err(|_| self.err(key, "expected a string"))?
            .filter(|s| !s.is_empty())
            .map(Secret::new))
    }

    /// An integer field, if set.
    pub fn integer(&self, key: &str) -> Result<Option<u64>> {
        match self.values.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.err(key, format!("expected a non-negative integer, got {v}"))),
        }
    }

    /// A boolean field, if set.
    pub fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.values.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(v) => Err(self.err(key, format!("expected true or false, got {v}"))),
        }
    }

    /// A duration field, if set.
    pub fn duration(&self, key: &str) -> Result<Option<Duration>> {
        match self.values.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => parse_duration_value(v)
                .map(Some)
                .map_err(|reason| self.err(key, reason)),
        }
    }

    /// A list-of-strings field (empty when unset).
    pub fn string_list(&self, key: &str) -> Result<Vec<String>> {
        match self.values.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| self.err(key, "expected a list of strings"))
                })
                .collect(),
            Some(_) => Err(self.err(key, "expected a list of strings")),
        }
    }

    /// A table-of-strings field (empty when unset).
    pub fn string_map(&self, key: &str) -> Result<BTreeMap<String, String>> {
        match self.values.get(key) {
            None | Some(Value::Null) => Ok(BTreeMap::new()),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| {
                    v.as_str()
                        .map(|s| (k.clone(), s.to_owned()))
                        .ok_or_else(|| self.err(&format!("{key}.{k}"), "expected a string"))
                })
                .collect(),
            Some(_) => Err(self.err(key, "expected a table of strings")),
        }
    }
}

/// Parses `30`, `1.5`, `"30s"`, `"500ms"`, `"2m"`, `"1h"`.
pub fn parse_duration_value(v: &Value) -> std::result::Result<Duration, String> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .and_then(|f| Duration::try_from_secs_f64(f).ok())
            .ok_or_else(|| format!("expected a non-negative number of seconds, got {n}")),
        Value::String(s) => parse_duration_str(s),
        other => Err(format!("expected a duration such as \"30s\", got {other}")),
    }
}

/// Parses a duration string: `"30s"`, `"500ms"`, `"2m"`, `"1h"`, `"1.5"` (seconds).
pub fn parse_duration_str(s: &str) -> std::result::Result<Duration, String> {
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (s, 1.0)
    };
    num.trim()
        .parse::<f64>()
        .ok()
        .and_then(|f| Duration::try_from_secs_f64(f * mult).ok())
        .ok_or_else(|| format!("`{s}` is not a duration (use e.g. \"30s\", \"500ms\", \"2m\")"))
}

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

impl ProviderRegistry {
    /// Every provider registered through `inventory`, plus `builtin` (a facade passes its
    /// enabled providers here so the linker can never drop one). Two different factories with
    /// one name are an error.
    pub fn new(builtin: &[&'static ProviderFactory], http: HttpClient) -> Result<Self> {
        let mut factories: BTreeMap<&'static str, &'static ProviderFactory> = BTreeMap::new();
        let linked = inventory::iter::<ProviderRegistration>
            .into_iter()
            .map(|r| r.0)
            .chain(builtin.iter().copied());
        for f in linked {
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
            ctx: BuildContext { http },
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

/// [`ProviderRegistry::validate`] with a custom environment (for tests and `config check`).
pub fn validate_with(
    factory: &'static ProviderFactory,
    instance: &str,
    table: &Map<String, Value>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ProviderConfig> {
    let err = |field: &str, reason: String| Error::InvalidConfig {
        provider: instance.to_owned(),
        field: field.to_owned(),
        reason,
    };
    for key in table.keys() {
        if key == "type" {
            continue;
        }
        if !factory.settings.iter().any(|s| s.key == key) {
            let known: Vec<&str> = factory.settings.iter().map(|s| s.key).collect();
            return Err(err(
                key,
                format!(
                    "unknown field for provider type `{}`; known fields: {}",
                    factory.name,
                    known.join(", ")
                ),
            ));
        }
    }
    let mut values = Map::new();
    for spec in factory.settings {
        let raw = match table.get(spec.key) {
            Some(v) if !v.is_null() => Some(v.clone()),
            _ => spec
                .env
                .and_then(env)
                .filter(|s| !s.is_empty())
                .map(|s| from_env_string(spec.kind, &s))
                .or_else(|| spec.default.map(|d| from_env_string(spec.kind, d))),
        };
        let Some(v) = raw else {
            if spec.required {
                let hint = spec
                    .env
                    .map(|e| format!(" or set the environment variable {e}"))
                    .unwrap_or_default();
                return Err(err(
                    spec.key,
                    format!("is required: {}; set `{}`{hint}", spec.help, spec.key),
                ));
            }
            continue;
        };
        check_kind(spec, &v).map_err(|reason| err(spec.key, reason))?;
        values.insert(spec.key.to_owned(), v);
    }
    Ok(ProviderConfig {
        instance: instance.to_owned(),
        provider_type: factory.name,
        values,
    })
}

fn from_env_string(kind: SettingKind, s: &str) -> Value {
    match kind {
        SettingKind::Integer => s
            .parse::<u64>()
            .map(Value::from)
            .unwrap_or_else(|_| Value::String(s.to_owned())),
        SettingKind::Bool => match s {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            _ => Value::String(s.to_owned()),
        },
        SettingKind::StringList => Value::Array(
            s.split(',')
                .map(|p| Value::String(p.trim().to_owned()))
                .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
                .collect(),
        ),
        _ => Value::String(s.to_owned()),
    }
}

fn check_kind(spec: &SettingSpec, v: &Value) -> std::result::Result<(), String> {
    let ok = match spec.kind {
        SettingKind::String | SettingKind::Secret => v.is_string(),
        SettingKind::Url => v.as_str().is_some_and(|s| {
            (s.starts_with("http://") || s.starts_with("https://")) && s.len() > 8
        }),
        SettingKind::Integer => v.is_u64(),
        SettingKind::Bool => v.is_boolean(),
        SettingKind::Duration => return parse_duration_value(v).map(|_| ()),
        SettingKind::StringList => v.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
        SettingKind::Map => v
            .as_object()
            .is_some_and(|m| m.values().all(Value::is_string)),
    };
    if ok {
        Ok(())
    } else {
        let shown = if spec.is_secret() {
            "***".to_owned()
        } else {
            crate::error::truncate(&v.to_string(), 80)
        };
        Err(format!("expected {}, got {shown}", spec.kind.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn build(_: ProviderConfig, _: &BuildContext) -> Result<Arc<dyn Provider>> {
        Err(Error::unsupported("test", "building"))
    }

    static SPECS: &[SettingSpec] = &[
        SettingSpec {
            key: "api_key",
            kind: SettingKind::Secret,
            required: true,
            env: Some("TEST_KEY_VAR"),
            default: None,
            help: "the key",
        },
        SettingSpec {
            key: "base_url",
            kind: SettingKind::Url,
            required: false,
            env: None,
            default: Some("https://example.test/v1"),
            help: "where",
        },
        SettingSpec {
            key: "timeout",
            kind: SettingKind::Duration,
            required: false,
            env: None,
            default: Some("60s"),
            help: "how long",
        },
    ];

    static TEST: ProviderFactory = ProviderFactory {
        name: "test",
        display_name: "Test",
        description: "test",
        crate_name: "runtime-core",
        crate_version: "0",
        settings: SPECS,
        build,
    };

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

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration_str("500ms").unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(parse_duration_str("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(
            parse_duration_str("1.5").unwrap(),
            Duration::from_millis(1500)
        );
        assert!(parse_duration_str("soon").is_err());
        assert!(parse_duration_str("1e300h").is_err());
        assert!(parse_duration_str("-1s").is_err());
        assert!(parse_duration_value(&serde_json::json!(1e300)).is_err());
    }
}
