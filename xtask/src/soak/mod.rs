//! `cargo xtask soak [--minutes N] [--replicas 3] [--concurrency 64] [--out DIR] [--debug]`:
//! a multi-replica soak under faults (docs/reliability.md).
//!
//! It starts its own `redis-server` and PostgreSQL cluster on free ports, three mock
//! upstreams (testkit `upstream`) that inject 5xx bursts, 429 with `Retry-After`, slow
//! answers, stalls and cut streams, and `--replicas` `modelrt` processes sharing that Redis
//! (router state, key limits) and that PostgreSQL (usage records). Mixed load runs through
//! the replicas while, scaled to the run's length, one replica is killed with SIGKILL and
//! restarted, another is stopped with SIGTERM and restarted, Redis is restarted, and
//! PostgreSQL is stopped and started again. Then it checks every request's answer, the usage
//! rows against the requests the mocks received, rate limits, health probes and memory, and
//! writes `soak-report.json` and `soak.png` to `--out` (default `target/soak`). Exits non-zero
//! when a check fails.

mod checks;
mod config;
mod fleet;
mod load;
mod plot;
mod rss;
mod schedule;
mod verdict;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use runtime_testkit::services::{Gateway, GatewaySpec, Postgres, Redis};
use runtime_testkit::upstream::{Timing, Upstream};

use fleet::{Fleet, Options};

use crate::cmd::{cargo, profile_dir, run as run_cmd, workspace_root};

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        minutes: 1.5,
        replicas: 3,
        concurrency: 64,
        out: workspace_root().join("target").join("soak"),
        debug: false,
        bin: None,
    };
    let usage = "usage: cargo xtask soak [--minutes N] [--replicas N] [--concurrency N] [--out DIR] [--debug] [--bin PATH]";
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{a} needs a value; {usage}"))
        };
        match a.as_str() {
            "--bin" => {
                let path = PathBuf::from(value()?);
                if !path.is_file() {
                    return Err(format!("--bin: {} is not a file", path.display()));
                }
                o.bin = Some(path);
            }
            "--minutes" => {
                o.minutes = value()?
                    .parse::<f64>()
                    .ok()
                    .filter(|m| m.is_finite() && (0.25..=240.0).contains(m))
                    .ok_or("--minutes: a number from 0.25 to 240")?;
            }
            "--replicas" => {
                o.replicas = value()?
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (2..=8).contains(n))
                    .ok_or("--replicas: 2 to 8 (the faults need two)")?;
            }
            "--concurrency" => {
                o.concurrency = value()?
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (4..=1024).contains(n))
                    .ok_or("--concurrency: 4 to 1024")?;
            }
            "--out" => {
                let p = PathBuf::from(value()?);
                o.out = if p.is_absolute() {
                    p
                } else {
                    std::env::current_dir()
                        .map_err(|e| format!("--out: {e}"))?
                        .join(p)
                };
            }
            "--debug" => o.debug = true,
            other => return Err(format!("unknown argument {other}; {usage}")),
        }
    }
    Ok(o)
}

