//! Counters of the serving loop, their Prometheus lines, and the rate-limited log summary.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use model_runtime::prom::{Family, Kind};

/// A client-read (or client-write) timeout that closed a connection or failed a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// The request head did not arrive in time (or nothing did).
    Header,
    /// The request body stopped arriving.
    Body,
    /// A keep-alive connection sat idle.
    Idle,
    /// The client did not take a response write.
    Send,
}

impl Timeout {
    const ALL: [Self; 4] = [Self::Header, Self::Body, Self::Idle, Self::Send];

    fn label(self) -> &'static str {
        match self {
            Self::Header => "header",
            Self::Body => "body",
            Self::Idle => "idle",
            Self::Send => "send",
        }
    }
}

/// A connection closed or answered early to protect the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shed {
    /// Not serving a request, closed (oldest first) to make room at the cap.
    EvictedIdle,
    /// Accepted over the cap into the reserve: probes only, `503` for the rest.
    OverCapacity,
    /// Over the cap and the reserve: closed at once.
    Refused,
    /// `accept` failed (e.g. out of file descriptors).
    AcceptFailed,
}

impl Shed {
    const ALL: [Self; 4] = [
        Self::EvictedIdle,
        Self::OverCapacity,
        Self::Refused,
        Self::AcceptFailed,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::EvictedIdle => "evicted_idle",
            Self::OverCapacity => "over_capacity",
            Self::Refused => "refused",
            Self::AcceptFailed => "accept_failed",
        }
    }
}

/// Why a request got `503` before reaching a handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// Its connection was accepted over the cap.
    Overloaded,
    /// The gateway is draining for shutdown.
    Draining,
}

/// The serving loop's counters (only rare events and one per connection: never per request).
#[derive(Debug, Default)]
pub struct Stats {
    accepted: AtomicU64,
    timeouts: [AtomicU64; 4],
    shed: [AtomicU64; 4],
    rejected: [AtomicU64; 2],
}

/// The counters the last log summary reported.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Snapshot {
    timeouts: [u64; 4],
    shed: [u64; 4],
}

impl Stats {
    pub(super) fn accepted(&self) {
        self.accepted.fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn timeout(&self, t: Timeout) {
        self.timeouts[t as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn shed(&self, s: Shed) {
        self.shed[s as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn rejected(&self, r: Rejected) {
        self.rejected[r as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// How many connections a timeout of this kind closed (or requests it failed).
    pub fn timeouts(&self, t: Timeout) -> u64 {
        self.timeouts[t as usize].load(Ordering::Relaxed)
    }

    /// How many connections were shed this way.
    pub fn shed_count(&self, s: Shed) -> u64 {
        self.shed[s as usize].load(Ordering::Relaxed)
    }

    pub(super) fn snapshot(&self) -> Snapshot {
        Snapshot {
            timeouts: Timeout::ALL.map(|t| self.timeouts(t)),
            shed: Shed::ALL.map(|s| self.shed_count(s)),
        }
    }

    /// Logs what changed since `last` (the sweeper calls it at most every 10 s), and returns
    /// the new snapshot.
    pub(super) fn log_since(&self, last: Snapshot, open: usize, max: usize) -> Snapshot {
        let now = self.snapshot();
        if now == last {
            return now;
        }
        let delta = |a: &[u64; 4], b: &[u64; 4], labels: [&'static str; 4]| {
            let mut s = String::new();
            for i in 0..4 {
                if a[i] > b[i] {
                    let _ = write!(
                        s,
                        "{}{}={}",
                        if s.is_empty() { "" } else { " " },
                        labels[i],
                        a[i] - b[i]
                    );
                }
            }
            s
        };
        let shed = delta(&now.shed, &last.shed, Shed::ALL.map(Shed::label));
        let timeouts = delta(
            &now.timeouts,
            &last.timeouts,
            Timeout::ALL.map(Timeout::label),
        );
        if !shed.is_empty() {
            tracing::warn!(
                open,
                max_connections = max,
                shed = %shed,
                timeouts = %timeouts,
                "client connections over the cap: idle ones closed oldest-first, probes still answered (summary of the last 10 s or less)"
            );
        } else {
            tracing::info!(
                open,
                timeouts = %timeouts,
                "client connections closed by timeouts (summary of the last 10 s or less)"
            );
        }
        now
    }

    /// The Prometheus lines of these counters and the open-connections gauge.
    pub(super) fn render(&self, out: &mut String, open: usize, max: usize) {
        Family::new(
            out,
            "modelrt_gateway_connections_open",
            Kind::Gauge,
            "Client connections open.",
        )
        .sample(&[], open);
        Family::new(
            out,
            "modelrt_gateway_connections_max",
            Kind::Gauge,
            "The cap on open client connections (max_connections, lowered to the open-file limit).",
        )
        .sample(&[], max);
        Family::new(
            out,
            "modelrt_gateway_connections_accepted_total",
            Kind::Counter,
            "Client connections accepted.",
        )
        .sample(&[], self.accepted.load(Ordering::Relaxed));
        let mut f = Family::new(
            out,
            "modelrt_gateway_connection_timeouts_total",
            Kind::Counter,
            "Client connections closed (or requests failed with 408) by a timeout, by phase.",
        );
        for t in Timeout::ALL {
            f.sample(&[("phase", &t.label())], self.timeouts(t));
        }
        let mut f = Family::new(
            out,
            "modelrt_gateway_connections_shed_total",
            Kind::Counter,
            "Client connections closed or limited to protect the gateway, by reason.",
        );
        for s in Shed::ALL {
            f.sample(&[("reason", &s.label())], self.shed_count(s));
        }
        let mut f = Family::new(
            out,
            "modelrt_gateway_requests_rejected_total",
            Kind::Counter,
            "Requests answered 503 before any handler, by reason.",
        );
        for (r, label) in [
            (Rejected::Overloaded, "overloaded"),
            (Rejected::Draining, "draining"),
        ] {
            f.sample(
                &[("reason", &label)],
                self.rejected[r as usize].load(Ordering::Relaxed),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_series_with_its_labels() {
        let s = Stats::default();
        s.accepted();
        s.timeout(Timeout::Header);
        s.timeout(Timeout::Header);
        s.shed(Shed::EvictedIdle);
        s.rejected(Rejected::Draining);
        let mut out = String::new();
        s.render(&mut out, 3, 50);
        assert!(
            out.contains("modelrt_gateway_connections_open 3\n"),
            "{out}"
        );
        assert!(
            out.contains("modelrt_gateway_connections_max 50\n"),
            "{out}"
        );
        assert!(out.contains("modelrt_gateway_connections_accepted_total 1\n"));
        assert!(out.contains("modelrt_gateway_connection_timeouts_total{phase=\"header\"} 2\n"));
        assert!(out.contains("modelrt_gateway_connection_timeouts_total{phase=\"send\"} 0\n"));
        assert!(
            out.contains("modelrt_gateway_connections_shed_total{reason=\"evicted_idle\"} 1\n")
        );
        assert!(out.contains("modelrt_gateway_requests_rejected_total{reason=\"draining\"} 1\n"));
        // Every sample line belongs to a declared family.
        for line in out.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap();
            assert!(out.contains(&format!("# TYPE {name} ")), "{line}");
        }
    }

    #[test]
    fn the_summary_reports_only_what_changed() {
        let s = Stats::default();
        let first = s.log_since(Snapshot::default(), 0, 10);
        assert_eq!(first, Snapshot::default());
        s.shed(Shed::Refused);
        let second = s.log_since(first, 0, 10);
        assert_eq!(second.shed[Shed::Refused as usize], 1);
    }
}
