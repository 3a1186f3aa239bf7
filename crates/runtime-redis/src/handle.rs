//! [`Redis`]: one lazily made connection behind a circuit breaker.
//!
//! States: `idle` (never used) → `connecting` → `up`; any outage (an I/O error, a timeout, a
//! cluster or failover error) moves `up` → `down` at once. While `down`, every call returns
//! [`RedisError::Unavailable`] without touching the network, and callers answer from local
//! state. One background probe per handle reconnects with backoff (`probe_interval`, doubling
//! up to `probe_max_interval`); when a connection answers, the handle is `up` again and its
//! [`Redis::epoch`] moves on, which tells callers to re-sync.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use runtime_core::Error;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::RedisConfig;
use crate::conn::{Conn, Target, is_outage};

/// The breaker's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedisState {
    /// Never used: nothing was tried yet.
    Idle,
    /// The first connection is being made.
    Connecting,
    /// Connected: calls go to Redis.
    Up,
    /// Unreachable, slow or failing: calls are answered locally until a probe succeeds.
    Down,
}

impl RedisState {
    /// `idle`, `connecting`, `up`, `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            RedisState::Idle => "idle",
            RedisState::Connecting => "connecting",
            RedisState::Up => "up",
            RedisState::Down => "down",
        }
    }

    fn from_u8(v: u8) -> Self {
        match v {
            0 => RedisState::Idle,
            1 => RedisState::Connecting,
            2 => RedisState::Up,
            _ => RedisState::Down,
        }
    }

    fn as_u8(self) -> u8 {
        match self {
            RedisState::Idle => 0,
            RedisState::Connecting => 1,
            RedisState::Up => 2,
            RedisState::Down => 3,
        }
    }
}

/// Why a call did not get an answer from Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RedisError {
    /// The breaker is open (or just opened on this call): use local state.
    Unavailable(String),
    /// Redis answered with an error for this command (the connection is fine).
    Command(String),
}

impl std::fmt::Display for RedisError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RedisError::Unavailable(m) => write!(f, "redis unavailable: {m}"),
            RedisError::Command(m) => write!(f, "redis command failed: {m}"),
        }
    }
}

impl std::error::Error for RedisError {}

impl From<RedisError> for Error {
    fn from(e: RedisError) -> Self {
        Error::Connect {
            provider: "redis".into(),
            model: String::new(),
            message: e.to_string(),
        }
    }
}

/// A snapshot for `/ready` and `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisStatus {
    /// The breaker's state.
    pub state: RedisState,
    /// Time in this state.
    pub since: Duration,
    /// The error that opened the breaker last.
    pub last_error: Option<String>,
    /// Transitions to `down`.
    pub went_down: u64,
    /// Transitions to `up` (the first connection included).
    pub came_up: u64,
    /// Commands that failed or timed out.
    pub errors: u64,
    /// Calls answered locally because the breaker was open.
    pub local_calls: u64,
    /// The addresses, passwords hidden.
    pub addresses: String,
}

impl RedisStatus {
    /// True when calls go to Redis (or it was not needed yet).
    pub fn is_up(&self) -> bool {
        matches!(self.state, RedisState::Up | RedisState::Idle)
    }

    /// One line for `/ready`.
    pub fn describe(&self) -> String {
        match self.state {
            RedisState::Up => format!("up ({})", self.addresses),
            RedisState::Idle => format!("not used yet ({})", self.addresses),
            RedisState::Connecting => format!("connecting to {}", self.addresses),
            RedisState::Down => format!(
                "degraded: {} unreachable for {:.1}s, serving from local state ({})",
                self.addresses,
                self.since.as_secs_f64(),
                self.last_error.as_deref().unwrap_or("no answer")
            ),
        }
    }
}

