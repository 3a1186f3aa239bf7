//! The real `modelrt` binary with its shared-state Redis down: it starts at once, serves on
//! local state, says so in `/ready` and `/metrics`, and shares state again once Redis
//! starts. `config check` connects to nothing. Uses its own `redis-server` on a free port
//! (never the shared 6379); fails, never skips, when redis-server is missing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use runtime_testkit::redis::{RedisServer, free_port};
use serde_json::Value;

const KEY: &str = "sk-redis-e2e-team";

fn config(upstream: &str, redis_port: u16) -> String {
    mock_config(
        upstream,
        &format!(
            r#"
[redis]
url = "redis://127.0.0.1:{redis_port}/"
timeout = "250ms"
probe_interval = "50ms"
probe_max_interval = "250ms"

[router]
redis = true
redis_prefix = "e2e-{redis_port}"
queue_max_len = 0

[[models]]
name = "chat"
[[models.deployments]]
provider = "mock"
model = "gpt-4o-mini"
rpm = 3

[gateway]
redis = true
redis_prefix = "e2e-gw-{redis_port}"

[[gateway.keys]]
id = "team"
key_hash = "{}"
rpm = 100
"#,
            sha256_hex(KEY)
        ),
    )
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

async fn ready(gw: &Gw) -> (u16, Value) {
    let resp = client().get(gw.at("/ready")).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

fn check<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {body}"))
}

async fn chat(gw: &Gw) -> u16 {
    let t = Instant::now();
    let status = client()
        .post(gw.at("/v1/chat/completions"))
        .bearer_auth(KEY)
        .json(&chat_body("chat"))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16();
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "a request took {:?}",
        t.elapsed()
    );
    status
}

async fn metric(gw: &Gw, line_start: &str) -> String {
    let text = metrics_text(gw).await;
    text.lines()
        .find(|l| l.starts_with(line_start))
        .unwrap_or_else(|| panic!("no `{line_start}` in /metrics:\n{text}"))
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_starts_and_serves_while_redis_is_down_then_shares_state_again() {
    let up = openai_upstream().await;
    let port = free_port();
    let cfg = config(&up.uri(), port);

    // Before the breaker this exited 2 after ~9.6 s ("redis: connection failed").
    let started = Instant::now();
    let a = Gw::start(Some(&cfg)).await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "start took {:?}",
        started.elapsed()
    );

    // Ready (serving), with the degradation reported per component.
    let deadline = Instant::now() + Duration::from_secs(10);
    let body = loop {
        let (status, body) = ready(&a).await;
        assert_eq!(status, 200, "{body}");
        if check(&body, "redis:router")["degraded"] == true {
            break body;
        }
        assert!(Instant::now() < deadline, "never reported degraded: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        check(&body, "redis:router")["detail"]
            .as_str()
            .unwrap()
            .starts_with("degraded"),
        "{body}"
    );
    assert_eq!(check(&body, "redis:gateway")["degraded"], true, "{body}");

    // Served at once, the deployment's rpm = 3 enforced in this process.
    for _ in 0..3 {
        assert_eq!(chat(&a).await, 200);
    }
    assert_eq!(chat(&a).await, 429);
    assert_eq!(
        metric(&a, "modelrt_redis_up{component=\"router\"}").await,
        "modelrt_redis_up{component=\"router\"} 0"
    );

    // Redis starts: the background probe finds it, /ready and /metrics say so.
    let _redis = RedisServer::start_on(port);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (_, body) = ready(&a).await;
        if check(&body, "redis:router")["degraded"] == false {
            break;
        }
        assert!(Instant::now() < deadline, "never recovered: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        metric(&a, "modelrt_redis_up{component=\"router\"}").await,
        "modelrt_redis_up{component=\"router\"} 1"
    );

    // A's next request pushes the 3 it counted alone; a second replica then sees the
    // fleet's budget spent.
    assert_eq!(chat(&a).await, 429);
    let b = Gw::start(Some(&cfg)).await;
    assert_eq!(chat(&b).await, 429);
    assert_eq!(up.received_requests().await.unwrap().len(), 3);

    // One warning on the way down, one line on the way back: not one per request.
    let logs = a.logs();
    assert_eq!(
        logs.matches("redis unreachable").count(),
        1,
        "warnings are per transition:\n{logs}"
    );
    assert!(logs.contains("redis reachable again"), "{logs}");
}

#[tokio::test]
async fn config_check_connects_to_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("modelrt.toml");
    // Redis and PostgreSQL both refused, and a health-checked deployment: nothing is
    // contacted, so the check passes at once.
    std::fs::write(
        &file,
        format!(
            r#"
[providers.mock]
type = "openai"
base_url = "http://127.0.0.1:{}/v1"
api_key = "sk-x"

[redis]
urls = ["redis://127.0.0.1:{}", "redis://127.0.0.1:{}"]
mode = "cluster"

[router]
redis = true

[[models]]
name = "chat"
[[models.deployments]]
provider = "mock"
model = "m"
health_check = true

[cache]
backend = "redis"

[storage]
database_url = "postgres://u:p@127.0.0.1:{}/db"
"#,
            free_port(),
            free_port(),
            free_port(),
            free_port()
        ),
    )
    .unwrap();
    let t = Instant::now();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_modelrt"))
        .args(["config", "check", file.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "check took {:?}",
        t.elapsed()
    );

    // A malformed [redis] still fails, naming the key.
    std::fs::write(
        &file,
        "[providers.mock]\ntype = \"openai\"\napi_key = \"k\"\n[redis]\nurls = [\"redis://a:1\"]\nmode = \"sentinel\"\n",
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_modelrt"))
        .args(["config", "check", file.to_str().unwrap()])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("redis.master_name"), "{err}");
}
