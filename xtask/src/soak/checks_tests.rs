//! Unit tests of the soak's checks: each can fail, and excuses apply only where stated.

use super::*;
use crate::soak::config::Limits;
use crate::soak::fleet::Options;
use runtime_testkit::upstream::Arrival;

fn outcome(id: &str, replica: usize, start_ms: u64, class: Class) -> Outcome {
    Outcome {
        id: id.into(),
        replica,
        kind: super::super::load::ReqKind::Chat,
        limited_key: false,
        start_ms,
        latency_ms: 50.0,
        status: if class == Class::Ok { 200 } else { 0 },
        class,
        code: None,
        retry_after: None,
        key_limited: false,
        detail: None,
    }
}

fn arrival(id: &str, at_ms: u64) -> Arrival {
    Arrival {
        at_ms,
        kind: Kind::Chat,
        markers: vec![id.into()],
        fault: None,
    }
}

fn row(id: &str) -> Row {
    Row {
        id: id.into(),
        status: "ok".into(),
        operation: "chat".into(),
        total_tokens: CHAT_USAGE.0 + CHAT_USAGE.1,
    }
}

fn input() -> Input {
    Input {
        redis_degraded: Vec::new(),
        opts: Options {
            minutes: 1.0,
            replicas: 2,
            concurrency: 4,
            out: "target/none".into(),
            debug: true,
            bin: None,
        },
        limits: Limits::for_run(1.0),
        duration_ms: 60_000,
        start_unix_ms: 1_000_000,
        outcomes: vec![
            outcome("r1", 0, 1000, Class::Ok),
            outcome("r2", 1, 2000, Class::Ok),
            outcome("r3", 0, 9_990, Class::Transport),
        ],
        events: vec![Event {
            what: "kill9".into(),
            replica: Some(0),
            start_ms: 10_000,
            end_ms: 12_000,
        }],
        arrivals: [
            vec![
                arrival("r1", 1_001_000),
                arrival("r2", 1_002_000),
                arrival("r3", 1_009_995),
            ],
            Vec::new(),
            Vec::new(),
        ],
        usage: Usage {
            rows: vec![row("r1"), row("r2")],
            rollup_requests: 2,
            spilled: HashSet::new(),
        },
        rss: Vec::new(),
        connect_failovers: 0,
        notes: Vec::new(),
    }
}

#[test]
fn a_request_in_flight_at_a_kill_is_excused_and_its_record_counted_as_lost_to_it() {
    let inp = input();
    let a = answered(&inp);
    assert!(a.ok, "{}", a.detail);
    assert_eq!(a.data["cut_by_kill9"], 1);
    let u = usage_exact(&inp);
    assert!(u.ok, "{}", u.detail);
    assert_eq!(u.data["lost_to_kill9"], 1);
}

#[test]
fn a_missing_row_elsewhere_fails_and_so_does_a_wrong_token_count() {
    let mut inp = input();
    inp.usage.rows.retain(|r| r.id != "r2");
    let u = usage_exact(&inp);
    assert!(!u.ok);
    assert_eq!(u.data["lost_otherwise_sample"], json!(["r2"]));
    let mut inp = input();
    inp.usage.rows[0].total_tokens = 1;
    assert!(!usage_exact(&inp).ok);
    let mut inp = input();
    inp.usage.rollup_requests = 3;
    assert!(!rollup(&inp).ok);
}

#[test]
fn a_transport_error_away_from_any_kill_fails_the_answers_check() {
    let mut inp = input();
    inp.outcomes
        .push(outcome("r4", 1, 30_000, Class::Transport));
    assert!(!answered(&inp).ok);
}

#[test]
fn rpm_over_the_limit_fails_unless_redis_restarted_in_that_window() {
    let mut inp = input();
    let rpm = inp.limits.rpm_a;
    inp.arrivals[0] = (0..rpm * 11 / 10)
        .map(|i| arrival(&format!("x{i}"), 1_200_000 + i))
        .collect();
    assert!(!deployment_rpm(&inp, 0, "a", rpm).ok);
    inp.events.push(Event {
        what: "redis_restart".into(),
        replica: None,
        start_ms: 200_000,
        end_ms: 203_000,
    });
    let c = deployment_rpm(&inp, 0, "a", rpm);
    // Excused, and then no judged window was exercised.
    assert_eq!(c.data["windows"][0]["redis_restart_in_window"], true);
}

#[test]
fn probes_closer_than_half_an_interval_fail() {
    let mut inp = input();
    let probe = |t: u64| Arrival {
        at_ms: t,
        kind: Kind::Health,
        markers: Vec::new(),
        fault: None,
    };
    let i = inp.limits.health_interval.as_millis() as u64;
    for m in 0..3 {
        inp.arrivals[m] = (0..40).map(|k| probe(1_000_000 + k * i)).collect();
    }
    assert!(health_probes(&inp).ok);
    inp.arrivals[1].push(probe(1_000_000 + 5 * i + 10));
    assert!(!health_probes(&inp).ok);
}

