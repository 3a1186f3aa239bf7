//! Access tokens for Vertex AI: from a service-account key (JWT bearer grant, RS256), from an
//! `authorized_user` refresh token, or given as they are.
//!
//! A [`TokenSource`] caches the token and refreshes it before it expires (five minutes early,
//! or at half its lifetime for short-lived tokens). One refresh runs at a time: concurrent
//! requests that find the token stale wait for the one refresh in flight and share its result.

pub mod credentials;
pub mod jwt;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::HeaderMap;
use parking_lot::RwLock;
use serde::Deserialize;

use runtime_core::error::truncate;
use runtime_core::http::parse_error_body;
use runtime_core::http::{CallInfo, ErrorContext, HttpClient, HttpRequestSpec, classify};
use runtime_core::secret::redact;
use runtime_core::{Error, RequestContext, Result, Secret};

pub use credentials::{AuthorizedUser, Credentials, GOOGLE_TOKEN_URI, ServiceAccountKey};
pub use jwt::{CLOUD_PLATFORM_SCOPE, Claims, Signer};

/// How long before expiry a token is refreshed (at most half its lifetime).
pub const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// The lifetime assumed when the token endpoint states none.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// The clock a token source reads (swappable in tests).
pub type Clock = Arc<dyn Fn() -> SystemTime + Send + Sync>;

#[derive(Debug, Clone)]
struct Cached {
    token: Secret,
    refresh_at: SystemTime,
}

enum Grant {
    Static(Secret),
    ServiceAccount {
        key: Box<ServiceAccountKey>,
        signer: Box<Signer>,
    },
    AuthorizedUser(AuthorizedUser),
}

/// Hands out access tokens, cached and refreshed (see the module docs).
pub struct TokenSource {
    provider: Arc<str>,
    grant: Grant,
    http: HttpClient,
    timeout: Duration,
    cache: RwLock<Option<Cached>>,
    refresh: tokio::sync::Mutex<()>,
    clock: Clock,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.grant {
            Grant::Static(_) => "access_token",
            Grant::ServiceAccount { .. } => "service_account",
            Grant::AuthorizedUser(_) => "authorized_user",
        };
        f.debug_struct("TokenSource")
            .field("provider", &self.provider)
            .field("kind", &kind)
            .finish_non_exhaustive()
    }
}

/// The token endpoint's answer.
#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl TokenSource {
    /// A source for `credentials`; a service account's key is parsed here (an unusable key is
    /// an error now, not at the first request). `timeout` bounds each token request.
    pub fn new(
        provider: &str,
        credentials: Credentials,
        http: HttpClient,
        timeout: Duration,
    ) -> std::result::Result<Self, String> {
        let grant = match credentials {
            Credentials::AccessToken(t) => Grant::Static(t),
            Credentials::AuthorizedUser(u) => Grant::AuthorizedUser(u),
            Credentials::ServiceAccount(key) => {
                let signer = Signer::from_pem(key.private_key.expose())
                    .map_err(|e| format!("service account `private_key`: {e}"))?;
                Grant::ServiceAccount {
                    key: Box::new(key),
                    signer: Box::new(signer),
                }
            }
        };
        Ok(Self {
            provider: Arc::from(provider),
            grant,
            http,
            timeout,
            cache: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
            clock: Arc::new(SystemTime::now),
        })
    }

    /// The same source reading `clock` instead of the system time.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// True when tokens are fetched (and so may be refreshed), false for a given token.
    pub fn refreshes(&self) -> bool {
        !matches!(self.grant, Grant::Static(_))
    }

    fn fresh(&self, now: SystemTime) -> Option<Secret> {
        self.cache
            .read()
            .as_ref()
            .filter(|c| now < c.refresh_at)
            .map(|c| c.token.clone())
    }

    /// A valid access token: the cached one, or a new one (one refresh at a time).
    pub async fn token(&self, ctx: &RequestContext) -> Result<Secret> {
        if let Grant::Static(t) = &self.grant {
            return Ok(t.clone());
        }
        if let Some(t) = self.fresh((self.clock)()) {
            return Ok(t);
        }
        let _guard = self.refresh.lock().await;
        // Whoever held the lock before may have refreshed it.
        if let Some(t) = self.fresh((self.clock)()) {
            return Ok(t);
        }
        let now = (self.clock)();
        let answer = self.fetch(now, ctx).await?;
        let lifetime = answer
            .expires_in
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_LIFETIME);
        let early = REFRESH_MARGIN.min(lifetime / 2);
        let token = Secret::new(answer.access_token);
        *self.cache.write() = Some(Cached {
            token: token.clone(),
            refresh_at: now + lifetime.saturating_sub(early),
        });
        Ok(token)
    }

    /// Forgets `token` if it is the cached one (the API rejected it before its time).
    pub fn invalidate(&self, token: &Secret) {
        let mut cache = self.cache.write();
        if cache.as_ref().is_some_and(|c| &c.token == token) {
            *cache = None;
        }
    }

    async fn fetch(&self, now: SystemTime, ctx: &RequestContext) -> Result<TokenResponse> {
        let (uri, form, secret) = match &self.grant {
            Grant::Static(_) => {
                return Err(Error::unsupported(
                    &self.provider,
                    "refreshing a given token",
                ));
            }
            Grant::ServiceAccount { key, signer } => {
                let iat = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
                let claims = Claims {
                    iss: &key.client_email,
                    scope: CLOUD_PLATFORM_SCOPE,
                    aud: &key.token_uri,
                    iat,
                    exp: iat + jwt::ASSERTION_LIFETIME_SECS,
                };
                let assertion = signer
                    .assertion(key.private_key_id.as_deref(), &claims)
                    .map_err(|e| self.auth_error(0, &e.0))?;
                let form = form_urlencoded(&[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", &assertion),
                ]);
                (&key.token_uri, form, None)
            }
            Grant::AuthorizedUser(u) => {
                let form = form_urlencoded(&[
                    ("grant_type", "refresh_token"),
                    ("client_id", &u.client_id),
                    ("client_secret", u.client_secret.expose()),
                    ("refresh_token", u.refresh_token.expose()),
                ]);
                (&u.token_uri, form, Some(u.refresh_token.clone()))
            }
        };
        let mut spec = HttpRequestSpec::get(uri.as_str());
        spec.method = http::Method::POST;
        spec.body = Some(form.into_bytes().into());
        spec.headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let mut call = CallInfo::new(self.provider.clone(), "", secret, self.timeout);
        call.map_error = map_token_error;
        let (answer, _h): (TokenResponse, _) = self
            .http
            .json(&call, spec, ctx, "OAuth token response")
            .await?;
        if answer.access_token.is_empty() {
            return Err(self.auth_error(200, "the token endpoint answered no access_token"));
        }
        Ok(answer)
    }

    fn auth_error(&self, status: u16, message: &str) -> Error {
        Error::Authentication {
            provider: self.provider.to_string(),
            model: String::new(),
            status: if status == 0 { 401 } else { status },
            message: format!("Google OAuth token request: {message}"),
        }
    }
}

