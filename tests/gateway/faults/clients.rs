//! Clients that go away: the usage record is still written, once.

use std::time::Duration;

use futures::StreamExt;
use runtime_testkit::upstream::{Fault, Timing};
use serde_json::json;

use super::*;

/// Clients drop their streams after the first bytes: each request still leaves exactly one
/// usage row (`aborted`), and the upstream request is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_mid_stream_still_records_usage() {
    let pg = postgres();
    let a = upstream().await;
    a.set_timing(Timing {
        delay: Duration::ZERO,
        chunks: 20,
        chunk_delay: Duration::from_millis(200),
    });
    let (gw, _dir) = start_gateway(config(&[&a], &pg.url(), ""));
    let c = client();
    for i in 0..6 {
        let id = format!("cd-{i}");
        let body = json!({"model": "m", "stream": true,
            "messages": [{"role": "user", "content": format!("[rid:{id}] hello")}]});
        let resp = c
            .post(format!("{}/v1/chat/completions", gw.url()))
            .header("x-request-id", &id)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let mut s = resp.bytes_stream();
        let first = s.next().await.unwrap().unwrap();
        assert!(!first.is_empty());
        drop(s);
    }
    let rows = wait_rows(&pg, "cd-", 6, Duration::from_secs(20)).await;
    assert_eq!(rows.len(), 6);
    for (id, r) in &rows {
        assert_eq!(r.status, "aborted", "{id}: {r:?}");
        assert_eq!(r.operation, "chat_stream");
    }
    assert_eq!(a.marker_counts().len(), 6);
    assert_rollups_match(&pg);
}

/// Clients give up on non-streamed requests before the (slow) upstream answers: the upstream
/// received (and will bill) each of them, so each must still leave exactly one usage row,
/// `aborted` (as a stream dropped mid-way does).
///
/// Found by this test: dropping the connection drops the handler's future, and with it the
/// metering layer's, which recorded nothing (0 rows of 5). The metering layer now records a
/// call whose future is dropped before it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_before_answer_still_records_usage() {
    let pg = postgres();
    let a = upstream().await;
    a.set_all(Some(Fault::Delay(Duration::from_millis(1500))));
    let (gw, _dir) = start_gateway(config(&[&a], &pg.url(), ""));
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    for i in 0..5 {
        let s = chat(&impatient, &gw.url(), &format!("cg-{i}"), false).await;
        assert!(s.transport_error.is_some(), "{s:?}");
    }
    // Every one of them reached the upstream.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(a.marker_counts().len(), 5);
    let rows = wait_rows(&pg, "cg-", 5, Duration::from_secs(20)).await;
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert!(rows.values().all(|r| r.status == "aborted"), "{rows:?}");
    assert!(rows.values().all(|r| r.operation == "chat"), "{rows:?}");
    assert_rollups_match(&pg);
}
