//! Real `redis-server` processes for tests that stop, pause, kill or fail them over: a single
//! server, a Redis Cluster (masters and replicas) and a Sentinel setup, each on free ports of
//! 127.0.0.1 and killed on drop. They never touch the shared server on 6379.
//!
//! Everything here panics (fails the test) when `redis-server` or `redis-cli` is missing:
//! a test that needs Redis never skips.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .expect("local addr")
        .port()
}

/// Sends one inline command and returns the raw reply (`None` when there is no answer within
/// `wait`).
pub fn raw_command(port: u16, command: &str, wait: Duration) -> Option<String> {
    let mut s =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200))
            .ok()?;
    s.set_read_timeout(Some(wait)).ok()?;
    s.write_all(format!("{command}\r\n").as_bytes()).ok()?;
    let mut buf = vec![0u8; 64 * 1024];
    let n = s.read(&mut buf).ok()?;
    (n > 0).then(|| String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Runs `redis-cli` with `args` against `port` and returns its stdout.
pub fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli must be installed for this test (apt-get install redis-server)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_until(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{what} did not happen within {limit:?}");
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {sig} {pid} failed");
}

fn scratch_dir(tag: &str) -> PathBuf {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("modelrt-{tag}-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

/// One `redis-server` of the test's own.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    args: Vec<String>,
    paused: bool,
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers `PING`.
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// Starts a server on `port`.
    pub fn start_on(port: u16) -> Self {
        Self::start_with(port, &[])
    }

    /// Starts a server on `port` with extra arguments (`--replicaof` …).
    pub fn start_with(port: u16, extra: &[&str]) -> Self {
        let mut me = Self {
            child: None,
            port,
            args: extra.iter().map(|s| (*s).to_owned()).collect(),
            paused: false,
        };
        me.spawn();
        me
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed for this test (apt-get install redis-server)");
        self.child = Some(child);
        let port = self.port;
        wait_until(
            &format!("redis-server on port {port} answering PING"),
            Duration::from_secs(10),
            || {
                raw_command(port, "PING", Duration::from_millis(200))
                    .is_some_and(|r| r.starts_with("+PONG"))
            },
        );
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Freezes the process (SIGSTOP): connections open, nothing answered.
    pub fn pause(&mut self) {
        signal(self.pid(), "-STOP");
        self.paused = true;
    }

    /// Thaws it (SIGCONT).
    pub fn resume(&mut self) {
        signal(self.pid(), "-CONT");
        self.paused = false;
    }

    /// Kills it (SIGKILL); the port is then refused.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.paused = false;
    }

    /// Starts it again on the same port (empty: nothing was saved).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Runs `redis-cli` against this server.
    pub fn cli(&self, args: &[&str]) -> String {
        cli(self.port, args)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A Redis Cluster of `masters` masters with `replicas` replicas each.
#[derive(Debug)]
pub struct RedisCluster {
    /// Every node, masters first as `redis-cli --cluster create` assigned them.
    pub nodes: Vec<RedisServer>,
    dir: PathBuf,
}

impl RedisCluster {
    /// Starts the nodes (cluster mode, node timeout 1 s), creates the cluster and waits until
    /// every node reports `cluster_state:ok`.
    pub fn start(masters: usize, replicas: usize) -> Self {
        let dir = scratch_dir("cluster");
        let total = masters * (1 + replicas);
        let mut nodes = Vec::with_capacity(total);
        for _ in 0..total {
            let port = free_port();
            let conf = dir.join(format!("nodes-{port}.conf"));
            let dir_s = dir.display().to_string();
            let conf_s = conf.display().to_string();
            nodes.push(RedisServer::start_with(
                port,
                &[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    &conf_s,
                    "--cluster-node-timeout",
                    "1000",
                    "--dir",
                    &dir_s,
                ],
            ));
        }
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port()))
            .collect();
        let replicas_s = replicas.to_string();
        let mut args: Vec<&str> = vec!["--cluster", "create"];
        args.extend(addrs.iter().map(String::as_str));
        args.extend(["--cluster-replicas", &replicas_s, "--cluster-yes"]);
        let out = Command::new("redis-cli")
            .args(&args)
            .output()
            .expect("redis-cli must be installed for this test (apt-get install redis-server)");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let me = Self { nodes, dir };
        me.wait_ok(Duration::from_secs(30));
        // Replicas must have synced before a failover can promote them.
        if replicas > 0 {
            let ports: Vec<u16> = me.nodes.iter().map(RedisServer::port).collect();
            wait_until("replicas in sync", Duration::from_secs(30), || {
                ports.iter().all(|p| {
                    let info = cli(*p, &["INFO", "replication"]);
                    info.contains("role:master") || info.contains("master_link_status:up")
                })
            });
        }
        me
    }

    /// Seed URLs of every node.
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// Waits until every live node reports `cluster_state:ok` and agrees on the masters.
    pub fn wait_ok(&self, limit: Duration) {
        let ports: Vec<u16> = self
            .nodes
            .iter()
            .filter(|n| n.child.is_some() && !n.paused)
            .map(RedisServer::port)
            .collect();
        wait_until("cluster_state:ok on every node", limit, || {
            ports
                .iter()
                .all(|p| cli(*p, &["CLUSTER", "INFO"]).contains("cluster_state:ok"))
        });
    }

    /// The index in `nodes` of the master serving `key` now (`None` while no healthy master
    /// serves it, e.g. during a failover).
    pub fn master_of(&self, key: &str) -> Option<usize> {
        let live = self
            .nodes
            .iter()
            .find(|n| n.child.is_some() && !n.paused)
            .expect("a live node");
        let slot: u16 = live
            .cli(&["CLUSTER", "KEYSLOT", key])
            .trim()
            .parse()
            .expect("CLUSTER KEYSLOT answer");
        let nodes = live.cli(&["CLUSTER", "NODES"]);
        for line in nodes.lines() {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() < 9 || !cols[2].contains("master") || cols[2].contains("fail") {
                continue;
            }
            let serves = cols[8..].iter().any(|r| match r.split_once('-') {
                Some((a, b)) => {
                    a.parse::<u16>().is_ok_and(|a| a <= slot)
                        && b.parse::<u16>().is_ok_and(|b| slot <= b)
                }
                None => r.parse::<u16>() == Ok(slot),
            });
            if serves {
                let port: u16 = cols[1]
                    .split('@')
                    .next()
                    .and_then(|a| a.rsplit(':').next())
                    .and_then(|p| p.parse().ok())
                    .expect("node address");
                return self.nodes.iter().position(|n| n.port() == port);
            }
        }
        None
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            n.kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One master, one replica and `sentinels` sentinels monitoring it as `master_name`
/// (quorum 1, down after 500 ms).
#[derive(Debug)]
pub struct RedisSentinel {
    /// The first master.
    pub master: RedisServer,
    /// Its replica.
    pub replica: RedisServer,
    /// The sentinels.
    pub sentinels: Vec<Child>,
    /// Their ports.
    pub sentinel_ports: Vec<u16>,
    /// The monitored name.
    pub master_name: String,
    dir: PathBuf,
}

impl RedisSentinel {
    /// Starts the servers and the sentinels, and waits until every sentinel knows the master
    /// and its replica.
    pub fn start(sentinels: usize) -> Self {
        let dir = scratch_dir("sentinel");
        let master = RedisServer::start();
        let mport = master.port().to_string();
        let replica = RedisServer::start_with(free_port(), &["--replicaof", "127.0.0.1", &mport]);
        let rport = replica.port();
        wait_until("replica in sync", Duration::from_secs(20), || {
            cli(rport, &["INFO", "replication"]).contains("master_link_status:up")
        });
        let master_name = "modelrt-test".to_owned();
        let mut children = Vec::new();
        let mut ports = Vec::new();
        for _ in 0..sentinels {
            let port = free_port();
            let conf = dir.join(format!("sentinel-{port}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "port {port}\nbind 127.0.0.1\ndir {}\n\
                     sentinel monitor {master_name} 127.0.0.1 {mport} 1\n\
                     sentinel down-after-milliseconds {master_name} 500\n\
                     sentinel failover-timeout {master_name} 3000\n\
                     sentinel parallel-syncs {master_name} 1\n",
                    dir.display()
                ),
            )
            .expect("write sentinel.conf");
            let child = Command::new("redis-server")
                .arg(&conf)
                .arg("--sentinel")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect(
                    "redis-server must be installed for this test (apt-get install redis-server)",
                );
            children.push(child);
            ports.push(port);
        }
        let me = Self {
            master,
            replica,
            sentinels: children,
            sentinel_ports: ports,
            master_name,
            dir,
        };
        for p in me.sentinel_ports.clone() {
            let name = me.master_name.clone();
            wait_until(
                "sentinel knows the master and its replica",
                Duration::from_secs(20),
                || {
                    let out = cli(p, &["SENTINEL", "REPLICAS", &name]);
                    out.contains(&rport.to_string())
                },
            );
        }
        me
    }

    /// `redis://127.0.0.1:<port>/` of every sentinel.
    pub fn urls(&self) -> Vec<String> {
        self.sentinel_ports
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}/"))
            .collect()
    }

    /// The port of the master the sentinels name now.
    pub fn current_master_port(&self) -> Option<u16> {
        let out = cli(
            self.sentinel_ports[0],
            &["SENTINEL", "GET-MASTER-ADDR-BY-NAME", &self.master_name],
        );
        out.lines().nth(1).and_then(|p| p.trim().parse().ok())
    }

    /// Waits until the sentinels name `port` as the master and it accepts writes.
    pub fn wait_master(&self, port: u16, limit: Duration) {
        wait_until(
            &format!("sentinel naming 127.0.0.1:{port} master"),
            limit,
            || {
                self.current_master_port() == Some(port)
                    && cli(port, &["ROLE"]).starts_with("master")
            },
        );
    }
}

impl Drop for RedisSentinel {
    fn drop(&mut self) {
        for c in &mut self.sentinels {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