/// Maps a failed token request: the OAuth error answers (`400 invalid_grant`,
/// `401 invalid_client`, `403`) are the gateway's credentials failing — an authentication
/// error (upstream_authentication), not the client's fault; 429 and 5xx keep their usual
/// (retryable) classification.
pub fn map_token_error(
    ctx: &ErrorContext<'_>,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> Error {
    let parsed = parse_error_body(body);
    if matches!(status, 400 | 401 | 403) {
        let json = parsed.json.as_ref();
        let code = json
            .and_then(|j| j.get("error"))
            .and_then(|e| e.as_str())
            .unwrap_or("");
        let description = json
            .and_then(|j| j.get("error_description"))
            .and_then(|e| e.as_str())
            .unwrap_or(parsed.message.as_str());
        let message = match (code, description) {
            ("", d) => d.to_owned(),
            (c, d) if d == c || d.is_empty() => c.to_owned(),
            (c, d) => format!("{c}: {d}"),
        };
        let secrets: Vec<&Secret> = ctx.secret.into_iter().collect();
        return Error::Authentication {
            provider: ctx.provider.to_owned(),
            model: ctx.model.to_owned(),
            status: if status == 400 { 401 } else { status },
            message: truncate(
                &format!("Google OAuth token request: {}", redact(&message, &secrets)),
                600,
            ),
        };
    }
    classify(ctx, status, headers, parsed)
}

/// `application/x-www-form-urlencoded` pairs.
pub fn form_urlencoded(pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_into(k, &mut out);
        out.push('=');
        encode_into(v, &mut out);
    }
    out
}

fn encode_into(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding() {
        assert_eq!(
            form_urlencoded(&[("grant_type", "urn:a:b"), ("t", "1/x+y=z")]),
            "grant_type=urn%3Aa%3Ab&t=1%2Fx%2By%3Dz"
        );
    }

    #[test]
    fn oauth_errors_are_authentication_errors() {
        let ctx = ErrorContext {
            provider: "vertex",
            model: "",
            secret: None,
        };
        let h = HeaderMap::new();
        let e = map_token_error(
            &ctx,
            400,
            &h,
            br#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#,
        );
        match &e {
            Error::Authentication {
                status, message, ..
            } => {
                assert_eq!(*status, 401);
                assert!(
                    message.contains("invalid_grant: Invalid JWT Signature."),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            e.condition(),
            runtime_core::taxonomy::Condition::UpstreamAuthentication
        );
        assert!(matches!(
            map_token_error(&ctx, 503, &h, b"unavailable"),
            Error::Api { status: 503, .. }
        ));
    }
}
