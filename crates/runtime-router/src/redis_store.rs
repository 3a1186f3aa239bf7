//! [`StateStore`] in Redis (feature `redis`): every router sharing one Redis enforces one
//! rpm/tpm budget and sees the others' cooldowns, health results and dead keys.
//!
//! Each operation is one atomic command, pipeline or Lua script over the shared
//! [`runtime_redis::Redis`] handle (standalone, cluster or sentinel). Every key carries the
//! prefix as a hash tag (`{prefix}:cool:…`), so in a cluster all of a router fleet's keys
//! live on one slot and multi-key pipelines stay legal; a rate window is one hash
//! (`w`, `r`, `t`), so its scripts touch one declared key. Rate windows are taken from the
//! Redis server's clock (`TIME`), so replicas with skewed clocks still count into the same
//! window.
//!
//! Calls fail fast while the handle's breaker is open; [`crate::SharedStore`] then answers
//! from local state.

use std::time::Duration;

use async_trait::async_trait;
use runtime_core::Result;
use runtime_redis::redis::{self, Script};
use runtime_redis::{Redis, RedisError};

use crate::state::{Acquire, RateLimits, Snapshot, StateStore, WINDOW, WindowUsage};

const SET_FLAG: &str = r"
local t = redis.call('PTTL', KEYS[1])
local ttl = tonumber(ARGV[1])
if t < ttl then redis.call('SET', KEYS[1], '1', 'PX', ttl) end
return 1
";

const RECORD_FAILURE: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
";

/// Reads the server clock and the window hash: `win` is the current window, `r`/`tok` its
/// counts (zero when the hash holds an older window).
const WINDOW_PRELUDE: &str = r"
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wlen = tonumber(ARGV[1])
local win = math.floor(now_ms / wlen)
local left = wlen - (now_ms % wlen)
local cur = redis.call('HMGET', KEYS[1], 'w', 'r', 't')
local r, tok = 0, 0
local same = tonumber(cur[1]) == win
if same then
  r = tonumber(cur[2] or '0')
  tok = tonumber(cur[3] or '0')
end
";

const ACQUIRE: &str = r"
local rpm = tonumber(ARGV[2])
local tpm = tonumber(ARGV[3])
local tokens = tonumber(ARGV[4])
if rpm >= 0 and r + 1 > rpm then return {0, left, win} end
if tpm >= 0 and tok + tokens > tpm and tok > 0 then return {0, left, win} end
redis.call('HSET', KEYS[1], 'w', win, 'r', r + 1, 't', tok + tokens)
redis.call('PEXPIRE', KEYS[1], wlen * 2)
return {1, left, win}
";

/// Adds counts kept locally during an outage to the current window.
const MERGE: &str = r"
redis.call('HSET', KEYS[1], 'w', win, 'r', r + tonumber(ARGV[2]), 't', tok + tonumber(ARGV[3]))
redis.call('PEXPIRE', KEYS[1], wlen * 2)
return 1
";

const USAGE: &str = r"
return {r, tok}
";

const ADJUST: &str = r"
local w = redis.call('HGET', KEYS[1], 'w')
if w and tonumber(w) == tonumber(ARGV[1]) then
  local v = redis.call('HINCRBY', KEYS[1], 't', ARGV[2])
  if v < 0 then redis.call('HSET', KEYS[1], 't', 0) end
end
return 1
";

/// Shared state in Redis.
#[derive(Clone)]
pub struct RedisStore {
    redis: Redis,
    prefix: String,
    set_flag: Script,
    record_failure: Script,
    acquire: Script,
    merge: Script,
    usage: Script,
    adjust: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("redis", &self.redis)
            .finish_non_exhaustive()
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

type R<T> = std::result::Result<T, RedisError>;

impl RedisStore {
    /// A store over `redis`; every key is `{prefix}:<name>` (the prefix is the hash tag).
    pub fn new(redis: Redis, prefix: impl Into<String>) -> Self {
        Self {
            redis,
            prefix: prefix.into(),
            set_flag: Script::new(SET_FLAG),
            record_failure: Script::new(RECORD_FAILURE),
            acquire: Script::new(&format!("{WINDOW_PRELUDE}{ACQUIRE}")),
            merge: Script::new(&format!("{WINDOW_PRELUDE}{MERGE}")),
            usage: Script::new(&format!("{WINDOW_PRELUDE}{USAGE}")),
            adjust: Script::new(ADJUST),
        }
    }

    /// The connection handle.
    pub fn redis(&self) -> &Redis {
        &self.redis
    }

    /// The full Redis key of `k`.
    pub fn key(&self, k: &str) -> String {
        format!("{{{}}}:{k}", self.prefix)
    }

    async fn script<T: redis::FromRedisValue + Send + 'static>(
        &self,
        script: &Script,
        key: &str,
        args: &[i64],
    ) -> R<T> {
        let mut inv = script.key(self.key(key));
        for a in args {
            inv.arg(*a);
        }
        self.redis
            .run(|mut c| async move { inv.invoke_async(&mut c).await })
            .await
    }

    pub(crate) async fn try_set_flag(&self, key: &str, ttl: Duration) -> R<()> {
        let _: i64 = self.script(&self.set_flag, key, &[ms(ttl) as i64]).await?;
        Ok(())
    }

