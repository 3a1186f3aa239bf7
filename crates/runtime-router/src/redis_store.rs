//! [`StateStore`] in Redis (feature `redis`): every router sharing one Redis enforces one
//! rpm/tpm budget and sees the others' cooldowns, health results and dead keys.
//!
//! Each operation is one atomic command or Lua script. Rate windows are taken from the Redis
//! server's clock (`TIME`), so replicas with skewed clocks still count into the same window.

use std::time::Duration;

use async_trait::async_trait;
use redis::Script;
use redis::aio::ConnectionManager;
use runtime_core::{Error, Result};

use crate::state::{Acquire, RateLimits, StateStore, WINDOW, WindowUsage};

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

const WINDOW_PRELUDE: &str = r"
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wlen = tonumber(ARGV[1])
local win = math.floor(now_ms / wlen)
local left = wlen - (now_ms % wlen)
local rk = KEYS[1] .. ':' .. win .. ':r'
local tk = KEYS[1] .. ':' .. win .. ':t'
";

const ACQUIRE: &str = r"
local rpm = tonumber(ARGV[2])
local tpm = tonumber(ARGV[3])
local tokens = tonumber(ARGV[4])
local r = tonumber(redis.call('GET', rk) or '0')
local tok = tonumber(redis.call('GET', tk) or '0')
if rpm >= 0 and r + 1 > rpm then return {0, left, win} end
if tpm >= 0 and tok + tokens > tpm and tok > 0 then return {0, left, win} end
redis.call('INCR', rk)
redis.call('PEXPIRE', rk, wlen * 2)
redis.call('INCRBY', tk, tokens)
redis.call('PEXPIRE', tk, wlen * 2)
return {1, left, win}
";

const USAGE: &str = r"
return {tonumber(redis.call('GET', rk) or '0'), tonumber(redis.call('GET', tk) or '0')}
";

const ADJUST: &str = r"
local tk = KEYS[1] .. ':' .. ARGV[1] .. ':t'
if redis.call('EXISTS', tk) == 1 then
  local v = redis.call('INCRBY', tk, ARGV[2])
  if v < 0 then redis.call('SET', tk, 0, 'KEEPTTL') end
end
return 1
";

/// Shared state in Redis.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
    set_flag: Script,
    record_failure: Script,
    acquire: Script,
    usage: Script,
    adjust: Script,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn err(e: redis::RedisError) -> Error {
    Error::Connect {
        provider: "redis".into(),
        model: String::new(),
        message: e.to_string(),
    }
}

fn ms(d: Duration) -> u64 {
    (d.as_millis() as u64).max(1)
}

impl RedisStore {
    /// Connects to `url` (`redis://host:port/db`); every key is prefixed with `prefix:`.
    pub async fn connect(url: &str, prefix: impl Into<String>) -> Result<Self> {
        let client = redis::Client::open(url).map_err(|e| Error::InvalidConfig {
            provider: "router".into(),
            field: "redis_url".into(),
            reason: e.to_string(),
        })?;
        let conn = client.get_connection_manager().await.map_err(err)?;
        Ok(Self::from_manager(conn, prefix))
    }

    /// Uses an existing connection manager.
    pub fn from_manager(conn: ConnectionManager, prefix: impl Into<String>) -> Self {
        Self {
            conn,
            prefix: prefix.into(),
            set_flag: Script::new(SET_FLAG),
            record_failure: Script::new(RECORD_FAILURE),
            acquire: Script::new(&format!("{WINDOW_PRELUDE}{ACQUIRE}")),
            usage: Script::new(&format!("{WINDOW_PRELUDE}{USAGE}")),
            adjust: Script::new(ADJUST),
        }
    }

    fn key(&self, k: &str) -> String {
        format!("{}:{k}", self.prefix)
    }
}

#[async_trait]
impl StateStore for RedisStore {
    async fn set_flag(&self, key: &str, ttl: Duration) -> Result<()> {
        let mut c = self.conn.clone();
        let _: i64 = self
            .set_flag
            .key(self.key(key))
            .arg(ms(ttl))
            .invoke_async(&mut c)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn clear_flags(&self, keys: &[&str]) -> Result<()> {
        if keys.is_empty() {
            return Ok(());
        }
        let mut c = self.conn.clone();
        let full: Vec<String> = keys.iter().map(|k| self.key(k)).collect();
        let _: i64 = redis::cmd("DEL")
            .arg(&full)
            .query_async(&mut c)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn flags(&self, keys: &[&str]) -> Result<Vec<Option<Duration>>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut c = self.conn.clone();
        let mut p = redis::pipe();
        for k in keys {
            p.cmd("PTTL").arg(self.key(k));
        }
        let ttls: Vec<i64> = p.query_async(&mut c).await.map_err(err)?;
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

    async fn try_lock(&self, key: &str, ttl: Duration) -> Result<bool> {
        let mut c = self.conn.clone();
        let r: Option<String> = redis::cmd("SET")
            .arg(self.key(key))
            .arg("1")
            .arg("NX")
            .arg("PX")
            .arg(ms(ttl))
            .query_async(&mut c)
            .await
            .map_err(err)?;
        Ok(r.is_some())
    }

    async fn record_failure(&self, key: &str, window: Duration) -> Result<u64> {
        let mut c = self.conn.clone();
        self.record_failure
            .key(self.key(key))
            .arg(ms(window))
            .invoke_async(&mut c)
            .await
            .map_err(err)
    }

    async fn acquire(&self, key: &str, limits: RateLimits, tokens: u64) -> Result<Acquire> {
        let mut c = self.conn.clone();
        let lim = |l: Option<u64>| l.map_or(-1, |v| v.min(i64::MAX as u64) as i64);
        let (ok, left, win): (i64, u64, u64) = self
            .acquire
            .key(self.key(key))
            .arg(ms(WINDOW))
            .arg(lim(limits.rpm))
            .arg(lim(limits.tpm))
            .arg(tokens)
            .invoke_async(&mut c)
            .await
            .map_err(err)?;
        Ok(if ok == 1 {
            Acquire::Granted { window: win }
        } else {
            Acquire::Denied {
                retry_after: Duration::from_millis(left),
            }
        })
    }

    async fn adjust_tokens(&self, key: &str, window: u64, delta: i64) -> Result<()> {
        let mut c = self.conn.clone();
        let _: i64 = self
            .adjust
            .key(self.key(key))
            .arg(window)
            .arg(delta)
            .invoke_async(&mut c)
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn usage(&self, key: &str) -> Result<WindowUsage> {
        let mut c = self.conn.clone();
        let (requests, tokens): (u64, u64) = self
            .usage
            .key(self.key(key))
            .arg(ms(WINDOW))
            .invoke_async(&mut c)
            .await
            .map_err(err)?;
        Ok(WindowUsage { requests, tokens })
    }
}
