//! A child process of a test, and the port, signal and `/proc` helpers the services share.

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A service failure: what was attempted and why it failed.
pub type Result<T> = std::result::Result<T, String>;

/// A free TCP port on 127.0.0.1 (bound then released; fine for tests).
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// True when something accepts TCP connections on 127.0.0.1:`port`.
pub fn port_open(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}

/// Waits until `port` accepts connections, up to `limit`.
pub fn wait_port(port: u16, limit: Duration, what: &str) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if port_open(port) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "{what} did not listen on 127.0.0.1:{port} within {limit:?}"
    ))
}

/// Waits until `port` refuses connections, up to `limit`.
pub fn wait_port_closed(port: u16, limit: Duration, what: &str) -> Result<()> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if !port_open(port) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "{what} still listens on 127.0.0.1:{port} after {limit:?}"
    ))
}

/// Sends `signal` (`KILL`, `TERM`, `STOP`, `CONT`, …) to `pid`.
pub fn signal(pid: u32, signal: &str) -> Result<()> {
    let st = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("kill -{signal} {pid}: {e}"))?;
    if st.success() {
        Ok(())
    } else {
        Err(format!("kill -{signal} {pid} failed ({st})"))
    }
}

/// The resident set size of `pid` in KiB (`VmRSS` of `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// The direct children of `pid` (from `/proc/*/stat`).
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/stat"))
                .ok()
                .and_then(|s| {
                    // pid (comm) state ppid …; comm may hold spaces, so split after ')'.
                    let rest = &s[s.rfind(')')? + 1..];
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(pid)
        })
        .collect()
}

/// True when the current user is root (then servers that refuse root run as `postgres`).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Finds `bin` on `PATH` or in one of `extra` directories.
pub fn find_bin(bin: &str, extra: &[&Path]) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(extra.iter().map(|p| p.to_path_buf()))
        .map(|d| d.join(bin))
        .find(|p| p.is_file())
}

/// A child process with its output appended to a log file; killed (SIGKILL) when dropped.
#[derive(Debug)]
pub struct Proc {
    name: String,
    child: Child,
}

impl Proc {
    /// Spawns `cmd` with stdin closed and stdout and stderr appended to `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> Result<Proc> {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| format!("{name}: cannot open log {}: {e}", log.display()))?;
        let err = out
            .try_clone()
            .map_err(|e| format!("{name}: log {}: {e}", log.display()))?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {name} ({cmd:?}): {e}"))?;
        Ok(Proc {
            name: name.to_owned(),
            child,
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status if it has exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// SIGKILL, then reaps it.
    pub fn kill9(&mut self) {
        if self.exited().is_none() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }

    /// Sends SIGTERM without waiting.
    pub fn sigterm(&mut self) -> Result<()> {
        if self.exited().is_some() {
            return Err(format!("{} already exited", self.name));
        }
        signal(self.pid(), "TERM")
    }

    /// SIGSTOP: the process keeps its sockets (connections are accepted by the kernel) but
    /// answers nothing.
    pub fn pause(&self) -> Result<()> {
        signal(self.pid(), "STOP")
    }

    /// SIGCONT after [`Proc::pause`].
    pub fn resume(&self) -> Result<()> {
        signal(self.pid(), "CONT")
    }

    /// Waits up to `limit` for it to exit; SIGKILL after that. Returns the status when it
    /// exited by itself.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(st) = self.exited() {
                return Some(st);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill9();
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // A paused process cannot act on SIGKILL's cleanup until continued; SIGKILL works
        // regardless, CONT just keeps its children from lingering stopped.
        let _ = signal(self.pid(), "CONT");
        self.kill9();
    }
}
