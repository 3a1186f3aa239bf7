//! A private PostgreSQL cluster (`initdb` into a temporary directory, the `postgres` server
//! as a child process) on a free port, with trust authentication for `postgres`.
//!
//! As root the server runs as the `postgres` user (it refuses root), through `setpriv`, which
//! execs without forking, so the child's pid is the postmaster's.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::process::{
    Proc, Result, children, free_port, is_root, signal, wait_port, wait_port_closed,
};

/// A PostgreSQL cluster this process started; killed when dropped.
#[derive(Debug)]
pub struct Postgres {
    port: u16,
    bin: PathBuf,
    data: PathBuf,
    log: PathBuf,
    proc: Option<Proc>,
    paused: Vec<u32>,
    _tmp: tempfile::TempDir,
}

/// The directory holding `initdb` and `postgres`: the newest `/usr/lib/postgresql/*/bin`, else
/// the one `initdb` is in on `PATH`.
pub fn pg_bin() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()
        .into_iter()
        .flatten()
        .filter_map(|d| d.ok())
        .map(|d| d.path().join("bin"))
        .filter(|p| p.join("initdb").is_file() && p.join("postgres").is_file())
        .collect();
    versions.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    versions.pop().or_else(|| {
        super::process::find_bin("initdb", &[])
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .filter(|d| d.join("postgres").is_file())
    })
}

fn as_postgres(bin: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ])
        .arg(bin);
        c
    } else {
        Command::new(bin)
    }
}

impl Postgres {
    /// `initdb` and start a cluster on a free port.
    pub fn start() -> Result<Postgres> {
        let bin = pg_bin().ok_or(
            "PostgreSQL binaries (initdb, postgres) not found under /usr/lib/postgresql or on PATH \
             (cargo xtask services installs them)",
        )?;
        let tmp = tempfile::Builder::new()
            .prefix("modelrt-pg-")
            .tempdir()
            .map_err(|e| format!("postgres: temp dir: {e}"))?;
        let data = tmp.path().join("data");
        std::fs::create_dir(&data).map_err(|e| format!("postgres: {e}"))?;
        if is_root() {
            for d in [tmp.path(), data.as_path()] {
                let st = Command::new("chown")
                    .arg("postgres:postgres")
                    .arg(d)
                    .status()
                    .map_err(|e| format!("chown: {e}"))?;
                if !st.success() {
                    return Err(format!("chown postgres {} failed", d.display()));
                }
            }
        }
        let log = tmp.path().join("postgres.log");
        let out = as_postgres(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "-N"])
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let mut pg = Postgres {
            port: free_port()?,
            bin,
            data,
            log,
            proc: None,
            paused: Vec::new(),
            _tmp: tmp,
        };
        pg.start_again()?;
        Ok(pg)
    }

    /// Starts the server again (after [`Postgres::stop`] or [`Postgres::kill9`]) on the same
    /// port, and waits until it answers queries.
    pub fn start_again(&mut self) -> Result<()> {
        if self.proc.is_some() {
            return Err("postgres is still running".into());
        }
        let mut cmd = as_postgres(&self.bin.join("postgres"));
        cmd.arg("-D")
            .arg(&self.data)
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-k")
            .arg(&self.data)
            .args([
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "max_connections=100",
            ]);
        self.proc = Some(Proc::spawn("postgres", cmd, &self.log)?);
        wait_port(self.port, Duration::from_secs(60), "postgres")?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match self.psql("SELECT 1") {
                Ok(s) if s.trim() == "1" => return Ok(()),
                r if Instant::now() > deadline => {
                    return Err(format!("postgres never answered: {r:?}"));
                }
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server log.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Fast shutdown (SIGINT: sessions are ended, then the port refuses).
    pub fn stop(&mut self) -> Result<()> {
        self.resume()?;
        if let Some(mut p) = self.proc.take() {
            signal(p.pid(), "INT")?;
            if p.wait_exit(Duration::from_secs(30)).is_none() {
                return Err("postgres did not stop within 30 s of SIGINT".into());
            }
        }
        wait_port_closed(self.port, Duration::from_secs(10), "postgres")
    }

    /// SIGKILL to the postmaster and every backend: the whole cluster dies at once.
    pub fn kill9(&mut self) -> Result<()> {
        self.resume()?;
        if let Some(mut p) = self.proc.take() {
            for c in children(p.pid()) {
                let _ = signal(c, "KILL");
            }
            p.kill9();
        }
        wait_port_closed(self.port, Duration::from_secs(10), "postgres")
    }

    /// SIGSTOP to every backend and the postmaster: connections are accepted by the kernel,
    /// queries hang.
    pub fn pause(&mut self) -> Result<()> {
        let p = self.proc.as_ref().ok_or("postgres is not running")?;
        let mut pids = Vec::new();
        for c in children(p.pid()) {
            // A backend may have exited since it was listed.
            if signal(c, "STOP").is_ok() {
                pids.push(c);
            }
        }
        signal(p.pid(), "STOP")?;
        pids.push(p.pid());
        self.paused = pids;
        Ok(())
    }

    /// SIGCONT after [`Postgres::pause`].
    pub fn resume(&mut self) -> Result<()> {
        for pid in self.paused.drain(..).rev() {
            let _ = signal(pid, "CONT");
        }
        Ok(())
    }

    /// Runs one SQL command through `psql` and returns its unaligned, tuples-only output.
    pub fn psql(&self, sql: &str) -> Result<String> {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-X",
                "-q",
                "-t",
                "-A",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
            ])
            .arg("-p")
            .arg(self.port.to_string())
            .args(["-U", "postgres", "-d", "postgres", "-c", sql])
            .env("PGCONNECT_TIMEOUT", "5")
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "psql `{sql}`: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.kill9();
    }
}
