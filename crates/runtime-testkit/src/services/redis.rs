//! A private `redis-server` on a free port, without persistence (a restart loses its state,
//! like a restarted cache node).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::process::{Proc, Result, free_port, port_open, wait_port, wait_port_closed};

/// A `redis-server` this process started; killed when dropped.
#[derive(Debug)]
pub struct Redis {
    port: u16,
    dir: PathBuf,
    proc: Option<Proc>,
    paused: bool,
    _tmp: Option<tempfile::TempDir>,
}

impl Redis {
    /// Starts `redis-server` on a free port; its log goes to a temporary directory.
    pub fn start() -> Result<Redis> {
        let tmp = tempfile::tempdir().map_err(|e| format!("redis: temp dir: {e}"))?;
        let dir = tmp.path().to_path_buf();
        let mut r = Self::start_in(dir)?;
        r._tmp = Some(tmp);
        Ok(r)
    }

    /// Starts `redis-server` on a free port with its log in `dir`.
    pub fn start_in(dir: PathBuf) -> Result<Redis> {
        let port = free_port()?;
        let mut r = Redis {
            port,
            dir,
            proc: None,
            paused: false,
            _tmp: None,
        };
        r.up()?;
        Ok(r)
    }

    fn up(&mut self) -> Result<()> {
        let bin = super::process::find_bin("redis-server", &[])
            .ok_or("redis-server not found on PATH (cargo xtask services installs it)")?;
        let mut cmd = Command::new(bin);
        cmd.args(["--bind", "127.0.0.1", "--port"])
            .arg(self.port.to_string())
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--protected-mode",
                "no",
            ])
            .current_dir(&self.dir);
        self.proc = Some(Proc::spawn(
            "redis-server",
            cmd,
            &self.dir.join("redis.log"),
        )?);
        self.paused = false;
        wait_port(self.port, Duration::from_secs(20), "redis-server")
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// SIGKILL: connections reset, the port refuses.
    pub fn kill(&mut self) -> Result<()> {
        if let Some(mut p) = self.proc.take() {
            p.kill9();
        }
        wait_port_closed(self.port, Duration::from_secs(10), "redis-server")
    }

    /// Starts it again on the same port (empty: nothing was persisted).
    pub fn start_again(&mut self) -> Result<()> {
        if self.proc.is_some() {
            return Err("redis-server is still running".into());
        }
        self.up()
    }

    /// Kill and start again on the same port.
    pub fn restart(&mut self) -> Result<()> {
        self.kill()?;
        self.start_again()
    }

    /// SIGSTOP: the kernel still accepts connections, nothing answers.
    pub fn pause(&mut self) -> Result<()> {
        let p = self.proc.as_ref().ok_or("redis-server is not running")?;
        p.pause()?;
        self.paused = true;
        Ok(())
    }

    /// SIGCONT after [`Redis::pause`].
    pub fn resume(&mut self) -> Result<()> {
        let p = self.proc.as_ref().ok_or("redis-server is not running")?;
        p.resume()?;
        self.paused = false;
        Ok(())
    }

    /// True when it accepts connections (and is not paused).
    pub fn up_now(&self) -> bool {
        self.proc.is_some() && !self.paused && port_open(self.port)
    }
}
