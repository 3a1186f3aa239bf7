//! The one error type every provider, router and cache layer returns.

use std::time::Duration;

/// What the caller (usually the router) should do after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retryability {
    /// Transient: try again (same or another deployment), not before `after` when given.
    Retry {
        /// The provider's requested wait (`Retry-After` and friends).
        after: Option<Duration>,
    },
    /// This deployment or key cannot serve it; another one may.
    Failover,
    /// Retrying cannot help (bad request, decode error, content already streamed…).
    Never,
}

/// Which wait ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutPhase {
    /// Opening the connection.
    Connect,
    /// Waiting for the response (headers and, for non-streaming calls, the body).
    Response,
    /// Waiting for the first streamed event.
    FirstToken,
    /// Waiting between two streamed events.
    StreamIdle,
    /// The request's overall deadline.
    Deadline,
}

impl std::fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Connect => "connect",
            TimeoutPhase::Response => "response",
            TimeoutPhase::FirstToken => "first token",
            TimeoutPhase::StreamIdle => "stream idle",
            TimeoutPhase::Deadline => "deadline",
        })
    }
}

fn opt_param(p: &Option<String>) -> String {
    p.as_ref()
        .map(|p| format!(" (param `{p}`)"))
        .unwrap_or_default()
}

/// Most characters of client input (model names, provider names) an error message repeats;
/// longer input is cut and marked with `…`, so an error never echoes a huge input whole.
pub const INPUT_EXCERPT_MAX: usize = 256;

/// `text` cut to [`INPUT_EXCERPT_MAX`] bytes (on a character boundary, marked with `…`):
/// what an error message may repeat of client input.
pub fn excerpt(text: &str) -> std::borrow::Cow<'_, str> {
    if text.len() <= INPUT_EXCERPT_MAX {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(truncate(text, INPUT_EXCERPT_MAX))
    }
}

fn opt_secs(d: &Option<Duration>) -> String {
    d.map(|d| format!("; retry after {:.3}s", d.as_secs_f64()))
        .unwrap_or_default()
}

