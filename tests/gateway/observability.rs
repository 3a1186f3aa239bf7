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
    let (_up, gw) = gw_over_openai(config).await;
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
    let (up, gw) = gw_over_openai(|up| mock_config(up, "")).await;
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
    let (_up, mut gw) = gw_over_openai(config).await;
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

/// An upstream whose `/health` answers `status`.
async fn mount_health(up: &wiremock::MockServer, status: u16) {
    up.reset().await;
    wiremock::Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path("/health"))
        .respond_with(wiremock::ResponseTemplate::new(status))
        .mount(up)
        .await;
}

/// Polls `/ready` until it answers `status`, up to 20 s; its body.
async fn wait_ready(gw: &Gw, status: u16) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let resp = client().get(gw.at("/ready")).send().await.unwrap();
        let got = resp.status().as_u16();
        let v: Value = resp.json().await.unwrap();
        if got == status {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "/ready stayed {got}, wanted {status}: {v}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn ready_is_503_naming_the_model_while_every_upstream_is_down() {
    let a = wiremock::MockServer::start().await;
    let b = wiremock::MockServer::start().await;
    mount_health(&a, 200).await;
    mount_health(&b, 200).await;
    let providers = [
        openai_provider("a", &a.uri()),
        openai_provider("b", &b.uri()),
    ]
    .concat();
    let cfg = format!(
        r#"
{providers}
[router]
health_check_interval = "100ms"

[[models]]
name = "fast"

[[models.deployments]]
provider = "a"
model = "gpt-4o-mini"
name = "a-mini"
health_check = true
health_check_url = "{a}/health"

[[models.deployments]]
provider = "b"
model = "gpt-4o-mini"
name = "b-mini"
health_check = true
health_check_url = "{b}/health"

[storage]
enabled = false
"#,
        a = a.uri(),
        b = b.uri()
    );
    let gw = Gw::start(Some(&cfg)).await;
    let v = wait_ready(&gw, 200).await;
    let model = |v: &Value| {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "model:fast")
            .cloned()
            .unwrap_or_else(|| panic!("no model:fast check in {v}"))
    };
    assert_eq!(model(&v)["ok"], true, "{v}");

    // One deployment down: still ready, degraded, the deployment named.
    mount_health(&a, 503).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let v = wait_ready(&gw, 200).await;
        if model(&v)["degraded"] == true {
            assert!(
                model(&v)["detail"].as_str().unwrap().contains("a-mini"),
                "{v}"
            );
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never degraded: {v}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Every upstream down: 503, naming the model and why each deployment is out.
    mount_health(&b, 503).await;
    let v = wait_ready(&gw, 503).await;
    assert_eq!(v["status"], "not_ready", "{v}");
    let m = model(&v);
    assert_eq!(m["ok"], false, "{v}");
    let detail = m["detail"].as_str().unwrap();
    assert!(
        detail.contains("no healthy deployment")
            && detail.contains("a-mini")
            && detail.contains("b-mini"),
        "{v}"
    );
    // Liveness is not readiness.
    let health = client().get(gw.at("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    // Back up: ready again.
    mount_health(&a, 200).await;
    mount_health(&b, 200).await;
    let v = wait_ready(&gw, 200).await;
    assert_eq!(model(&v)["ok"], true, "{v}");
    assert_eq!(v["status"], "ready", "{v}");
}

/// A prompt marker that must never reach a log.
const PROMPT: &str = "tell me the secret PROMPT-MARKER-7731";

#[tokio::test]
async fn metrics_add_up_and_every_request_has_one_access_line() {
    let good = openai_upstream().await;
    let bad = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .respond_with(
            wiremock::ResponseTemplate::new(500)
                .set_body_json(json!({"error": {"message": "boom", "type": "server_error"}})),
        )
        .mount(&bad)
        .await;
    let providers = [
        openai_provider("mock", &good.uri()),
        openai_provider("flaky", &bad.uri()),
    ]
    .concat();
    let cfg = format!(
        r#"
{providers}
[router]
backoff_base = "1ms"
backoff_max = "2ms"

[[models]]
name = "fast"
max_attempts = 3

[[models.deployments]]
provider = "flaky"
model = "gpt-4o-mini"
name = "flaky-mini"
priority = 0

[[models.deployments]]
provider = "mock"
model = "gpt-4o-mini"
name = "mock-mini"
priority = 1

[storage]
enabled = false

[gateway]
master_key = "{MASTER}"
[[gateway.keys]]
id = "user1"
key = "{USER}"
"#
    );
    let gw = Gw::start(Some(&cfg)).await;
    let c = client();
    let chat = |model: &str, stream: bool, temperature: Option<f64>| {
        let mut body = json!({"model": model, "messages": [{"role": "user", "content": PROMPT}]});
        if stream {
            body["stream"] = json!(true);
        }
        if let Some(t) = temperature {
            body["temperature"] = json!(t);
        }
        c.post(gw.at("/v1/chat/completions"))
            .bearer_auth(USER)
            .json(&body)
            .send()
    };
    // A routed call that fails over, a routed stream, a direct call and its cache hit.
    let r = chat("fast", false, None).await.unwrap();
    assert_eq!(r.status(), 200);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    r.text().await.unwrap();
    let text = chat("fast", true, None)
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    for want in ["miss", "hit"] {
        let r = chat("mock/gpt-4o-mini", false, Some(0.0)).await.unwrap();
        assert_eq!(r.headers()["x-modelrt-cache"], want);
        r.text().await.unwrap();
    }
    // A bad key: refused by the gateway itself.
    let r = c
        .post(gw.at("/v1/chat/completions"))
        .bearer_auth("sk-wrong-key-000")
        .json(&chat_body("fast"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);

    // A request is counted when its response body has gone out: scrape until the last one is.
    // Strict: every family has HELP and TYPE, families contiguous, histograms consistent.
    let (text, m) = scrape_until(&gw, Duration::from_secs(5), |m| {
        m.sum(
            "modelrt_http_requests_total",
            &[("route", "/v1/chat/completions")],
        ) >= 5.0
    })
    .await;
    // Request scope counts requests, whatever the attempts: 4 calls reached the stack.
    assert_eq!(m.sum("gen_ai_client_requests_total", &[]), 4.0, "{text}");
    assert_eq!(
        m.sum(
            "gen_ai_client_requests_total",
            &[("gen_ai_request_model", "fast")]
        ),
        2.0,
        "{text}"
    );
    // Attempts are their own family: the failed attempts at flaky count there only.
    // (The direct calls do not go through the router: no attempts of theirs.)
    let attempts = m.sum("modelrt_attempts_total", &[]);
    assert!(attempts >= 3.0, "{text}");
    assert!(
        m.sum(
            "modelrt_attempt_errors_total",
            &[("gen_ai_provider_name", "flaky")]
        ) >= 1.0,
        "{text}"
    );
    assert!(
        m.sum("modelrt_router_failovers_total", &[("model", "fast")]) >= 1.0,
        "{text}"
    );
    assert!(
        m.sum(
            "modelrt_router_attempts_total",
            &[("deployment", "flaky-mini"), ("outcome", "error")]
        ) >= 1.0,
        "{text}"
    );
    assert_eq!(
        m.sum(
            "modelrt_router_attempts_total",
            &[("deployment", "mock-mini"), ("outcome", "ok")]
        ),
        2.0,
        "{text}"
    );
    for f in m.families.values() {
        for s in &f.samples {
            assert!(
                s.labels.get("deployment").is_none_or(|d| !d.is_empty())
                    && !s.labels.contains_key("scope"),
                "{s:?}"
            );
            assert!(
                f.kind == "summary" || !s.labels.contains_key("quantile"),
                "{s:?}"
            );
            assert_ne!(
                s.labels.get("gen_ai_provider_name").map(String::as_str),
                Some("model-runtime"),
                "{s:?}"
            );
        }
    }
    // GenAI instruments.
    assert_eq!(m.families["gen_ai_client_token_usage"].kind, "histogram");
    assert!(
        m.sum(
            "gen_ai_client_token_usage_count",
            &[("gen_ai_token_type", "input")]
        ) >= 3.0
    );
    assert_eq!(
        m.sum("gen_ai_server_time_to_first_token_seconds_count", &[]),
        1.0,
        "{text}"
    );
    assert!(
        m.families
            .contains_key("gen_ai_server_time_per_output_token_seconds")
    );
    // The cache hit, under the provider that produced the answer.
    assert_eq!(
        m.sum(
            "gen_ai_client_cache_hits_total",
            &[("gen_ai_provider_name", "mock")]
        ),
        1.0,
        "{text}"
    );
    // HTTP server metrics, rejections, in flight (this scrape).
    assert_eq!(
        m.sum(
            "modelrt_http_requests_total",
            &[("route", "/v1/chat/completions"), ("status", "200")]
        ),
        4.0,
        "{text}"
    );
    assert_eq!(
        m.sum(
            "modelrt_http_requests_total",
            &[("route", "/v1/chat/completions"), ("status", "401")]
        ),
        1.0
    );
    assert_eq!(
        m.sum(
            "modelrt_gateway_rejections_total",
            &[("reason", "auth"), ("code", "invalid_api_key")]
        ),
        1.0
    );
    assert_eq!(m.sum("modelrt_http_requests_in_flight", &[]), 1.0);

    // One access line per request, with the key id, never the key or the prompt.
    let logs = wait_logs(&gw, |l| l.matches("modelrt::access").count() >= 5).await;
    let line = logs
        .lines()
        .find(|l| l.contains("modelrt::access") && l.contains(&id))
        .unwrap_or_else(|| panic!("no access line for {id}:\n{logs}"));
    for want in [
        "key_id=\"user1\"",
        "model=\"fast\"",
        "provider=\"mock\"",
        "deployment=\"mock-mini\"",
        "status=200",
        "input_tokens=9",
        "output_tokens=3",
        "cache=\"miss\"",
    ] {
        assert!(line.contains(want), "{want} missing in {line}");
    }
    assert!(
        line.contains("attempts=\"2\"") || line.contains("attempts=\"3\""),
        "{line}"
    );
    let stream_line = logs
        .lines()
        .find(|l| l.contains("modelrt::access") && l.contains("ttft_ms="))
        .unwrap_or_else(|| panic!("no stream access line:\n{logs}"));
    assert!(stream_line.contains("output_tokens=2"), "{stream_line}");
    for secret in [
        MASTER,
        USER,
        UPSTREAM_KEY,
        "sk-wrong-key-000",
        "PROMPT-MARKER-7731",
    ] {
        assert!(!logs.contains(secret), "{secret} logged:\n{logs}");
    }
}

/// Polls the gateway's stderr until `done` holds, up to 10 s.
async fn wait_logs(gw: &Gw, done: impl Fn(&str) -> bool) -> String {
    for _ in 0..100 {
        let logs = gw.logs();
        if done(&logs) {
            return logs;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    gw.logs()
}

#[tokio::test]
async fn json_logs_have_one_access_object_per_request() {
    let (_up, gw) =
        gw_over_openai(|up| format!("{}\n[telemetry]\nlog_format = \"json\"\n", config(up))).await;
    let r = client()
        .post(gw.at("/v1/chat/completions"))
        .bearer_auth(USER)
        .json(&json!({"model": "mock/gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    let logs = wait_logs(&gw, |l| l.contains(&id)).await;
    let lines: Vec<Value> = logs
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let access: Vec<&Value> = lines
        .iter()
        .filter(|v| v["target"] == "modelrt::access" && v["request_id"] == id.as_str())
        .collect();
    assert_eq!(access.len(), 1, "{logs}");
    let a = access[0];
    assert_eq!(a["level"], "INFO", "{a}");
    assert_eq!(a["key_id"], "user1", "{a}");
    assert_eq!(a["status"], 200, "{a}");
    assert_eq!(a["provider"], "mock", "{a}");
    assert_eq!(a["input_tokens"], 9, "{a}");
    assert!(a["latency_ms"].as_f64().is_some(), "{a}");
    for secret in [MASTER, USER, UPSTREAM_KEY, "PROMPT-MARKER-7731"] {
        assert!(!logs.contains(secret), "{secret} logged");
    }
}

#[tokio::test]
async fn ready_fails_once_the_usage_database_is_down_past_the_grace_period() {
    // Nothing listens on port 1: the database is unreachable from the start.
    let (_up, gw) = gw_over_openai(|up| {
        mock_config(
            up,
            "[storage]\ndatabase_url = \"postgres://modelrt@127.0.0.1:1/usage\"\nspill_path = \"usage.spill.jsonl\"\nconnect_timeout = \"200ms\"\n[gateway]\nready_grace = \"3s\"\n",
        )
    })
    .await;
    let usage = |v: &Value| {
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "usage-store")
            .cloned()
            .unwrap_or_else(|| panic!("no usage-store check in {v}"))
    };
    // Within the grace period: ready, degraded, and it says where records go meanwhile.
    let resp = client().get(gw.at("/ready")).send().await.unwrap();
    let status = resp.status().as_u16();
    let v: Value = resp.json().await.unwrap();
    let u = usage(&v);
    assert_eq!(u["degraded"], true, "{v}");
    assert!(u["detail"].as_str().unwrap().contains("spill file"), "{v}");
    if status == 200 {
        assert_eq!(u["ok"], true, "{v}");
    }
    // Past it: 503, naming the store and its degraded mode. Requests are still served.
    let v = wait_ready(&gw, 503).await;
    let u = usage(&v);
    assert_eq!(u["ok"], false, "{v}");
    assert!(u["detail"].as_str().unwrap().contains("unreachable"), "{v}");
    let resp = client()
        .post(gw.at("/v1/chat/completions"))
        .json(&chat_body("mock/gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}
