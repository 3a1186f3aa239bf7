//! Three real `modelrt` processes sharing one private redis-server and one private
//! PostgreSQL (started here on free ports, never the shared 6379/5432): database keys made
//! through one replica's admin API are honoured by all; concurrent load against a budget
//! ends within it; a revocation reaches every replica within a second; hostile admin input
//! gets a 4xx naming the field and writes nothing; the CLI talks to the admin API; a key's
//! secret appears in no log, metric, error or listing. Fails, never skips, when redis-server
//! or PostgreSQL is missing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use runtime_testkit::services;
use serde_json::{Value, json};

const MASTER: &str = "sk-master-governance-e2e";

fn config(upstream: &str, pg: &str, redis: &str) -> String {
    mock_config(
        upstream,
        &format!(
            r#"
[storage]
database_url = "{pg}"
spill_path = "usage.spill.jsonl"
flush_interval = "50ms"

[redis]
url = "{redis}"
timeout = "250ms"
probe_interval = "50ms"
probe_max_interval = "250ms"

[pricing.overrides."mock/gpt-4o-mini"]
input_per_mtok = 1000.0
output_per_mtok = 1000.0

[gateway]
master_key = "{MASTER}"
redis = true

[gateway.governance]
enabled = true
sync_interval = "100ms"
"#
        ),
    )
}

