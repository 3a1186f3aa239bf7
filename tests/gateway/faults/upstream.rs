//! Upstream faults: refused, hung, slow, flapping, killed mid-stream, restarted.

use std::time::Duration;

use runtime_testkit::upstream::{Fault, Rule, Timing};

use super::*;

fn only(seen: &[Seen], f: impl Fn(&Seen) -> bool) -> usize {
    seen.iter().filter(|s| f(s)).count()
}

/// The first deployment's port refuses: requests fail over to the second (200); with both
/// refusing, a typed 502 at once. One usage row per request, none per attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused() {
    let pg = postgres();
    let (a, b) = (upstream().await, upstream().await);
    a.kill();
    let (gw, _dir) = start_gateway(config(&[&a, &b], &pg.url(), ""));
    let seen = chats(&gw.url(), "refused-fo", 10, false).await;
    assert_answered_within(&seen, Duration::from_secs(5));
    assert_eq!(only(&seen, Seen::ok), 10, "{seen:?}");
    b.kill();
    let seen2 = chats(&gw.url(), "refused-all", 10, false).await;
    assert_answered_within(&seen2, Duration::from_secs(5));
    for s in &seen2 {
        let e = s.typed_error().unwrap();
        assert_eq!(s.status, 502, "{e}");
    }
    let rows = wait_rows(&pg, "refused-", 20, Duration::from_secs(20)).await;
    assert_eq!(rows.len(), 20, "one row per request");
    for (id, r) in &rows {
        if id.starts_with("refused-fo") {
            assert_eq!((r.status.as_str(), r.total_tokens), ("ok", 18), "{id}");
        } else {
            assert_eq!(r.status, "error", "{id}");
        }
    }
    let at_b = b.marker_counts();
    assert!((0..10).all(|i| at_b.get(&format!("refused-fo-{i}")) == Some(&1)));
    assert_rollups_match(&pg);
}

/// The first deployment accepts connections and never answers (a hung process): after the
/// provider timeout (2 s) requests fail over (200); with both hung, a typed 504 within the
/// router's deadline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung() {
    let pg = postgres();
    let (a, b) = (upstream().await, upstream().await);
    a.hang();
    let (gw, _dir) = start_gateway(config(&[&a, &b], &pg.url(), ""));
    let seen = chats(&gw.url(), "hung-fo", 6, false).await;
    assert_answered_within(&seen, Duration::from_secs(8));
    assert_eq!(only(&seen, Seen::ok), 6, "{seen:?}");
    // Whether a request pays the hung deployment's 2 s timeout depends on whether the health
    // probe marked it down first; every request is answered 200 within the bound either way.
    b.hang();
    let seen2 = chats(&gw.url(), "hung-all", 4, true).await;
    // Router deadline 8 s (attempts included), plus slack.
    assert_answered_within(&seen2, Duration::from_secs(14));
    for s in &seen2 {
        assert!(!s.ok(), "{s:?}");
        let e = s.typed_error().unwrap();
        assert!(s.status == 504 || s.status == 502, "{}: {e}", s.status);
    }
    let rows = wait_rows(&pg, "hung-", 10, Duration::from_secs(20)).await;
    assert_eq!(rows.len(), 10);
    assert_eq!(rows.values().filter(|r| r.status == "ok").count(), 6);
    assert_rollups_match(&pg);
}

/// A slow upstream (1.2 s per answer, 300 ms between stream chunks) under its timeouts: every
/// request succeeds, as slowly as the upstream, no slower.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow() {
    let pg = postgres();
    let a = upstream().await;
    a.set_timing(Timing {
        delay: Duration::from_millis(1200),
        chunks: 3,
        chunk_delay: Duration::from_millis(300),
    });
    let (gw, _dir) = start_gateway(config(&[&a], &pg.url(), ""));
    let mut seen = chats(&gw.url(), "slow-c", 5, false).await;
    seen.extend(chats(&gw.url(), "slow-s", 5, true).await);
    assert_answered_within(&seen, Duration::from_secs(6));
    assert_eq!(only(&seen, Seen::ok), 10, "{seen:?}");
    assert!(
        seen.iter()
            .all(|s| s.elapsed >= Duration::from_millis(1200))
    );
    let rows = wait_rows(&pg, "slow-", 10, Duration::from_secs(20)).await;
    assert_eq!(rows.len(), 10);
    assert!(
        rows.values()
            .all(|r| r.status == "ok" && r.total_tokens == 18)
    );
    assert_rollups_match(&pg);
}

