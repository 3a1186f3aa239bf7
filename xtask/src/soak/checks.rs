//! The soak's checks, computed from what the clients saw, what the mocks received, the usage
//! rows in PostgreSQL and the replicas' memory samples.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use runtime_testkit::upstream::{CHAT_USAGE, EMBED_USAGE, Kind};
use serde_json::{Value, json};

use super::fleet::{Event, Fleet};
use super::load::{Class, Outcome};
use super::rss::rss_flat;
use super::verdict::check;
pub use super::verdict::{Check, Input, Row, Usage};

/// Reads the usage rows and the spill files left in the replicas' directories.
pub fn read_usage(fleet: &Fleet, out: &Path) -> Result<Usage, String> {
    let pg = fleet.postgres.lock();
    let text = pg.psql(
        "COPY (SELECT request_id, status, operation, total_tokens FROM usage_records) TO STDOUT",
    )?;
    let rows = text
        .lines()
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            (c.len() == 4).then(|| Row {
                id: c[0].to_owned(),
                status: c[1].to_owned(),
                operation: c[2].to_owned(),
                total_tokens: c[3].parse().unwrap_or(0),
            })
        })
        .collect();
    let rollup_requests = pg
        .psql("SELECT COALESCE(sum(requests), 0) FROM usage_rollup_hourly")?
        .trim()
        .parse()
        .unwrap_or(0);
    let mut spilled = HashSet::new();
    for entry in std::fs::read_dir(out).map_err(|e| e.to_string())?.flatten() {
        for name in ["usage.spill.jsonl", "usage.spill.jsonl.replay"] {
            let p = entry.path().join(name);
            for line in std::fs::read_to_string(&p).unwrap_or_default().lines() {
                if let Some(id) = serde_json::from_str::<Value>(line)
                    .ok()
                    .and_then(|v| v["request_id"].as_str().map(str::to_owned))
                {
                    spilled.insert(id);
                }
            }
        }
    }
    Ok(Usage {
        rows,
        rollup_requests,
        spilled,
    })
}

/// The intervals (ms after `start_unix_ms`) in which a replica's log says its Redis breaker
/// was open; an interval still open at the end of the log ends at `end_ms`.
pub fn redis_degraded_from_logs(
    logs: &[String],
    start_unix_ms: u64,
    end_ms: u64,
) -> Vec<(u64, u64)> {
    let at = |line: &str| -> Option<u64> {
        let ts = line.split_whitespace().next()?;
        let t: jiff::Timestamp = ts.parse().ok()?;
        u64::try_from(t.as_millisecond())
            .ok()
            .map(|ms| ms.saturating_sub(start_unix_ms))
    };
    let mut out = Vec::new();
    for log in logs {
        let mut open: Option<u64> = None;
        for line in log.lines() {
            if line.contains("redis unreachable") {
                if let Some(t) = at(line) {
                    open.get_or_insert(t);
                }
            } else if line.contains("redis reachable again")
                && let (Some(s), Some(t)) = (open, at(line))
            {
                out.push((s, t));
                open = None;
            }
        }
        if let Some(s) = open {
            out.push((s, end_ms));
        }
    }
    out
}

/// The soak report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// Options and totals.
    pub run: Value,
    /// The faults applied.
    pub events: Vec<Event>,
    /// Verdicts.
    pub checks: Vec<Check>,
    /// Notes (faults that could not be applied, unclean exits).
    pub notes: Vec<String>,
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// Windows (ms since start) when Redis was down or its state was lost, widened by `pad`.
fn redis_faults(events: &[Event], pad: u64) -> Vec<(u64, u64)> {
    events
        .iter()
        .filter(|e| e.what == "redis_restart")
        .map(|e| (e.start_ms.saturating_sub(pad), e.end_ms + pad))
        .collect()
}