#[test]
fn rss_judges_the_growth_rate_in_calm_not_a_step_at_a_fault() {
    let mut inp = input();
    inp.duration_ms = 600_000;
    inp.opts.replicas = 1;
    let ev = |what: &str, start_ms: u64, end_ms: u64| crate::soak::fleet::Event {
        what: what.into(),
        replica: None,
        start_ms,
        end_ms,
    };
    inp.events = vec![
        ev("burst_429_b", 160_000, 162_000),
        ev("postgres_stop", 360_000, 390_000),
    ];
    // 6 % steps at the burst and while the database is down, flat between: passes.
    let step = |t: u64| {
        let base = match t {
            0..161_000 => 25_000,
            161_000..375_000 => 26_500,
            _ => 28_000,
        };
        base + (t / 1000) % 5 * 50
    };
    inp.rss = (0..600).map(|k| (k * 1000, 0, 1, step(k * 1000))).collect();
    let c = rss_flat(&inp);
    assert!(c.ok, "{}", c.detail);
    assert_eq!(c.data[0]["judged_on"], "growth rate in calm stretches");
    // Growing in calm at 20 % of its size per run: fails.
    inp.rss = (0..600).map(|k| (k * 1000, 0, 1, 20_000 + k * 7)).collect();
    let c = rss_flat(&inp);
    assert!(!c.ok, "{}", c.detail);
    // Faults everywhere (no third of the run calm): the whole-run thirds decide.
    inp.events = (0..20)
        .map(|k| ev("burst_503_a", k * 30_000, k * 30_000 + 12_000))
        .collect();
    inp.rss = (0..600).map(|k| (k * 1000, 0, 1, step(k * 1000))).collect();
    let c = rss_flat(&inp);
    assert!(c.data[0].get("judged_on").is_none(), "{}", c.detail);
    assert!(c.data[0]["growth_pct"].as_f64().is_some(), "{}", c.detail);
}

#[test]
fn rss_compares_the_last_third_with_the_first_after_warm_up() {
    let mut inp = input();
    inp.duration_ms = 600_000;
    inp.opts.replicas = 1;
    // Warm-up growth (first 60 s) is ignored; then flat with noise: passes.
    let flat = |t: u64| {
        if t < 60_000 {
            10_000 + t / 10
        } else {
            20_000 + (t / 1000) % 7 * 100
        }
    };
    inp.rss = (0..600).map(|k| (k * 1000, 0, 1, flat(k * 1000))).collect();
    let c = rss_flat(&inp);
    assert!(c.ok, "{}", c.detail);
    // A steady leak of 20 % over the run fails.
    inp.rss = (0..600).map(|k| (k * 1000, 0, 1, 20_000 + k * 8)).collect();
    let c = rss_flat(&inp);
    assert!(!c.ok, "{}", c.detail);
    // One spike at the very end does not decide it alone (a mean, not the last sample).
    inp.rss = (0..600).map(|k| (k * 1000, 0, 1, flat(k * 1000))).collect();
    if let Some(last) = inp.rss.last_mut() {
        last.3 = 40_000;
    }
    assert!(rss_flat(&inp).ok);
    // A replica restarted near the end: reported unchecked (no thirds after its warm-up).
    inp.rss = (0..600).map(|k| (k * 1000, 0, 1, 20_000)).collect();
    inp.rss.extend((595..600).map(|k| (k * 1000, 0, 2, 20_000)));
    let c = rss_flat(&inp);
    assert_eq!(c.data[0]["samples"], 0);
}

#[test]
fn redis_breaker_intervals_come_from_the_replica_logs() {
    let log = "2026-12-06T04:19:18.618551Z  WARN runtime_redis::handle: redis unreachable: shared state degraded\n\
               2026-12-06T04:19:19.045236Z  INFO runtime_redis::handle: redis reachable again: shared state resumes\n\
               2026-12-06T04:19:30.000000Z  WARN runtime_redis::handle: redis unreachable: shared state degraded\n"
        .to_owned();
    let start: jiff::Timestamp = "2026-12-06T04:19:00Z".parse().unwrap();
    let start = start.as_millisecond() as u64;
    let got = redis_degraded_from_logs(&[log], start, 90_000);
    assert_eq!(got, vec![(18_618, 19_045), (30_000, 90_000)]);
}

#[test]
fn key_admissions_exclude_the_connection_layers_refusals() {
    let mut inp = input();
    inp.limits.key_rpm = 60;
    let limited = |i: u64, status: u16, code: Option<&str>, key_limited: bool| Outcome {
        limited_key: true,
        status,
        code: code.map(str::to_owned),
        key_limited,
        ..outcome(&format!("k{i}"), 0, i, Class::Ok)
    };
    // Bound over one minute, no Redis restart: 60 + 60, +5 % = 126.
    inp.outcomes = (0..126).map(|i| limited(i, 200, None, false)).collect();
    inp.outcomes
        .push(limited(500, 429, Some("rate_limit_exceeded"), true));
    // A draining replica's and a full replica's refusals never reached the limiter.
    inp.outcomes
        .extend((0..40).map(|i| limited(600 + i, 503, Some("shutting_down"), false)));
    inp.outcomes
        .extend((0..5).map(|i| limited(700 + i, 503, Some("overloaded"), false)));
    let c = key_rpm(&inp);
    assert!(c.ok, "{}", c.detail);
    assert_eq!(c.data["admitted"], 126.0);
    // One more admission is over the bound.
    inp.outcomes.push(limited(800, 200, None, false));
    assert!(!key_rpm(&inp).ok);
}
