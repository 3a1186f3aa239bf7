//! The faults of a soak, scaled to its length, and the samplers beside the load.
//!
//! Process faults (one thread, in order): at 15 % of the run replica 0 is killed with SIGKILL
//! and restarted; at 30 % replica 1 gets SIGTERM, drains, exits and is restarted; at 45 %
//! Redis is killed and started again (empty); at 60 % PostgreSQL is stopped for 15 % of the
//! run (5 s to 30 s) and started again. Upstream bursts (another thread), from 8 % to 90 % of
//! the run, every eighth of it (at least 10 s): 3 s of 503 from deployment `a`, and half a
//! period later 2 s of 429 with `Retry-After: 1` from `b`. Per-request faults run throughout
//! (see [`set_rules`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use runtime_testkit::services::rss_kib;
use runtime_testkit::upstream::{Fault, Rule};

use super::fleet::{Event, Fleet};
use super::load::LoadState;

/// Per-request faults of the three mocks for the whole run.
pub fn set_rules(fleet: &Fleet) {
    let [a, b, e] = &fleet.upstreams;
    a.set_rules(vec![
        Rule {
            every: 37,
            streams_only: true,
            fault: Fault::Cut { after_chunks: 2 },
        },
        Rule {
            every: 211,
            streams_only: false,
            fault: Fault::Stall,
        },
        Rule {
            every: 97,
            streams_only: false,
            fault: Fault::status(500),
        },
    ]);
    b.set_rules(vec![
        Rule {
            every: 53,
            streams_only: true,
            fault: Fault::Cut { after_chunks: 1 },
        },
        Rule {
            every: 89,
            streams_only: false,
            fault: Fault::Delay(Duration::from_millis(1500)),
        },
    ]);
    e.set_rules(vec![Rule {
        every: 150,
        streams_only: false,
        fault: Fault::status(502),
    }]);
}

fn sleep_until(fleet: &Fleet, at: Duration) {
    let target = fleet.t0 + at;
    let now = Instant::now();
    if target > now {
        std::thread::sleep(target - now);
    }
}

fn record(fleet: &Fleet, what: &str, replica: Option<usize>, start_ms: u64) {
    fleet.events.lock().push(Event {
        what: what.to_owned(),
        replica,
        start_ms,
        end_ms: fleet.now_ms(),
    });
}