/// Computes every check.
pub fn evaluate(inp: &Input) -> Report {
    let checks = vec![
        answered(inp),
        deadline(inp),
        usage_exact(inp),
        rollup(inp),
        deployment_rpm(inp, 0, "a", inp.limits.rpm_a),
        deployment_rpm(inp, 2, "e", inp.limits.rpm_e),
        key_rpm(inp),
        health_probes(inp),
        rss_flat(inp),
        retry_after(inp),
    ];
    let mut by_class: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_code: BTreeMap<String, u64> = BTreeMap::new();
    for o in &inp.outcomes {
        *by_class.entry(format!("{:?}", o.class)).or_default() += 1;
        if o.class != Class::Ok {
            let k = format!("{} {}", o.status, o.code.as_deref().unwrap_or("-"));
            *by_code.entry(k).or_default() += 1;
        }
    }
    let mut lat: Vec<f64> = inp.outcomes.iter().map(|o| o.latency_ms).collect();
    let secs = inp.duration_ms as f64 / 1000.0;
    let run = json!({
        "minutes": inp.opts.minutes,
        "replicas": inp.opts.replicas,
        "concurrency": inp.opts.concurrency,
        "build": if inp.opts.debug { "debug" } else { "release" },
        "duration_s": secs,
        "requests": inp.outcomes.len(),
        "rps": inp.outcomes.len() as f64 / secs.max(1.0),
        "by_class": by_class,
        "errors_by_status_code": by_code,
        "latency_ms": {"p50": pct(&mut lat, 0.5), "p99": pct(&mut lat, 0.99), "max": pct(&mut lat, 1.0)},
        "connect_failovers": inp.connect_failovers,
        "upstream_arrivals": {
            "a": inp.arrivals[0].len(), "b": inp.arrivals[1].len(), "e": inp.arrivals[2].len()},
        "usage_rows": inp.usage.rows.len(),
    });
    Report {
        run,
        events: inp.events.clone(),
        checks,
        notes: inp.notes.clone(),
    }
}

/// A transport failure of a request that overlapped a kill -9 of its replica.
fn cut_by_kill(inp: &Input, o: &Outcome) -> bool {
    inp.events.iter().any(|e| {
        e.what == "kill9"
            && e.replica == Some(o.replica)
            && o.start_ms <= e.start_ms + 1000
            && o.start_ms as f64 + o.latency_ms + 100.0 >= e.start_ms as f64
    })
}

/// A transport failure on a replica draining after SIGTERM, for a request the fleet never
/// processed (no usage row, no upstream arrival): the HTTP/1.1 keep-alive race, where the
/// client sends on an idle connection the server is closing (hyper says "connection closed
/// before message completed", or a `SendRequest` connection error when the close lands while
/// the request is being written). Safe for a client to resend.
fn closed_unread_by_drain(inp: &Input, o: &Outcome, seen: &HashSet<&str>) -> bool {
    o.detail
        .as_deref()
        .is_some_and(|d| d.contains("connection close") || d.contains("(SendRequest)"))
        && !seen.contains(o.id.as_str())
        && inp.events.iter().any(|e| {
            e.what == "sigterm"
                && e.replica == Some(o.replica)
                && o.start_ms + 1000 >= e.start_ms
                && o.start_ms <= e.end_ms
        })
}

