//! State shared by the replicas of a gateway fleet: rate-limit counters, cooldowns, health
//! results, dead keys and probe locks.
//!
//! [`MemoryStore`] keeps it in the process (the default); `RedisStore` (feature `redis`) keeps
//! it in one Redis so several routers enforce one budget and see each other's cooldowns.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use parking_lot::Mutex;
use runtime_core::Result;
use tokio::time::Instant;

/// Length of one rate-limit window (rpm and tpm are per minute).
pub const WINDOW: Duration = Duration::from_secs(60);

/// Limits of one deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateLimits {
    /// Requests per window.
    pub rpm: Option<u64>,
    /// Tokens per window.
    pub tpm: Option<u64>,
}

impl RateLimits {
    /// True when neither limit is set.
    pub fn is_unlimited(&self) -> bool {
        self.rpm.is_none() && self.tpm.is_none()
    }
}

/// The answer of [`StateStore::acquire`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquire {
    /// One request and the tokens were counted in window `window`.
    Granted {
        /// The window the tokens were charged to (for [`StateStore::adjust_tokens`]).
        window: u64,
    },
    /// The limit is reached; capacity comes back after `retry_after`.
    Denied {
        /// Time until the window ends.
        retry_after: Duration,
    },
}

/// Counters of the current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowUsage {
    /// Requests counted.
    pub requests: u64,
    /// Tokens counted.
    pub tokens: u64,
}

/// The small interface the router keeps its shared state behind.
///
/// Keys are short names chosen by the router (`cool:<deployment>` …); an implementation may
/// prefix them. Every operation must be atomic across all routers sharing the store.
#[async_trait]
pub trait StateStore: Send + Sync + 'static {
    /// Sets flag `key` for at least `ttl` (an existing longer flag is kept).
    async fn set_flag(&self, key: &str, ttl: Duration) -> Result<()>;

    /// Removes flags (and failure counters of the same names).
    async fn clear_flags(&self, keys: &[&str]) -> Result<()>;

    /// The time left of each flag, `None` where it is not set.
    async fn flags(&self, keys: &[&str]) -> Result<Vec<Option<Duration>>>;

    /// Takes lock `key` for `ttl` if nobody holds it (`SET NX PX`). True when taken.
    async fn try_lock(&self, key: &str, ttl: Duration) -> Result<bool>;

    /// Counts one failure in a window of `window` (started by the first failure) and returns
    /// the count.
    async fn record_failure(&self, key: &str, window: Duration) -> Result<u64>;

    /// Counts one request and `tokens` tokens against `limits` in the current window, unless
    /// that would exceed a limit.
    async fn acquire(&self, key: &str, limits: RateLimits, tokens: u64) -> Result<Acquire>;

    /// Corrects the tokens charged to `window` by `delta` (ignored once the window is over).
    async fn adjust_tokens(&self, key: &str, window: u64, delta: i64) -> Result<()>;

    /// The counters of the current window.
    async fn usage(&self, key: &str) -> Result<WindowUsage>;
}

/// What a [`MemoryStore`] held, taken out to be pushed to the shared store (see
/// [`MemoryStore::take`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Flags and locks still set, with their time left.
    pub flags: Vec<(String, Duration)>,
    /// Rate counters of the current window: key, requests, tokens.
    pub counters: Vec<(String, u64, u64)>,
}

impl Snapshot {
    /// True when there is nothing to push.
    pub fn is_empty(&self) -> bool {
        self.flags.is_empty() && self.counters.is_empty()
    }
}

#[derive(Debug, Clone, Copy)]
struct Counter {
    window: u64,
    requests: u64,
    tokens: u64,
}

#[derive(Debug, Default)]
struct MemState {
    flags: HashMap<String, Instant>,
    failures: HashMap<String, (u64, Instant)>,
    counters: HashMap<String, Counter>,
}

