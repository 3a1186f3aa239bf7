//! The set of open connections: admission at the cap, oldest-first eviction, the sweeper that
//! fires timeouts, the coarse clock, and the drain.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::task::AtomicWaker;
use parking_lot::Mutex;

use super::stats::{Shed, Stats};
use crate::config::ConnLimits;

/// How often at most the sweeper logs a summary of timeouts and shed connections.
const LOG_EVERY: Duration = Duration::from_secs(10);

/// Most connections one eviction closes (nginx closes an eighth of its reusable connections,
/// 1 to 32, when it runs out).
const EVICT_BATCH: usize = 32;

/// Connections accepted beyond `max_connections` when none can be closed to make room: they
/// answer `/health` and `/ready`, and `503 overloaded` to everything else.
pub const OVERLOAD_RESERVE: usize = 64;

/// Where a connection is in its request cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Phase {
    /// Accepted; no byte yet.
    Fresh = 0,
    /// Bytes of a request head arrived; the head is not complete.
    Head = 1,
    /// A handler waits for request body bytes.
    Body = 2,
    /// A request is being served (handler, upstream, response).
    Busy = 3,
    /// Between requests.
    Idle = 4,
}

impl Phase {
    pub(super) fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Fresh,
            1 => Self::Head,
            2 => Self::Body,
            3 => Self::Busy,
            _ => Self::Idle,
        }
    }
}

/// Why a connection was woken to close (or to fail its body read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Kick {
    Header = 1,
    Body = 2,
    /// The body read failed with [`BodyTimeout`]; the response closes the connection.
    BodyFired = 3,
    Idle = 4,
    Send = 5,
    Evict = 6,
    Drain = 7,
    Stop = 8,
}

impl Kick {
    pub(super) fn from_u8(v: u8) -> Option<Self> {
        Some(match v {
            1 => Self::Header,
            2 => Self::Body,
            3 => Self::BodyFired,
            4 => Self::Idle,
            5 => Self::Send,
            6 => Self::Evict,
            7 => Self::Drain,
            8 => Self::Stop,
            _ => return None,
        })
    }
}

/// The state of one connection, shared by its task (writer) and the registry (reader).
#[derive(Debug)]
pub(super) struct ConnState {
    pub(super) conns: Arc<Connections>,
    pub(super) slot: usize,
    /// Accepted over the cap: answers probes, `503 overloaded` to the rest.
    pub(super) overload: bool,
    pub(super) phase: AtomicU8,
    /// Coarse-clock ms when the phase began (in `Body`: of the last read).
    pub(super) since: AtomicU64,
    /// Coarse-clock ms + 1 since when a write waits for the client; 0: none.
    pub(super) write_blocked: AtomicU64,
    pub(super) kick: AtomicU8,
    pub(super) waker: AtomicWaker,
}

impl ConnState {
    pub(super) fn new(conns: Arc<Connections>, slot: usize, now: u64, overload: bool) -> Self {
        Self {
            conns,
            slot,
            overload,
            phase: AtomicU8::new(Phase::Fresh as u8),
            since: AtomicU64::new(now),
            write_blocked: AtomicU64::new(0),
            kick: AtomicU8::new(0),
            waker: AtomicWaker::new(),
        }
    }

    #[inline]
    pub(super) fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Relaxed))
    }

    #[inline]
    pub(super) fn set_phase(&self, p: Phase) {
        self.phase.store(p as u8, Ordering::Relaxed);
    }

    #[inline]
    pub(super) fn enter(&self, p: Phase) {
        self.since.store(self.conns.now(), Ordering::Relaxed);
        self.set_phase(p);
    }

    pub(super) fn since(&self) -> u64 {
        self.since.load(Ordering::Relaxed)
    }

    pub(super) fn write_blocked_since(&self) -> Option<u64> {
        self.write_blocked.load(Ordering::Relaxed).checked_sub(1)
    }

    #[cfg(test)]
    pub(super) fn slot(&self) -> usize {
        self.slot
    }

    #[cfg(test)]
    pub(super) fn is_overload(&self) -> bool {
        self.overload
    }

    /// Not serving a request and not told to close yet.
    pub(super) fn evictable(&self) -> bool {
        matches!(self.phase(), Phase::Fresh | Phase::Head | Phase::Idle)
            && self.kick.load(Ordering::Relaxed) == 0
    }

    pub(super) fn kicked(&self) -> Option<Kick> {
        Kick::from_u8(self.kick.load(Ordering::Acquire))
    }

    /// Tells the connection's task to handle `kick` (unless it has one pending) and wakes it.
    pub(super) fn kick(&self, kick: Kick) -> bool {
        let set = self
            .kick
            .compare_exchange(0, kick as u8, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok();
        if set {
            self.waker.wake();
        }
        set
    }

    pub(super) fn clear_kick(&self, kick: Kick) {
        let _ = self
            .kick
            .compare_exchange(kick as u8, 0, Ordering::AcqRel, Ordering::Relaxed);
    }

    /// The response body was handed over: the connection waits for the next request.
    pub(super) fn response_done(&self) {
        if matches!(self.phase(), Phase::Busy | Phase::Body) {
            self.enter(Phase::Idle);
        }
    }

    #[cfg(test)]
    pub(super) fn set_phase_for_test(&self, p: Phase, since: u64) {
        self.since.store(since, Ordering::Relaxed);
        self.set_phase(p);
    }

    #[cfg(test)]
    pub(super) fn set_write_blocked_for_test(&self, since: u64) {
        self.write_blocked.store(since + 1, Ordering::Relaxed);
    }
}

