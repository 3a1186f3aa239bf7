//! The error taxonomy: one condition, one answer.
//!
//! Every [`Error`] is first reduced to a [`Condition`]; the HTTP status, the OpenAI error
//! `type` and `code` a gateway answers with are properties of the condition alone. So the same
//! upstream overload gets the same answer whether the provider said it with an HTTP status
//! (Anthropic's 529) or inside a stream before any content (an `overloaded_error` event), and
//! an upstream credential failure never looks like the client's own (docs/errors.md has the
//! table and the reasons).

use crate::error::Error;

/// The conditions a gateway tells apart (one row each in docs/errors.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Condition {
    /// The request cannot be served as it is.
    InvalidRequest,
    /// The prompt does not fit the model's context window.
    ContextLengthExceeded,
    /// A safety system blocked the prompt or the answer.
    ContentFiltered,
    /// The provider cannot do what was asked.
    Unsupported,
    /// No such model (or provider).
    ModelNotFound,
    /// Too many requests or tokens for now; a wait helps.
    RateLimited,
    /// The upstream account is out of credit; waiting does not help.
    QuotaExhausted,
    /// The upstream is overloaded (Anthropic 529 / `overloaded_error`, in-band or not).
    Overloaded,
    /// The upstream rejected the gateway's own credentials (its 401/403): an operator's
    /// misconfiguration, never the client's key.
    UpstreamAuthentication,
    /// Any other upstream error answer (its status is kept).
    UpstreamError(u16),
    /// A wait ran out.
    Timeout,
    /// The upstream could not be reached.
    ConnectFailed,
    /// The connection broke after it was made (a stream cut mid-way).
    UpstreamDisconnected,
    /// The upstream's answer could not be read.
    Decode,
    /// An unclassified error reported inside a stream.
    StreamError,
    /// No deployment of a logical model can serve now.
    NoHealthyDeployment,
    /// The gateway's configuration is wrong.
    Config,
    /// The caller went away.
    Cancelled,
}

/// The HTTP status a provider would have sent for an error `type` it reports in-band, so an
/// in-band error is classified exactly like the same error sent as a status. Covers the
/// Anthropic types, the Google RPC statuses and the OpenAI / TGI types.
pub fn status_of_error_type(error_type: &str) -> Option<u16> {
    Some(match error_type {
        "invalid_request_error" | "INVALID_ARGUMENT" | "FAILED_PRECONDITION" | "validation" => 400,
        "authentication_error" | "UNAUTHENTICATED" => 401,
        "billing_error" | "insufficient_quota" => 402,
        "permission_error" | "PERMISSION_DENIED" => 403,
        "not_found_error" | "NOT_FOUND" => 404,
        "request_too_large" => 413,
        // TGI answers its `overloaded` (queue full) with 429.
        "rate_limit_error" | "rate_limit_exceeded" | "RESOURCE_EXHAUSTED" | "overloaded" => 429,
        "api_error" | "server_error" | "INTERNAL" | "incomplete_generation" => 500,
        "UNAVAILABLE" => 503,
        "DEADLINE_EXCEEDED" => 504,
        "overloaded_error" => 529,
        _ => return None,
    })
}

/// The condition of an upstream error answer with this status and envelope.
fn upstream_condition(status: u16, error_type: Option<&str>, code: Option<&str>) -> Condition {
    let overloaded = [error_type, code]
        .into_iter()
        .flatten()
        .any(|t| t == "overloaded_error");
    match status {
        _ if overloaded => Condition::Overloaded,
        529 => Condition::Overloaded,
        401 | 403 => Condition::UpstreamAuthentication,
        402 => Condition::QuotaExhausted,
        429 => Condition::RateLimited,
        400 | 422 => Condition::InvalidRequest,
        s => Condition::UpstreamError(s),
    }
}