fn answered(inp: &Input) -> Check {
    let seen: HashSet<&str> = inp
        .usage
        .rows
        .iter()
        .map(|r| r.id.as_str())
        .chain(
            inp.arrivals
                .iter()
                .flatten()
                .flat_map(|a| a.markers.iter().map(String::as_str)),
        )
        .collect();
    let mut excused = 0;
    let mut drain_race = 0;
    let mut bad: BTreeMap<String, u64> = BTreeMap::new();
    let mut sample = Vec::new();
    for o in &inp.outcomes {
        match o.class {
            Class::Ok | Class::TypedError | Class::StreamError | Class::Deadline => {}
            Class::Transport if cut_by_kill(inp, o) => excused += 1,
            Class::Transport if closed_unread_by_drain(inp, o, &seen) => drain_race += 1,
            _ => {
                let d = o.detail.clone().unwrap_or_default();
                let d: String = d.chars().take(120).collect();
                *bad.entry(format!("{:?} replica {}: {d}", o.class, o.replica))
                    .or_default() += 1;
                if sample.len() < 20 {
                    sample.push(json!({"id": o.id, "kind": o.kind, "replica": o.replica,
                        "start_ms": o.start_ms, "latency_ms": o.latency_ms, "status": o.status,
                        "reached_upstream_or_row": seen.contains(o.id.as_str())}));
                }
            }
        }
    }
    let n: u64 = bad.values().sum();
    check(
        "every_request_answered",
        n == 0,
        format!(
            "{} requests: {} answered with 2xx or a typed error; {excused} cut by the kill -9 of their replica (in flight at the kill); {drain_race} closed unread by a draining replica (keep-alive race, never processed: safe to resend); {n} without a typed answer",
            inp.outcomes.len(),
            inp.outcomes.len() as u64 - n - excused - drain_race
        ),
        json!({"unanswered": n, "cut_by_kill9": excused, "closed_unread_by_drain": drain_race, "unanswered_by_cause": bad, "unanswered_sample": sample}),
    )
}

fn deadline(inp: &Input) -> Check {
    let late = inp
        .outcomes
        .iter()
        .filter(|o| o.class == Class::Deadline)
        .count();
    let max = inp
        .outcomes
        .iter()
        .map(|o| o.latency_ms)
        .fold(0.0, f64::max);
    let dl = (inp.limits.request_timeout.as_secs() + 10) * 1000;
    check(
        "no_request_past_its_deadline",
        late == 0,
        format!(
            "{late} requests got no answer within the client deadline of {dl} ms (gateway request_timeout {} s); slowest answer {max:.0} ms",
            inp.limits.request_timeout.as_secs()
        ),
        json!({"past_deadline": late, "client_deadline_ms": dl, "max_latency_ms": max}),
    )
}

fn expected_tokens(op: &str) -> Option<u64> {
    match op {
        "chat" | "chat_stream" => Some(CHAT_USAGE.0 + CHAT_USAGE.1),
        "embedding" => Some(EMBED_USAGE),
        _ => None,
    }
}

