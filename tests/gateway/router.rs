//! End-to-end through the router: a logical model over two upstreams, failover, and the
//! response headers that say who served.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn logical_model_fails_over_and_says_who_served() {
    let good = openai_upstream().await;
    let bad = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(500).set_body_json(
            serde_json::json!({"error": {"message": "boom", "type": "server_error"}}),
        ))
        .mount(&bad)
        .await;
    let cfg = format!(
        r#"
[providers.primary]
type = "openai"
base_url = "{bad}/v1"
api_key = "{UPSTREAM_KEY}"

[providers.backup]
type = "openai"
base_url = "{good}/v1"
api_key = "{UPSTREAM_KEY}"

[router]
backoff_base = "1ms"
backoff_max = "2ms"

[[models]]
name = "fast"
max_attempts = 3

[[models.deployments]]
provider = "primary"
model = "gpt-4o-mini"
name = "primary-mini"
priority = 0

[[models.deployments]]
provider = "backup"
model = "gpt-4o-mini"
name = "backup-mini"
priority = 1
"#,
        bad = bad.uri(),
        good = good.uri()
    );
    let gw = Gw::start(Some(&cfg)).await;
    let resp = client()
        .post(gw.at("/v1/chat/completions"))
        .json(&chat_body("fast"))
        .send()
        .await
        .unwrap();
    let h = resp.headers().clone();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "Hello there!", "{v}");
    assert_eq!(h["x-modelrt-deployment"], "backup-mini");
    let attempts: u32 = h["x-modelrt-attempts"].to_str().unwrap().parse().unwrap();
    assert!(attempts >= 2, "{attempts}");
    assert!(!bad.received_requests().await.unwrap().is_empty());

    let models: Value = client()
        .get(gw.at("/v1/models"))
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
    assert!(ids.contains(&"fast"), "{ids:?}");
    assert!(ids.contains(&"backup/gpt-4o-mini"), "{ids:?}");
}