/// Shared state in this process only (the default).
///
/// Uses tokio's clock, so tests with `tokio::time::pause()` control it.
#[derive(Debug)]
pub struct MemoryStore {
    start: Instant,
    state: Mutex<MemState>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            state: Mutex::new(MemState::default()),
        }
    }

    /// Empties the store, returning the live flags and this window's counters (failure
    /// counts are dropped: they only matter within one replica's short window).
    pub fn take(&self) -> Snapshot {
        let now = Instant::now();
        let (window, _) = self.window_now(now);
        let st = std::mem::take(&mut *self.state.lock());
        let mut flags: Vec<(String, Duration)> = st
            .flags
            .into_iter()
            .filter(|(_, t)| *t > now)
            .map(|(k, t)| (k, t.duration_since(now)))
            .collect();
        flags.sort();
        let mut counters: Vec<(String, u64, u64)> = st
            .counters
            .into_iter()
            .filter(|(_, c)| c.window == window && (c.requests > 0 || c.tokens > 0))
            .map(|(k, c)| (k, c.requests, c.tokens))
            .collect();
        counters.sort();
        Snapshot { flags, counters }
    }

    /// True when the store holds nothing.
    pub fn is_empty(&self) -> bool {
        let st = self.state.lock();
        st.flags.is_empty() && st.failures.is_empty() && st.counters.is_empty()
    }

    fn window_now(&self, now: Instant) -> (u64, Duration) {
        let ms = now.duration_since(self.start).as_millis() as u64;
        let w = WINDOW.as_millis() as u64;
        (ms / w, Duration::from_millis(w - ms % w))
    }
}

#[async_trait]
impl StateStore for MemoryStore {
    async fn set_flag(&self, key: &str, ttl: Duration) -> Result<()> {
        let until = Instant::now() + ttl;
        let mut st = self.state.lock();
        match st.flags.get_mut(key) {
            Some(t) if *t >= until => {}
            Some(t) => *t = until,
            None => {
                st.flags.insert(key.to_owned(), until);
            }
        }
        Ok(())
    }

    async fn clear_flags(&self, keys: &[&str]) -> Result<()> {
        let mut st = self.state.lock();
        for k in keys {
            st.flags.remove(*k);
            st.failures.remove(*k);
        }
        Ok(())
    }

    async fn flags(&self, keys: &[&str]) -> Result<Vec<Option<Duration>>> {
        let st = self.state.lock();
        if st.flags.is_empty() {
            return Ok(vec![None; keys.len()]);
        }
        let now = Instant::now();
        Ok(keys
            .iter()
            .map(|k| {
                st.flags
                    .get(*k)
                    .filter(|t| **t > now)
                    .map(|t| t.duration_since(now))
            })
            .collect())
    }

    async fn try_lock(&self, key: &str, ttl: Duration) -> Result<bool> {
        let now = Instant::now();
        let mut st = self.state.lock();
        match st.flags.get_mut(key) {
            Some(t) if *t > now => Ok(false),
            Some(t) => {
                *t = now + ttl;
                Ok(true)
            }
            None => {
                st.flags.insert(key.to_owned(), now + ttl);
                Ok(true)
            }
        }
    }

    async fn record_failure(&self, key: &str, window: Duration) -> Result<u64> {
        let now = Instant::now();
        let mut st = self.state.lock();
        let e = st
            .failures
            .entry(key.to_owned())
            .or_insert((0, now + window));
        if e.1 <= now {
            *e = (0, now + window);
        }
        e.0 += 1;
        Ok(e.0)
    }

    async fn acquire(&self, key: &str, limits: RateLimits, tokens: u64) -> Result<Acquire> {
        let (window, left) = self.window_now(Instant::now());
        let mut st = self.state.lock();
        let c = st.counters.entry(key.to_owned()).or_insert(Counter {
            window,
            requests: 0,
            tokens: 0,
        });
        if c.window != window {
            *c = Counter {
                window,
                requests: 0,
                tokens: 0,
            };
        }
        let over_r = limits.rpm.is_some_and(|r| c.requests + 1 > r);
        // A single request larger than the whole tpm budget is let through alone in an
        // empty window rather than blocked forever.
        let over_t = limits
            .tpm
            .is_some_and(|t| c.tokens + tokens > t && c.tokens > 0);
        if over_r || over_t {
            return Ok(Acquire::Denied { retry_after: left });
        }
        c.requests += 1;
        c.tokens += tokens;
        Ok(Acquire::Granted { window })
    }

