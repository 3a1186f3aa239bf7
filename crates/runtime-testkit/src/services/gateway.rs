//! A `modelrt serve` process on a fixed port and working directory, so a kill -9 or a SIGTERM
//! can be followed by a restart that finds the same spill file and answers on the same port.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::process::{Proc, Result, free_port, port_open, wait_port_closed};

/// Environment variables that would make a config reach real providers.
const PROVIDER_ENV: &[&str] = &[
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "AZURE_OPENAI_API_KEY",
    "AZURE_OPENAI_ENDPOINT",
    "HF_TOKEN",
    "MODELRT_CONFIG",
];

/// How to start one gateway.
#[derive(Debug, Clone)]
pub struct GatewaySpec {
    /// The `modelrt` binary.
    pub bin: PathBuf,
    /// The config file text (written to `dir/modelrt.toml`).
    pub config: String,
    /// Working directory (relative paths of the config, e.g. the spill file, land here).
    pub dir: PathBuf,
    /// Port on 127.0.0.1 (0: a free one).
    pub port: u16,
    /// `RUST_LOG`.
    pub log_filter: String,
}

/// A running (or stopped) `modelrt serve`.
#[derive(Debug)]
pub struct Gateway {
    spec: GatewaySpec,
    proc: Option<Proc>,
    starts: u32,
}

impl Gateway {
    /// Writes the config and starts the gateway; returns once `/health` answers 200.
    pub fn start(mut spec: GatewaySpec) -> Result<Gateway> {
        if spec.port == 0 {
            spec.port = free_port()?;
        }
        std::fs::create_dir_all(&spec.dir)
            .map_err(|e| format!("gateway dir {}: {e}", spec.dir.display()))?;
        // The process runs in `dir`: every path handed to it must be absolute.
        spec.dir = spec
            .dir
            .canonicalize()
            .map_err(|e| format!("gateway dir {}: {e}", spec.dir.display()))?;
        std::fs::write(spec.dir.join("modelrt.toml"), &spec.config)
            .map_err(|e| format!("gateway config: {e}"))?;
        let mut g = Gateway {
            spec,
            proc: None,
            starts: 0,
        };
        g.start_again()?;
        Ok(g)
    }

    /// Starts it again on the same port, directory and config (after a kill or an exit).
    pub fn start_again(&mut self) -> Result<()> {
        if let Some(p) = self.proc.as_mut() {
            if p.exited().is_none() {
                return Err("the gateway is still running".into());
            }
        }
        let mut cmd = Command::new(&self.spec.bin);
        for k in PROVIDER_ENV {
            cmd.env_remove(k);
        }
        cmd.current_dir(&self.spec.dir)
            .env("HOME", &self.spec.dir)
            .env("RUST_LOG", &self.spec.log_filter)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{}", self.spec.port))
            .arg("--config")
            .arg(self.spec.dir.join("modelrt.toml"));
        self.proc = Some(Proc::spawn("modelrt", cmd, &self.log_path())?);
        self.starts += 1;
        self.wait_healthy(Duration::from_secs(60))
    }

    fn wait_healthy(&mut self, limit: Duration) -> Result<()> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(st) = self.proc.as_mut().and_then(Proc::exited) {
                return Err(format!(
                    "modelrt exited at start ({st}); log tail:\n{}",
                    self.log_tail(40)
                ));
            }
            if port_open(self.spec.port) && health_ok(self.spec.port) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!(
            "modelrt did not answer /health within {limit:?}; log tail:\n{}",
            self.log_tail(40)
        ))
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.spec.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.spec.port
    }

    /// The working directory.
    pub fn dir(&self) -> &Path {
        &self.spec.dir
    }

    /// How many times it was started.
    pub fn starts(&self) -> u32 {
        self.starts
    }

    /// The pid while it runs.
    pub fn pid(&mut self) -> Option<u32> {
        let p = self.proc.as_mut()?;
        p.exited().is_none().then(|| p.pid())
    }

    /// SIGKILL: no drain, no flush; whatever was only in memory is gone.
    pub fn kill9(&mut self) -> Result<()> {
        if let Some(mut p) = self.proc.take() {
            p.kill9();
        }
        wait_port_closed(self.spec.port, Duration::from_secs(10), "modelrt")
    }

    /// SIGTERM and wait up to `limit` for the drain and exit; the exit status.
    pub fn sigterm_and_wait(&mut self, limit: Duration) -> Result<std::process::ExitStatus> {
        let mut p = self.proc.take().ok_or("the gateway is not running")?;
        p.sigterm()?;
        p.wait_exit(limit)
            .ok_or_else(|| format!("modelrt did not exit within {limit:?} of SIGTERM"))
    }

    /// Sends SIGTERM and returns at once (the drain runs while the caller watches); follow
    /// with [`Gateway::wait_exit`].
    pub fn sigterm(&mut self) -> Result<()> {
        self.proc
            .as_mut()
            .ok_or("the gateway is not running")?
            .sigterm()
    }

    /// Waits for the process to exit after [`Gateway::sigterm`].
    pub fn wait_exit(&mut self, limit: Duration) -> Result<std::process::ExitStatus> {
        let mut p = self.proc.take().ok_or("the gateway is not running")?;
        p.wait_exit(limit)
            .ok_or_else(|| format!("modelrt did not exit within {limit:?}"))
    }

    /// SIGSTOP / SIGCONT.
    pub fn pause(&self, paused: bool) -> Result<()> {
        let p = self.proc.as_ref().ok_or("the gateway is not running")?;
        if paused { p.pause() } else { p.resume() }
    }

    /// The log file (stdout and stderr of every start, appended).
    pub fn log_path(&self) -> PathBuf {
        self.spec.dir.join("modelrt.log")
    }

    /// The last `n` lines of the log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// `GET /health` answers 200.
fn health_ok(port: u16) -> bool {
    use std::io::{Read, Write};
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.1 200")
}