impl Error {
    /// The condition this error reports (see [`Condition`]).
    pub fn condition(&self) -> Condition {
        match self {
            Error::ProviderNotFound { .. } | Error::ModelNotFound { .. } => {
                Condition::ModelNotFound
            }
            Error::InvalidConfig { .. } => Condition::Config,
            Error::InvalidRequest { .. } => Condition::InvalidRequest,
            Error::ContextLengthExceeded { .. } => Condition::ContextLengthExceeded,
            Error::ContentFiltered { .. } => Condition::ContentFiltered,
            Error::Unsupported { .. } => Condition::Unsupported,
            Error::Authentication { .. } => Condition::UpstreamAuthentication,
            Error::RateLimited { .. } => Condition::RateLimited,
            Error::QuotaExhausted { .. } => Condition::QuotaExhausted,
            Error::Api {
                status,
                error_type,
                code,
                ..
            } => upstream_condition(*status, error_type.as_deref(), code.as_deref()),
            Error::Stream { error_type, .. } => {
                match error_type.as_deref().and_then(status_of_error_type) {
                    Some(status) => upstream_condition(status, error_type.as_deref(), None),
                    None => Condition::StreamError,
                }
            }
            Error::Timeout { .. } => Condition::Timeout,
            Error::Connect { .. } => Condition::ConnectFailed,
            Error::Disconnected { .. } => Condition::UpstreamDisconnected,
            Error::Decode { .. } => Condition::Decode,
            Error::NoHealthyDeployment { .. } => Condition::NoHealthyDeployment,
            Error::Cancelled => Condition::Cancelled,
        }
    }

    /// The HTTP status a gateway answers with.
    pub fn http_status(&self) -> u16 {
        match self.condition() {
            Condition::InvalidRequest
            | Condition::ContextLengthExceeded
            | Condition::ContentFiltered
            | Condition::Unsupported => 400,
            Condition::ModelNotFound => 404,
            Condition::RateLimited | Condition::QuotaExhausted => 429,
            Condition::Overloaded | Condition::NoHealthyDeployment => 503,
            Condition::UpstreamAuthentication
            | Condition::ConnectFailed
            | Condition::UpstreamDisconnected
            | Condition::Decode
            | Condition::StreamError => 502,
            Condition::UpstreamError(s) if (400..600).contains(&s) => s,
            Condition::UpstreamError(_) => 502,
            Condition::Timeout => 504,
            Condition::Config => 500,
            Condition::Cancelled => 499,
        }
    }