    async fn adjust_tokens(&self, key: &str, window: u64, delta: i64) -> Result<()> {
        let mut st = self.state.lock();
        if let Some(c) = st.counters.get_mut(key) {
            if c.window == window {
                c.tokens = c.tokens.saturating_add_signed(delta);
            }
        }
        Ok(())
    }

    async fn usage(&self, key: &str) -> Result<WindowUsage> {
        let (window, _) = self.window_now(Instant::now());
        let st = self.state.lock();
        Ok(st
            .counters
            .get(key)
            .filter(|c| c.window == window)
            .map(|c| WindowUsage {
                requests: c.requests,
                tokens: c.tokens,
            })
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn flags_extend_and_expire() {
        let s = MemoryStore::new();
        s.set_flag("a", Duration::from_secs(10)).await.unwrap();
        s.set_flag("a", Duration::from_secs(5)).await.unwrap();
        assert_eq!(
            s.flags(&["a", "b"]).await.unwrap(),
            vec![Some(Duration::from_secs(10)), None]
        );
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(s.flags(&["a"]).await.unwrap(), vec![None]);
    }

    #[tokio::test(start_paused = true)]
    async fn locks_are_exclusive_until_expiry() {
        let s = MemoryStore::new();
        assert!(s.try_lock("l", Duration::from_secs(1)).await.unwrap());
        assert!(!s.try_lock("l", Duration::from_secs(1)).await.unwrap());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(s.try_lock("l", Duration::from_secs(1)).await.unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn rpm_and_tpm_windows() {
        let s = MemoryStore::new();
        let lim = RateLimits {
            rpm: Some(2),
            tpm: Some(100),
        };
        assert!(matches!(
            s.acquire("d", lim, 60).await.unwrap(),
            Acquire::Granted { .. }
        ));
        // 60 + 50 > 100
        assert!(matches!(
            s.acquire("d", lim, 50).await.unwrap(),
            Acquire::Denied { .. }
        ));
        // Real usage was 20: 20 + 50 fits.
        s.adjust_tokens("d", 0, -40).await.unwrap();
        assert!(matches!(
            s.acquire("d", lim, 50).await.unwrap(),
            Acquire::Granted { .. }
        ));
        let Acquire::Denied { retry_after } = s.acquire("d", lim, 1).await.unwrap() else {
            panic!("rpm")
        };
        assert_eq!(retry_after, WINDOW);
        assert_eq!(
            s.usage("d").await.unwrap(),
            WindowUsage {
                requests: 2,
                tokens: 70
            }
        );
        tokio::time::advance(WINDOW).await;
        assert!(matches!(
            s.acquire("d", lim, 1).await.unwrap(),
            Acquire::Granted { window: 1 }
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn take_empties_and_keeps_only_live_state() {
        let s = MemoryStore::new();
        assert!(s.take().is_empty());
        s.set_flag("cool", Duration::from_secs(10)).await.unwrap();
        s.set_flag("gone", Duration::from_secs(1)).await.unwrap();
        let lim = RateLimits {
            rpm: Some(10),
            tpm: None,
        };
        s.acquire("old", lim, 5).await.unwrap();
        tokio::time::advance(WINDOW).await;
        s.acquire("rate", lim, 7).await.unwrap();
        s.acquire("rate", lim, 3).await.unwrap();
        s.record_failure("fail", Duration::from_secs(60))
            .await
            .unwrap();
        assert!(!s.is_empty());
        let snap = s.take();
        assert_eq!(
            snap.flags,
            Vec::<(String, Duration)>::new(),
            "both flags expired"
        );
        assert_eq!(snap.counters, vec![("rate".to_owned(), 2, 10)]);
        assert!(s.is_empty());
        s.set_flag("cool", Duration::from_secs(10)).await.unwrap();
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(
            s.take().flags,
            vec![("cool".to_owned(), Duration::from_secs(6))]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn failure_window() {
        let s = MemoryStore::new();
        assert_eq!(
            s.record_failure("f", Duration::from_secs(5)).await.unwrap(),
            1
        );
        assert_eq!(
            s.record_failure("f", Duration::from_secs(5)).await.unwrap(),
            2
        );
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(
            s.record_failure("f", Duration::from_secs(5)).await.unwrap(),
            1
        );
    }
}