    pub(crate) async fn try_clear_flags(&self, keys: &[&str]) -> R<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let full: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        self.redis
            .run(|mut c| async move {
                redis::cmd("DEL")
                    .arg(&full)
                    .query_async::<i64>(&mut c)
                    .await
            })
            .await?;
        Ok(())
    }

    pub(crate) async fn try_flags(&self, keys: &[&str]) -> R<Vec<Option<Duration>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut p = redis::pipe();
        for k in keys {
            p.cmd("PTTL").arg(self.key(k));
        }
        let ttls: Vec<i64> = self
            .redis
            .run(|mut c| async move { p.query_async(&mut c).await })
            .await?;
        Ok(ttls
            .into_iter()
            .map(|t| match t {
                -2 => None,
                // A flag without expiry (set by hand): treat it as set for a long time.
                -1 => Some(Duration::from_secs(3600)),
                t if t > 0 => Some(Duration::from_millis(t as u64)),
                _ => None,
            })
            .collect())
    }

    pub(crate) async fn try_lock(&self, key: &str, ttl: Duration) -> R<bool> {
        let k = self.key(key);
        let r: Option<String> = self
            .redis
            .run(|mut c| async move {
                redis::cmd("SET")
                    .arg(k)
                    .arg("1")
                    .arg("NX")
                    .arg("PX")
                    .arg(ms(ttl))
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(r.is_some())
    }

    pub(crate) async fn try_record_failure(&self, key: &str, window: Duration) -> R<u64> {
        self.script(&self.record_failure, key, &[ms(window) as i64])
            .await
    }

    pub(crate) async fn try_acquire(
        &self,
        key: &str,
        limits: RateLimits,
        tokens: u64,
    ) -> R<Acquire> {
        let lim = |l: Option<u64>| l.map_or(-1, |v| v.min(i64::MAX as u64) as i64);
        let (ok, left, win): (i64, u64, u64) = self
            .script(
                &self.acquire,
                key,
                &[
                    ms(WINDOW) as i64,
                    lim(limits.rpm),
                    lim(limits.tpm),
                    tokens.min(i64::MAX as u64) as i64,
                ],
            )
            .await?;
        Ok(if ok == 1 {
            Acquire::Granted { window: win }
        } else {
            Acquire::Denied {
                retry_after: Duration::from_millis(left),
            }
        })
    }

    pub(crate) async fn try_adjust_tokens(&self, key: &str, window: u64, delta: i64) -> R<()> {
        let _: i64 = self
            .script(
                &self.adjust,
                key,
                &[window.min(i64::MAX as u64) as i64, delta],
            )
            .await?;
        Ok(())
    }

    pub(crate) async fn try_usage(&self, key: &str) -> R<WindowUsage> {
        let (requests, tokens): (u64, u64) =
            self.script(&self.usage, key, &[ms(WINDOW) as i64]).await?;
        Ok(WindowUsage { requests, tokens })
    }

    /// Pushes state kept locally during an outage: flags keep the longer expiry, counts are
    /// added to the current window (so the fleet's budget counts what was served meanwhile).
    pub(crate) async fn merge(&self, snap: &Snapshot) -> R<()> {
        for (k, ttl) in &snap.flags {
            self.try_set_flag(k, *ttl).await?;
        }
        for (k, requests, tokens) in &snap.counters {
            let _: i64 = self
                .script(
                    &self.merge,
                    k,
                    &[
                        ms(WINDOW) as i64,
                        (*requests).min(i64::MAX as u64) as i64,
                        (*tokens).min(i64::MAX as u64) as i64,
                    ],
                )
                .await?;
        }
        Ok(())
    }
}

/// Direct use: every call goes to Redis and fails while it is unavailable (the router wraps
/// it in [`crate::SharedStore`], which falls back to local state instead).
#[async_trait]
impl StateStore for RedisStore {
    async fn set_flag(&self, key: &str, ttl: Duration) -> Result<()> {
        Ok(self.try_set_flag(key, ttl).await?)
    }

    async fn clear_flags(&self, keys: &[&str]) -> Result<()> {
        Ok(self.try_clear_flags(keys).await?)
    }

    async fn flags(&self, keys: &[&str]) -> Result<Vec<Option<Duration>>> {
        Ok(self.try_flags(keys).await?)
    }

    async fn try_lock(&self, key: &str, ttl: Duration) -> Result<bool> {
        Ok(RedisStore::try_lock(self, key, ttl).await?)
    }

    async fn record_failure(&self, key: &str, window: Duration) -> Result<u64> {
        Ok(self.try_record_failure(key, window).await?)
    }

    async fn acquire(&self, key: &str, limits: RateLimits, tokens: u64) -> Result<Acquire> {
        Ok(self.try_acquire(key, limits, tokens).await?)
    }

    async fn adjust_tokens(&self, key: &str, window: u64, delta: i64) -> Result<()> {
        Ok(self.try_adjust_tokens(key, window, delta).await?)
    }

    async fn usage(&self, key: &str) -> Result<WindowUsage> {
        Ok(self.try_usage(key).await?)
    }
}