/// Starts the fault threads; the handle returns notes (faults that could not be applied).
pub fn spawn_chaos(fleet: Arc<Fleet>, run: Duration) -> JoinHandle<Vec<String>> {
    let f2 = fleet.clone();
    let bursts = std::thread::spawn(move || bursts(&f2, run));
    std::thread::spawn(move || {
        let mut notes = process_faults(&fleet, run);
        if bursts.join().is_err() {
            notes.push("the burst thread panicked".into());
        }
        notes
    })
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

fn process_faults(fleet: &Fleet, run: Duration) -> Vec<String> {
    let d = run.as_secs_f64();
    let mut notes = Vec::new();
    let mut note = |r: Result<(), String>, what: &str| {
        if let Err(e) = r {
            eprintln!("soak: {what}: {e}");
            notes.push(format!("{what}: {e}"));
        }
    };
    // kill -9 replica 0, restart.
    sleep_until(fleet, secs(0.15 * d));
    let t = fleet.now_ms();
    note(fleet.gateways.lock()[0].kill9(), "kill -9 replica 0");
    std::thread::sleep(secs((0.02 * d).max(2.0)));
    note(fleet.gateways.lock()[0].start_again(), "restart replica 0");
    record(fleet, "kill9", Some(0), t);
    // SIGTERM replica 1, wait for the drain, restart.
    sleep_until(fleet, secs(0.30 * d));
    let t = fleet.now_ms();
    let r = fleet.gateways.lock()[1].sigterm();
    note(r, "SIGTERM replica 1");
    let exit = fleet.gateways.lock()[1].wait_exit(Duration::from_secs(30));
    match exit {
        Ok(st) if st.success() => {}
        Ok(st) => note(Err(format!("exited with {st}")), "replica 1 after SIGTERM"),
        Err(e) => note(Err(e), "replica 1 after SIGTERM"),
    }
    note(fleet.gateways.lock()[1].start_again(), "restart replica 1");
    record(fleet, "sigterm", Some(1), t);
    // Redis: killed, back empty after a few seconds.
    sleep_until(fleet, secs(0.45 * d));
    let t = fleet.now_ms();
    note(fleet.redis.lock().kill(), "kill redis");
    std::thread::sleep(secs(3.0));
    note(fleet.redis.lock().start_again(), "start redis");
    record(fleet, "redis_restart", None, t);
    // PostgreSQL: stopped, started again.
    sleep_until(fleet, secs(0.60 * d));
    let t = fleet.now_ms();
    note(fleet.postgres.lock().stop(), "stop postgres");
    std::thread::sleep(secs((0.15 * d).clamp(5.0, 30.0)));
    note(fleet.postgres.lock().start_again(), "start postgres");
    record(fleet, "postgres_stop", None, t);
    notes
}

fn bursts(fleet: &Fleet, run: Duration) {
    let d = run.as_secs_f64();
    let period = (d / 8.0).max(10.0);
    let mut at = 0.08 * d;
    let [a, b, _] = &fleet.upstreams;
    while at + period / 2.0 + 2.0 < 0.9 * d {
        sleep_until(fleet, secs(at));
        let t = fleet.now_ms();
        a.set_all(Some(Fault::status(503)));
        std::thread::sleep(secs(3.0));
        a.set_all(None);
        record(fleet, "burst_503_a", None, t);
        sleep_until(fleet, secs(at + period / 2.0));
        let t = fleet.now_ms();
        b.set_all(Some(Fault::rate_limited(1)));
        std::thread::sleep(secs(2.0));
        b.set_all(None);
        record(fleet, "burst_429_b", None, t);
        at += period;
    }
}

/// Samples every replica's VmRSS once a second until `until`.
pub fn spawn_rss_sampler(fleet: Arc<Fleet>, until: Instant) -> JoinHandle<()> {
    std::thread::spawn(move || {
        while Instant::now() < until {
            let t = fleet.now_ms();
            let mut rows = Vec::new();
            if let Some(mut gws) = fleet.gateways.try_lock_for(Duration::from_millis(200)) {
                for (i, g) in gws.iter_mut().enumerate() {
                    let starts = g.starts();
                    if let Some(kib) = g.pid().and_then(rss_kib) {
                        rows.push((t, i, starts, kib));
                    }
                }
            }
            fleet.rss.lock().extend(rows);
            std::thread::sleep(Duration::from_secs(1));
        }
    })
}

/// Prints progress every 10 s.
pub fn spawn_progress(
    state: Arc<LoadState>,
    fleet: Arc<Fleet>,
    run: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last = 0usize;
        while fleet.t0.elapsed() < run {
            tokio::time::sleep(Duration::from_secs(10).min(run)).await;
            let (n, ok) = {
                let o = state.outcomes.lock();
                let ok = o
                    .iter()
                    .filter(|o| o.class == super::load::Class::Ok)
                    .count();
                (o.len(), ok)
            };
            let ev: Vec<String> = fleet
                .events
                .lock()
                .iter()
                .filter(|e| !e.what.starts_with("burst"))
                .map(|e| e.what.clone())
                .collect();
            println!(
                "soak: {:>5.0}s {n} requests ({} in the last 10 s, {ok} ok), {} in flight, faults done: {}",
                fleet.t0.elapsed().as_secs_f64(),
                n - last,
                state.inflight.load(Ordering::Relaxed),
                if ev.is_empty() {
                    "-".into()
                } else {
                    ev.join(" ")
                }
            );
            last = n;
        }
    })
}

/// SIGTERM to every replica, then waits for each (30 s); notes for those that did not exit
/// cleanly.
pub fn stop_all(fleet: &Fleet) -> Vec<String> {
    let mut notes = Vec::new();
    let mut gws = fleet.gateways.lock();
    for (i, g) in gws.iter_mut().enumerate() {
        if let Err(e) = g.sigterm() {
            notes.push(format!("final SIGTERM replica {i}: {e}"));
        }
    }
    for (i, g) in gws.iter_mut().enumerate() {
        match g.wait_exit(Duration::from_secs(30)) {
            Ok(st) if st.success() => {}
            Ok(st) => notes.push(format!(
                "replica {i} exited with {st} after the final SIGTERM"
            )),
            Err(e) => notes.push(format!("replica {i}: {e}")),
        }
    }
    notes
}
