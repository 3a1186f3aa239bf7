//! Access control: the master key, gateway keys (compared by SHA-256, never kept in plain),
//! allowed models and per-key requests-per-minute limits — counted in this process, or in a
//! Redis that every replica shares when `[gateway] redis_url` is set.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode, header};
use model_runtime::redis::{Redis, redis};
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
    /// A database key (governance), with its team.
    pub caller: Option<runtime_governance::Caller>,
}

impl Principal {
    /// Whether this caller may use `model` (a database key: directly or through an alias).
    pub fn allows(&self, model: &str) -> bool {
        self.key.as_ref().is_none_or(|k| k.allows(model))
            && self
                .caller
                .as_ref()
                .is_none_or(|c| c.allows(model) || c.key.aliases.contains_key(model))
    }

    /// Whether this caller may use the admin API: the master key (or an open gateway), or
    /// a database key with the admin role.
    pub fn admin_api(&self) -> bool {
        self.admin
            || self
                .caller
                .as_ref()
                .is_some_and(|c| c.key.role == runtime_governance::Role::Admin)
    }

    /// 403 unless this caller may use `model`.
    pub fn check_model(&self, model: &str) -> Result<(), ApiError> {
        crate::observe::note_model(model);
        if self.allows(model) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "permission_error",
                format!(
                    "key `{}` is not allowed to use model `{}`",
                    self.key_id.as_deref().unwrap_or_default(),
                    model_runtime::error::excerpt(model)
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
    limiter: KeyLimiter,
    governance: std::sync::OnceLock<Arc<runtime_governance::Governance>>,
}

impl Auth {
    /// From the gateway config; `redis` is the connection for `cfg.redis` (the runtime's
    /// shared handle), without which key limits count in this process.
    pub fn new(cfg: &GatewayConfig, redis: Option<Redis>) -> Self {
        Self {
            enabled: cfg.auth_enabled(),
            master: cfg.master_key_hash,
            keys: cfg
                .keys
                .iter()
                .map(|k| (k.hash, Arc::new(k.clone())))
                .collect(),
            limiter: KeyLimiter::new(redis.zip(cfg.redis.as_ref().map(|r| r.prefix.clone()))),
            governance: std::sync::OnceLock::new(),
        }
    }

    /// Also accepts the database keys of `gov` (and from then on requires a key).
    pub fn set_governance(&self, gov: Arc<runtime_governance::Governance>) {
        let _ = self.governance.set(gov);
    }

    /// Whether requests need a key.
    pub fn enabled(&self) -> bool {
        self.enabled || self.governance.get().is_some()
    }

    /// Checks the request's key (`Authorization: Bearer …`, or `x-api-key` / `api-key`) and
    /// takes one request from the key's rpm limit.
    pub async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, ApiError> {
        let who = self.identify(headers)?;
        if let Some(key) = &who.key {
            if let Some(rpm) = key.rpm {
                if let Err(wait) = self.limiter.admit(&key.id, rpm).await {
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
        }
        Ok(who)
    }

    /// Checks the request's key without taking from its rpm limit.
    pub fn identify(&self, headers: &HeaderMap) -> Result<Principal, ApiError> {
        if !self.enabled() {
            return Ok(Principal {
                key_id: None,
                admin: true,
                key: None,
                caller: None,
            });
        }
        let Some(presented) = presented_key(headers) else {
            return Err(ApiError::unauthorized(
                "missing API key: send `Authorization: Bearer <key>`",
            ));
        };
        // Never echo the key, not even a prefix.
        self.identify_hash(&hash_key(presented))
            .ok_or_else(|| ApiError::unauthorized("invalid API key"))
    }

    /// Who the key with this SHA-256 is, if it is usable now (what a stored admin UI session
    /// checks on every call: it keeps the hash, never the key).
    pub fn identify_hash(&self, hash: &KeyHash) -> Option<Principal> {
        if self.master == Some(*hash) {
            return Some(Principal {
                key_id: None,
                admin: true,
                key: None,
                caller: None,
            });
        }
        let Some(key) = self.keys.get(hash) else {
            let caller = self
                .governance
                .get()
                .and_then(|g| g.identify_hash(&hex::encode(hash)))?;
            return Some(Principal {
                key_id: Some(caller.key.id.clone()),
                admin: false,
                key: None,
                caller: Some(caller),
            });
        };
        Some(Principal {
            key_id: Some(key.id.clone()),
            admin: false,
            key: Some(key.clone()),
            caller: None,
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

/// GCRA in Redis, on the server's clock (`TIME`) so replicas with skewed clocks agree. The
/// key holds the theoretical arrival time in µs; the reply is 0 (admitted) or the µs to wait.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
local ahead = new_tat - now
if ahead > period then return ahead - period end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil(ahead / 1000) + 1)
return 0
";

/// Per-key rpm limits: in Redis when the gateway has one, so every replica draws on one
/// budget; in this process otherwise. While the Redis handle's breaker is open (Redis
/// refused, hung or slow), each replica enforces the limit on its own at once — the handle
/// warns once on the way down and once on the way back — rather than refusing every keyed
/// request or letting them all through.
pub struct KeyLimiter {
    local: RpmLimiter,
    shared: Option<SharedLimiter>,
}

struct SharedLimiter {
    redis: Redis,
    script: redis::Script,
    prefix: String,
}

impl std::fmt::Debug for KeyLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyLimiter")
            .field("shared", &self.shared.as_ref().map(|s| &s.prefix))
            .finish_non_exhaustive()
    }
}

impl KeyLimiter {
    /// A limiter counting in Redis under `prefix`, or in this process. Does not connect.
    pub fn new(shared: Option<(Redis, String)>) -> Self {
        Self {
            local: RpmLimiter::default(),
            shared: shared.map(|(redis, prefix)| {
                redis.add_user("gateway");
                SharedLimiter {
                    redis,
                    script: redis::Script::new(GCRA),
                    prefix,
                }
            }),
        }
    }

    /// Whether limits are shared through Redis (when it answers).
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Admits one request of `key` under `rpm`, or says how long to wait.
    pub async fn admit(&self, key: &str, rpm: u32) -> Result<(), Duration> {
        if let Some(shared) = &self.shared {
            if let Some(answer) = shared.admit(key, rpm).await {
                return answer;
            }
        }
        self.local.check(key, rpm, Instant::now())
    }
}

impl SharedLimiter {
    /// The shared answer, or `None` when Redis did not give one.
    async fn admit(&self, key: &str, rpm: u32) -> Option<Result<(), Duration>> {
        let period = Duration::from_secs(60);
        let interval = period / rpm.max(1);
        let mut call = self.script.key(format!("{}:rpm:{key}", self.prefix));
        call.arg(u64::try_from(interval.as_micros()).unwrap_or(u64::MAX))
            .arg(u64::try_from(period.as_micros()).unwrap_or(u64::MAX));
        let wait_us: i64 = self
            .redis
            .run(|mut c| async move { call.invoke_async(&mut c).await })
            .await
            .ok()?;
        Some(match u64::try_from(wait_us) {
            Ok(0) | Err(_) => Ok(()),
            Ok(us) => Err(Duration::from_micros(us)),
        })
    }
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

    #[tokio::test]
    async fn keys_are_checked_by_hash() {
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
        let auth = Auth::new(&cfg, None);
        let mut h = HeaderMap::new();
        assert_eq!(auth.authenticate(&h).await.unwrap_err().status, 401);
        h.insert("authorization", HeaderValue::from_static("Bearer sk-wrong"));
        let e = auth.authenticate(&h).await.unwrap_err();
        assert_eq!(e.status, 401);
        assert!(!e.message.contains("sk-wrong"));
        h.insert(
            "authorization",
            HeaderValue::from_static("Bearer sk-master"),
        );
        assert!(auth.authenticate(&h).await.unwrap().admin);
        h.remove("authorization");
        h.insert("x-api-key", HeaderValue::from_static("sk-a"));
        let p = auth.authenticate(&h).await.unwrap();
        assert_eq!(p.key_id.as_deref(), Some("a"));
        assert!(p.check_model("m1").is_ok());
        assert_eq!(p.check_model("m2").unwrap_err().status, 403);
        assert_eq!(auth.authenticate(&h).await.unwrap_err().status, 429);
        // Identifying a caller (the `/metrics` check) takes nothing from its limit, and
        // still knows the key.
        assert_eq!(auth.identify(&h).unwrap().key_id.as_deref(), Some("a"));
    }

    #[tokio::test]
    async fn an_unreachable_redis_falls_back_to_counting_in_process() {
        // Nothing listens on port 1: the breaker opens on the first call, and the limit
        // still holds, counted here.
        let redis = Redis::new(&model_runtime::redis::RedisConfig::standalone(
            "redis://127.0.0.1:1/",
        ))
        .unwrap();
        let limiter = KeyLimiter::new(Some((redis, "t".into())));
        assert!(limiter.is_shared());
        let start = Instant::now();
        assert!(limiter.admit("k", 2).await.is_ok());
        assert!(limiter.admit("k", 2).await.is_ok());
        let wait = limiter.admit("k", 2).await.unwrap_err();
        assert!(wait > Duration::from_secs(29) && wait <= Duration::from_secs(30));
        assert!(limiter.admit("other", 2).await.is_ok());
        assert!(start.elapsed() < Duration::from_secs(1));
        assert!(!KeyLimiter::new(None).is_shared());
    }
}