/// The client connections of one gateway: limits, counters, and every open connection.
#[derive(Debug)]
pub struct Connections {
    pub(super) limits: ConnLimits,
    /// The cap in force: `max_connections`, lowered to half the open-file limit.
    max: usize,
    /// The open-file limit when it lowered the cap (for the start-up warning).
    lowered_by: Option<u64>,
    /// Milliseconds since `epoch`, advanced by the sweeper (and on accept).
    clock: AtomicU64,
    epoch: Instant,
    /// Milliseconds between two sweeps.
    tick_ms: u64,
    open: AtomicUsize,
    /// Connections told to close for room that have not closed yet.
    pub(super) evicting: AtomicUsize,
    draining: AtomicBool,
    registry: Mutex<Registry>,
    /// The counters.
    pub stats: Stats,
}

#[derive(Debug, Default)]
struct Registry {
    slots: Vec<Option<Arc<ConnState>>>,
    free: Vec<usize>,
}

impl Connections {
    /// The connection registry of a gateway with these limits.
    pub fn new(limits: ConnLimits) -> Arc<Self> {
        let fd_limit = open_file_limit();
        let fd_cap = fd_limit.map(|n| usize::try_from(n / 2).unwrap_or(usize::MAX).max(16));
        let max = fd_cap.map_or(limits.max_connections, |c| c.min(limits.max_connections));
        let shortest = [
            limits.header_timeout,
            limits.body_timeout,
            limits.idle_timeout,
            limits.send_timeout,
        ]
        .into_iter()
        .min()
        .unwrap_or(Duration::from_secs(1));
        let tick_ms = (shortest.as_millis() as u64 / 4).clamp(25, 1000);
        Arc::new(Self {
            limits,
            max,
            lowered_by: fd_limit.filter(|_| max < limits.max_connections),
            clock: AtomicU64::new(0),
            epoch: Instant::now(),
            tick_ms,
            open: AtomicUsize::new(0),
            evicting: AtomicUsize::new(0),
            draining: AtomicBool::new(false),
            registry: Mutex::new(Registry::default()),
            stats: Stats::default(),
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// The cap in force.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Whether the gateway is draining for shutdown.
    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Appends the Prometheus lines of the connection metrics.
    pub fn render_metrics(&self, out: &mut String) {
        self.stats.render(out, self.open(), self.max);
    }

    pub(super) fn log_limits(&self) {
        if let Some(fds) = self.lowered_by {
            tracing::warn!(
                max_connections = self.limits.max_connections,
                in_force = self.max,
                open_file_limit = fds,
                "max_connections lowered to half the open-file limit (the other half is for upstream connections and files); raise the limit (ulimit -n, systemd LimitNOFILE) to allow more"
            );
        }
    }

    /// The coarse clock: milliseconds since start, at most one tick old.
    #[inline]
    pub(super) fn now(&self) -> u64 {
        self.clock.load(Ordering::Relaxed)
    }

    fn advance_clock(&self) -> u64 {
        let now = self.epoch.elapsed().as_millis() as u64;
        self.clock.store(now, Ordering::Relaxed);
        now
    }

    /// Registers a new connection, making room at the cap; `None` when it is to be closed at
    /// once (over the cap and the reserve).
    pub(super) fn admit(self: &Arc<Self>) -> Option<Arc<ConnState>> {
        let now = self.advance_clock();
        let open = self.open.load(Ordering::Relaxed);
        let settled = open.saturating_sub(self.evicting.load(Ordering::Relaxed));
        let overload = if settled < self.max || self.evict_for_room() > 0 {
            false
        } else if open < self.max + OVERLOAD_RESERVE {
            self.stats.shed(Shed::OverCapacity);
            true
        } else {
            self.stats.shed(Shed::Refused);
            return None;
        };
        self.stats.accepted();
        self.open.fetch_add(1, Ordering::Relaxed);
        let mut reg = self.registry.lock();
        let slot = reg.free.pop().unwrap_or_else(|| {
            reg.slots.push(None);
            reg.slots.len() - 1
        });
        let state = Arc::new(ConnState::new(self.clone(), slot, now, overload));
        reg.slots[slot] = Some(state.clone());
        Some(state)
    }

    /// Forgets a closed connection.
    pub(super) fn remove(&self, slot: usize) {
        let mut reg = self.registry.lock();
        if let Some(s) = reg.slots.get_mut(slot)
            && s.take().is_some()
        {
            reg.free.push(slot);
            self.open.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Tells the connections that are not serving a request (fresh, head, idle) to close,
    /// oldest first: an eighth of them, 1 to 32. Returns how many.
    pub(super) fn evict_for_room(&self) -> usize {
        let reg = self.registry.lock();
        let mut candidates: Vec<(u64, &Arc<ConnState>)> = reg
            .slots
            .iter()
            .flatten()
            .filter(|c| c.evictable())
            .map(|c| (c.since(), c))
            .collect();
        if candidates.is_empty() {
            return 0;
        }
        let n = (candidates.len() / 8).clamp(1, EVICT_BATCH);
        if n < candidates.len() {
            candidates.select_nth_unstable_by_key(n - 1, |(since, _)| *since);
        }
        let mut evicted = 0;
        for (_, c) in &candidates[..n] {
            if c.kick(Kick::Evict) {
                self.evicting.fetch_add(1, Ordering::Relaxed);
                evicted += 1;
            }
        }
        evicted
    }

    /// Starts the drain: new requests get 503 (probes are answered), idle connections close.
    pub(super) fn start_drain(&self) {
        self.draining.store(true, Ordering::Relaxed);
        self.kick_where(Kick::Drain, |p| p == Phase::Idle);
    }

    /// Closes every connection that waits for a request (the listener has closed).
    pub(super) fn close_waiting(&self) {
        self.kick_where(Kick::Stop, |p| matches!(p, Phase::Fresh | Phase::Idle));
    }

    /// Closes every connection.
    pub(super) fn close_all(&self) {
        self.kick_where(Kick::Stop, |_| true);
    }

    fn kick_where(&self, kick: Kick, which: impl Fn(Phase) -> bool) {
        let reg = self.registry.lock();
        for c in reg.slots.iter().flatten() {
            if which(c.phase()) {
                c.kick(kick);
            }
        }
    }

    /// Fires the timeouts, forever (the serving loop aborts it): every tick, advances the
    /// clock and wakes the connections whose phase outlived its timeout; logs a summary at
    /// most every 10 s.
    pub(super) async fn sweep(self: Arc<Self>) {
        let mut ticker = tokio::time::interval(Duration::from_millis(self.tick_ms));
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut logged = self.stats.snapshot();
        let mut logged_at = Instant::now();
        loop {
            ticker.tick().await;
            let now = self.advance_clock();
            self.sweep_once(now);
            if logged_at.elapsed() >= LOG_EVERY {
                logged = self.stats.log_since(logged, self.open(), self.max);
                logged_at = Instant::now();
            }
        }
    }

    fn sweep_once(&self, now: u64) {
        let ms = |d: Duration| d.as_millis() as u64 + self.tick_ms;
        let header = ms(self.limits.header_timeout);
        let body = ms(self.limits.body_timeout);
        let idle = ms(self.limits.idle_timeout);
        let send = ms(self.limits.send_timeout);
        let draining = self.draining();
        let reg = self.registry.lock();
        for c in reg.slots.iter().flatten() {
            let age = now.saturating_sub(c.since());
            let kick = match c.phase() {
                Phase::Fresh | Phase::Head if age >= header => Some(Kick::Header),
                Phase::Idle if draining => Some(Kick::Drain),
                Phase::Idle if age >= idle => Some(Kick::Idle),
                Phase::Body if age >= body => Some(Kick::Body),
                _ => None,
            };
            let kick = kick.or_else(|| {
                c.write_blocked_since()
                    .filter(|t| now.saturating_sub(*t) >= send)
                    .map(|_| Kick::Send)
            });
            if let Some(k) = kick {
                c.kick(k);
            }
        }
    }
}

/// The soft limit on open files (Linux: `/proc/self/limits`); `None` when unknown or unlimited.
fn open_file_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize) -> ConnLimits {
        ConnLimits {
            max_connections: max,
            ..ConnLimits::default()
        }
    }

    #[test]
    fn the_open_file_limit_is_read() {
        // Linux CI: the file exists and has the line.
        assert!(open_file_limit().is_some_and(|n| n > 0));
    }

    #[test]
    fn at_the_cap_the_oldest_waiting_connections_are_evicted_not_busy_ones() {
        let conns = Connections::new(limits(16));
        let all: Vec<_> = (0..16).map(|_| conns.admit().unwrap()).collect();
        for (i, c) in all.iter().enumerate() {
            // Connection i went idle at time 1000 - i: the last ones are the oldest.
            c.set_phase_for_test(Phase::Idle, 1000 - i as u64);
        }
        all[15].set_phase_for_test(Phase::Busy, 0);
        let extra = conns.admit().expect("room was made");
        assert!(!extra.is_overload());
        // 15 evictable: an eighth is 1, and the oldest idle one is 14 (15 is busy).
        let kicked: Vec<usize> = (0..16).filter(|i| all[*i].kicked().is_some()).collect();
        assert_eq!(kicked, vec![14]);
        assert_eq!(conns.evicting.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn when_every_connection_is_busy_the_reserve_answers_then_refuses() {
        let conns = Connections::new(limits(4));
        let all: Vec<_> = (0..4).map(|_| conns.admit().unwrap()).collect();
        for c in &all {
            c.set_phase_for_test(Phase::Busy, 0);
        }
        for _ in 0..OVERLOAD_RESERVE {
            let c = conns.admit().expect("reserve");
            assert!(c.is_overload());
            c.set_phase_for_test(Phase::Busy, 0);
        }
        assert!(conns.admit().is_none());
        assert_eq!(conns.evicting.load(Ordering::Relaxed), 0);
        assert_eq!(conns.stats.shed_count(Shed::Refused), 1);
        assert_eq!(
            conns.stats.shed_count(Shed::OverCapacity),
            OVERLOAD_RESERVE as u64
        );
        conns.remove(all[0].slot());
        assert_eq!(conns.open(), 3 + OVERLOAD_RESERVE);
    }

    #[test]
    fn the_sweeper_fires_each_phase_after_its_timeout_and_not_before() {
        let conns = Connections::new(ConnLimits {
            header_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(2),
            idle_timeout: Duration::from_secs(3),
            send_timeout: Duration::from_secs(4),
            max_connections: 100,
        });
        let tick = conns.tick_ms;
        assert_eq!(tick, 250);
        let fresh = conns.admit().unwrap();
        let body = conns.admit().unwrap();
        let idle = conns.admit().unwrap();
        let busy = conns.admit().unwrap();
        fresh.set_phase_for_test(Phase::Fresh, 0);
        body.set_phase_for_test(Phase::Body, 0);
        idle.set_phase_for_test(Phase::Idle, 0);
        busy.set_phase_for_test(Phase::Busy, 0);
        conns.sweep_once(999 + tick);
        assert!(fresh.kicked().is_none());
        conns.sweep_once(1000 + tick);
        assert_eq!(fresh.kicked(), Some(Kick::Header));
        conns.sweep_once(1999 + tick);
        assert!(body.kicked().is_none());
        conns.sweep_once(2000 + tick);
        assert_eq!(body.kicked(), Some(Kick::Body));
        assert!(idle.kicked().is_none());
        conns.sweep_once(3000 + tick);
        assert_eq!(idle.kicked(), Some(Kick::Idle));
        // A busy connection (an upstream call, a stream) is never timed out...
        conns.sweep_once(1_000_000);
        assert!(busy.kicked().is_none());
        // ...unless the client stops taking its writes.
        busy.set_write_blocked_for_test(1_000_000);
        conns.sweep_once(1_004_000 + tick);
        assert_eq!(busy.kicked(), Some(Kick::Send));
    }
}
