//! `cargo xtask bench [--duration S] [--warmup S] [--smoke] [--traces] [--out FILE]`: the gateway's
//! overhead, throughput, CPU and memory against the mock upstream directly and against nginx as
//! a plain reverse proxy. `--instructions` counts instead the instructions the gateway runs per
//! request, under callgrind (repeatable figures for before/after comparisons). See
//! docs/performance.md. `--traces` measures instead the lean gateway with OpenTelemetry traces
//! off and on (100 % sampled, exported to a local OTLP receiver; `bench/traces.rs`).
//!
//! Processes: the mock upstream and the load generator (`modelrt-bench`, crates/runtime-bench)
//! run pinned to CPU 1, the target (`modelrt serve` or nginx) to CPU 0, when `taskset` exists
//! and the machine has two cores.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::cmd::{cargo, profile_dir, run as run_cmd, workspace_root};

mod instructions;
mod procs;
mod report;
mod setup;
mod traces;

use procs::{Pinning, Proc, clock_ticks, free_port, status_kb, wait_ready};
use report::render;
use setup::{Bench, Mode, Options, start_gateway, start_mock};

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        duration: 5.0,
        warmup: 1.0,
        smoke: false,
        instructions: false,
        traces: false,
        debug: false,
        out: None,
    };
    let mut duration = None;
    let mut warmup = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--smoke" => o.smoke = true,
            "--instructions" => o.instructions = true,
            "--traces" => o.traces = true,
            "--debug" => o.debug = true,
            "--duration" => duration = Some(num(&value("--duration")?)?),
            "--warmup" => warmup = Some(num(&value("--warmup")?)?),
            "--out" => o.out = Some(PathBuf::from(value("--out")?)),
            other => {
                return Err(format!(
                    "unknown argument {other}; usage: cargo xtask bench [--duration S] [--warmup S] [--smoke] [--instructions] [--traces] [--debug] [--out FILE]"
                ));
            }
        }
    }
    if o.smoke {
        o.duration = 1.5;
        o.warmup = 0.5;
    }
    o.duration = duration.unwrap_or(o.duration);
    o.warmup = warmup.unwrap_or(o.warmup);
    Ok(o)
}

fn num(s: &str) -> Result<f64, String> {
    s.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| format!("not a number of seconds: {s}"))
}

fn nginx_config(mock: SocketAddr, port: u16, dir: &Path) -> String {
    let d = dir.display();
    format!(
        "worker_processes 1;\n\
         error_log {d}/nginx-error.log warn;\n\
         pid {d}/nginx.pid;\n\
         events {{ worker_connections 4096; }}\n\
         http {{\n\
         \x20 access_log off;\n\
         \x20 client_body_temp_path {d}/nginx-body;\n\
         \x20 proxy_temp_path {d}/nginx-proxy;\n\
         \x20 fastcgi_temp_path {d}/nginx-fastcgi;\n\
         \x20 uwsgi_temp_path {d}/nginx-uwsgi;\n\
         \x20 scgi_temp_path {d}/nginx-scgi;\n\
         \x20 keepalive_requests 1000000;\n\
         \x20 upstream mock {{ server {mock}; keepalive 128; keepalive_requests 1000000; }}\n\
         \x20 server {{\n\
         \x20   listen 127.0.0.1:{port};\n\
         \x20   location / {{\n\
         \x20     proxy_pass http://mock;\n\
         \x20     proxy_http_version 1.1;\n\
         \x20     proxy_set_header Connection \"\";\n\
         \x20     proxy_buffering off;\n\
         \x20   }}\n\
         \x20 }}\n\
         }}\n"
    )
}

fn nginx_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join("nginx"))
        .find(|p| p.is_file())
}

