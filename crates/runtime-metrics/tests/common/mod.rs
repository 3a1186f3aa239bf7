//! Shared helpers: stores on SQLite files and on PostgreSQL (the shared server, in a private
//! schema per test; or a private server this test can stop and restart).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use runtime_metrics::{StorageConfig, UsageRecord, UsageStore};

pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("usage.sqlite").display())
}

pub fn shared_pg_url() -> String {
    std::env::var("MODELRT_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://modelrt:modelrt@127.0.0.1:5432/modelrt_test".to_owned())
}

fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{prefix}_{}_{}_{}",
        std::process::id(),
        nanos,
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A fresh schema on the shared server; returns a URL whose connections use it. Fails (never
/// skips) when the server is missing.
pub async fn pg_schema_url() -> String {
    let base = shared_pg_url();
    let schema = unique("mrt_test");
    let pool = sqlx::PgPool::connect(&base).await.unwrap_or_else(|e| {
        panic!("PostgreSQL is required at {base} (set MODELRT_TEST_DATABASE_URL): {e}")
    });
    sqlx::query(&format!("CREATE SCHEMA {schema}"))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options[search_path]={schema}")
}

pub fn storage(url: &str, dir: &Path) -> StorageConfig {
    StorageConfig {
        database_url: url.to_owned(),
        spill_path: dir.join("spill.jsonl"),
        channel_capacity: 1_000,
        batch_size: 200,
        flush_interval: Duration::from_millis(20),
        buffer_max_records: 2_000,
        connect_timeout: Duration::from_millis(500),
        ..StorageConfig::default()
    }
}

pub async fn open(url: &str) -> UsageStore {
    UsageStore::connect(url).await.unwrap()
}

/// A deterministic record `i`.
pub fn record(i: u64, time_ms: i64) -> UsageRecord {
    let providers = ["openai", "anthropic", "google"];
    let models = ["gpt-4o", "claude-sonnet-4", "gemini-2.5-pro", "gpt-4o-mini"];
    let mut r = UsageRecord::new(
        format!("req-{i:06}"),
        time_ms,
        providers[(i % 3) as usize],
        models[(i % 4) as usize],
    );
    r.key_id = if i % 5 == 0 {
        None
    } else {
        Some(format!("key-{}", i % 2))
    };
    r.deployment = if i % 7 == 0 {
        None
    } else {
        Some(format!("dep-{}", i % 3))
    };
    r.prompt_tokens = 100 + i % 50;
    r.cached_tokens = i % 20;
    r.completion_tokens = 10 + i % 30;
    r.reasoning_tokens = i % 5;
    r.total_tokens = r.prompt_tokens + r.completion_tokens;
    r.cost_usd = if i % 11 == 0 {
        None
    } else {
        Some((i % 100) as f64 * 1e-6)
    };
    r.cache_hit = i % 13 == 0;
    if r.cache_hit {
        r.saved_usd = Some(1e-5);
    }
    if i % 17 == 0 {
        r.status = runtime_metrics::Status::Error;
        r.error_kind = Some("rate_limited".into());
    }
    r.latency_ms = (i % 1000) as f64;
    r
}

/// A PostgreSQL server of our own on a free port, which a test may stop and restart.
pub struct PrivatePg {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
}

fn pg_bin() -> PathBuf {
    if let Ok(p) = std::env::var("MODELRT_PG_BIN") {
        return PathBuf::from(p);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries are required in /usr/lib/postgresql/<v>/bin")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("pg_ctl").exists())
        .collect();
    versions.sort();
    versions.pop().expect("no pg_ctl under /usr/lib/postgresql")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl PrivatePg {
    fn run(&self, tool: &str, args: &[&str]) {
        let bin = self.bin.join(tool);
        let out = if is_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&bin)
                .args(args)
                .output()
        } else {
            Command::new(&bin).args(args).output()
        }
        .unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(ok.success());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = Self {
            dir,
            bin: pg_bin(),
            port,
        };
        pg.run(
            "initdb",
            &[
                "-D",
                &pg.data(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        pg.start();
        pg
    }

    pub fn start(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("log").display().to_string();
        self.run(
            "pg_ctl",
            &["-D", &self.data(), "-o", &opts, "-l", &log, "-w", "start"],
        );
    }

    pub fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let bin = self.bin.join("pg_ctl");
        let data = self.data();
        let args = ["-D", data.as_str(), "-m", "immediate", "stop"];
        let _ = if is_root() {
            Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&bin)
                .args(args)
                .output()
        } else {
            Command::new(&bin).args(args).output()
        };
    }
}