fn usage_exact(inp: &Input) -> Check {
    let reached: HashSet<&str> = inp
        .arrivals
        .iter()
        .flatten()
        .filter(|a| matches!(a.kind, Kind::Chat | Kind::Stream | Kind::Embed))
        .flat_map(|a| a.markers.iter().map(String::as_str))
        .collect();
    let sent: HashMap<&str, &Outcome> = inp.outcomes.iter().map(|o| (o.id.as_str(), o)).collect();
    let rows: HashMap<&str, &Row> = inp.usage.rows.iter().map(|r| (r.id.as_str(), r)).collect();
    let (mut lost_kill, mut lost_other, mut in_spill) = (0u64, Vec::new(), 0u64);
    let kills: Vec<&Event> = inp.events.iter().filter(|e| e.what == "kill9").collect();
    for id in &reached {
        if rows.contains_key(id) {
            continue;
        }
        if inp.usage.spilled.contains(*id) {
            in_spill += 1;
            continue;
        }
        // A record still in the killed process' memory: its request was in flight at the
        // kill or ended within the writer's flush interval (200 ms) plus 1 s before it.
        let by_kill = sent.get(id).is_some_and(|o| {
            kills.iter().any(|k| {
                k.replica == Some(o.replica)
                    && o.start_ms <= k.start_ms
                    && o.start_ms as f64 + o.latency_ms + 1200.0 >= k.start_ms as f64
            })
        });
        if by_kill {
            lost_kill += 1;
        } else {
            lost_other.push(id.to_string());
        }
    }
    let mut phantom = 0u64;
    let mut ok_without_upstream = 0u64;
    let mut error_rows_without_upstream = 0u64;
    let mut token_mismatch = 0u64;
    let mut mismatch_sample = Vec::new();
    for r in &inp.usage.rows {
        if !sent.contains_key(r.id.as_str()) {
            phantom += 1;
        }
        if !reached.contains(r.id.as_str()) {
            if r.status == "ok" {
                ok_without_upstream += 1;
            } else {
                error_rows_without_upstream += 1;
            }
        }
        if r.status == "ok" && expected_tokens(&r.operation).is_some_and(|t| t != r.total_tokens) {
            token_mismatch += 1;
            if mismatch_sample.len() < 5 {
                mismatch_sample.push(format!(
                    "{} {} {} tokens",
                    r.id, r.operation, r.total_tokens
                ));
            }
        }
    }
    // The rows are unique by construction (primary key); a request counted twice would show
    // as a rollup total above the row count (checked apart).
    let ok =
        lost_other.is_empty() && phantom == 0 && ok_without_upstream == 0 && token_mismatch == 0;
    lost_other.sort();
    lost_other.truncate(10);
    check(
        "usage_rows_match_upstream_requests",
        ok,
        format!(
            "{} requests reached an upstream, {} usage rows; lost: {} to the kill -9 (records in the killed process' memory), {} otherwise; {in_spill} still in spill files (durable, replayed at the next start); rows without an upstream request: {error_rows_without_upstream} error rows (answered before any upstream), {ok_without_upstream} ok rows; rows of unknown requests: {phantom}; ok rows with wrong token counts: {token_mismatch}",
            reached.len(),
            inp.usage.rows.len(),
            lost_kill,
            lost_other.len(),
        ),
        json!({
            "reached_upstream": reached.len(), "rows": inp.usage.rows.len(),
            "lost_to_kill9": lost_kill, "lost_otherwise_sample": lost_other,
            "in_spill_files": in_spill, "error_rows_without_upstream": error_rows_without_upstream,
            "ok_rows_without_upstream": ok_without_upstream, "phantom_rows": phantom,
            "token_mismatches": token_mismatch, "token_mismatch_sample": mismatch_sample,
        }),
    )
}

fn rollup(inp: &Input) -> Check {
    let rows = inp.usage.rows.len() as u64;
    check(
        "rollups_equal_rows",
        inp.usage.rollup_requests == rows,
        format!(
            "hourly rollups count {} requests, usage_records holds {rows} rows",
            inp.usage.rollup_requests
        ),
        json!({"rollup_requests": inp.usage.rollup_requests, "rows": rows}),
    )
}

fn deployment_rpm(inp: &Input, mock: usize, name: &str, rpm: u64) -> Check {
    let mut windows: BTreeMap<u64, u64> = BTreeMap::new();
    for a in &inp.arrivals[mock] {
        if matches!(a.kind, Kind::Chat | Kind::Stream | Kind::Embed) {
            *windows.entry(a.at_ms / 60_000).or_default() += 1;
        }
    }
    // A window in which Redis restarted lost its count: the limit restarts from zero there.
    // So does one in which a replica's Redis breaker was open (a command timed out): that
    // replica counted alone meanwhile (docs/reliability.md, degraded mode).
    let mut faults = redis_faults(&inp.events, 1000);
    faults.extend(inp.redis_degraded.iter().copied());
    let excused = |w: u64| {
        faults.iter().any(|(s, e)| {
            let (s, e) = (inp.start_unix_ms + s, inp.start_unix_ms + e);
            s / 60_000 <= w && w <= e / 60_000
        })
    };
    let limit = (rpm as f64 * 1.05).floor() as u64;
    let mut over = Vec::new();
    let mut table = Vec::new();
    let mut max_checked = 0;
    for (w, n) in &windows {
        let ex = excused(*w);
        table.push(json!({"window_unix_min": w, "requests": n, "redis_restart_in_window": ex}));
        if !ex {
            max_checked = max_checked.max(*n);
            if *n > limit {
                over.push(*w);
            }
        }
    }
    // The limit bound somewhere (an excused window counts: it shows the load was there).
    let max_any = windows.values().copied().max().unwrap_or(0);
    let exercised = max_any * 10 >= rpm * 8;
    check(
        &format!("fleet_rpm_deployment_{name}"),
        over.is_empty() && exercised,
        format!(
            "deployment {name} (rpm {rpm}): busiest checked minute window {max_checked} upstream requests (limit +5 % = {limit}); {} windows over; {} windows excused (Redis restarted, or a replica's Redis breaker was open, in them){}",
            over.len(),
            table
                .iter()
                .filter(|t| t["redis_restart_in_window"] == true)
                .count(),
            if exercised {
                ""
            } else {
                "; NOT EXERCISED: no window reached 80 % of the limit"
            }
        ),
        json!({"rpm": rpm, "limit_with_5pct": limit, "windows": table, "exercised": exercised}),
    )
}

