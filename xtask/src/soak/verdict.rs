//! What every check reads ([`Input`]: what the run recorded) and what it gives ([`Check`]);
//! `checks` and `rss` both write checks.

use std::collections::HashSet;

use runtime_testkit::upstream::Arrival;
use serde_json::Value;

use super::config::Limits;
use super::fleet::{Event, Options};
use super::load::Outcome;

/// A usage row (the columns the checks read).
#[derive(Debug, Clone)]
pub struct Row {
    /// Primary key.
    pub id: String,
    /// `ok`, `error`, `aborted`.
    pub status: String,
    /// `chat`, `chat_stream`, `embedding`.
    pub operation: String,
    /// Total tokens.
    pub total_tokens: u64,
}

/// What PostgreSQL and the replicas' spill files hold after the run.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    /// Every row of `usage_records`.
    pub rows: Vec<Row>,
    /// `sum(requests)` of `usage_rollup_hourly`.
    pub rollup_requests: u64,
    /// Request ids still in spill files (durable, replayed on the next start).
    pub spilled: HashSet<String>,
}

/// Everything the checks read.
pub struct Input {
    /// The command line.
    pub opts: Options,
    /// The configured limits.
    pub limits: Limits,
    /// Length of the load, ms.
    pub duration_ms: u64,
    /// The load's start, Unix ms (mock arrival times are Unix ms).
    pub start_unix_ms: u64,
    /// Every request's outcome.
    pub outcomes: Vec<Outcome>,
    /// The faults applied.
    pub events: Vec<Event>,
    /// Requests received by the mocks of deployments a, b, e.
    pub arrivals: [Vec<Arrival>; 3],
    /// Usage rows and spill files.
    pub usage: Usage,
    /// `(ms, replica, generation, KiB)` samples.
    pub rss: Vec<(u64, usize, u32, u64)>,
    /// Requests that went to the next replica after a refused connection.
    pub connect_failovers: u64,
    /// Faults that could not be applied, unclean exits.
    pub notes: Vec<String>,
    /// When some replica's Redis breaker was open (ms from the start), from the replicas' own
    /// "redis unreachable" / "reachable again" log lines: a Redis call that timed out on a
    /// stalled machine degrades that replica to local state, where it probes on its own.
    pub redis_degraded: Vec<(u64, u64)>,
}

/// One check's verdict.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Check {
    /// Short name.
    pub name: String,
    /// Passed.
    pub ok: bool,
    /// One line for humans.
    pub detail: String,
    /// The numbers behind it.
    pub data: Value,
}

pub(super) fn check(name: &str, ok: bool, detail: String, data: Value) -> Check {
    Check {
        name: name.to_owned(),
        ok,
        detail,
        data,
    }
}