async fn admin(gw: &Gw, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = client().request(m, gw.at(path)).bearer_auth(MASTER);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn raw_admin(gw: &Gw, method: &str, path: &str, body: &str) -> (u16, Value) {
    let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let resp = client()
        .request(m, gw.at(path))
        .bearer_auth(MASTER)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn chat(gw: &Gw, key: &str) -> reqwest::Response {
    client()
        .post(gw.at("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": "mock/gpt-4o-mini", "max_tokens": 5,
                      "messages": [{"role": "user", "content": "Say hi"}]}))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_gateways_share_keys_budgets_and_revocations() {
    let redis = services::Redis::start().expect("redis-server (cargo xtask services installs it)");
    let pg = services::Postgres::start().expect("PostgreSQL (cargo xtask services installs it)");
    let upstream = openai_upstream().await;
    let cfg = config(&upstream.uri(), &pg.url(), &redis.url());
    let gws = vec![
        Gw::start(Some(&cfg)).await,
        Gw::start(Some(&cfg)).await,
        Gw::start(Some(&cfg)).await,
    ];
    let mut seen_text = String::new();

    // Hostile input: a 4xx naming the field, and nothing written.
    for (body, field, status) in [
        (r#"{"id": "k", "colour": "red"}"#, "colour", 400),
        (
            r#"{"id": "k", "budget": {"max_usd": -1, "period": "daily"}}"#,
            "budget.max_usd",
            400,
        ),
        (
            r#"{"id": "k", "budget": {"max_usd": 1, "period": "fortnightly"}}"#,
            "budget.period",
            400,
        ),
        (r#"{"id": "bad id/x"}"#, "id", 400),
        (r#"{"id": "k", "team_id": "no-such-team"}"#, "team_id", 400),
        (r#"{"id": "k", "rpm": 0}"#, "rpm", 400),
        (r#"not json"#, "body", 400),
    ] {
        let (s, v) = raw_admin(&gws[0], "POST", "/admin/keys", body).await;
        assert_eq!(s, status, "{body}: {v}");
        assert_eq!(v["error"]["param"], field, "{body}: {v}");
    }
    assert_eq!(
        admin(&gws[0], "GET", "/admin/keys", None).await.1["data"],
        json!([])
    );
    let (s, v) = admin(&gws[0], "GET", "/admin/keys/nope", None).await;
    assert_eq!((s, v["error"]["code"].as_str()), (404, Some("not_found")));
    let (s, _) = admin(&gws[0], "PUT", "/admin/keys", Some(json!({}))).await;
    assert_eq!(s, 405);
    // A key without the admin role may not use the admin API; none at all is 401.
    assert_eq!(
        client()
            .get(gws[0].at("/admin/keys"))
            .send()
            .await
            .unwrap()
            .status(),
        401
    );

    // A team, and a key in it with a $0.30 daily budget, made through replica 0.
    let (s, v) = admin(
        &gws[0],
        "POST",
        "/admin/teams",
        Some(json!({"id": "team-a", "rpm": 100000})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (s, dup) = admin(
        &gws[0],
        "POST",
        "/admin/teams",
        Some(json!({"id": "team-a"})),
    )
    .await;
    assert_eq!((s, dup["error"]["param"].as_str()), (409, Some("id")));
    let (s, created) = admin(
        &gws[0],
        "POST",
        "/admin/keys",
        Some(json!({"id": "fleet", "team_id": "team-a", "rpm": 100000,
                    "budget": {"max_usd": 0.30, "period": "daily"}})),
    )
    .await;
    assert_eq!(s, 201, "{created}");
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sk-mrt-"));
    assert!(
        created["display"]
            .as_str()
            .unwrap()
            .ends_with(&secret[secret.len() - 4..])
    );

    // Every replica accepts it within a second.
    for gw in &gws {
        let t = Instant::now();
        loop {
            let s = client()
                .get(gw.at("/v1/models"))
                .bearer_auth(&secret)
                .send()
                .await
                .unwrap()
                .status();
            if s == 200 {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(1),
                "a new key reaches every replica within 1 s ({s})"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    // Concurrent load through the three replicas until the budget refuses.
    let mut tasks = Vec::new();
    for (i, gw) in gws.iter().enumerate() {
        for _ in 0..4 {
            let url = gw.url.clone();
            let secret = secret.clone();
            tasks.push(tokio::spawn(async move {
                let mut ok = 0u32;
                let mut refused = 0;
                let mut texts = String::new();
                let deadline = Instant::now() + Duration::from_secs(60);
                while refused < 2 && Instant::now() < deadline {
                    let resp = client()
                        .post(format!("{url}/v1/chat/completions"))
                        .bearer_auth(&secret)
                        .json(&json!({"model": "mock/gpt-4o-mini", "max_tokens": 5,
                                      "messages": [{"role": "user", "content": "Say hi"}]}))
                        .send()
                        .await
                        .unwrap();
                    let status = resp.status().as_u16();
                    let h = resp.headers().clone();
                    let body = resp.text().await.unwrap();
                    texts.push_str(&body);
                    match status {
                        200 => {
                            ok += 1;
                            assert!(
                                h.contains_key("x-ratelimit-remaining-requests"),
                                "replica {i}: {h:?}"
                            );
                            assert!(
                                h["x-ratelimit-reset-requests"]
                                    .to_str()
                                    .unwrap()
                                    .ends_with('s')
                            );
                        }
                        429 => {
                            let v: Value = serde_json::from_str(&body).unwrap();
                            assert_eq!(v["error"]["code"], "budget_exceeded", "{v}");
                            assert!(
                                h.contains_key("retry-after"),
                                "a daily budget says when it resets"
                            );
                            assert!(h.contains_key("x-ratelimit-limit-requests"));
                            refused += 1;
                        }
                        other => panic!("replica {i}: {other} {body}"),
                    }
                }
                (ok, texts)
            }));
        }
    }
    let mut ok = 0;
    for t in tasks {
        let (n, texts) = t.await.unwrap();
        ok += n;
        seen_text.push_str(&texts);
    }
    // Nothing in flight: one more call must be refused (so spend > limit − one hold).
    assert_eq!(chat(&gws[2], &secret).await.status(), 429);
    // The view may trail the last settlements by a sync interval.
    let t = Instant::now();
    let b = loop {
        let (_, budgets) = admin(&gws[1], "GET", "/admin/budgets", None).await;
        let b = budgets["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["id"] == "fleet")
            .unwrap()
            .clone();
        if (b["spent_usd"].as_f64().unwrap() - f64::from(ok) * 0.012).abs() < 1e-6
            || t.elapsed() > Duration::from_secs(3)
        {
            break b;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let spent = b["spent_usd"].as_f64().unwrap();
    // Each call costs 12 tokens × $1000/Mtok = $0.012; a hold is at most ~$0.2.
    assert!(spent <= 0.30 + 1e-9, "the budget was never passed: {b}");
    assert!(spent > 0.30 - 0.2, "the budget was used: {b}");
    assert!(
        (spent - f64::from(ok) * 0.012).abs() < 1e-6,
        "{ok} calls settled at their real cost: {b}"
    );
    assert_eq!(
        b["reserved_usd"].as_f64(),
        Some(0.0),
        "no hold is left: {b}"
    );

    // Revoked through replica 1: refused by the others within a second.
    let (s, v) = admin(&gws[1], "POST", "/admin/keys/fleet/revoke", None).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], "revoked");
    for gw in [&gws[0], &gws[2]] {
        let t = Instant::now();
        loop {
            let s = client()
                .get(gw.at("/v1/models"))
                .bearer_auth(&secret)
                .send()
                .await
                .unwrap()
                .status();
            if s == 401 {
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(1),
                "revocation reaches every replica within 1 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    // The CLI against a running gateway.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_modelrt"))
        .args(["keys", "list", "--url", &gws[2].url])
        .env("MODELRT_ADMIN_KEY", MASTER)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("\"fleet\"") && stdout.contains("revoked"),
        "{stdout}"
    );
    seen_text.push_str(&stdout);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_modelrt"))
        .args([
            "spend",
            "--by",
            "team",
            "--since",
            "1d",
            "--url",
            &gws[0].url,
        ])
        .env("MODELRT_ADMIN_KEY", MASTER)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("team-a"),
        "spend is attributed to the key's team: {stdout}"
    );

    // The secret is in no log, metric, error, listing or CLI output.
    for path in [
        "/admin/keys",
        "/admin/keys/fleet",
        "/admin/budgets",
        "/admin/spend?by=key",
        "/admin/openapi.json",
    ] {
        seen_text.push_str(&admin(&gws[0], "GET", path, None).await.1.to_string());
    }
    for gw in &gws {
        seen_text.push_str(&metrics_text(gw).await);
        seen_text.push_str(&chat(gw, &secret).await.text().await.unwrap());
    }
    let hash = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(secret.as_bytes()))
    };
    for gw in gws {
        gw.sigterm();
        let mut child = gw.child;
        let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
        seen_text.push_str(&gw.stderr.lock().clone());
    }
    assert!(!seen_text.is_empty());
    assert!(!seen_text.contains(&secret), "the secret leaked");
    assert!(
        !seen_text.contains(&secret[7..]),
        "part of the secret leaked"
    );
    assert!(!seen_text.contains(&hash), "the secret's hash leaked");
}

fn sqlite_config(upstream: &str, dir: &std::path::Path, extra: &str) -> String {
    mock_config(
        upstream,
        &format!(
            r#"
[storage]
database_url = "sqlite://{}/usage.sqlite"
spill_path = "{}/usage.spill.jsonl"
flush_interval = "50ms"

[pricing.overrides."mock/gpt-4o-mini"]
input_per_mtok = 1000.0
output_per_mtok = 1000.0

{extra}

[gateway]
master_key = "{MASTER}"

[gateway.governance]
enabled = true
sync_interval = "100ms"
"#,
            dir.display(),
            dir.display()
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_budget_starts_again_at_utc_midnight() {
    let upstream = openai_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = sqlite_config(&upstream.uri(), dir.path(), "");
    // Put the gateway's clock 15 s before the next 00:00 UTC (a debug-build test setting).
    let day = 86_400_000i64;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let offset = (now / day + 1) * day - 15_000 - now;
    let gw = Gw::start_with(
        Some(&cfg),
        &[("MODELRT_TEST_TIME_OFFSET_MS", &offset.to_string())],
    )
    .await;
    let (s, v) = admin(
        &gw,
        "POST",
        "/admin/keys",
        Some(json!({"id": "d", "budget": {"max_usd": 0.15, "period": "daily"}})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let secret = v["secret"].as_str().unwrap().to_owned();
    let mut ok = 0;
    let retry_after = loop {
        let resp = chat(&gw, &secret).await;
        match resp.status().as_u16() {
            200 => ok += 1,
            429 => {
                let secs: u64 = resp.headers()["retry-after"]
                    .to_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                break secs;
            }
            other => panic!("{other}: {}", resp.text().await.unwrap()),
        }
        assert!(ok < 20, "the budget never refused");
    };
    assert!(ok >= 1);
    assert!(
        (1..=15).contains(&retry_after),
        "resets at the UTC midnight, {retry_after}s away"
    );
    tokio::time::sleep(Duration::from_secs(retry_after + 1)).await;
    assert_eq!(
        chat(&gw, &secret).await.status(),
        200,
        "a new day, a new budget"
    );
}

#[tokio::test]
async fn the_cli_manages_keys_on_the_database_directly_and_checks_prices() {
    let upstream = openai_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let extra = r#"
[[models]]
name = "chat"
[[models.deployments]]
provider = "mock"
model = "my-finetune-nobody-prices"
"#;
    let file = dir.path().join("modelrt.toml");
    std::fs::write(&file, sqlite_config(&upstream.uri(), dir.path(), extra)).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_modelrt"))
            .args(args)
            .arg("--config")
            .arg(&file)
            .env_remove("MODELRT_ADMIN_KEY")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, err) = run(&[
        "keys",
        "create",
        "--id",
        "ops",
        "--admin",
        "--budget-usd",
        "5",
        "--period",
        "weekly",
    ]);
    assert!(ok, "{out}{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert_eq!(created["role"], "admin");
    assert_eq!(created["budget"]["period"], "weekly");
    let (ok, out, err) = run(&["keys", "list"]);
    assert!(
        ok && out.contains("\"ops\"") && !out.contains(&secret),
        "{out}{err}"
    );
    let (ok, _, err) = run(&["keys", "create", "--id", "ops"]);
    assert!(!ok && err.contains("409"), "{err}");
    let (ok, out, _) = run(&["teams", "create", "t1", "--rpm", "10"]);
    assert!(ok, "{out}");
    // A logical model whose deployment has no price is reported.
    let (ok, out, err) = run(&["pricing", "check"]);
    assert!(!ok, "{out}{err}");
    assert!(out.contains("my-finetune-nobody-prices"), "{out}");
    // The key made offline works once a gateway runs on the same database.
    let gw = Gw::start(Some(&std::fs::read_to_string(&file).unwrap())).await;
    let (s, v) = {
        let resp = client()
            .get(gw.at("/admin/keys"))
            .bearer_auth(&secret)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
    };
    assert_eq!(s, 200, "an admin-role key may use the admin API: {v}");
    // The live routing view names the logical model's deployments and their circuit.
    let routing: Value = client()
        .get(gw.at("/admin/routing"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let d = &routing["data"][0]["deployments"][0];
    assert_eq!(routing["data"][0]["model"], "chat", "{routing}");
    assert_eq!(d["circuit"], "closed", "{routing}");
    assert_eq!(d["in_flight"], 0);
    assert!(d["recent_errors"].is_array());
    // The OpenAPI description is served.
    let doc: Value = client()
        .get(gw.at("/admin/openapi.json"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(!gw.logs().contains(&secret));
}

#[tokio::test]
async fn rate_limits_answer_429_with_openai_headers() {
    let upstream = openai_upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let gw = Gw::start(Some(&sqlite_config(&upstream.uri(), dir.path(), ""))).await;
    let (s, v) = admin(
        &gw,
        "POST",
        "/admin/keys",
        Some(json!({"id": "slow", "rpm": 2, "tpm": 100000})),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let secret = v["secret"].as_str().unwrap().to_owned();
    let first = chat(&gw, &secret).await;
    assert_eq!(first.status(), 200);
    let h = first.headers();
    assert_eq!(h["x-ratelimit-limit-requests"], "2");
    assert_eq!(h["x-ratelimit-remaining-requests"], "1");
    assert_eq!(h["x-ratelimit-reset-requests"], "30s");
    assert_eq!(h["x-ratelimit-limit-tokens"], "100000");
    assert!(
        model_runtime::http::parse_go_duration(h["x-ratelimit-reset-tokens"].to_str().unwrap())
            .is_some()
    );
    assert_eq!(chat(&gw, &secret).await.status(), 200);
    let third = chat(&gw, &secret).await;
    assert_eq!(third.status(), 429);
    assert!(third.headers().contains_key("retry-after"));
    let v = error_envelope(third, 429).await;
    assert_eq!(v["error"]["code"], "rate_limit_exceeded", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_killed_mid_run_keeps_the_budget_bound_across_three_gateways() {
    let mut redis = services::Redis::start().expect("redis-server");
    let pg = services::Postgres::start().expect("PostgreSQL");
    let upstream = openai_upstream().await;
    let cfg = config(&upstream.uri(), &pg.url(), &redis.url());
    let gws = vec![
        Gw::start(Some(&cfg)).await,
        Gw::start(Some(&cfg)).await,
        Gw::start(Some(&cfg)).await,
    ];
    let (s, created) = admin(
        &gws[0],
        "POST",
        "/admin/keys",
        Some(json!({"id": "k", "budget": {"max_usd": 0.30, "period": "daily"}})),
    )
    .await;
    assert_eq!(s, 201);
    let secret = created["secret"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let mut tasks = Vec::new();
    for gw in &gws {
        for _ in 0..3 {
            let (url, secret, done) = (gw.url.clone(), secret.clone(), done.clone());
            tasks.push(tokio::spawn(async move {
                let mut refused = 0;
                let deadline = Instant::now() + Duration::from_secs(60);
                while refused < 2 && Instant::now() < deadline {
                    let resp = client()
                        .post(format!("{url}/v1/chat/completions"))
                        .bearer_auth(&secret)
                        .json(&json!({"model": "mock/gpt-4o-mini", "max_tokens": 5,
                                      "messages": [{"role": "user", "content": "Say hi"}]}))
                        .send()
                        .await
                        .unwrap();
                    match resp.status().as_u16() {
                        200 => {
                            done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            // Slow enough for the kill to land mid-run.
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        429 => refused += 1,
                        other => panic!("{other}: {}", resp.text().await.unwrap()),
                    }
                }
            }));
        }
    }
    while done.load(std::sync::atomic::Ordering::Relaxed) < 6 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::task::spawn_blocking(move || {
        redis.kill().unwrap();
        redis
    })
    .await
    .unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let ok = done.load(std::sync::atomic::Ordering::Relaxed);
    let t = Instant::now();
    let spent = loop {
        let (_, b) = admin(&gws[2], "GET", "/admin/budgets", None).await;
        let spent = b["data"][0]["spent_usd"].as_f64().unwrap();
        if (spent - f64::from(ok) * 0.012).abs() < 1e-6 || t.elapsed() > Duration::from_secs(3) {
            break spent;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        (spent - f64::from(ok) * 0.012).abs() < 1e-6,
        "{ok} calls, {spent} recorded"
    );
    // The documented bound: one in-flight hold per replica (a hold here is < $0.2).
    assert!(spent <= 0.30 + 3.0 * 0.2, "spent {spent}");
    assert!(
        spent <= 0.30 + 1e-9,
        "with every replica alive the budget itself holds: {spent}"
    );
    let logs: String = gws.iter().map(Gw::logs).collect();
    assert!(
        logs.contains("enforces budgets from the database"),
        "the fleet switched to the database"
    );
}
