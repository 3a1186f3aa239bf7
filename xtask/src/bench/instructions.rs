//! `cargo xtask bench --instructions`: instructions the gateway executes per request, counted
//! by valgrind's callgrind. Unlike wall-clock figures these repeat to within a fraction of a
//! percent whatever else the machine is doing, so they are how an optimisation's before and
//! after are compared (docs/performance.md).
//!
//! For each configuration (lean, full) and mode (chat, stream): start `modelrt serve` under
//! callgrind, warm it up, zero the counters, drive the mock-backed load at concurrency 1 for a
//! fixed time, dump the counters and divide by the requests served.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use super::procs::{Proc, free_port, wait_ready_for};
use super::setup::{Bench, Mode, gateway_config, start_mock};

/// One measured cell.
struct Row {
    config: &'static str,
    mode: Mode,
    requests: u64,
    instructions: u64,
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs the instruction counts and returns the Markdown table.
pub(super) fn run(bench: &Bench, modelrt: &Path, dir: &Path) -> Result<String, String> {
    if !have("valgrind") {
        return Err(
            "valgrind is not installed; install it with `apt-get install -y valgrind`".into(),
        );
    }
    let (_mock, mock_addr) = start_mock(bench, 0)?;
    let mut rows = Vec::new();
    for (config, full) in [("modelrt lean", false), ("modelrt full", true)] {
        for mode in [Mode::Chat, Mode::Stream] {
            rows.push(measure(bench, modelrt, dir, mock_addr, config, full, mode)?);
        }
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Instructions executed by the gateway process per request (callgrind, concurrency 1, \
         {} s after a 2 s warm-up; stream = 20 content chunks + usage + [DONE]).\n",
        bench.opts.duration
    );
    s.push_str("| config | mode | requests | instructions | instructions / request |\n");
    s.push_str("|---|---|---:|---:|---:|\n");
    for r in &rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.1}k |",
            r.config,
            r.mode.name(),
            r.requests,
            r.instructions,
            r.instructions as f64 / r.requests.max(1) as f64 / 1000.0
        );
    }
    Ok(s)
}

fn measure(
    bench: &Bench,
    modelrt: &Path,
    dir: &Path,
    mock: std::net::SocketAddr,
    config: &'static str,
    full: bool,
    mode: Mode,
) -> Result<Row, String> {
    let tag = format!("cg-{}-{}", if full { "full" } else { "lean" }, mode.name());
    let cfg = dir.join(format!("{tag}.toml"));
    std::fs::write(&cfg, gateway_config(mock, dir, full))
        .map_err(|e| format!("{}: {e}", cfg.display()))?;
    let out_prefix = dir.join(format!("{tag}.callgrind"));
    let port = free_port()?;
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let log = dir.join(format!("{tag}.log"));
    let logf = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let child = bench
        .pin
        .command(0, Path::new("valgrind"))
        .args(["--tool=callgrind", "--dump-instr=no"])
        .arg(format!("--callgrind-out-file={}.%p", out_prefix.display()))
        .arg(modelrt)
        .arg("--config")
        .arg(&cfg)
        .args(["serve", "--listen", &addr.to_string()])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(logf)
        .spawn()
        .map_err(|e| format!("cannot start valgrind: {e}"))?;
    let mut p = Proc {
        name: format!("{config} under callgrind"),
        child,
    };
    wait_ready_for(&mut p, addr, "/health", &log, Duration::from_secs(120))?;
    let url = format!("http://{addr}/v1/chat/completions");
    let model = if full { "bench" } else { "mock/bench-model" };
    bench.load_for(&url, model, mode, 1, 2.0, 0.0)?;
    callgrind_control("-z", p.pid())?;
    let report = bench.load_for(&url, model, mode, 1, bench.opts.duration, 0.0)?;
    callgrind_control("-d", p.pid())?;
    let requests = report["all_requests"].as_u64().unwrap_or(0);
    let errors = report["errors"].as_u64().unwrap_or(0);
    if errors > 0 || requests == 0 {
        return Err(format!(
            "{config} {} under callgrind: {requests} requests, {errors} errors",
            mode.name()
        ));
    }
    let dump = std::path::PathBuf::from(format!("{}.{}.1", out_prefix.display(), p.pid()));
    let text = std::fs::read_to_string(&dump).map_err(|e| format!("{}: {e}", dump.display()))?;
    let instructions = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.trim().parse::<u64>().ok())
        .ok_or_else(|| format!("{}: no `summary:` line", dump.display()))?;
    p.stop();
    Ok(Row {
        config,
        mode,
        requests,
        instructions,
    })
}

fn callgrind_control(flag: &str, pid: u32) -> Result<(), String> {
    let status = Command::new("callgrind_control")
        .args([flag, &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("cannot run callgrind_control: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("callgrind_control {flag} {pid}: {status}"))
    }
}
