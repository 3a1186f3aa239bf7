//! What the bench's steps share: its options and results ([`Bench`]), and starting the mock
//! upstream and a gateway.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use super::procs::{Pinning, Proc, cpu_ticks, free_port, status_kb, wait_ready};

pub(super) const CONCURRENCY: [usize; 3] = [1, 16, 64];

pub(super) const SMOKE_CONCURRENCY: [usize; 2] = [1, 4];

pub(super) const STREAM_CHUNKS: usize = 20;

pub(super) struct Options {
    pub(super) duration: f64,
    pub(super) warmup: f64,
    pub(super) smoke: bool,
    /// Count instructions per request under callgrind instead of timing.
    pub(super) instructions: bool,
    /// Measure traces off against traces on (the lean gateway only).
    pub(super) traces: bool,
    /// Use the debug build (CI's smoke run: it checks the bench machinery, not performance,
    /// and reuses what `cargo test` already built).
    pub(super) debug: bool,
    pub(super) out: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Mode {
    Chat,
    Stream,
}

impl Mode {
    pub(super) fn name(self) -> &'static str {
        match self {
            Mode::Chat => "chat",
            Mode::Stream => "stream",
        }
    }
}

pub(super) struct Cell {
    pub(super) target: String,
    pub(super) mode: Mode,
    pub(super) concurrency: usize,
    pub(super) report: Value,
    /// Target CPU µs per request (None for the direct target: nothing in between).
    pub(super) cpu_us: Option<f64>,
}

impl Cell {
    pub(super) fn f(&self, path: &[&str]) -> f64 {
        let mut v = &self.report;
        for p in path {
            v = &v[*p];
        }
        v.as_f64().unwrap_or(f64::NAN)
    }
    pub(super) fn errors(&self) -> u64 {
        self.report["errors"].as_u64().unwrap_or(0)
    }
}

pub(super) struct Memory {
    pub(super) target: String,
    pub(super) idle_kb: u64,
    pub(super) peak_kb: u64,
    pub(super) after_kb: u64,
    pub(super) requests: u64,
}

pub(super) struct Bench {
    pub(super) opts: Options,
    pub(super) pin: Pinning,
    pub(super) bench_bin: PathBuf,
    pub(super) ticks: f64,
    pub(super) cells: Vec<Cell>,
    pub(super) memory: Vec<Memory>,
    /// Rows of the memory-target table (soak, 1000 streams).
    pub(super) extra: Vec<String>,
    pub(super) notes: Vec<String>,
    /// A `[telemetry]` section for the next gateway started (`--traces`).
    pub(super) telemetry: Option<String>,
}

impl Bench {
    pub(super) fn concurrencies(&self) -> &'static [usize] {
        if self.opts.smoke {
            &SMOKE_CONCURRENCY
        } else {
            &CONCURRENCY
        }
    }

    pub(super) fn load(
        &self,
        url: &str,
        model: &str,
        mode: Mode,
        c: usize,
    ) -> Result<Value, String> {
        self.load_for(url, model, mode, c, self.opts.duration, self.opts.warmup)
    }

    pub(super) fn load_for(
        &self,
        url: &str,
        model: &str,
        mode: Mode,
        c: usize,
        duration: f64,
        warmup: f64,
    ) -> Result<Value, String> {
        let mut cmd = self.pin.command(1, &self.bench_bin);
        cmd.args(["load", "--url", url, "--model", model, "--unique"])
            .args(["--concurrency", &c.to_string()])
            .args(["--duration", &duration.to_string()])
            .args(["--warmup", &warmup.to_string()]);
        if mode == Mode::Stream {
            cmd.arg("--stream");
        }
        let out = cmd
            .stderr(Stdio::inherit())
            .output()
            .map_err(|e| format!("cannot run the load generator: {e}"))?;
        if !out.status.success() {
            return Err(format!("load generator failed: {}", out.status));
        }
        serde_json::from_slice(&out.stdout).map_err(|e| format!("load generator output: {e}"))
    }

    /// Runs every cell against one target; `proc` is the process to meter (None: direct).
    pub(super) fn target(
        &mut self,
        name: &str,
        url: &str,
        model: &str,
        mut proc: Option<&mut Proc>,
    ) -> Result<(), String> {
        let pid = proc.as_ref().map(|p| p.pid());
        if pid.is_some() {
            // Let the process settle before reading its idle RSS.
            std::thread::sleep(Duration::from_millis(500));
        }
        let idle_kb = pid.map_or(0, |p| status_kb(p, "VmRSS:"));
        let mut requests = 0;
        for mode in [Mode::Chat, Mode::Stream] {
            for &c in self.concurrencies() {
                let before = pid.map(cpu_ticks);
                let report = self.load(url, model, mode, c)?;
                let after = pid.map(cpu_ticks);
                let all = report["all_requests"].as_u64().unwrap_or(0);
                requests += all;
                let cpu_us = match (before, after) {
                    (Some(b), Some(a)) if all > 0 => {
                        Some((a.saturating_sub(b)) as f64 / self.ticks * 1e6 / all as f64)
                    }
                    _ => None,
                };
                let cell = Cell {
                    target: name.to_owned(),
                    mode,
                    concurrency: c,
                    report,
                    cpu_us,
                };
                eprintln!(
                    "xtask bench: {name:<14} {:<6} c={c:<3} {:>8.0} rps  p50 {:>8.3} ms  p99 {:>8.3} ms  errors {}",
                    mode.name(),
                    cell.f(&["rps"]),
                    cell.f(&["latency_us", "p50"]) / 1e3,
                    cell.f(&["latency_us", "p99"]) / 1e3,
                    cell.errors()
                );
                if let Some(e) = cell.report["first_error"].as_str() {
                    eprintln!("xtask bench:   first error: {e}");
                }
                self.cells.push(cell);
                if let Some(p) = proc.as_deref_mut() {
                    p.alive()?;
                }
            }
        }
        if let Some(p) = pid {
            self.memory.push(Memory {
                target: name.to_owned(),
                idle_kb,
                peak_kb: status_kb(p, "VmHWM:"),
                after_kb: status_kb(p, "VmRSS:"),
                requests,
            });
        }
        Ok(())
    }
}

