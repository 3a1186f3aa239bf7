//! End-to-end: client connection hygiene of the real `modelrt` binary, with raw sockets on
//! 127.0.0.1 — header, body, idle timeouts, the connection cap under an idle-socket flood,
//! streams and slow upstream calls that outlive every client timeout, and the shutdown drain.
//! Counts and waits are bounded; timing bounds are generous (the machine is slow and loaded).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::*;
use runtime_testkit::fault::{Action, FaultServer};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Short client timeouts, so the tests wait seconds, not minutes.
const SHORT: &str = "header_timeout = \"1s\"\nbody_timeout = \"1s\"\nidle_timeout = \"1s\"\nsend_timeout = \"1s\"\n";

/// The most any test waits for the gateway to close a connection.
const CLOSE_BOUND: Duration = Duration::from_secs(15);

fn addr(gw: &Gw) -> String {
    gw.url.trim_start_matches("http://").to_owned()
}

async fn connect(gw: &Gw) -> TcpStream {
    let s = TcpStream::connect(addr(gw)).await.unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Reads until the gateway closes the connection (EOF or reset); what was read and when the
/// connection closed. Panics if it stays open past [`CLOSE_BOUND`].
async fn read_until_closed(s: &mut TcpStream) -> (String, Duration) {
    let start = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((start + CLOSE_BOUND).into(), s.read(&mut buf)).await {
            Err(_) => panic!(
                "the connection was still open after {CLOSE_BOUND:?}; read: {}",
                String::from_utf8_lossy(&out)
            ),
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), start.elapsed())
}

/// The value of one sample line of `/metrics` (0 when absent).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

fn gateway(extra: &str) -> String {
    mock_config("http://127.0.0.1:9", &format!("[gateway]\n{extra}"))
}

#[tokio::test]
async fn a_partial_request_head_gets_408_and_is_closed_after_the_header_timeout() {
    let gw = Gw::start(Some(&gateway(SHORT))).await;
    let mut s = connect(&gw).await;
    s.write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: appl")
        .await
        .unwrap();
    let (got, after) = read_until_closed(&mut s).await;
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(got.contains("request_timeout"), "{got}");
    assert!(
        got.to_ascii_lowercase().contains("connection: close"),
        "{got}"
    );
    assert!(
        after >= Duration::from_millis(900),
        "closed too early: {after:?}"
    );
    let m = metrics_text(&gw).await;
    assert!(
        sample(
            &m,
            "modelrt_gateway_connection_timeouts_total{phase=\"header\"}"
        ) >= 1.0,
        "{m}"
    );
}

