//! End-to-end access control: master key, hashed gateway keys, allowed models, rpm limits.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::Value;

const MASTER: &str = "sk-master-7f3a9c";
const TEAM: &str = "sk-team-b81e22";
const LIMITED: &str = "sk-limited-04d1aa";

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

async fn gateway() -> (wiremock::MockServer, Gw) {
    let up = openai_upstream().await;
    let extra = format!(
        r#"
[gateway]
master_key = "${{TEST_MASTER_KEY}}"

[[gateway.keys]]
id = "team"
key = "${{TEST_TEAM_KEY}}"
models = ["mock/gpt-4o-mini", "mock/text-*"]

[[gateway.keys]]
id = "limited"
key_hash = "{}"
rpm = 2
"#,
        sha256_hex(LIMITED)
    );
    let gw = Gw::start_with(
        Some(&mock_config(&up.uri(), &extra)),
        &[("TEST_MASTER_KEY", MASTER), ("TEST_TEAM_KEY", TEAM)],
    )
    .await;
    (up, gw)
}

#[tokio::test]
async fn keys_models_and_limits() {
    let (up, gw) = gateway().await;
    let c = client();
    let chat = |key: Option<&'static str>, model: &'static str| {
        let mut r = c
            .post(gw.at("/v1/chat/completions"))
            .json(&chat_body(model));
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        r.send()
    };
    // No key, wrong key: 401 in OpenAI's shape, before anything reaches the upstream.
    let v = error_envelope(chat(None, "mock/gpt-4o-mini").await.unwrap(), 401).await;
    assert_eq!(v["error"]["code"], "invalid_api_key");
    let v = error_envelope(
        chat(Some("sk-wrong-key"), "mock/gpt-4o-mini")
            .await
            .unwrap(),
        401,
    )
    .await;
    assert!(!v.to_string().contains("sk-wrong-key"));
    error_envelope(c.get(gw.at("/v1/models")).send().await.unwrap(), 401).await;
    assert!(up.received_requests().await.unwrap().is_empty());

    // The master key may use everything.
    assert_eq!(
        chat(Some(MASTER), "mock/gpt-4o-mini")
            .await
            .unwrap()
            .status(),
        200
    );
    // A team key: its models only; the model list is filtered.
    assert_eq!(
        chat(Some(TEAM), "mock/gpt-4o-mini").await.unwrap().status(),
        200
    );
    let v = error_envelope(chat(Some(TEAM), "mock/gpt-4o").await.unwrap(), 403).await;
    assert_eq!(v["error"]["code"], "model_not_allowed");
    let models: Value = c
        .get(gw.at("/v1/models"))
        .bearer_auth(TEAM)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["mock/gpt-4o-mini", "mock/text-embedding-3-small"]);
    // x-api-key works too.
    let resp = c
        .post(gw.at("/v1/embeddings"))
        .header("x-api-key", TEAM)
        .json(&serde_json::json!({"model": "mock/text-embedding-3-small", "input": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);

    // rpm = 2: the third request in the minute gets 429 with Retry-After.
    for _ in 0..2 {
        assert_eq!(
            chat(Some(LIMITED), "mock/gpt-4o-mini")
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let resp = chat(Some(LIMITED), "mock/gpt-4o-mini").await.unwrap();
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    let v = error_envelope(resp, 429).await;
    assert_eq!(v["error"]["type"], "rate_limit_error");

    // Liveness needs no key.
    assert_eq!(c.get(gw.at("/health")).send().await.unwrap().status(), 200);

    // Keys and the upstream secret never reach the logs.
    let logs = gw.logs();
    for secret in [MASTER, TEAM, LIMITED, UPSTREAM_KEY, "sk-wrong-key"] {
        assert!(!logs.contains(secret), "{secret} in logs:\n{logs}");
    }
}

#[tokio::test]
async fn bad_key_config_fails_at_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[gateway]\n[[gateway.keys]]\nid = \"a\"\nkey_hash = \"not-hex\"\n",
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_modelrt"))
        .arg("serve")
        .arg("--config")
        .arg(&file)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("gateway.keys.0.key_hash"),
        "{err}"
    );
}

fn redis_url() -> String {
    std::env::var("MODELRT_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

#[tokio::test]
async fn replicas_share_a_keys_rpm_through_redis() {
    // A test that needs Redis fails without it (`cargo xtask test` starts one).
    let mut redis = redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .expect("redis-server must be running (MODELRT_TEST_REDIS_URL)");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prefix = format!("modelrt-test:gw:{}:{nanos}", std::process::id());
    let up = openai_upstream().await;
    let extra = format!(
        r#"
[gateway]
redis_url = "{}"
redis_prefix = "{prefix}"
redis_timeout = "2s"

[[gateway.keys]]
id = "shared"
key_hash = "{}"
rpm = 3
"#,
        redis_url(),
        sha256_hex(LIMITED)
    );
    let config = mock_config(&up.uri(), &extra);
    let (a, b) = tokio::join!(Gw::start(Some(&config)), Gw::start(Some(&config)));
    let c = client();
    let chat = |gw: &Gw| {
        c.post(gw.at("/v1/chat/completions"))
            .bearer_auth(LIMITED)
            .json(&chat_body("mock/gpt-4o-mini"))
            .send()
    };
    // rpm = 3 for the key across both replicas: three requests spread over them pass…
    for gw in [&a, &b, &a] {
        assert_eq!(chat(gw).await.unwrap().status(), 200);
    }
    // …and the fourth is refused on either one, though each has seen fewer than three.
    for gw in [&b, &a] {
        let resp = chat(gw).await.unwrap();
        let retry: u64 = resp.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((19..=20).contains(&retry), "{retry}");
        let v = error_envelope(resp, 429).await;
        assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    }
    // The budget lives in Redis, under the configured prefix, with an expiry.
    let key = format!("{prefix}:rpm:shared");
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(ttl > 0 && ttl <= 60_001, "{key}: {ttl}");
    // Only the admitted requests reached the upstream.
    assert_eq!(up.received_requests().await.unwrap().len(), 3);
    for gw in [&a, &b] {
        let logs = gw.logs();
        assert!(!logs.contains(LIMITED), "key in logs:\n{logs}");
        assert!(
            !logs.contains("redis unreachable"),
            "Redis fell back:\n{logs}"
        );
    }
}