/// A 503 the connection layer gives before a request is routed or its key checked: a
/// draining replica's `shutting_down`, or `overloaded` at the connection cap. The key limiter
/// never saw it, so it is no admission. (A request already admitted and cut by a drain's hard
/// stop also reads `shutting_down`; it happens only when requests outlive the drain's grace.)
fn refused_unread(o: &Outcome) -> bool {
    o.status == 503 && matches!(o.code.as_deref(), Some("shutting_down" | "overloaded"))
}

fn key_rpm(inp: &Input) -> Check {
    let rpm = inp.limits.key_rpm as f64;
    let admitted = inp
        .outcomes
        .iter()
        .filter(|o| o.limited_key && !o.key_limited && o.status != 0 && !refused_unread(o))
        .count() as f64;
    let refused = inp
        .outcomes
        .iter()
        .filter(|o| o.limited_key && o.key_limited)
        .count();
    let minutes = inp.duration_ms as f64 / 60_000.0;
    // GCRA: a full burst of `rpm`, then rpm per minute. A Redis restart loses the key's state
    // (a new burst), and while Redis is away each replica counts alone (a burst each).
    let restarts = redis_faults(&inp.events, 0).len() as f64;
    let bound = rpm * (1.0 + minutes) + restarts * rpm * (1.0 + inp.opts.replicas as f64);
    let limit = bound * 1.05;
    check(
        "fleet_rpm_gateway_key",
        admitted <= limit && refused > 0,
        format!(
            "key `limited` (rpm {rpm}): {admitted} admitted, {refused} refused with 429 over {minutes:.2} min; bound {bound:.0} (burst + rate{}) +5 % = {limit:.0}",
            if restarts > 0.0 {
                " + a burst per replica and one for Redis' lost state per Redis restart"
            } else {
                ""
            }
        ),
        json!({"rpm": rpm, "admitted": admitted, "refused": refused, "bound": bound, "limit_with_5pct": limit}),
    )
}

