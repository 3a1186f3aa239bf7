//! Access control: the master key, gateway keys (compared by SHA-256, never kept in plain),
//! allowed models and per-key requests-per-minute limits.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode, header};
use parking_lot::Mutex;

use crate::config::{GatewayConfig, GatewayKey, KeyHash, hash_key};
use crate::error::ApiError;

/// Who is calling, once the key was checked.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The key id (`None`: the master key, or an open gateway).
    pub key_id: Option<String>,
    /// Master key or open gateway: every model and the admin endpoints.
    pub admin: bool,
    key: Option<Arc<GatewayKey>>,
}

impl Principal {
    /// Whether this caller may use `model`.
    pub fn allows(&self, model: &str) -> bool {
        self.key.as_ref().is_none_or(|k| k.allows(model))
    }

    /// 403 unless this caller may use `model`.
    pub fn check_model(&self, model: &str) -> Result<(), ApiError> {
        if self.allows(model) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "permission_error",
                format!(
                    "key `{}` is not allowed to use model `{model}`",
                    self.key_id.as_deref().unwrap_or_default()
                ),
            )
            .with_param("model")
            .with_code("model_not_allowed"))
        }
    }
}

/// The configured keys and their limiters.
#[derive(Debug)]
pub struct Auth {
    enabled: bool,
    master: Option<KeyHash>,
    keys: HashMap<KeyHash, Arc<GatewayKey>>,
    limiter: RpmLimiter,
}

impl Auth {
    /// From the gateway config.
    pub fn new(cfg: &GatewayConfig) -> Self {
        Self {
            enabled: cfg.auth_enabled(),
            master: cfg.master_key_hash,
            keys: cfg
                .keys
                .iter()
                .map(|k| (k.hash, Arc::new(k.clone())))
                .collect(),
            limiter: RpmLimiter::default(),
        }
    }

    /// Whether requests need a key.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Checks the request's key (`Authorization: Bearer …`, or `x-api-key` / `api-key`) and
    /// the key's rpm limit.
    pub fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, ApiError> {
        if !self.enabled {
            return Ok(Principal {
                key_id: None,
                admin: true,
                key: None,
            });
        }
        let Some(presented) = presented_key(headers) else {
            return Err(ApiError::unauthorized(
                "missing API key: send `Authorization: Bearer <key>`",
            ));
        };
        let hash = hash_key(presented);
        if self.master == Some(hash) {
            return Ok(Principal {
                key_id: None,
                admin: true,
                key: None,
            });
        }
        let Some(key) = self.keys.get(&hash) else {
            // Never echo the key, not even a prefix.
            return Err(ApiError::unauthorized("invalid API key"));
        };
        if let Some(rpm) = key.rpm {
            if let Err(wait) = self.limiter.check(&key.id, rpm, Instant::now()) {
                return Err(ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limit_error",
                    format!(
                        "key `{}` is over its limit of {rpm} requests per minute",
                        key.id
                    ),
                )
                .with_code("rate_limit_exceeded")
                .with_retry_after(wait));
            }
        }
        Ok(Principal {
            key_id: Some(key.id.clone()),
            admin: false,
            key: Some(key.clone()),
        })
    }
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get(header::AUTHORIZATION) {
        let v = v.to_str().ok()?.trim();
        let (scheme, rest) = v.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| rest.trim())
            .filter(|k| !k.is_empty());
    }
    ["x-api-key", "api-key"]
        .iter()
        .find_map(|h| headers.get(*h))
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty())
}

/// Requests-per-minute limits by key, as a generic cell rate (GCRA): a key may burst up to
/// `rpm` requests, then one every `60s / rpm`.
#[derive(Debug, Default)]
pub struct RpmLimiter {
    tat: Mutex<HashMap<String, Instant>>,
}

impl RpmLimiter {
    /// Admits one request of `key` at `now`, or says how long to wait.
    pub fn check(&self, key: &str, rpm: u32, now: Instant) -> Result<(), Duration> {
        let period = Duration::from_secs(60);
        let interval = period / rpm.max(1);
        let mut map = self.tat.lock();
        let tat = map.get(key).copied().unwrap_or(now).max(now);
        let new_tat = tat + interval;
        let ahead = new_tat.saturating_duration_since(now);
        if ahead > period {
            return Err(ahead - period);
        }
        match map.get_mut(key) {
            Some(t) => *t = new_tat,
            None => {
                map.insert(key.to_owned(), new_tat);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn limiter_bursts_then_paces() {
        let l = RpmLimiter::default();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check("k", 3, t0).is_ok());
        }
        let wait = l.check("k", 3, t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(20));
        assert!(l.check("k", 3, t0 + Duration::from_secs(20)).is_ok());
        assert!(l.check("other", 3, t0).is_ok());
    }

    #[test]
    fn keys_are_checked_by_hash() {
        let cfg = GatewayConfig {
            master_key_hash: Some(hash_key("sk-master")),
            keys: vec![GatewayKey {
                id: "a".into(),
                hash: hash_key("sk-a"),
                models: vec!["m1".into()],
                rpm: Some(1),
            }],
            ..GatewayConfig::default()
        };
        let auth = Auth::new(&cfg);
        let mut h = HeaderMap::new();
        assert_eq!(auth.authenticate(&h).unwrap_err().status, 401);
        h.insert("authorization", HeaderValue::from_static("Bearer sk-wrong"));
        let e = auth.authenticate(&h).unwrap_err();
        assert_eq!(e.status, 401);
        assert!(!e.message.contains("sk-wrong"));
        h.insert(
            "authorization",
            HeaderValue::from_static("Bearer sk-master"),
        );
        assert!(auth.authenticate(&h).unwrap().admin);
        h.remove("authorization");
        h.insert("x-api-key", HeaderValue::from_static("sk-a"));
        let p = auth.authenticate(&h).unwrap();
        assert_eq!(p.key_id.as_deref(), Some("a"));
        assert!(p.check_model("m1").is_ok());
        assert_eq!(p.check_model("m2").unwrap_err().status, 403);
        assert_eq!(auth.authenticate(&h).unwrap_err().status, 429);
    }
}
