//! A provider's validated config, and the validation that makes it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use super::settings::{
    API_KEY, BASE_URL, STREAM_IDLE_TIMEOUT, SettingSpec, TIMEOUT, parse_duration_value,
};
use crate::error::{Error, Result};
use crate::secret::Secret;

/// How long a provider instance waits: for a whole answer (or a stream's headers), and
/// between two chunks of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// Longest wait for a whole answer, or for a stream to start.
    pub request: Duration,
    /// Longest silence between two streamed chunks.
    pub stream_idle: Duration,
}

impl Timeouts {
    /// The standard settings' defaults: 600 s for a request, 120 s of stream silence.
    pub const DEFAULT: Timeouts = Timeouts::new(Duration::from_secs(600), Duration::from_secs(120));

    /// Both timeouts.
    pub const fn new(request: Duration, stream_idle: Duration) -> Self {
        Self {
            request,
            stream_idle,
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A provider's validated config: every declared field with env and default filled in.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub(super) instance: String,
    pub(super) provider_type: &'static str,
    pub(super) settings: &'static [SettingSpec],
    pub(super) values: Map<String, Value>,
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

    /// A config error naming this instance and `field`.
    pub fn error(&self, field: &str, reason: impl Into<String>) -> Error {
        self.err(field, reason)
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

    /// A required credential: the error names the field and its environment variable.
    pub fn required_secret(&self, key: &str) -> Result<Secret> {
        self.secret(key)?.ok_or_else(|| {
            let hint = self
                .settings
                .iter()
                .find(|s| s.key == key)
                .and_then(|s| s.env)
                .map(|e| format!(" or the environment variable {e}"))
                .unwrap_or_default();
            self.err(key, format!("is required: set `{key}`{hint}"))
        })
    }

    /// The standard `api_key` ([`SettingSpec::api_key`]), if set.
    pub fn api_key(&self) -> Result<Option<Secret>> {
        self.secret(API_KEY)
    }

    /// The standard `base_url` ([`SettingSpec::base_url`]; its default is filled in), with any
    /// trailing `/` removed.
    pub fn base_url(&self) -> Result<String> {
        Ok(self
            .required_string(BASE_URL)?
            .trim_end_matches('/')
            .to_owned())
    }

    /// The standard `timeout` and `stream_idle_timeout` ([`SettingSpec::TIMEOUT`],
    /// [`SettingSpec::STREAM_IDLE_TIMEOUT`]); a field the provider does not declare keeps
    /// [`Timeouts::DEFAULT`]'s value.
    pub fn timeouts(&self) -> Result<Timeouts> {
        let mut t = Timeouts::DEFAULT;
        if let Some(d) = self.duration(TIMEOUT)? {
            t.request = d;
        }
        if let Some(d) = self.duration(STREAM_IDLE_TIMEOUT)? {
            t.stream_idle = d;
        }
        Ok(t)
    }
}