fn health_probes(inp: &Input) -> Check {
    let interval = inp.limits.health_interval.as_millis() as u64;
    // Redis restarts, and the moments a replica's own Redis breaker was open: either way that
    // replica cannot see the fleet's probe lease and probes alone (docs/reliability.md).
    let mut faults = redis_faults(&inp.events, interval);
    faults.extend(
        inp.redis_degraded
            .iter()
            .map(|(s, e)| (s.saturating_sub(interval), e + interval)),
    );
    let mut data = Vec::new();
    let mut ok = true;
    for (i, name) in ["a", "b", "e"].iter().enumerate() {
        let mut t: Vec<u64> = inp.arrivals[i]
            .iter()
            .filter(|a| a.kind == Kind::Health)
            .map(|a| a.at_ms)
            .collect();
        t.sort_unstable();
        let in_fault = |x: u64| {
            let rel = x.saturating_sub(inp.start_unix_ms);
            faults.iter().any(|(s, e)| rel >= *s && rel <= *e)
        };
        // Two probes closer than half an interval: the fleet probed twice.
        let doubled: Vec<u64> = t
            .windows(2)
            .filter(|w| w[1] - w[0] < interval / 2 && !in_fault(w[0]) && !in_fault(w[1]))
            .map(|w| w[1].saturating_sub(inp.start_unix_ms))
            .collect();
        let doubles = doubled.len();
        let span = t.last().zip(t.first()).map_or(0, |(l, f)| l - f);
        let min_gap = t.windows(2).map(|w| w[1] - w[0]).min().unwrap_or(0);
        let floor = (inp.duration_ms / (3 * interval)).saturating_sub(1) as usize;
        let this_ok = doubles == 0 && t.len() >= floor;
        ok &= this_ok;
        data.push(
            json!({"deployment": name, "probes": t.len(), "span_ms": span,
            "expected_about": span / interval + 1, "min_gap_ms": min_gap,
            "double_probes_outside_redis_faults": doubles, "doubled_at_ms": doubled,
            "at_least": floor}),
        );
    }
    check(
        "one_health_probe_per_interval_per_fleet",
        ok,
        format!(
            "interval {interval} ms: {}",
            data.iter()
                .map(|d| format!(
                    "{} {} probes (min gap {} ms, {} doubled)",
                    d["deployment"].as_str().unwrap_or(""),
                    d["probes"],
                    d["min_gap_ms"],
                    d["double_probes_outside_redis_faults"]
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        json!({"interval_ms": interval, "deployments": data}),
    )
}

fn retry_after(inp: &Input) -> Check {
    let mut missing: BTreeMap<String, u64> = BTreeMap::new();
    let mut total = 0;
    for o in &inp.outcomes {
        if matches!(o.status, 429 | 503) {
            total += 1;
            if o.retry_after.is_none() {
                *missing
                    .entry(format!("{} {}", o.status, o.code.as_deref().unwrap_or("-")))
                    .or_default() += 1;
            }
        }
    }
    let n: u64 = missing.values().sum();
    check(
        "retry_after_on_every_429_503",
        n == 0,
        format!("{total} answers were 429/503; {n} without Retry-After {missing:?}"),
        json!({"total": total, "missing_by_status_code": missing}),
    )
}

/// The report as printed at the end of a run.
pub fn summary(r: &Report) -> String {
    let mut s = format!(
        "soak: {} requests in {:.0} s ({:.0}/s), latency p50 {:.0} ms p99 {:.0} ms max {:.0} ms\n",
        r.run["requests"],
        r.run["duration_s"].as_f64().unwrap_or(0.0),
        r.run["rps"].as_f64().unwrap_or(0.0),
        r.run["latency_ms"]["p50"].as_f64().unwrap_or(0.0),
        r.run["latency_ms"]["p99"].as_f64().unwrap_or(0.0),
        r.run["latency_ms"]["max"].as_f64().unwrap_or(0.0),
    );
    s.push_str(&format!("soak: outcomes {}\n", r.run["by_class"]));
    for e in &r.events {
        if !e.what.starts_with("burst") {
            s.push_str(&format!(
                "soak: fault {} {} at {:.1} s, back at {:.1} s\n",
                e.what,
                e.replica
                    .map(|r| format!("replica {r}"))
                    .unwrap_or_default(),
                e.start_ms as f64 / 1000.0,
                e.end_ms as f64 / 1000.0
            ));
        }
    }
    for c in &r.checks {
        s.push_str(&format!(
            "soak: [{}] {}: {}\n",
            if c.ok { "PASS" } else { "FAIL" },
            c.name,
            c.detail
        ));
    }
    for n in &r.notes {
        s.push_str(&format!("soak: note: {n}\n"));
    }
    s
}

#[cfg(test)]
#[path = "checks_tests.rs"]
mod tests;