    /// The OpenAI error `type` of the envelope: who is at fault, in OpenAI's words.
    pub fn openai_type(&self) -> &'static str {
        match self.condition() {
            Condition::InvalidRequest
            | Condition::ContextLengthExceeded
            | Condition::ContentFiltered
            | Condition::Unsupported
            | Condition::ModelNotFound => "invalid_request_error",
            Condition::RateLimited => "rate_limit_error",
            Condition::QuotaExhausted => "insufficient_quota",
            Condition::UpstreamError(400 | 404 | 413 | 422) => "invalid_request_error",
            _ => "api_error",
        }
    }

    /// The `code` of the envelope: the exact condition, machine-readable.
    pub fn openai_code(&self) -> Option<String> {
        let fixed = match self.condition() {
            Condition::ModelNotFound => "model_not_found",
            Condition::ContextLengthExceeded => "context_length_exceeded",
            Condition::ContentFiltered => "content_filter",
            Condition::Unsupported => "unsupported",
            Condition::RateLimited => "rate_limit_exceeded",
            Condition::QuotaExhausted => "insufficient_quota",
            Condition::Overloaded => "overloaded",
            Condition::UpstreamAuthentication => "upstream_authentication",
            Condition::Timeout => "timeout",
            Condition::ConnectFailed => "connect",
            Condition::UpstreamDisconnected => "upstream_disconnected",
            Condition::Decode => "decode",
            Condition::StreamError => "stream",
            Condition::NoHealthyDeployment => "no_healthy_deployment",
            Condition::Config => "invalid_config",
            Condition::Cancelled => "cancelled",
            Condition::InvalidRequest => match self {
                Error::Api { code: Some(c), .. } => return Some(c.clone()),
                _ => "invalid_request",
            },
            Condition::UpstreamError(_) => {
                return match self {
                    Error::Api {
                        code, error_type, ..
                    } => code.clone().or_else(|| error_type.clone()),
                    Error::Stream { error_type, .. } => error_type.clone(),
                    _ => None,
                };
            }
        };
        Some(fixed.to_owned())
    }

    /// `Some(false)` when a client must not retry blindly: the condition is the gateway's own
    /// configuration or billing, which no retry fixes (sent as `x-should-retry`, which the
    /// OpenAI SDKs obey before their status rules).
    pub fn client_should_retry(&self) -> Option<bool> {
        match self.condition() {
            Condition::UpstreamAuthentication | Condition::QuotaExhausted | Condition::Config => {
                Some(false)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn api(status: u16, error_type: Option<&str>) -> Error {
        Error::Api {
            provider: "p".into(),
            model: "m".into(),
            status,
            error_type: error_type.map(str::to_owned),
            code: None,
            message: "x".into(),
            retry_after: None,
            should_retry: None,
        }
    }

    fn in_band(error_type: &str) -> Error {
        Error::Stream {
            provider: "p".into(),
            model: "m".into(),
            error_type: Some(error_type.into()),
            message: "x".into(),
            transient: true,
            content_sent: false,
        }
    }

    fn answer(e: &Error) -> (u16, &'static str, Option<String>) {
        (e.http_status(), e.openai_type(), e.openai_code())
    }

    #[test]
    fn overload_is_one_answer_by_status_or_in_band() {
        let by_status = api(529, Some("overloaded_error"));
        let bare_529 = api(529, None);
        let in_stream = in_band("overloaded_error");
        let want = (503, "api_error", Some("overloaded".to_owned()));
        assert_eq!(answer(&by_status), want);
        assert_eq!(answer(&bare_529), want);
        assert_eq!(answer(&in_stream), want);
    }

    #[test]
    fn in_band_errors_answer_like_their_status() {
        let rate = Error::RateLimited {
            provider: "p".into(),
            model: "m".into(),
            retry_after: None,
            message: "x".into(),
        };
        assert_eq!(answer(&in_band("rate_limit_error")), answer(&rate));
        assert_eq!(answer(&in_band("RESOURCE_EXHAUSTED")), answer(&rate));
        let auth = Error::Authentication {
            provider: "p".into(),
            model: "m".into(),
            status: 401,
            message: "x".into(),
        };
        assert_eq!(answer(&in_band("authentication_error")), answer(&auth));
        assert_eq!(answer(&in_band("UNAVAILABLE")).0, 503);
        assert_eq!(
            answer(&in_band("something_new")),
            (502, "api_error", Some("stream".into()))
        );
    }

    #[test]
    fn upstream_credentials_are_not_the_clients() {
        for status in [401, 403] {
            let e = Error::Authentication {
                provider: "openai".into(),
                model: "gpt".into(),
                status,
                message: "Incorrect API key provided".into(),
            };
            assert_eq!(
                answer(&e),
                (502, "api_error", Some("upstream_authentication".into()))
            );
            assert_eq!(e.client_should_retry(), Some(false));
        }
    }

    #[test]
    fn a_cut_after_connecting_is_not_a_connect_failure() {
        let cut = Error::Disconnected {
            provider: "p".into(),
            model: "m".into(),
            message: "connection closed before message completed".into(),
        };
        assert_eq!(
            answer(&cut),
            (502, "api_error", Some("upstream_disconnected".into()))
        );
        assert!(cut.is_retryable());
    }

    #[test]
    fn no_healthy_deployment_keeps_its_wait() {
        let e = Error::NoHealthyDeployment {
            model: "m".into(),
            reason: "r".into(),
            retry_after: Some(Duration::from_secs(12)),
        };
        assert_eq!(e.http_status(), 503);
        assert_eq!(e.wait_hint(), Some(Duration::from_secs(12)));
        assert_eq!(e.retry_after(), None, "the router itself never retries it");
    }

    #[test]
    fn generic_upstream_errors_keep_their_status_and_code() {
        let e = api(500, Some("server_error"));
        assert_eq!(answer(&e), (500, "api_error", Some("server_error".into())));
        assert_eq!(
            answer(&in_band("api_error")),
            (500, "api_error", Some("api_error".into()))
        );
        assert_eq!(api(200, None).http_status(), 502);
    }
}