pub(super) fn gateway_config(mock: SocketAddr, dir: &Path, full: bool) -> String {
    let mut s = format!(
        "[providers.mock]\ntype = \"openai\"\napi_key = \"bench\"\nbase_url = \"http://{mock}/v1\"\n\n"
    );
    if full {
        s.push_str("[[models]]\nname = \"bench\"\n");
        for d in ["a", "b", "c"] {
            let _ = write!(
                s,
                "\n[[models.deployments]]\nprovider = \"mock\"\nmodel = \"bench-model\"\nname = \"mock-{d}\"\n"
            );
        }
        let _ = write!(
            s,
            "\n[cache]\nenabled = true\nbackend = \"memory\"\n\n[storage]\nenabled = true\n\
             database_url = \"sqlite://{db}\"\nspill_path = \"{spill}\"\n",
            db = dir.join("usage.sqlite").display(),
            spill = dir.join("usage.spill.jsonl").display()
        );
    } else {
        s.push_str("[cache]\nenabled = false\n\n[storage]\nenabled = false\n");
    }
    s.push_str("\n[metrics]\nenabled = true\n\n[gateway]\nshutdown_grace = \"1s\"\n");
    s
}

pub(super) fn start_mock(bench: &Bench, chunk_delay_ms: u64) -> Result<(Proc, SocketAddr), String> {
    let mut cmd = bench.pin.command(1, &bench.bench_bin);
    let mut child = cmd
        .args(["mock", "--chunks", &STREAM_CHUNKS.to_string()])
        .args(["--chunk-delay-ms", &chunk_delay_ms.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start the mock upstream: {e}"))?;
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    let mut mock = Proc {
        name: "mock upstream".into(),
        child,
    };
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening on ")
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("mock upstream did not say where it listens: {line:?}"))?;
    wait_ready(&mut mock, addr, "/health", Path::new("/dev/null"))?;
    Ok((mock, addr))
}

pub(super) fn start_gateway(
    bench: &Bench,
    modelrt: &Path,
    dir: &Path,
    mock_addr: SocketAddr,
    name: &str,
    full: bool,
) -> Result<(Proc, SocketAddr), String> {
    let tag = name.replace(' ', "-");
    let file = dir.join(format!("{tag}.toml"));
    let mut text = gateway_config(mock_addr, dir, full);
    if let Some(t) = &bench.telemetry {
        text.push_str(t);
    }
    std::fs::write(&file, text).map_err(|e| format!("{}: {e}", file.display()))?;
    let port = free_port()?;
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let log = dir.join(format!("{tag}.log"));
    let logf = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let child = bench
        .pin
        .command(0, modelrt)
        .arg("--config")
        .arg(&file)
        .args(["serve", "--listen", &addr.to_string()])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(logf)
        .spawn()
        .map_err(|e| format!("cannot start modelrt: {e}"))?;
    let mut p = Proc {
        name: name.into(),
        child,
    };
    wait_ready(&mut p, addr, "/health", &log)?;
    Ok((p, addr))
}
