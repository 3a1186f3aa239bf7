//! The router's errors: the attempts it made, a routing failure, and how an error is
//! classified (may the router fall back, does it count against a deployment's health).

use runtime_core::{Error, Failure, Retryability, RouteSummary, TimeoutPhase};
use serde::Serialize;

/// One attempt the router made, kept in response metadata and in [`RouteError`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Attempt {
    /// The logical model the attempt served (a fallback model after failover).
    pub model: String,
    /// The deployment tried.
    pub deployment: String,
    /// Its provider instance.
    pub provider: String,
    /// The strategy that chose it.
    pub strategy: &'static str,
    /// `"ok"` or the error kind ([`Error::kind`]).
    pub outcome: String,
    /// The error message, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Which of the deployment's keys was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_index: Option<usize>,
    /// Whether it was the half-open trial after a cooldown.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub trial: bool,
    /// How long the attempt took (for streams: until the router committed to it).
    pub latency_ms: f64,
}

/// A routed answer and the attempts it took.
#[derive(Debug)]
pub struct Routed<T> {
    /// The answer (its `meta` filled).
    pub value: T,
    /// Every attempt, the successful one last.
    pub attempts: Vec<Attempt>,
}

/// A routing failure with every attempt made.
#[derive(Debug, Clone)]
pub struct RouteError {
    /// The error returned to the caller (the last one).
    pub error: Error,
    /// Every attempt made.
    pub attempts: Vec<Attempt>,
}

impl RouteError {
    /// The failure the layers above the router see: the error and the route (last provider
    /// and deployment, attempts made).
    pub fn into_failure(self) -> Failure {
        let route = summary(&self.attempts);
        Failure::routed(self.error, route)
    }
}

/// The route of a call that made `attempts`: the last one's provider and deployment.
pub(crate) fn summary(attempts: &[Attempt]) -> Option<RouteSummary> {
    attempts.last().map(|last| RouteSummary {
        provider: last.provider.clone(),
        deployment: last.deployment.clone(),
        attempts: u32::try_from(attempts.len()).unwrap_or(u32::MAX),
    })
}

impl std::fmt::Display for RouteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (after {} attempts)", self.error, self.attempts.len())
    }
}

impl std::error::Error for RouteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// The error for an answer of the wrong kind (a bug: a call's answer always matches it).
pub(crate) fn internal(attempts: Vec<Attempt>) -> RouteError {
    RouteError {
        error: Error::InvalidConfig {
            provider: "router".into(),
            field: "internal".into(),
            reason: "answer of the wrong kind".into(),
        },
        attempts,
    }
}

/// Whether the router may move on to fallback models after this error.
pub(crate) fn may_fall_back(e: &Error) -> bool {
    matches!(
        e,
        Error::NoHealthyDeployment { .. }
            | Error::ContextLengthExceeded { .. }
            | Error::ContentFiltered { .. }
    ) || e.retryability() != Retryability::Never
}

/// Whether an error counts against the deployment's health.
pub(crate) fn counts_as_failure(e: &Error) -> bool {
    match e {
        Error::Unsupported { .. } | Error::Cancelled => false,
        Error::Timeout {
            phase: TimeoutPhase::Deadline,
            ..
        } => false,
        _ => e.retryability() != Retryability::Never,
    }
}
