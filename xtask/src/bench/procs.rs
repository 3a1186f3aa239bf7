//! The processes the bench runs: start and stop them, pin them to a CPU, wait until they
//! answer, and read their CPU time and memory from `/proc`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A process the bench started; killed when dropped.
pub(super) struct Proc {
    pub(super) name: String,
    pub(super) child: Child,
}

impl Proc {
    pub(super) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(super) fn alive(&mut self) -> Result<(), String> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(format!("{} exited: {status}", self.name)),
            Err(e) => Err(format!("{}: {e}", self.name)),
        }
    }

    pub(super) fn stop(&mut self) {
        // SIGTERM first (nginx's master then stops its workers), SIGKILL if it lingers.
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

/// Pins commands to a CPU with `taskset` when it exists and there are two cores.
pub(super) struct Pinning {
    pub(super) enabled: bool,
}

impl Pinning {
    pub(super) fn detect() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let taskset = Command::new("taskset")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        Self {
            enabled: cores >= 2 && taskset,
        }
    }

    pub(super) fn command(&self, cpu: u32, program: &Path) -> Command {
        if self.enabled {
            let mut c = Command::new("taskset");
            c.args(["-c", &cpu.to_string()]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }
}

pub(super) fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// `GET path` on addr; true on a 200.
pub(super) fn http_ok(addr: SocketAddr, path: &str) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 12];
    s.read_exact(&mut buf).is_ok() && buf.starts_with(b"HTTP/1.1 200")
}

pub(super) fn wait_ready(
    p: &mut Proc,
    addr: SocketAddr,
    path: &str,
    log: &Path,
) -> Result<(), String> {
    wait_ready_for(p, addr, path, log, Duration::from_secs(30))
}

pub(super) fn wait_ready_for(
    p: &mut Proc,
    addr: SocketAddr,
    path: &str,
    log: &Path,
    limit: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Err(e) = p.alive() {
            let tail = std::fs::read_to_string(log).unwrap_or_default();
            return Err(format!("{e}; its log ({}):\n{tail}", log.display()));
        }
        if http_ok(addr, path) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!(
        "{} not ready on {addr} after {} s",
        p.name,
        limit.as_secs()
    ))
}

/// Clock ticks per second of /proc/<pid>/stat.
pub(super) fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse::<f64>().ok())
        .filter(|v| *v > 0.0)
        .unwrap_or(100.0)
}

/// (ppid, utime + stime in ticks) of a process.
pub(super) fn stat(pid: u32) -> Option<(u32, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ppid = f.get(1)?.parse().ok()?;
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some((ppid, utime + stime))
}

/// The process and its direct children (nginx's workers).
pub(super) fn tree(pid: u32) -> Vec<u32> {
    let mut pids = vec![pid];
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            if let Some(p) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok())
                && stat(p).is_some_and(|(ppid, _)| ppid == pid)
            {
                pids.push(p);
            }
        }
    }
    pids
}

pub(super) fn cpu_ticks(pid: u32) -> u64 {
    tree(pid).into_iter().filter_map(stat).map(|(_, t)| t).sum()
}

/// A `/proc/<pid>/status` field in kB, summed over the process tree.
pub(super) fn status_kb(pid: u32, field: &str) -> u64 {
    tree(pid)
        .into_iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/status")).ok())
        .filter_map(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .sum()
}
