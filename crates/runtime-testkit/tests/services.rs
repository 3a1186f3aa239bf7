//! The service controls against the real servers (redis-server and PostgreSQL must be
//! installed: `cargo xtask services`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use runtime_testkit::services::{Postgres, Redis, port_open};

fn redis_ping(port: u16) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
    s.write_all(b"PING\r\n").ok()?;
    let mut buf = [0u8; 16];
    let n = s.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[test]
fn redis_restarts_on_its_port_and_hangs_when_paused() {
    let mut r = Redis::start().unwrap();
    let port = r.port();
    assert_ne!(port, 6379, "never the shared Redis");
    assert_eq!(redis_ping(port).as_deref(), Some("+PONG\r\n"));
    r.pause().unwrap();
    // Accepted by the kernel, never answered.
    assert!(port_open(port));
    assert_eq!(redis_ping(port), None);
    r.resume().unwrap();
    assert_eq!(redis_ping(port).as_deref(), Some("+PONG\r\n"));
    r.kill().unwrap();
    assert!(!port_open(port));
    r.start_again().unwrap();
    assert_eq!(redis_ping(port).as_deref(), Some("+PONG\r\n"));
}

#[test]
fn postgres_stops_starts_and_keeps_its_data() {
    let mut pg = Postgres::start().unwrap();
    assert_ne!(pg.port(), 5432, "never the shared PostgreSQL");
    pg.psql("CREATE TABLE t (x int); INSERT INTO t VALUES (7)")
        .unwrap();
    pg.stop().unwrap();
    assert!(!port_open(pg.port()));
    assert!(pg.psql("SELECT 1").is_err());
    pg.start_again().unwrap();
    assert_eq!(pg.psql("SELECT x FROM t").unwrap().trim(), "7");
    pg.kill9().unwrap();
    pg.start_again().unwrap();
    assert_eq!(pg.psql("SELECT count(*) FROM t").unwrap().trim(), "1");
    pg.pause().unwrap();
    assert!(port_open(pg.port()), "a paused server's port still accepts");
    assert!(pg.psql("SELECT 1").is_err(), "…and answers nothing");
    pg.resume().unwrap();
    assert_eq!(pg.psql("SELECT 1").unwrap().trim(), "1");
}
