use super::*;
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A server answering one request with a chunked body: each `(pause, text)` is written as
/// one HTTP chunk after the pause; then the connection stalls until the client leaves.
async fn chunked_server(script: Vec<(u64, &'static str)>) -> String {
    chunked_server_ending(script, false).await
}

/// [`chunked_server`], closing the connection mid-body after the script when `cut`.
async fn chunked_server_ending(script: Vec<(u64, &'static str)>, cut: bool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let _ = sock.read(&mut buf).await;
        let head =
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n";
        sock.write_all(head.as_bytes()).await.unwrap();
        for (pause, text) in script {
            tokio::time::sleep(Duration::from_millis(pause)).await;
            let chunk = format!("{:x}\r\n{text}\r\n", text.len());
            if sock.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
        if cut {
            // No terminating zero-length chunk: the body is cut.
            return;
        }
        let _ = sock.read(&mut buf).await;
    });
    format!("http://{addr}/")
}

#[test]
fn header_names_of_any_case_work_and_bad_ones_are_config_errors() {
    let key = Secret::new("k-123");
    let spec = HttpRequestSpec::get("http://127.0.0.1:9/")
        .secret_header("X-Acme-Key", "", &key)
        .header("Anthropic-Version", "2023-06-01");
    assert_eq!(spec.headers["x-acme-key"], "k-123");
    assert!(spec.headers["x-acme-key"].is_sensitive());
    assert_eq!(spec.headers["anthropic-version"], "2023-06-01");
    assert!(spec.invalid.is_none());
    let bad = HttpRequestSpec::get("http://127.0.0.1:9/").secret_header("bad name", "", &key);
    let reason = bad.invalid.clone().unwrap();
    assert!(
        reason.contains("`bad name`") && !reason.contains("k-123"),
        "{reason}"
    );
    let bad = HttpRequestSpec::get("http://127.0.0.1:9/").header("x-ok", "line\nbreak");
    assert!(bad.invalid.unwrap().contains("`x-ok`"));
}

#[tokio::test]
async fn a_bad_header_name_fails_the_send_with_a_config_error() {
    let client = HttpClient::new(&HttpClientConfig::default()).unwrap();
    let spec = HttpRequestSpec::get("http://127.0.0.1:9/").header("bad:name", "v");
    let err = client
        .execute(&call(Duration::from_secs(1)), spec, &RequestContext::new())
        .await
        .unwrap_err();
    match err {
        Error::InvalidConfig { reason, .. } => assert!(reason.contains("bad:name"), "{reason}"),
        other => panic!("expected a config error, got {other:?}"),
    }
}

fn call(idle: Duration) -> CallInfo {
    let mut c = CallInfo::new("test".into(), "m", None, Duration::from_secs(5));
    c.idle_timeout = idle;
    c
}

async fn collect(mut s: ByteStream) -> (String, Option<Error>) {
    let mut text = String::new();
    while let Some(item) = s.next().await {
        match item {
            Ok(b) => text.push_str(&String::from_utf8_lossy(&b)),
            Err(e) => return (text, Some(e)),
        }
    }
    (text, None)
}

#[tokio::test]
async fn a_body_cut_after_the_head_is_a_disconnect_not_a_connect_failure() {
    let url = chunked_server_ending(vec![(0, "data: partial")], true).await;
    let client = HttpClient::new(&HttpClientConfig::default()).unwrap();
    let ctx = RequestContext::new();
    let (s, _) = client
        .stream(
            &call(Duration::from_secs(5)),
            HttpRequestSpec::get(&url),
            &ctx,
        )
        .await
        .unwrap();
    let (text, err) = collect(s).await;
    assert_eq!(text, "data: partial");
    let err = err.expect("the cut is an error");
    assert!(matches!(err, Error::Disconnected { .. }), "{err:?}");
    assert_eq!(err.openai_code().as_deref(), Some("upstream_disconnected"));
    // The whole-body read path says the same.
    let url = chunked_server_ending(vec![(0, "{\"partial\":")], true).await;
    let err = client
        .bytes(
            &call(Duration::from_secs(5)),
            HttpRequestSpec::get(url),
            &ctx,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Disconnected { .. }), "{err:?}");
}

#[tokio::test]
async fn the_idle_timer_restarts_with_every_chunk_and_fires_on_silence() {
    // Five gaps of 120 ms: 600 ms in all, longer than the 300 ms idle limit, yet no gap
    // reaches it; then silence.
    let url = chunked_server(vec![
        (0, "a"),
        (120, "b"),
        (120, "c"),
        (120, "d"),
        (120, "e"),
    ])
    .await;
    let client = HttpClient::new(&HttpClientConfig::default()).unwrap();
    let ctx = RequestContext::new();
    let (s, _) = client
        .stream(
            &call(Duration::from_millis(300)),
            HttpRequestSpec::get(url),
            &ctx,
        )
        .await
        .unwrap();
    let (text, err) = collect(s).await;
    assert_eq!(text, "abcde");
    match err {
        Some(Error::Timeout { phase, after, .. }) => {
            assert_eq!(phase, TimeoutPhase::StreamIdle);
            assert_eq!(after, Duration::from_millis(300));
        }
        other => panic!("expected an idle timeout, got {other:?}"),
    }
}

#[tokio::test]
async fn the_request_deadline_wins_over_a_longer_idle_limit() {
    let url = chunked_server(vec![(0, "a")]).await;
    let client = HttpClient::new(&HttpClientConfig::default()).unwrap();
    let ctx = RequestContext::new().with_timeout(Duration::from_millis(400));
    let (s, _) = client
        .stream(
            &call(Duration::from_secs(30)),
            HttpRequestSpec::get(url),
            &ctx,
        )
        .await
        .unwrap();
    let (text, err) = collect(s).await;
    assert_eq!(text, "a");
    match err {
        Some(Error::Timeout { phase, after, .. }) => {
            assert_eq!(phase, TimeoutPhase::Deadline);
            assert!(after <= Duration::from_millis(400), "{after:?}");
        }
        other => panic!("expected the deadline, got {other:?}"),
    }
}

#[tokio::test]
async fn cancelling_the_request_ends_a_stalled_body() {
    let url = chunked_server(vec![(0, "a")]).await;
    let client = HttpClient::new(&HttpClientConfig::default()).unwrap();
    let ctx = RequestContext::new();
    let (mut s, _) = client
        .stream(
            &call(Duration::from_secs(30)),
            HttpRequestSpec::get(url),
            &ctx,
        )
        .await
        .unwrap();
    assert_eq!(&s.next().await.unwrap().unwrap()[..], b"a");
    let cancel = ctx.cancel.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        cancel.cancel();
    });
    let next = tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .expect("cancellation ends the stream");
    assert!(matches!(next, Some(Err(Error::Cancelled))), "{next:?}");
    assert!(s.next().await.is_none(), "nothing after the error");
}