/// Everything that can go wrong, typed so callers decide without matching strings.
///
/// Every upstream variant names the provider instance and the model; bodies kept in errors are
/// truncated and have the provider's credentials redacted.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No provider of that name is linked or configured.
    #[error(
        "provider `{}` not found; known providers: [{known}]. A third-party provider crate \
         must be linked into the binary (e.g. `use their_provider as _;`) and configured",
        excerpt(name)
    )]
    ProviderNotFound {
        /// The name asked for.
        name: String,
        /// The names that exist, comma separated.
        known: String,
    },
    /// The provider does not know the model.
    #[error("{provider}: model `{}` not found: {message}", excerpt(model))]
    ModelNotFound {
        /// Provider instance.
        provider: String,
        /// The model asked for.
        model: String,
        /// The provider's words.
        message: String,
    },
    /// A provider's configuration is wrong.
    #[error("invalid config for provider `{provider}`, field `{field}`: {reason}")]
    InvalidConfig {
        /// Provider instance or type.
        provider: String,
        /// The key path of the field.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The request cannot be served as it is.
    #[error(
        "{provider}: invalid request for model `{}`{}: {message}",
        excerpt(model),
        opt_param(param)
    )]
    InvalidRequest {
        /// Provider instance.
        provider: String,
        /// The model.
        model: String,
        /// The offending field.
        param: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// The provider rejected the credentials (401/403).
    #[error(
        "{provider}: authentication failed for model `{}` (HTTP {status}): {message}",
        excerpt(model)
    )]
    Authentication {
        /// Provider instance.
        provider: String,
        /// The model.
        model: String,
        /// HTTP status.
        status: u16,
        /// The provider's words.
        message: String,
    },
    /// Too many requests or tokens for now.
    #[error(
        "{provider}: rate limited on model `{}`{}: {message}",
        excerpt(model),
        opt_secs(retry_after)
    )]
    RateLimited {
        /// Provider instance (or `router` for the router's own limits).
        provider: String,
        /// The model.
        model: String,
        /// When to try again.
        retry_after: Option<Duration>,
        /// The provider's words.
        message: String,
    },
    /// The account is out of credit (429 `insufficient_quota`, 402): waiting will not help.
    #[error(
        "{provider}: quota exhausted for model `{}`: {message}",
        excerpt(model)
    )]
    QuotaExhausted {
        /// Provider instance.
        provider: String,
        /// The model.
        model: String,
        /// The provider's words.
        message: String,
    },
    /// The prompt does not fit the model's context window.
    #[error(
        "{provider}: context length exceeded for model `{}`: {message}",
        excerpt(model)
    )]
    ContextLengthExceeded {
        /// Provider instance.
        provider: String,
        /// The model.
        model: String,
        /// The provider's words.
        message: String,
    },
    /// The provider's safety system blocked the prompt or the answer.
    #[error(
        "{provider}: content filtered for model `{}`: {message}",
        excerpt(model)
    )]
    ContentFiltered {
        /// Provider instance.
        provider: String,
        /// The model.
        model: String,
        /// Why.
        message: String,
    },
    /// Any other upstream HTTP error.
    #[error(
        "{provider}: API error for model `{}` (HTTP {status}{}{}): {message}{}",
        excerpt(model),
        error_type.as_ref().map(|t| format!(", type `{t}`")).unwrap_or_default(),
        code.as_ref().map(|c| format!(", code `{c}`")).unwrap_or_default(),
        opt_secs(retry_after)
    )]
    Api {
        /// Provider instance.
        provider: String,
        /// The model.
        model: String,
        /// HTTP status.
        status: u16,
        /// The provider's error type.
        error_type: Option<String>,
        /// The provider's error code.
        code: Option<String>,
        /// The provider's words (truncated, redacted).
        message: String,
        /// When to try again, if the provider said.
        retry_after: Option<Duration>,
        /// The provider's own retry advice (OpenAI `x-should-retry`).
        should_retry: Option<bool>,
    },
    /// A wait ran out.
    #[error(
        "{provider}: timeout ({phase}) for model `{}` after {:.3}s",
        excerpt(model),
        after.as_secs_f64()
    )]
    Timeout {
        /// Provider instance.
        provider: String,
        /// The model.
        model: String,
        /// Which wait.
        phase: TimeoutPhase,
        /// How long it was.
        after: Duration,
    },
    /// The connection failed.
    #[error(
        "{provider}: connection failed for model `{}`: {message}",
        excerpt(model)
    )]
    Connect {
        /// Provider instance.
        provider: String,
        /// The model.
        model: String,
        /// What happened.
        message: String,
    },
    /// The provider's answer could not be read.
    #[error(
        "{provider}: could not decode {what} for model `{}`: {message}; body starts: {excerpt}",
        self::excerpt(model)
    )]
    Decode {
        /// Provider instance.
        provider: String,
        /// The model.
        model: String,
        /// What was being decoded.
        what: String,
        /// The parser's words.
        message: String,
        /// The start of the offending text (truncated, redacted).
        excerpt: String,
    },
    /// The connection to the provider broke after it was made (while the answer was being
    /// read, e.g. a stream cut mid-way): distinct from [`Error::Connect`], which never reached
    /// the provider.
    #[error(
        "{provider}: the connection was cut while reading the answer of model `{}`: {message}",
        excerpt(model)
    )]
    Disconnected {
        /// Provider instance.
        provider: String,
        /// The model.
        model: String,
        /// What happened.
        message: String,
    },
    /// The provider reported an error inside a stream (after HTTP 200).
    #[error("{provider}: stream error for model `{}`{}: {message}", excerpt(model), error_type.as_ref().map(|t| format!(" ({t})")).unwrap_or_default())]
    Stream {
        /// Provider instance.
        provider: String,
        /// The model.
        model: String,
        /// The provider's error type (e.g. `overloaded_error`).
        error_type: Option<String>,
        /// The provider's words.
        message: String,
        /// Whether the provider classed it as transient.
        transient: bool,
        /// Whether content had already been streamed to the caller.
        content_sent: bool,
    },
    /// The provider cannot do this.
    #[error("{provider}: {capability} is not supported")]
    Unsupported {
        /// Provider instance.
        provider: String,
        /// What was asked (e.g. `embeddings`, `completion suffix`).
        capability: String,
    },
    /// No deployment of a logical model can serve now.
    #[error("no healthy deployment for model `{}`: {reason}", excerpt(model))]
    NoHealthyDeployment {
        /// The logical model.
        model: String,
        /// Why (all cooling down, all unhealthy…).
        reason: String,
        /// When the first deployment is expected back (the end of the shortest cooldown, or
        /// the next health probe), sent to clients as `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// The caller went away or the request was cancelled.
    #[error("request cancelled")]
    Cancelled,
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// What the router should do: retry, fail over, or give up.
    pub fn retryability(&self) -> Retryability {
        match self {
            Error::RateLimited { retry_after, .. } => Retryability::Retry {
                after: *retry_after,
            },
            Error::Api {
                status,
                retry_after,
                should_retry,
                ..
            } => match should_retry {
                Some(true) => Retryability::Retry {
                    after: *retry_after,
                },
                Some(false) => Retryability::Never,
                None if matches!(status, 408 | 409 | 425 | 429) || *status >= 500 => {
                    Retryability::Retry {
                        after: *retry_after,
                    }
                }
                None => Retryability::Never,
            },
            Error::Timeout { .. } | Error::Connect { .. } | Error::Disconnected { .. } => {
                Retryability::Retry { after: None }
            }
            Error::Stream {
                transient,
                content_sent,
                ..
            } => {
                if *content_sent {
                    Retryability::Never
                } else if *transient {
                    Retryability::Retry { after: None }
                } else {
                    Retryability::Failover
                }
            }
            Error::Authentication { .. }
            | Error::QuotaExhausted { .. }
            | Error::ModelNotFound { .. }
            | Error::Unsupported { .. } => Retryability::Failover,
            Error::ProviderNotFound { .. }
            | Error::InvalidConfig { .. }
            | Error::InvalidRequest { .. }
            | Error::ContextLengthExceeded { .. }
            | Error::ContentFiltered { .. }
            | Error::Decode { .. }
            | Error::NoHealthyDeployment { .. }
            | Error::Cancelled => Retryability::Never,
        }
    }

    /// True when trying again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self.retryability(), Retryability::Retry { .. })
    }

    /// The wait the provider asked for, if any (only for errors worth retrying).
    pub fn retry_after(&self) -> Option<Duration> {
        match self.retryability() {
            Retryability::Retry { after } => after,
            _ => None,
        }
    }

    /// The known wait before the same request may succeed: the provider's hint of a retryable
    /// error, or when the router expects a deployment back ([`Error::NoHealthyDeployment`]).
    pub fn wait_hint(&self) -> Option<Duration> {
        match self {
            Error::NoHealthyDeployment { retry_after, .. } => *retry_after,
            _ => self.retry_after(),
        }
    }

    /// Replaces the wait hint of an error that carries one (rate limited, overloaded or
    /// unavailable answers, no healthy deployment); other errors are returned unchanged.
    pub fn with_wait_hint(mut self, wait: Duration) -> Self {
        match &mut self {
            Error::RateLimited { retry_after, .. }
            | Error::NoHealthyDeployment { retry_after, .. } => *retry_after = Some(wait),
            Error::Api {
                retry_after,
                status: 429 | 503 | 529,
                ..
            } => *retry_after = Some(wait),
            _ => {}
        }
        self
    }

    /// A short stable name of the variant, for metrics labels and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::ProviderNotFound { .. } => "provider_not_found",
            Error::ModelNotFound { .. } => "model_not_found",
            Error::InvalidConfig { .. } => "invalid_config",
            Error::InvalidRequest { .. } => "invalid_request",
            Error::Authentication { .. } => "authentication",
            Error::RateLimited { .. } => "rate_limited",
            Error::QuotaExhausted { .. } => "quota_exhausted",
            Error::ContextLengthExceeded { .. } => "context_length_exceeded",
            Error::ContentFiltered { .. } => "content_filtered",
            Error::Api { .. } => "api_error",
            Error::Timeout { .. } => "timeout",
            Error::Connect { .. } => "connect",
            Error::Disconnected { .. } => "upstream_disconnected",
            Error::Decode { .. } => "decode",
            Error::Stream { .. } => "stream",
            Error::Unsupported { .. } => "unsupported",
            Error::NoHealthyDeployment { .. } => "no_healthy_deployment",
            Error::Cancelled => "cancelled",
        }
    }

    /// The offending request field, when known.
    pub fn param(&self) -> Option<&str> {
        match self {
            Error::InvalidRequest { param, .. } => param.as_deref(),
            _ => None,
        }
    }

    /// The provider instance named in the error, if any.
    pub fn provider(&self) -> Option<&str> {
        match self {
            Error::ModelNotFound { provider, .. }
            | Error::InvalidConfig { provider, .. }
            | Error::InvalidRequest { provider, .. }
            | Error::Authentication { provider, .. }
            | Error::RateLimited { provider, .. }
            | Error::QuotaExhausted { provider, .. }
            | Error::ContextLengthExceeded { provider, .. }
            | Error::ContentFiltered { provider, .. }
            | Error::Api { provider, .. }
            | Error::Timeout { provider, .. }
            | Error::Connect { provider, .. }
            | Error::Disconnected { provider, .. }
            | Error::Decode { provider, .. }
            | Error::Stream { provider, .. }
            | Error::Unsupported { provider, .. } => Some(provider),
            _ => None,
        }
    }

    /// An `Unsupported` error.
    pub fn unsupported(provider: &str, capability: impl Into<String>) -> Self {
        Error::Unsupported {
            provider: provider.to_owned(),
            capability: capability.into(),
        }
    }

    /// An `InvalidRequest` error naming the field.
    pub fn invalid_request(
        provider: &str,
        model: &str,
        param: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Error::InvalidRequest {
            provider: provider.to_owned(),
            model: model.to_owned(),
            param: param.map(str::to_owned),
            message: message.into(),
        }
    }

    /// A `Decode` error with a truncated excerpt of the text that failed.
    pub fn decode(
        provider: &str,
        model: &str,
        what: impl Into<String>,
        err: impl std::fmt::Display,
        text: &str,
    ) -> Self {
        Error::Decode {
            provider: provider.to_owned(),
            model: model.to_owned(),
            what: what.into(),
            message: err.to_string(),
            excerpt: truncate(text, 200),
        }
    }

    /// Marks a stream error as happening after content reached the caller.
    pub fn after_content(mut self) -> Self {
        if let Error::Stream { content_sent, .. } = &mut self {
            *content_sent = true;
        }
        self
    }
}

