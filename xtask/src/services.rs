//! Redis and PostgreSQL for the tests, on 127.0.0.1, installed through apt when absent.

use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::cmd::run;

fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(300)).is_ok()
}

fn wait_port(port: u16, what: &str) -> Result<(), String> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(60) {
        if port_open(port) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    Err(format!(
        "{what} did not start listening on 127.0.0.1:{port} within 60 s"
    ))
}

fn have(bin: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {bin} >/dev/null 2>&1")])
        .status()
        .is_ok_and(|s| s.success())
}

fn pg_bin() -> Option<String> {
    let dirs = std::fs::read_dir("/usr/lib/postgresql").ok()?;
    let mut versions: Vec<String> = dirs
        .filter_map(|d| d.ok())
        .map(|d| d.path().join("bin").display().to_string())
        .filter(|p| std::path::Path::new(p).join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn apt_install(packages: &[&str]) -> Result<(), String> {
    let sudo = if as_root() { vec![] } else { vec!["sudo"] };
    let mut update = Command::new(sudo.first().copied().unwrap_or("apt-get"));
    if sudo.is_empty() {
        update.arg("update");
    } else {
        update.args(["apt-get", "update"]);
    }
    run(update.env("DEBIAN_FRONTEND", "noninteractive"))?;
    let mut install = Command::new(sudo.first().copied().unwrap_or("apt-get"));
    if !sudo.is_empty() {
        install.arg("apt-get");
    }
    install
        .args(["install", "-y", "--no-install-recommends"])
        .args(packages);
    run(install.env("DEBIAN_FRONTEND", "noninteractive"))
}

/// Installs what is missing, then starts Redis on 6379 and PostgreSQL on 5432 with the test
/// role `modelrt`/`modelrt` and database `modelrt_test`.
pub fn ensure() -> Result<(), String> {
    let mut missing = Vec::new();
    if !have("redis-server") {
        missing.push("redis-server");
    }
    if pg_bin().is_none() {
        missing.push("postgresql");
    }
    // The reference reverse proxy of `cargo xtask bench` (its smoke run is part of the tests).
    if !have("nginx") && !std::path::Path::new("/usr/sbin/nginx").exists() {
        missing.push("nginx");
    }
    // The soak's plot draws text with a TrueType font read from disk (no fontconfig).
    if !std::path::Path::new("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").exists() {
        missing.push("fonts-dejavu-core");
    }
    // `chattr +i` makes the usage-database fault tests' files read-only even to root.
    if !have("chattr") {
        missing.push("e2fsprogs");
    }
    // The admin UI's tests drive Debian's headless Chromium through chromedriver.
    if !have("chromedriver") || !std::path::Path::new("/usr/bin/chromium").exists() {
        missing.push("chromium");
        missing.push("chromium-driver");
    }
    if !missing.is_empty() {
        apt_install(&missing)?;
    }
    if !port_open(6379) {
        run(Command::new("redis-server").args([
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ]))?;
        wait_port(6379, "redis-server")?;
    }
    if !port_open(5432) {
        start_postgres()?;
        wait_port(5432, "postgresql")?;
    }
    ensure_pg_role()?;
    ensure_python_sdk()?;
    crate::clients::ensure()?;
    eprintln!("xtask: services ready: redis 127.0.0.1:6379, postgresql 127.0.0.1:5432");
    Ok(())
}

fn start_postgres() -> Result<(), String> {
    // Debian's cluster tooling when present; otherwise a private cluster under target/.
    if have("pg_ctlcluster") && have("pg_lsclusters") {
        let out = Command::new("pg_lsclusters")
            .arg("--no-header")
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        if let Some(line) = text.lines().next() {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() >= 2 {
                return run(Command::new("pg_ctlcluster").args([cols[0], cols[1], "start"]));
            }
        }
    }
    let bin = pg_bin().ok_or("PostgreSQL binaries not found under /usr/lib/postgresql")?;
    let data = "/tmp/modelrt-pg-data";
    if !std::path::Path::new(data).join("PG_VERSION").exists() {
        run(Command::new("mkdir").args(["-p", data]))?;
        if as_root() {
            run(Command::new("chown").args(["postgres:postgres", data]))?;
        }
        run(&mut pg_cmd(
            &format!("{bin}/initdb"),
            &["-D", data, "-U", "postgres", "--auth=trust"],
        ))?;
    }
    run(&mut pg_cmd(
        &format!("{bin}/pg_ctl"),
        &[
            "-D",
            data,
            "-l",
            "/tmp/modelrt-pg.log",
            "-o",
            "-c listen_addresses=127.0.0.1 -p 5432 -k /tmp",
            "start",
        ],
    ))
}

fn pg_cmd(bin: &str, args: &[&str]) -> Command {
    if as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", bin]).args(args);
        c
    } else {
        let mut c = Command::new(bin);
        c.args(args);
        c
    }
}

fn psql(sql: &str) -> Result<String, String> {
    let mut c = if as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "psql"]);
        c
    } else {
        Command::new("psql")
    };
    let out = c
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            "5432",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-tAc",
            sql,
        ])
        .output()
        .map_err(|e| format!("psql: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        // Local socket (peer auth) as a fallback.
        let mut c = if as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", "psql"]);
            c
        } else {
            Command::new("psql")
        };
        let out2 = c
            .args(["-d", "postgres", "-tAc", sql])
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        if out2.status.success() {
            Ok(String::from_utf8_lossy(&out2.stdout).trim().to_owned())
        } else {
            Err(format!(
                "psql failed: {} {}",
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&out2.stderr)
            ))
        }
    }
}

fn ensure_pg_role() -> Result<(), String> {
    if psql("SELECT 1 FROM pg_roles WHERE rolname = 'modelrt'")? != "1" {
        psql("CREATE ROLE modelrt LOGIN SUPERUSER PASSWORD 'modelrt'")?;
    } else {
        psql("ALTER ROLE modelrt LOGIN SUPERUSER PASSWORD 'modelrt'")?;
    }
    if psql("SELECT 1 FROM pg_database WHERE datname = 'modelrt_test'")? != "1" {
        psql("CREATE DATABASE modelrt_test OWNER modelrt")?;
    }
    Ok(())
}

/// The official `openai` Python SDK, which the gateway's end-to-end test drives.
fn ensure_python_sdk() -> Result<(), String> {
    let have_sdk = Command::new("python3")
        .args(["-c", "import openai"])
        .status()
        .is_ok_and(|s| s.success());
    if !have_sdk {
        run(Command::new("python3").args(["-m", "pip", "install", "--quiet", "openai"]))?;
    }
    Ok(())
}
