//! What the soak's parts share: its options, the processes it runs ([`Fleet`]) and the faults
//! it applied ([`Event`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use runtime_testkit::services::{Gateway, Postgres, Redis};
use runtime_testkit::upstream::Upstream;

/// Command-line options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Length of the load, minutes.
    pub minutes: f64,
    /// `modelrt` replicas.
    pub replicas: usize,
    /// Concurrent client workers.
    pub concurrency: usize,
    /// Report directory.
    pub out: PathBuf,
    /// Use the debug build.
    pub debug: bool,
    /// A `modelrt` already built (a release artifact, another commit's build): soaked as it
    /// is, nothing is built.
    pub bin: Option<PathBuf>,
}

/// One fault the schedule applied, for the report, the plot and the checks' excuses.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Event {
    /// What (`kill9`, `sigterm`, `redis_restart`, `postgres_stop`, `burst_503`, …).
    pub what: String,
    /// The replica, when it concerns one.
    pub replica: Option<usize>,
    /// Start, ms since the load started.
    pub start_ms: u64,
    /// When it ended (the service was back), ms since the load started.
    pub end_ms: u64,
}

/// Everything the run shares between the load, the schedule and the samplers.
pub struct Fleet {
    /// The replicas.
    pub gateways: Mutex<Vec<Gateway>>,
    /// The shared Redis.
    pub redis: Mutex<Redis>,
    /// The shared PostgreSQL.
    pub postgres: Mutex<Postgres>,
    /// Mocks of deployments a, b and e.
    pub upstreams: [Arc<Upstream>; 3],
    /// Faults applied so far.
    pub events: Mutex<Vec<Event>>,
    /// `(ms since start, replica, start generation, VmRSS KiB)`.
    pub rss: Mutex<Vec<(u64, usize, u32, u64)>>,
    /// The load's start.
    pub t0: Instant,
}

impl Fleet {
    /// ms since the load started.
    pub fn now_ms(&self) -> u64 {
        self.t0.elapsed().as_millis() as u64
    }
}