#[tokio::test]
async fn a_silent_connection_is_closed_after_the_header_timeout() {
    let gw = Gw::start(Some(&gateway(SHORT))).await;
    let mut s = connect(&gw).await;
    let (got, after) = read_until_closed(&mut s).await;
    assert_eq!(
        got, "",
        "nothing is answered to a client that asked nothing"
    );
    assert!(
        after >= Duration::from_millis(900),
        "closed too early: {after:?}"
    );
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_gets_408_after_the_body_timeout() {
    let gw = Gw::start(Some(&gateway(SHORT))).await;
    let mut s = connect(&gw).await;
    s.write_all(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"model\":",
    )
    .await
    .unwrap();
    let (got, after) = read_until_closed(&mut s).await;
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(
        got.to_ascii_lowercase().contains("connection: close"),
        "{got}"
    );
    let body: Value = serde_json::from_str(got.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "request_timeout", "{got}");
    assert!(
        after >= Duration::from_millis(900),
        "closed too early: {after:?}"
    );
    let m = metrics_text(&gw).await;
    assert!(
        sample(
            &m,
            "modelrt_gateway_connection_timeouts_total{phase=\"body\"}"
        ) >= 1.0,
        "{m}"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    let gw = Gw::start(Some(&gateway(SHORT))).await;
    let mut s = connect(&gw).await;
    // Two requests on one connection: keep-alive works within the timeout...
    for _ in 0..2 {
        s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = vec![0u8; 4096];
        let mut got = Vec::new();
        while !String::from_utf8_lossy(&got).contains("{\"status\":\"ok\"}") {
            let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
        assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // ...and then the idle connection is closed.
    let (got, after) = read_until_closed(&mut s).await;
    assert_eq!(got, "");
    assert!(
        after >= Duration::from_millis(600),
        "closed too early: {after:?}"
    );
    let m = metrics_text(&gw).await;
    assert!(
        sample(
            &m,
            "modelrt_gateway_connection_timeouts_total{phase=\"idle\"}"
        ) >= 1.0,
        "{m}"
    );
}

#[tokio::test]
async fn an_idle_socket_flood_over_the_cap_does_not_stop_health() {
    // Long timeouts: only the cap protects the gateway here.
    let gw = Gw::start(Some(&gateway(
        "max_connections = 50\nheader_timeout = \"60s\"\nidle_timeout = \"60s\"\n",
    )))
    .await;
    let mut flood = Vec::new();
    for i in 0..200 {
        let mut s = connect(&gw).await;
        if i % 2 == 1 {
            // Half send a partial head (slowloris), half nothing.
            s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
                .await
                .unwrap();
        }
        flood.push(s);
    }
    for _ in 0..5 {
        let fresh = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let resp = fresh.get(gw.at("/health")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
    }
    // The oldest flood sockets were closed to make room.
    let (got, _) = read_until_closed(&mut flood[0]).await;
    assert_eq!(got, "");
    let m = metrics_text(&gw).await;
    assert_eq!(sample(&m, "modelrt_gateway_connections_max"), 50.0, "{m}");
    assert!(
        // The cap, plus this request's connection and the batch (an eighth of 50) it evicted
        // that may not have closed yet.
        sample(&m, "modelrt_gateway_connections_open") <= 57.0,
        "the cap holds: {m}"
    );
    // At least 206 accepted, at most 57 open, 5 probes closed by their clients: the rest
    // were evicted.
    assert!(
        sample(
            &m,
            "modelrt_gateway_connections_shed_total{reason=\"evicted_idle\"}"
        ) >= 140.0,
        "{m}"
    );
    assert!(
        sample(&m, "modelrt_gateway_connections_accepted_total") >= 205.0,
        "{m}"
    );
    // Logged, once per 10 s at most.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !gw.logs().contains("over the cap") {
        assert!(Instant::now() < deadline, "no log line: {}", gw.logs());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        gw.logs().matches("over the cap").count(),
        1,
        "{}",
        gw.logs()
    );
}

/// An upstream that streams "one", waits, streams "two", and ends.
async fn slow_stream_upstream(pause: Duration) -> FaultServer {
    let chunk = |text: &str| {
        format!(
            "data: {{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}},\"finish_reason\":null}}]}}\n\n"
        )
    };
    FaultServer::start(vec![
        Action::head(200, "text/event-stream"),
        Action::body(chunk("one ")),
        Action::Sleep(pause),
        Action::body(chunk("two ")),
        Action::Sleep(pause),
        Action::body(chunk("three")),
        Action::body("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n"),
        Action::Close,
    ])
    .await
}

fn stream_body() -> Value {
    let mut body = chat_body("mock/gpt-4o-mini");
    body["stream"] = json!(true);
    body
}

#[tokio::test]
async fn a_stream_slower_than_every_client_timeout_completes() {
    let up = slow_stream_upstream(Duration::from_millis(2500)).await;
    let gw = Gw::start(Some(&mock_config(
        &up.url(),
        &format!("[gateway]\n{SHORT}"),
    )))
    .await;
    let text = client()
        .post(gw.at("/v1/chat/completions"))
        .json(&stream_body())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains("three") && text.ends_with("data: [DONE]\n\n"),
        "{text}"
    );
}

#[tokio::test]
async fn a_slow_non_streamed_upstream_call_is_not_cut_by_client_timeouts() {
    let up = FaultServer::start(vec![
        Action::head(200, "application/json"),
        Action::Sleep(Duration::from_millis(3000)),
        Action::body(completion_json().to_string()),
        Action::Close,
    ])
    .await;
    let gw = Gw::start(Some(&mock_config(
        &up.url(),
        &format!("[gateway]\n{SHORT}"),
    )))
    .await;
    let resp = client()
        .post(gw.at("/v1/chat/completions"))
        .json(&chat_body("mock/gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["choices"][0]["message"]["content"], "Hello there!");
    let m = metrics_text(&gw).await;
    assert_eq!(
        sample(
            &m,
            "modelrt_gateway_connection_timeouts_total{phase=\"body\"}"
        ) + sample(
            &m,
            "modelrt_gateway_connection_timeouts_total{phase=\"header\"}"
        ),
        0.0,
        "{m}"
    );
}

#[tokio::test]
async fn a_stream_to_a_client_that_stopped_reading_is_closed_after_the_send_timeout() {
    // 12 MiB of SSE: more than the socket buffers (4 MiB send at most here) and hyper's.
    let text = "x".repeat(4096);
    let chunk = format!(
        "data: {{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}},\"finish_reason\":null}}]}}\n\n"
    );
    let up = FaultServer::start(vec![
        Action::head(200, "text/event-stream"),
        Action::body(chunk.repeat(3072)),
        Action::Stall,
    ])
    .await;
    let gw = Gw::start(Some(&mock_config(
        &up.url(),
        &format!("[gateway]\n{SHORT}"),
    )))
    .await;
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut s = sock.connect(addr(&gw).parse().unwrap()).await.unwrap();
    let body = stream_body().to_string();
    s.write_all(
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    // The client never reads: the gateway's writes block, and after the send timeout it
    // closes the connection, which ends the upstream request.
    assert!(
        up.wait_client_closed(1, Duration::from_secs(60)).await,
        "the upstream request was never ended"
    );
    let m = metrics_text(&gw).await;
    assert!(
        sample(
            &m,
            "modelrt_gateway_connection_timeouts_total{phase=\"send\"}"
        ) >= 1.0,
        "{m}"
    );
    drop(s);
}

#[tokio::test]
async fn when_every_connection_is_busy_probes_answer_and_the_rest_get_503() {
    let up = slow_stream_upstream(Duration::from_millis(2000)).await;
    let gw = Gw::start(Some(&mock_config(
        &up.url(),
        "[gateway]\nmax_connections = 2\n",
    )))
    .await;
    // Two streams in flight hold the two connections.
    let mut streams = Vec::new();
    for _ in 0..2 {
        let c = reqwest::Client::new();
        let mut resp = c
            .post(gw.at("/v1/chat/completions"))
            .json(&stream_body())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let first = resp.chunk().await.unwrap().unwrap();
        assert!(String::from_utf8_lossy(&first).contains("one"));
        streams.push((c, resp));
    }
    let fresh = || {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    };
    let health = fresh().get(gw.at("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let resp = fresh()
        .post(gw.at("/v1/chat/completions"))
        .json(&chat_body("mock/gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["retry-after"], "1");
    assert_eq!(resp.headers()["connection"], "close");
    let v = error_envelope(resp, 503).await;
    assert_eq!(v["error"]["code"], "overloaded", "{v}");
    for (_, resp) in streams {
        let text = resp.text().await.unwrap();
        assert!(text.ends_with("data: [DONE]\n\n"), "{text}");
    }
    let m = metrics_text(&gw).await;
    assert!(
        sample(
            &m,
            "modelrt_gateway_requests_rejected_total{reason=\"overloaded\"}"
        ) >= 1.0,
        "{m}"
    );
}

#[tokio::test]
async fn during_the_drain_ready_says_draining_health_answers_and_new_requests_get_503() {
    let up = slow_stream_upstream(Duration::from_millis(2500)).await;
    let mut gw = Gw::start(Some(&mock_config(
        &up.url(),
        "[gateway]\nshutdown_grace = \"20s\"\n",
    )))
    .await;
    let mut resp = client()
        .post(gw.at("/v1/chat/completions"))
        .json(&stream_body())
        .send()
        .await
        .unwrap();
    let mut text = String::new();
    while !text.contains("one ") {
        text.push_str(&String::from_utf8_lossy(
            &resp.chunk().await.unwrap().unwrap(),
        ));
    }
    gw.sigterm();
    let fresh = || {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .unwrap()
    };
    // The signal lands: /ready turns 503 while the stream is still in flight.
    let deadline = Instant::now() + Duration::from_secs(4);
    loop {
        let r = fresh()
            .get(gw.at("/ready"))
            .send()
            .await
            .expect("/ready answered");
        if r.status() == 503 {
            assert_eq!(r.headers()["connection"], "close");
            let v: Value = r.json().await.unwrap();
            assert_eq!(v, json!({"status": "draining"}));
            break;
        }
        assert!(Instant::now() < deadline, "/ready never said draining");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let h = fresh()
        .get(gw.at("/health"))
        .send()
        .await
        .expect("/health answered");
    assert_eq!(h.status(), 200);
    let r = fresh()
        .post(gw.at("/v1/chat/completions"))
        .json(&chat_body("mock/gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(r.headers()["connection"], "close");
    let v = error_envelope(r, 503).await;
    assert_eq!(v["error"]["code"], "shutting_down");
    // Each dialect's own envelope: Anthropic's on the Messages routes (503 `api_error`, not
    // an overloaded model's 529), OpenAI's on /v1/responses.
    let r = fresh()
        .post(gw.at("/v1/messages"))
        .json(&json!({"model": "mock/gpt-4o-mini", "max_tokens": 8,
                      "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["type"], "error", "{v}");
    assert_eq!(v["error"]["type"], "api_error", "{v}");
    assert!(v["request_id"].is_string(), "{v}");
    let r = fresh()
        .post(gw.at("/v1/responses"))
        .json(&json!({"model": "mock/gpt-4o-mini", "input": "hi"}))
        .send()
        .await
        .unwrap();
    let v = error_envelope(r, 503).await;
    assert_eq!(v["error"]["code"], "shutting_down");
    // The stream in flight finishes, then the process exits and the port is closed.
    while let Some(c) = resp.chunk().await.unwrap() {
        text.push_str(&String::from_utf8_lossy(&c));
    }
    assert!(
        text.contains("three") && text.ends_with("data: [DONE]\n\n"),
        "{text}"
    );
    let status = tokio::time::timeout(Duration::from_secs(30), gw.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{}", gw.logs());
    assert!(TcpStream::connect(addr(&gw)).await.is_err());
}
