//! Who an upstream call is for and how long to wait: [`CallInfo`], below the client and the
//! trace propagation that both read it.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderMap;

use super::status::{ErrorContext, map_status};
use crate::error::{Error, TimeoutPhase};
use crate::secret::Secret;

/// Maps an error status and body to an [`Error`]; providers may supply their own.
pub type ErrorMapper = fn(&ErrorContext<'_>, u16, &HeaderMap, &[u8]) -> Error;

/// Who is being called and how long to wait.
#[derive(Debug, Clone)]
pub struct CallInfo {
    /// Provider instance.
    pub provider: Arc<str>,
    /// Model.
    pub model: String,
    /// The credential, redacted from kept error bodies.
    pub secret: Option<Secret>,
    /// Longest wait for a complete non-streaming answer, or for a stream's headers.
    pub timeout: Duration,
    /// Longest silence between two chunks of a stream.
    pub idle_timeout: Duration,
    /// Status mapping.
    pub map_error: ErrorMapper,
}

impl CallInfo {
    /// A call with the default status mapping.
    pub fn new(provider: Arc<str>, model: &str, secret: Option<Secret>, timeout: Duration) -> Self {
        Self {
            provider,
            model: model.to_owned(),
            secret,
            timeout,
            idle_timeout: timeout,
            map_error: map_status,
        }
    }

    /// The error context for status mapping.
    pub fn error_context(&self) -> ErrorContext<'_> {
        ErrorContext {
            provider: &self.provider,
            model: &self.model,
            secret: self.secret.as_ref(),
        }
    }

    pub(super) fn timeout_err(&self, phase: TimeoutPhase, after: Duration) -> Error {
        Error::Timeout {
            provider: self.provider.to_string(),
            model: self.model.clone(),
            phase,
            after,
        }
    }

    /// Maps a transport error.
    pub fn transport_error(&self, e: &reqwest::Error) -> Error {
        // reqwest's Display may include the URL; URLs never carry keys here.
        let message = error_chain(e);
        if e.is_timeout() {
            let phase = if e.is_connect() {
                TimeoutPhase::Connect
            } else {
                TimeoutPhase::Response
            };
            return self.timeout_err(phase, self.timeout);
        }
        Error::Connect {
            provider: self.provider.to_string(),
            model: self.model.clone(),
            message,
        }
    }

    /// Maps an error while reading the body, after the response head arrived: the
    /// connection had been made, so a cut is [`Error::Disconnected`], not [`Error::Connect`].
    pub fn body_error(&self, e: &reqwest::Error) -> Error {
        if e.is_timeout() {
            return self.timeout_err(TimeoutPhase::Response, self.timeout);
        }
        Error::Disconnected {
            provider: self.provider.to_string(),
            model: self.model.clone(),
            message: error_chain(e),
        }
    }

    /// A decode error for this call.
    pub fn decode_error(&self, what: &str, err: impl std::fmt::Display, text: &[u8]) -> Error {
        let text = String::from_utf8_lossy(text);
        let secrets: Vec<&Secret> = self.secret.iter().collect();
        Error::decode(
            &self.provider,
            &self.model,
            what,
            err,
            &crate::secret::redact(&text, &secrets),
        )
    }
}

pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}