/// `cargo xtask soak`.
pub fn run(args: &[String]) -> Result<(), String> {
    let opts = parse(args)?;
    let bin = match &opts.bin {
        Some(b) => b.clone(),
        None => {
            let mut build = cargo();
            build.current_dir(workspace_root()).arg("build");
            if !opts.debug {
                build.arg("--release");
            }
            run_cmd(build.args(["-p", "runtime-gateway", "--bin", "modelrt"]))?;
            profile_dir(opts.debug).join("modelrt")
        }
    };
    let _ = std::fs::remove_dir_all(&opts.out);
    std::fs::create_dir_all(&opts.out).map_err(|e| format!("{}: {e}", opts.out.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let report = rt.block_on(soak(opts.clone(), bin))?;
    let failed: Vec<&checks::Check> = report.checks.iter().filter(|c| !c.ok).collect();
    if failed.is_empty() {
        println!("soak: every check passed");
        Ok(())
    } else {
        Err(format!(
            "soak: {} check(s) failed: {}",
            failed.len(),
            failed
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

async fn soak(opts: Options, bin: PathBuf) -> Result<checks::Report, String> {
    let duration = Duration::from_secs_f64(opts.minutes * 60.0);
    let limits = config::Limits::for_run(opts.minutes);
    let out = opts.out.clone();
    let (redis, postgres) = tokio::task::spawn_blocking(move || {
        let redis = Redis::start_in(out.clone())?;
        let pg = Postgres::start()?;
        Ok::<_, String>((redis, pg))
    })
    .await
    .map_err(|e| e.to_string())??;
    let timing = Timing {
        delay: Duration::from_millis(30),
        chunks: 8,
        chunk_delay: Duration::from_millis(15),
    };
    let mut ups = Vec::new();
    for _ in 0..3 {
        ups.push(Arc::new(
            Upstream::start(timing.clone())
                .await
                .map_err(|e| format!("mock upstream: {e}"))?,
        ));
    }
    let endpoints = config::Endpoints {
        redis: redis.url(),
        postgres: postgres.url(),
        up_a: ups[0].url(),
        up_b: ups[1].url(),
        up_e: ups[2].url(),
    };
    let cfg = config::render(&endpoints, &limits);
    println!(
        "soak: redis {} · postgres {} · mocks {} {} {} · {} replicas · {:.1} min at concurrency {}",
        endpoints.redis,
        endpoints.postgres,
        endpoints.up_a,
        endpoints.up_b,
        endpoints.up_e,
        opts.replicas,
        opts.minutes,
        opts.concurrency
    );
    let (replicas, out, cfg2) = (opts.replicas, opts.out.clone(), cfg.clone());
    let gateways = tokio::task::spawn_blocking(move || {
        (0..replicas)
            .map(|i| {
                Gateway::start(GatewaySpec {
                    bin: bin.clone(),
                    config: cfg2.clone(),
                    dir: out.join(format!("replica-{i}")),
                    port: 0,
                    log_filter: "info".into(),
                })
            })
            .collect::<Result<Vec<_>, String>>()
    })
    .await
    .map_err(|e| e.to_string())??;
    let urls: Vec<String> = gateways.iter().map(Gateway::url).collect();
    let start_unix_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let fleet = Arc::new(Fleet {
        gateways: Mutex::new(gateways),
        redis: Mutex::new(redis),
        postgres: Mutex::new(postgres),
        upstreams: [ups[0].clone(), ups[1].clone(), ups[2].clone()],
        events: Mutex::new(Vec::new()),
        rss: Mutex::new(Vec::new()),
        t0: Instant::now(),
    });
    schedule::set_rules(&fleet);
    let state = Arc::new(load::LoadState::default());
    let spec = load::LoadSpec {
        replicas: urls,
        concurrency: opts.concurrency,
        limited_workers: (opts.concurrency / 16).max(2),
        deadline: limits.request_timeout + Duration::from_secs(10),
        until: fleet.t0 + duration,
        tag: format!("{:x}", start_unix_ms),
    };
    let sampler = schedule::spawn_rss_sampler(fleet.clone(), fleet.t0 + duration);
    let chaos = schedule::spawn_chaos(fleet.clone(), duration);
    let progress = schedule::spawn_progress(state.clone(), fleet.clone(), duration);
    load::run(spec, state.clone(), fleet.t0).await;
    let load_end_ms = fleet.now_ms();
    let chaos_result = tokio::task::spawn_blocking(move || chaos.join())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|_| "the fault schedule panicked".to_owned())?;
    let _ = progress.await;
    let _ = tokio::task::spawn_blocking(move || sampler.join()).await;
    // Drain: SIGTERM every replica (they flush usage records), wait for all to exit.
    let f2 = fleet.clone();
    let shutdown = tokio::task::spawn_blocking(move || schedule::stop_all(&f2))
        .await
        .map_err(|e| e.to_string())?;
    let outcomes = std::mem::take(&mut *state.outcomes.lock());
    let (f3, dir) = (fleet.clone(), opts.out.clone());
    let usage = tokio::task::spawn_blocking(move || checks::read_usage(&f3, &dir))
        .await
        .map_err(|e| e.to_string())??;
    let logs: Vec<String> = (0..opts.replicas)
        .map(|i| {
            std::fs::read_to_string(opts.out.join(format!("replica-{i}")).join("modelrt.log"))
                .unwrap_or_default()
        })
        .collect();
    let redis_degraded = checks::redis_degraded_from_logs(&logs, start_unix_ms, load_end_ms);
    let input = checks::Input {
        redis_degraded,
        opts,
        limits: limits.clone(),
        duration_ms: load_end_ms,
        start_unix_ms,
        outcomes,
        events: fleet.events.lock().clone(),
        arrivals: [ups[0].arrivals(), ups[1].arrivals(), ups[2].arrivals()],
        usage,
        rss: fleet.rss.lock().clone(),
        connect_failovers: state
            .connect_failovers
            .load(std::sync::atomic::Ordering::Relaxed),
        notes: [chaos_result, shutdown].concat(),
    };
    let report = checks::evaluate(&input);
    let out = input.opts.out.clone();
    let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(out.join("soak-report.json"), json).map_err(|e| format!("report: {e}"))?;
    if let Err(e) = plot::draw(&input, &out.join("soak.png")) {
        println!("soak: no plot ({e})");
    }
    println!("{}", checks::summary(&report));
    println!(
        "soak: report {} and plot {}",
        out.join("soak-report.json").display(),
        out.join("soak.png").display()
    );
    Ok(report)
}