/// Flapping: every other request gets a 503, and meanwhile the first deployment's process
/// is killed and restarted every 250 ms. Every request is answered (retries and failover),
/// each with exactly one usage row whatever its attempts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flapping() {
    let pg = postgres();
    let (a, b) = (upstream().await, upstream().await);
    a.set_rules(vec![Rule {
        every: 2,
        streams_only: false,
        fault: Fault::status(503),
    }]);
    let (gw, _dir) = start_gateway(config(&[&a, &b], &pg.url(), ""));
    let a = std::sync::Arc::new(a);
    let flapper = {
        let a = a.clone();
        tokio::spawn(async move {
            for _ in 0..12 {
                a.kill();
                tokio::time::sleep(Duration::from_millis(250)).await;
                a.resume().await.unwrap();
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    };
    let mut seen = Vec::new();
    for round in 0..6 {
        seen.extend(chats(&gw.url(), &format!("flap-{round}"), 5, round % 2 == 1).await);
    }
    flapper.await.unwrap();
    assert_answered_within(&seen, Duration::from_secs(10));
    let ok = only(&seen, Seen::ok);
    assert!(ok >= 27, "{ok} of 30 succeeded: {seen:?}");
    let rows = wait_rows(&pg, "flap-", 30, Duration::from_secs(20)).await;
    assert_eq!(rows.len(), 30, "one row per request, not per attempt");
    assert_eq!(rows.values().filter(|r| r.status == "ok").count(), ok);
    assert_rollups_match(&pg);
}

/// The upstream process dies while streams are mid-way: each client gets an error frame in
/// its stream (not a hang, not a silent end), and each stream leaves a usage row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_mid_stream() {
    let pg = postgres();
    let a = upstream().await;
    a.set_timing(Timing {
        delay: Duration::ZERO,
        chunks: 8,
        chunk_delay: Duration::from_millis(250),
    });
    let (gw, _dir) = start_gateway(config(&[&a], &pg.url(), ""));
    let url = gw.url();
    let streams = tokio::spawn(async move { chats(&url, "k9s", 6, true).await });
    // Until every stream has started (the mock saw them all), then a bit into the content.
    for _ in 0..100 {
        if a.arrivals().len() >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    a.kill();
    let seen = streams.await.unwrap();
    assert_answered_within(&seen, Duration::from_secs(6));
    for s in &seen {
        assert!(s.body.contains("tok0"), "content came first: {s:?}");
        let e = s
            .typed_error()
            .unwrap_or_else(|| panic!("no error frame: {s:?}"));
        assert_eq!(s.status, 200, "{e}");
    }
    let rows = wait_rows(&pg, "k9s-", 6, Duration::from_secs(20)).await;
    assert_eq!(rows.len(), 6);
    assert!(rows.values().all(|r| r.status != "ok"), "{rows:?}");
}

/// The upstream restarts on its port: while it is down, typed errors at once; once it is
/// back, the gateway's pooled connections are replaced and requests succeed again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart() {
    let pg = postgres();
    let a = upstream().await;
    let (gw, _dir) = start_gateway(config(&[&a], &pg.url(), ""));
    let before = chats(&gw.url(), "rs-before", 4, false).await;
    assert!(before.iter().all(Seen::ok), "{before:?}");
    a.kill();
    let down = chats(&gw.url(), "rs-down", 4, false).await;
    assert_answered_within(&down, Duration::from_secs(5));
    assert!(down.iter().all(|s| s.status == 502), "{down:?}");
    a.resume().await.unwrap();
    let after = chats(&gw.url(), "rs-after", 4, true).await;
    assert_answered_within(&after, Duration::from_secs(5));
    assert!(after.iter().all(Seen::ok), "{after:?}");
    let rows = wait_rows(&pg, "rs-", 12, Duration::from_secs(20)).await;
    assert_eq!(rows.len(), 12);
    assert_eq!(rows.values().filter(|r| r.status == "ok").count(), 8);
    assert_rollups_match(&pg);
}
