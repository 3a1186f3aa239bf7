//! The config fields a provider declares: their kinds, `const` builders usable in statics, and
//! the standard fields most providers share.

use std::time::Duration;

use serde_json::Value;

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
    /// How the kind reads in an error message.
    pub fn name(self) -> &'static str {
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
///
/// Built with `const` functions, so a provider's fields can live in a `static`:
///
/// ```
/// use runtime_core::SettingSpec;
///
/// static SETTINGS: &[SettingSpec] = &[
///     SettingSpec::api_key("ACME_API_KEY"),
///     SettingSpec::base_url("https://api.acme.example/v1"),
///     SettingSpec::string("region").default("eu").help("data region: `eu` or `us`"),
///     SettingSpec::TIMEOUT,
///     SettingSpec::STREAM_IDLE_TIMEOUT,
/// ];
/// assert!(SETTINGS[0].required && SETTINGS[0].is_secret());
/// assert_eq!(SETTINGS[0].env, Some("ACME_API_KEY"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
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
    /// An optional field of `kind` with no variable, no default and no help yet.
    pub const fn new(key: &'static str, kind: SettingKind) -> Self {
        Self {
            key,
            kind,
            required: false,
            env: None,
            default: None,
            help: "",
        }
    }

    /// A string field.
    pub const fn string(key: &'static str) -> Self {
        Self::new(key, SettingKind::String)
    }

    /// A credential field (never printed, not even in a type error).
    pub const fn secret(key: &'static str) -> Self {
        Self::new(key, SettingKind::Secret)
    }

    /// An `http(s)://` URL field.
    pub const fn url(key: &'static str) -> Self {
        Self::new(key, SettingKind::Url)
    }

    /// A non-negative integer field.
    pub const fn integer(key: &'static str) -> Self {
        Self::new(key, SettingKind::Integer)
    }

    /// A boolean field.
    pub const fn bool(key: &'static str) -> Self {
        Self::new(key, SettingKind::Bool)
    }

    /// A duration field (`30`, `"30s"`, `"500ms"`, `"2m"`).
    pub const fn duration(key: &'static str) -> Self {
        Self::new(key, SettingKind::Duration)
    }

    /// A list-of-strings field (from the environment: comma separated).
    pub const fn string_list(key: &'static str) -> Self {
        Self::new(key, SettingKind::StringList)
    }

    /// A table-of-strings field.
    pub const fn map(key: &'static str) -> Self {
        Self::new(key, SettingKind::Map)
    }

    /// Reads `var` from the environment when the key is absent.
    pub const fn env(mut self, var: &'static str) -> Self {
        self.env = Some(var);
        self
    }

    /// Uses `value` (parsed like an environment variable) when neither the key nor the
    /// variable is set.
    pub const fn default(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self
    }

    /// Makes the field required: a config without it (and without its variable or default)
    /// is rejected, naming the field and the variable.
    pub const fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Marks the field optional (the standard specs' `required` undone).
    pub const fn optional(mut self) -> Self {
        self.required = false;
        self
    }

    /// One line of help, shown by `modelrt providers` and in errors.
    pub const fn help(mut self, text: &'static str) -> Self {
        self.help = text;
        self
    }

    /// The standard credential: `api_key`, a required secret read from `env_var` when absent.
    pub const fn api_key(env_var: &'static str) -> Self {
        Self::secret(API_KEY)
            .env(env_var)
            .required()
            .help("API key")
    }

    /// The standard `base_url`, defaulting to the provider's public API.
    pub const fn base_url(default: &'static str) -> Self {
        Self::url(BASE_URL).default(default).help("API base URL")
    }

    /// The standard whole-request `timeout` (default 600 s).
    pub const TIMEOUT: SettingSpec = Self::duration(TIMEOUT)
        .default("600s")
        .help("longest wait for a whole answer, or for a stream to start");

    /// The standard `stream_idle_timeout` (default 120 s).
    pub const STREAM_IDLE_TIMEOUT: SettingSpec = Self::duration(STREAM_IDLE_TIMEOUT)
        .default("120s")
        .help("longest silence between two streamed chunks");

    /// True for credentials.
    pub fn is_secret(&self) -> bool {
        self.kind == SettingKind::Secret
    }
}

/// The key of the standard credential field.
pub const API_KEY: &str = "api_key";
/// The key of the standard base URL field.
pub const BASE_URL: &str = "base_url";
/// The key of the standard whole-request timeout field.
pub const TIMEOUT: &str = "timeout";
/// The key of the standard stream idle timeout field.
pub const STREAM_IDLE_TIMEOUT: &str = "stream_idle_timeout";

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

/// An environment variable's (or a default's) text as the JSON value of a field of `kind`.
pub(crate) fn from_env_string(kind: SettingKind, s: &str) -> Value {
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

/// Checks a value against its field's kind; the error never shows a secret.
pub(crate) fn check_kind(spec: &SettingSpec, v: &Value) -> std::result::Result<(), String> {
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

    #[test]
    fn builders_fill_every_field() {
        const S: SettingSpec = SettingSpec::secret("k")
            .env("K_VAR")
            .default("d")
            .required()
            .help("h");
        assert_eq!(
            (S.key, S.kind, S.required, S.env, S.default, S.help),
            (
                "k",
                SettingKind::Secret,
                true,
                Some("K_VAR"),
                Some("d"),
                "h"
            )
        );
        assert!(!SettingSpec::api_key("X").optional().required);
        assert_eq!(SettingSpec::TIMEOUT.default, Some("600s"));
        assert_eq!(SettingSpec::STREAM_IDLE_TIMEOUT.key, "stream_idle_timeout");
        assert_eq!(
            SettingSpec::base_url("https://a.example").kind,
            SettingKind::Url
        );
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