/// `cargo xtask bench`.
pub fn run(args: &[String]) -> Result<(), String> {
    let opts = parse(args)?;
    let mut build = cargo();
    build.current_dir(workspace_root()).arg("build");
    if !opts.debug {
        build.arg("--release");
    }
    run_cmd(build.args(["-p", "runtime-gateway", "-p", "runtime-bench"]))?;
    let bin = profile_dir(opts.debug);
    let modelrt = bin.join("modelrt");
    let bench_bin = bin.join("modelrt-bench");
    let dir = std::env::temp_dir().join(format!("modelrt-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let pin = Pinning::detect();
    let mut bench = Bench {
        opts,
        pin,
        bench_bin,
        ticks: clock_ticks(),
        cells: Vec::new(),
        memory: Vec::new(),
        extra: Vec::new(),
        notes: Vec::new(),
        telemetry: None,
    };
    if !bench.pin.enabled {
        bench
            .notes
            .push("no CPU pinning (taskset missing or fewer than 2 cores)".into());
    }
    if bench.opts.instructions {
        let table = instructions::run(&bench, &modelrt, &dir)?;
        println!("{table}");
        if let Some(out) = &bench.opts.out {
            std::fs::write(out, &table).map_err(|e| format!("{}: {e}", out.display()))?;
        }
        let _ = std::fs::remove_dir_all(&dir);
        return Ok(());
    }
    let result = run_targets(&mut bench, &modelrt, &dir);
    let table = render(&bench);
    println!("{table}");
    if let Some(out) = &bench.opts.out {
        std::fs::write(out, &table).map_err(|e| format!("{}: {e}", out.display()))?;
    }
    result?;
    let failed: Vec<String> = bench
        .cells
        .iter()
        .filter(|c| c.errors() > 0)
        .map(|c| {
            format!(
                "{} {} c={}: {} errors",
                c.target,
                c.mode.name(),
                c.concurrency,
                c.errors()
            )
        })
        .collect();
    if !failed.is_empty() {
        return Err(format!("requests failed: {}", failed.join("; ")));
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn run_targets(bench: &mut Bench, modelrt: &Path, dir: &Path) -> Result<(), String> {
    let (mut mock, mock_addr) = start_mock(bench, 0)?;

    bench.target(
        "direct",
        &format!("http://{mock_addr}/v1/chat/completions"),
        "bench-model",
        None,
    )?;

    if bench.opts.traces {
        traces::run(bench, modelrt, dir, mock_addr)?;
        mock.alive()?;
        mock.stop();
        return Ok(());
    }

    match nginx_path() {
        Some(nginx) => {
            let port = free_port()?;
            let conf = dir.join("nginx.conf");
            std::fs::write(&conf, nginx_config(mock_addr, port, dir))
                .map_err(|e| format!("{}: {e}", conf.display()))?;
            let log = dir.join("nginx-error.log");
            let child = bench
                .pin
                .command(0, &nginx)
                .arg("-c")
                .arg(&conf)
                .arg("-p")
                .arg(dir)
                .args(["-g", "daemon off;"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .map_err(|e| format!("cannot start nginx: {e}"))?;
            let mut p = Proc {
                name: "nginx".into(),
                child,
            };
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            wait_ready(&mut p, addr, "/health", &log)?;
            bench.target(
                "nginx",
                &format!("http://{addr}/v1/chat/completions"),
                "bench-model",
                Some(&mut p),
            )?;
            p.stop();
        }
        None => {
            let msg = "nginx not found: its rows are skipped. Install it with \
                       `apt-get install -y nginx` (Debian/Ubuntu) to bench the plain reverse proxy.";
            eprintln!("xtask bench: {msg}");
            bench.notes.push(msg.into());
        }
    }

    let configs: &[(&str, bool)] = if bench.opts.smoke {
        &[("modelrt lean", false)]
    } else {
        &[("modelrt lean", false), ("modelrt full", true)]
    };
    for &(name, full) in configs {
        let (mut p, addr) = start_gateway(bench, modelrt, dir, mock_addr, name, full)?;
        let model = if full { "bench" } else { "mock/bench-model" };
        bench.target(
            name,
            &format!("http://{addr}/v1/chat/completions"),
            model,
            Some(&mut p),
        )?;
        p.stop();
    }
    if !bench.opts.smoke {
        soak(bench, modelrt, dir, mock_addr)?;
    }
    mock.alive()?;
    mock.stop();
    if !bench.opts.smoke {
        many_streams(bench, modelrt, dir)?;
    }
    Ok(())
}

/// RSS of a fresh lean gateway after the first 20 000 and after 200 000 chat requests (c=16).
fn soak(bench: &mut Bench, modelrt: &Path, dir: &Path, mock: SocketAddr) -> Result<(), String> {
    let (mut p, addr) = start_gateway(bench, modelrt, dir, mock, "modelrt soak", false)?;
    let url = format!("http://{addr}/v1/chat/completions");
    let (mut served, mut errors) = (0u64, 0u64);
    let mut marks = Vec::new();
    for goal in [20_000u64, 200_000] {
        while served < goal {
            let r = bench.load_for(&url, "mock/bench-model", Mode::Chat, 16, 1.0, 0.0)?;
            served += r["all_requests"].as_u64().unwrap_or(0);
            errors += r["errors"].as_u64().unwrap_or(0);
            p.alive()?;
        }
        marks.push((served, status_kb(p.pid(), "VmRSS:")));
        eprintln!(
            "xtask bench: soak: RSS after {served} requests: {:.1} MB",
            marks[marks.len() - 1].1 as f64 / 1024.0
        );
    }
    p.stop();
    if let [(n1, r1), (n2, r2)] = marks[..] {
        let growth = (r2 as f64 - r1 as f64) / (r1 as f64).max(1.0) * 100.0;
        bench.extra.push(format!(
            "| RSS growth, lean, c=16 chat | after {n1} req: {:.1} MB; after {n2} req: {:.1} MB | {growth:+.1} % | within 10 % | {} |{}",
            r1 as f64 / 1024.0,
            r2 as f64 / 1024.0,
            if growth.abs() <= 10.0 { "yes" } else { "**no**" },
            if errors > 0 { format!(" ({errors} errors)") } else { String::new() }
        ));
    }
    Ok(())
}

/// Peak RSS of a fresh lean gateway holding 1000 concurrent streams (the mock waits 50 ms
/// between chunks, so each stream lasts about 1.1 s).
fn many_streams(bench: &mut Bench, modelrt: &Path, dir: &Path) -> Result<(), String> {
    let (mut mock, mock_addr) = start_mock(bench, 50)?;
    let (mut p, addr) = start_gateway(bench, modelrt, dir, mock_addr, "modelrt streams", false)?;
    let idle = status_kb(p.pid(), "VmRSS:");
    let url = format!("http://{addr}/v1/chat/completions");
    let r = bench.load_for(&url, "mock/bench-model", Mode::Stream, 1000, 5.0, 2.0)?;
    p.alive()?;
    let peak = status_kb(p.pid(), "VmHWM:");
    p.stop();
    mock.stop();
    let mb = peak as f64 / 1024.0;
    bench.extra.push(format!(
        "| RSS peak, lean, 1000 concurrent streams | idle {:.1} MB; peak {mb:.1} MB; {} streams, {} errors, p50 {:.0} ms | – | ≤ 150 MB | {} |",
        idle as f64 / 1024.0,
        r["requests"].as_u64().unwrap_or(0),
        r["errors"].as_u64().unwrap_or(0),
        r["latency_us"]["p50"].as_f64().unwrap_or(f64::NAN) / 1e3,
        if mb <= 150.0 { "yes" } else { "**no**" }
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::setup::gateway_config;
    use super::*;

    #[test]
    fn smoke_defaults_are_short_and_overridable() {
        let o = parse(&["--smoke".into()]).unwrap();
        assert!(o.smoke && o.duration < 2.0);
        let o = parse(&["--smoke".into(), "--duration".into(), "3".into()]).unwrap();
        assert_eq!(o.duration, 3.0);
        assert!(parse(&["--bogus".into()]).is_err());
        assert!(parse(&["--duration".into(), "-1".into()]).is_err());
    }

    #[test]
    fn generated_gateway_configs_parse_as_model_runtime_configs() {
        let dir = std::env::temp_dir();
        let mock: SocketAddr = "127.0.0.1:9".parse().unwrap();
        for full in [false, true] {
            let text = gateway_config(mock, &dir, full);
            model_runtime::Config::from_toml_str(&text, "bench.toml")
                .unwrap_or_else(|e| panic!("{e}\n{text}"));
        }
    }
}
