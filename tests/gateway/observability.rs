//! End-to-end: readiness, Prometheus metrics, usage records and cache headers.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::*;
use runtime_testkit::fault::{Action, FaultServer};
use serde_json::{Value, json};

const MASTER: &str = "sk-obs-master-5521";
const USER: &str = "sk-obs-user-9034";

fn config(base: &str) -> String {
    mock_config(
        base,
        &format!(
            "{STORAGE}\n[gateway]\nmaster_key = \"{MASTER}\"\n[[gateway.keys]]\nid = \"user1\"\nkey = \"{USER}\"\n"
        ),
    )
}

#[tokio::test]
async fn ready_metrics_and_usage() {
    let up = openai_upstream().await;
    let gw = Gw::start(Some(&config(&up.uri()))).await;
    let c = client();

    let resp = c.get(gw.at("/ready")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["status"], "ready", "{v}");
    let names: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"providers") && names.contains(&"usage-store"),
        "{v}"
    );

    // One plain chat and one stream, by the user key.
    let resp = c
        .post(gw.at("/v1/chat/completions"))
        .bearer_auth(USER)
        .json(&chat_body("mock/gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut body = chat_body("mock/gpt-4o-mini");
    body["stream"] = json!(true);
    let text = c
        .post(gw.at("/v1/chat/completions"))
        .bearer_auth(USER)
        .json(&body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"));

    // Usage, grouped by model and key: both requests, their tokens, the key id.
    let v = wait_usage(&gw, Some(MASTER), "since=1h&group_by=model,key", |v| {
        v["total"]["requests"].as_u64() == Some(2)
    })
    .await;
    assert_eq!(v["total"]["prompt_tokens"], 9 + 5, "{v}");
    assert_eq!(v["total"]["completion_tokens"], 3 + 2, "{v}");
    let row = &v["data"][0];
    assert_eq!(row["key"], "user1", "{v}");
    assert!(
        row["model"].as_str().unwrap().contains("gpt-4o-mini"),
        "{v}"
    );
    // Only the master key reads usage; bad queries are 400s.
    let resp = c
        .get(gw.at("/v1/usage"))
        .bearer_auth(USER)
        .send()
        .await
        .unwrap();
    error_envelope(resp, 403).await;
    for q in [
        "since=soon",
        "group_by=team",
        "from=yesterday",
        "since=1e999h",
    ] {
        let resp = c
            .get(gw.at(&format!("/v1/usage?{q}")))
            .bearer_auth(MASTER)
            .send()
            .await
            .unwrap();
        error_envelope(resp, 400).await;
    }

    // Prometheus text with the requests, and no secret anywhere in it.
    let resp = c.get(gw.at("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let metrics = resp.text().await.unwrap();
    assert!(
        metrics.contains("gen_ai_client_requests_total"),
        "{metrics}"
    );
    assert!(metrics.contains("mock"), "{metrics}");
    for secret in [MASTER, USER, UPSTREAM_KEY] {
        assert!(!metrics.contains(secret));
        assert!(!gw.logs().contains(secret));
    }
}

#[tokio::test]
async fn cache_hits_are_served_and_reported() {
    let up = openai_upstream().await;
    let gw = Gw::start(Some(&mock_config(&up.uri(), ""))).await;
    let mut body = chat_body("mock/gpt-4o-mini");
    body["temperature"] = json!(0);
    let send = |cc: Option<&'static str>| {
        let mut r = client().post(gw.at("/v1/chat/completions")).json(&body);
        if let Some(cc) = cc {
            r = r.header("cache-control", cc);
        }
        r.send()
    };
    let first = send(None).await.unwrap();
    assert_eq!(first.headers()["x-modelrt-cache"], "miss");
    let second = send(None).await.unwrap();
    assert_eq!(second.headers()["x-modelrt-cache"], "hit");
    let v: Value = second.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "Hello there!");
    // no-cache skips the read.
    let third = send(Some("no-cache")).await.unwrap();
    assert_eq!(third.headers()["x-modelrt-cache"], "miss");
    let upstream_chats = up
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/v1/chat/completions")
        .count();
    assert_eq!(upstream_chats, 2);
}

#[tokio::test]
async fn usage_of_a_stream_cut_by_the_client_is_recorded() {
    let first = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n";
    let up = FaultServer::start(vec![
        Action::head(200, "text/event-stream"),
        Action::body(first),
        Action::Stall,
    ])
    .await;
    let gw = Gw::start(Some(&config(&up.url()))).await;
    let mut body = chat_body("mock/gpt-4o-mini");
    body["stream"] = json!(true);
    let mut resp = client()
        .post(gw.at("/v1/chat/completions"))
        .bearer_auth(USER)
        .json(&body)
        .send()
        .await
        .unwrap();
    let mut seen = String::new();
    while !seen.contains("Hi") {
        seen.push_str(&String::from_utf8_lossy(
            &resp.chunk().await.unwrap().unwrap(),
        ));
    }
    drop(resp);
    assert!(up.wait_client_closed(1, Duration::from_secs(20)).await);
    let v = wait_usage(&gw, Some(MASTER), "since=1h&group_by=key", |v| {
        v["total"]["requests"].as_u64() == Some(1)
    })
    .await;
    assert_eq!(v["data"][0]["key"], "user1", "{v}");
}

#[tokio::test]
async fn shutdown_flushes_usage_records() {
    let up = openai_upstream().await;
    let mut gw = Gw::start(Some(&config(&up.uri()))).await;
    for _ in 0..3 {
        let resp = client()
            .post(gw.at("/v1/chat/completions"))
            .bearer_auth(USER)
            .json(&chat_body("mock/gpt-4o-mini"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    gw.sigterm();
    let status = tokio::time::timeout(Duration::from_secs(30), gw.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{}", gw.logs());
    // The CLI reads the same database: all three requests are there.
    let cfg = gw.dir().join("modelrt.toml");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_modelrt"))
        .current_dir(gw.dir())
        .args(["usage", "--since", "1h", "--by", "key", "--config"])
        .arg(&cfg)
        .output()
        .await
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let row = table
        .lines()
        .find(|l| l.starts_with("user1"))
        .unwrap_or_else(|| panic!("{table}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[1], "3", "{table}");
    assert_eq!(cols[3], "27", "{table}");
}

#[tokio::test]
async fn shutdown_grace_deadline_cancels_a_stuck_stream_and_records_it() {
    let first = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n";
    let up = FaultServer::start(vec![
        Action::head(200, "text/event-stream"),
        Action::body(first),
        Action::Stall,
    ])
    .await;
    let cfg = format!("{}\n", config(&up.url()))
        .replace("[gateway]\n", "[gateway]\nshutdown_grace = \"500ms\"\n");
    let mut gw = Gw::start(Some(&cfg)).await;
    let mut body = chat_body("mock/gpt-4o-mini");
    body["stream"] = json!(true);
    let mut resp = client()
        .post(gw.at("/v1/chat/completions"))
        .bearer_auth(USER)
        .json(&body)
        .send()
        .await
        .unwrap();
    let mut text = String::new();
    while !text.contains("Hi") {
        text.push_str(&String::from_utf8_lossy(
            &resp.chunk().await.unwrap().unwrap(),
        ));
    }
    gw.sigterm();
    while let Ok(Some(c)) = resp.chunk().await {
        text.push_str(&String::from_utf8_lossy(&c));
    }
    assert!(text.contains("shutting_down"), "{text}");
    assert!(!text.contains("[DONE]"), "{text}");
    assert!(up.wait_client_closed(1, Duration::from_secs(20)).await);
    let status = tokio::time::timeout(Duration::from_secs(30), gw.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{}", gw.logs());
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_modelrt"))
        .current_dir(gw.dir())
        .args(["usage", "--since", "1h", "--by", "key", "--config"])
        .arg(gw.dir().join("modelrt.toml"))
        .output()
        .await
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    let row = table
        .lines()
        .find(|l| l.starts_with("user1"))
        .unwrap_or_else(|| panic!("{table}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(row.split_whitespace().nth(1), Some("1"), "{table}");
}
