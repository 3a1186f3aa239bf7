//! End-to-end through the router: a logical model over two upstreams, failover, and the
//! response headers that say who served.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// An upstream whose chat completions all fail with `status` and an OpenAI error of `kind`.
async fn failing_upstream(status: u16, message: &str, kind: &str) -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(status)
                .set_body_json(serde_json::json!({"error": {"message": message, "type": kind}})),
        )
        .mount(&s)
        .await;
    s
}

#[tokio::test]
async fn logical_model_fails_over_and_says_who_served() {
    let good = openai_upstream().await;
    let bad = failing_upstream(500, "boom", "server_error").await;
    let cfg = two_deployments("fast", &bad.uri(), &good.uri(), "");
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

#[tokio::test]
async fn a_routed_failure_says_where_it_failed_in_headers_and_metrics() {
    let bad = failing_upstream(503, "overloaded", "server_error").await;
    let cfg = two_deployments(
        "doomed",
        &bad.uri(),
        &bad.uri(),
        "[storage]
enabled = false
",
    );
    let gw = Gw::start(Some(&cfg)).await;
    let resp = client()
        .post(gw.at("/v1/chat/completions"))
        .json(&chat_body("doomed"))
        .send()
        .await
        .unwrap();
    let h = resp.headers().clone();
    let status = resp.status().as_u16();
    assert!((500..600).contains(&status), "{status}");
    error_envelope(resp, status).await;
    // The error response names the last deployment tried and how many attempts were made.
    let upstream_calls = bad.received_requests().await.unwrap().len();
    assert_eq!(upstream_calls, 3);
    assert_eq!(h["x-modelrt-attempts"], "3");
    let deployment = h["x-modelrt-deployment"].to_str().unwrap().to_owned();
    let provider = h["x-modelrt-provider"].to_str().unwrap().to_owned();
    assert!(
        [("primary-mini", "primary"), ("backup-mini", "backup")]
            .contains(&(deployment.as_str(), provider.as_str())),
        "{deployment} / {provider}"
    );
    // The request-scope error metric carries the same deployment and provider, not the
    // dispatcher's name.
    let text = metrics_text(&gw).await;
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("gen_ai_client_request_errors_total{")
                && l.contains("gen_ai_request_model=\"doomed\"")
        })
        .unwrap_or_else(|| panic!("no request-scope error series:\n{text}"));
    assert!(
        line.contains(&format!("deployment=\"{deployment}\""))
            && line.contains(&format!("gen_ai_provider_name=\"{provider}\"")),
        "{line}"
    );
}

#[tokio::test]
async fn a_failed_direct_call_is_labelled_with_its_provider() {
    let bad = failing_upstream(400, "bad thing", "invalid_request_error").await;
    let gw = Gw::start(Some(&mock_config(
        &bad.uri(),
        "[storage]\nenabled = false\n",
    )))
    .await;
    let resp = client()
        .post(gw.at("/v1/chat/completions"))
        .json(&chat_body("mock/gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("x-modelrt-attempts").is_none());
    error_envelope(resp, 400).await;
    let text = metrics_text(&gw).await;
    assert!(
        text.lines()
            .any(|l| l.starts_with("gen_ai_client_request_errors_total")
                && l.contains("gen_ai_provider_name=\"mock\"")),
        "{text}"
    );
}