/// One Redis connection (standalone, cluster or sentinel) shared by every component that was
/// handed this handle. Cheap to clone.
///
/// Building it does no I/O and needs no async runtime; the first call (or [`Redis::warm`])
/// starts the connection in the background.
#[derive(Clone)]
pub struct Redis {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: RedisConfig,
    target: Target,
    conn: RwLock<Option<Conn>>,
    state: AtomicU8,
    changed: watch::Sender<u8>,
    probing: AtomicBool,
    epoch: AtomicU64,
    went_down: AtomicU64,
    came_up: AtomicU64,
    errors: AtomicU64,
    local_calls: AtomicU64,
    since: Mutex<(Instant, Option<String>)>,
    users: Mutex<Vec<String>>,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("config", &self.inner.cfg)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// A handle for `cfg` (validated; nothing connects yet).
    pub fn new(cfg: &RedisConfig) -> Result<Self, Error> {
        let target = Target::new(cfg)?;
        let (changed, _) = watch::channel(RedisState::Idle.as_u8());
        Ok(Self {
            inner: Arc::new(Inner {
                cfg: cfg.clone(),
                target,
                conn: RwLock::new(None),
                state: AtomicU8::new(RedisState::Idle.as_u8()),
                changed,
                probing: AtomicBool::new(false),
                epoch: AtomicU64::new(0),
                went_down: AtomicU64::new(0),
                came_up: AtomicU64::new(0),
                errors: AtomicU64::new(0),
                local_calls: AtomicU64::new(0),
                since: Mutex::new((Instant::now(), None)),
                users: Mutex::new(Vec::new()),
                cancel: CancellationToken::new(),
                tasks: TaskTracker::new(),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RedisConfig {
        &self.inner.cfg
    }

    /// Whether commands go to a cluster (pipelines must then stay within one slot).
    pub fn is_cluster(&self) -> bool {
        matches!(self.inner.target, Target::Cluster(_))
    }

    /// Records a component using this handle (named in its log lines).
    pub fn add_user(&self, name: &str) {
        let mut u = self.inner.users.lock();
        if !u.iter().any(|x| x == name) {
            u.push(name.to_owned());
        }
    }

    /// The breaker's state.
    pub fn state(&self) -> RedisState {
        RedisState::from_u8(self.inner.state.load(Ordering::Acquire))
    }

    /// Counts connections made: changes each time the handle comes back `up`, so a caller
    /// that kept local state while it was down knows to push it back.
    pub fn epoch(&self) -> u64 {
        self.inner.epoch.load(Ordering::Acquire)
    }

    /// Whether `left` and `right` are the same connection.
    pub fn same(left: &Redis, right: &Redis) -> bool {
        Arc::ptr_eq(&left.inner, &right.inner)
    }

    /// A snapshot of state and counters.
    pub fn status(&self) -> RedisStatus {
        let i = &self.inner;
        let (at, err) = i.since.lock().clone();
        RedisStatus {
            state: self.state(),
            since: at.elapsed(),
            last_error: err,
            went_down: i.went_down.load(Ordering::Relaxed),
            came_up: i.came_up.load(Ordering::Relaxed),
            errors: i.errors.load(Ordering::Relaxed),
            local_calls: i.local_calls.load(Ordering::Relaxed),
            addresses: i.cfg.display_addresses(),
        }
    }

    /// Starts connecting in the background (inside a tokio runtime), so the first request
    /// finds the connection made. Does nothing when already started.
    pub fn warm(&self) {
        if self.state() == RedisState::Idle && tokio::runtime::Handle::try_current().is_ok() {
            self.begin_connecting();
        }
    }

    /// Stops the background probe and waits for it.
    pub async fn shutdown(&self) {
        self.inner.cancel.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }

    /// Runs `f` on the connection, bounded by the command timeout.
    ///
    /// While the breaker is open this returns [`RedisError::Unavailable`] at once. An outage
    /// seen here (error or timeout) opens it. While the very first connection is being made
    /// the call waits for it, at most one command timeout.
    pub async fn run<T, F, Fut>(&self, f: F) -> Result<T, RedisError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let timeout = self.inner.cfg.timeout;
        let conn = match self.state() {
            RedisState::Up => self.inner.conn.read().clone(),
            RedisState::Down => None,
            RedisState::Idle | RedisState::Connecting => {
                self.begin_connecting();
                let mut rx = self.inner.changed.subscribe();
                let waited = tokio::time::timeout(
                    timeout,
                    rx.wait_for(|s| *s != RedisState::Connecting.as_u8() && *s != 0),
                )
                .await;
                match waited {
                    Ok(Ok(_)) if self.state() == RedisState::Up => self.inner.conn.read().clone(),
                    _ => None,
                }
            }
        };
        let Some(conn) = conn else {
            self.inner.local_calls.fetch_add(1, Ordering::Relaxed);
            return Err(RedisError::Unavailable(self.state().as_str().to_owned()));
        };
        match tokio::time::timeout(timeout, f(conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => {
                self.inner.errors.fetch_add(1, Ordering::Relaxed);
                if is_outage(&e) {
                    self.trip(e.to_string());
                    Err(RedisError::Unavailable(e.to_string()))
                } else {
                    Err(RedisError::Command(e.to_string()))
                }
            }
            Err(_) => {
                self.inner.errors.fetch_add(1, Ordering::Relaxed);
                let m = format!("no answer within {timeout:?}");
                self.trip(m.clone());
                Err(RedisError::Unavailable(m))
            }
        }
    }

    fn users(&self) -> String {
        self.inner.users.lock().join(",")
    }

    fn set_state(&self, s: RedisState) {
        self.inner.state.store(s.as_u8(), Ordering::Release);
        self.inner.changed.send_replace(s.as_u8());
    }

    /// Opens the breaker (once per outage: one warning, not one per request).
    fn trip(&self, error: String) {
        let up = RedisState::Up.as_u8();
        if self
            .inner
            .state
            .compare_exchange(
                up,
                RedisState::Down.as_u8(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            return;
        }
        self.inner.changed.send_replace(RedisState::Down.as_u8());
        *self.inner.conn.write() = None;
        self.inner.went_down.fetch_add(1, Ordering::Relaxed);
        *self.inner.since.lock() = (Instant::now(), Some(error.clone()));
        tracing::warn!(
            components = %self.users(),
            redis = %self.inner.cfg.display_addresses(),
            error = %error,
            "redis unreachable: shared state degraded to local state until it answers again"
        );
        self.spawn_probe(self.inner.cfg.probe_interval);
    }

    fn begin_connecting(&self) {
        let idle = RedisState::Idle.as_u8();
        if self
            .inner
            .state
            .compare_exchange(
                idle,
                RedisState::Connecting.as_u8(),
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
        {
            self.inner
                .changed
                .send_replace(RedisState::Connecting.as_u8());
            self.spawn_probe(Duration::ZERO);
        }
    }

    fn spawn_probe(&self, first: Duration) {
        if self.inner.probing.swap(true, Ordering::AcqRel) {
            return;
        }
        if tokio::runtime::Handle::try_current().is_err() {
            self.inner.probing.store(false, Ordering::Release);
            return;
        }
        let weak = Arc::downgrade(&self.inner);
        let cancel = self.inner.cancel.clone();
        self.inner.tasks.spawn(probe(weak, cancel, first));
    }
}

/// Reconnects with backoff until a connection answers, the handle is dropped, or shutdown.
async fn probe(weak: Weak<Inner>, cancel: CancellationToken, first: Duration) {
    let mut delay = first;
    loop {
        if !delay.is_zero() {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(delay) => {}
            }
        }
        let Some(inner) = weak.upgrade() else { return };
        let handle = Redis { inner };
        let cfg = &handle.inner.cfg;
        let attempt = tokio::select! {
            _ = cancel.cancelled() => return,
            r = tokio::time::timeout(cfg.connect_timeout, handle.inner.target.connect(cfg)) => r,
        };
        match attempt {
            Ok(Ok(conn)) => {
                *handle.inner.conn.write() = Some(conn);
                let was = handle.state();
                let down_for = handle.inner.since.lock().0.elapsed();
                *handle.inner.since.lock() = (Instant::now(), None);
                handle.inner.epoch.fetch_add(1, Ordering::AcqRel);
                handle.inner.came_up.fetch_add(1, Ordering::Relaxed);
                handle.inner.probing.store(false, Ordering::Release);
                handle.set_state(RedisState::Up);
                if was == RedisState::Down {
                    tracing::info!(
                        components = %handle.users(),
                        redis = %cfg.display_addresses(),
                        down_s = down_for.as_secs_f64(),
                        "redis reachable again: shared state resumes"
                    );
                } else {
                    tracing::debug!(redis = %cfg.display_addresses(), "redis connected");
                }
                return;
            }
            Ok(Err(e)) => handle.probe_failed(e.to_string()),
            Err(_) => {
                handle.probe_failed(format!("no connection within {:?}", cfg.connect_timeout))
            }
        }
        delay = if delay.is_zero() {
            cfg.probe_interval
        } else {
            (delay * 2).min(cfg.probe_max_interval)
        };
    }
}

impl Redis {
    fn probe_failed(&self, error: String) {
        if self.state() == RedisState::Connecting {
            // Down at start: one warning, and callers stop waiting for the connection.
            self.inner.went_down.fetch_add(1, Ordering::Relaxed);
            *self.inner.since.lock() = (Instant::now(), Some(error.clone()));
            self.set_state(RedisState::Down);
            tracing::warn!(
                components = %self.users(),
                redis = %self.inner.cfg.display_addresses(),
                error = %error,
                "redis unreachable at start: serving from local state until it answers"
            );
        } else {
            self.inner.since.lock().1 = Some(error.clone());
            tracing::debug!(error = %error, "redis probe failed");
        }
    }
}