/// Cuts `text` to at most `max` bytes on a character boundary, marking the cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> Error {
        Error::Api {
            provider: "p".into(),
            model: "m".into(),
            status,
            error_type: None,
            code: None,
            message: "x".into(),
            retry_after: None,
            should_retry: None,
        }
    }

    #[test]
    fn status_retryability() {
        for s in [408, 409, 429, 500, 502, 503, 504, 529] {
            assert!(api(s).is_retryable(), "{s}");
        }
        for s in [400, 404, 418, 422] {
            assert!(!api(s).is_retryable(), "{s}");
        }
    }

    #[test]
    fn stream_errors_after_content_never_retry() {
        let e = Error::Stream {
            provider: "p".into(),
            model: "m".into(),
            error_type: Some("overloaded_error".into()),
            message: "Overloaded".into(),
            transient: true,
            content_sent: false,
        };
        assert!(e.is_retryable());
        assert_eq!(e.after_content().retryability(), Retryability::Never);
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h…");
        assert_eq!(truncate("abc", 10), "abc");
    }

    #[test]
    fn client_input_is_echoed_only_as_an_excerpt() {
        let huge = "m".repeat(100_000);
        let errors = [
            Error::ModelNotFound {
                provider: "p".into(),
                model: huge.clone(),
                message: "no such model".into(),
            },
            Error::ProviderNotFound {
                name: huge.clone(),
                known: "openai".into(),
            },
            Error::NoHealthyDeployment {
                model: huge.clone(),
                reason: "r".into(),
                retry_after: None,
            },
            Error::invalid_request("p", &huge, Some("n"), "bad"),
        ];
        for e in errors {
            let s = e.to_string();
            assert!(s.len() < INPUT_EXCERPT_MAX + 300, "{}", s.len());
            assert!(
                s.contains(&format!("{}…", "m".repeat(INPUT_EXCERPT_MAX))),
                "{s}"
            );
        }
        assert_eq!(excerpt("short"), "short");
    }

    #[test]
    fn display_names_provider_model_and_field() {
        let e = Error::invalid_request("anthropic", "claude", Some("n"), "only n=1");
        let s = e.to_string();
        assert!(
            s.contains("anthropic") && s.contains("claude") && s.contains("`n`"),
            "{s}"
        );
    }
}
