//! The gateway process itself: kill -9 and restart, SIGTERM and restart, with exact usage
//! counts.

use std::time::Duration;

use runtime_testkit::upstream::Timing;

use super::*;

fn slow_streams() -> Timing {
    Timing {
        delay: Duration::ZERO,
        chunks: 6,
        chunk_delay: Duration::from_millis(250),
    }
}

/// kill -9 with PostgreSQL up: every request answered before the kill (and flushed: the
/// flush interval is 50 ms) has its row; the streams in flight at the kill are cut (the
/// client sees a transport error) and their records, held only in memory, are lost — this
/// test measures how many and bounds it by the requests in flight. The restarted gateway
/// serves at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_restart() {
    let pg = postgres();
    let a = upstream().await;
    let (mut gw, _dir) = start_gateway(config(&[&a], &pg.url(), ""));
    let done = chats(&gw.url(), "gk-done", 20, false).await;
    assert!(done.iter().all(Seen::ok));
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.set_timing(slow_streams());
    let url = gw.url();
    let inflight = tokio::spawn(async move { chats(&url, "gk-inflight", 5, true).await });
    for _ in 0..100 {
        if a.marker_counts()
            .keys()
            .filter(|k| k.starts_with("gk-inflight"))
            .count()
            == 5
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    blocking(|| gw.kill9()).unwrap();
    let cut = inflight.await.unwrap();
    assert!(
        cut.iter().all(|s| !s.ok()),
        "a killed gateway cannot finish a stream: {cut:?}"
    );
    a.set_timing(Timing::default());
    blocking(|| gw.start_again()).unwrap();
    let after = chats(&gw.url(), "gk-after", 5, false).await;
    assert!(after.iter().all(Seen::ok), "{after:?}");
    let rows = wait_rows(&pg, "gk-", 25, Duration::from_secs(20)).await;
    let count = |p: &str| rows.keys().filter(|k| k.starts_with(p)).count();
    assert_eq!(
        count("gk-done"),
        20,
        "answered before the kill: all recorded"
    );
    assert_eq!(count("gk-after"), 5);
    let lost = 5 - count("gk-inflight");
    eprintln!("kill -9 lost {lost} of 5 usage records of requests in flight at the kill");
    assert!(lost <= 5);
    assert_rollups_match(&pg);
}

/// kill -9 while PostgreSQL is down: the records of requests answered before the kill must
/// survive (in the spill file) and reach the database after the restart.
///
/// KNOWN DEFECT on main (issue 13, usage zero-loss): during an outage the writer keeps up to
/// `buffer_max_records` (100 000) records in memory before it spills, so a kill -9 loses every
/// one of them. Expected to fail until failed writes reach the spill file before they leave
/// memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_during_postgres_outage_loses_nothing() {
    let mut pg = postgres();
    let a = upstream().await;
    let (mut gw, _dir) = start_gateway(config(&[&a], &pg.url(), ""));
    let warm = chats(&gw.url(), "gko-warm", 2, false).await;
    assert!(warm.iter().all(Seen::ok));
    wait_rows(&pg, "gko-warm", 2, Duration::from_secs(20)).await;
    blocking(|| pg.stop()).unwrap();
    let during = chats(&gw.url(), "gko-during", 20, false).await;
    assert!(during.iter().all(Seen::ok), "{during:?}");
    // Well past the flush interval and the writer's first failed attempts.
    tokio::time::sleep(Duration::from_secs(2)).await;
    blocking(|| gw.kill9()).unwrap();
    blocking(|| pg.start_again()).unwrap();
    blocking(|| gw.start_again()).unwrap();
    let rows = wait_rows(&pg, "gko-", 22, Duration::from_secs(20)).await;
    let during_rows = rows.keys().filter(|k| k.starts_with("gko-during")).count();
    assert_eq!(
        during_rows, 20,
        "records of answered requests lost by a kill -9 during a database outage"
    );
    assert_rollups_match(&pg);
}

/// SIGTERM while streams run: they finish (drain), the process exits 0, every request has
/// its row, and the restarted gateway serves on the same port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_then_restarts() {
    let pg = postgres();
    let a = upstream().await;
    let (mut gw, _dir) = start_gateway(config(&[&a], &pg.url(), ""));
    a.set_timing(slow_streams());
    let url = gw.url();
    let inflight = tokio::spawn(async move { chats(&url, "gt-inflight", 6, true).await });
    for _ in 0..100 {
        if a.arrivals().len() >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let exit = blocking(|| gw.sigterm_and_wait(Duration::from_secs(20))).unwrap();
    assert!(exit.success(), "{exit}");
    let drained = inflight.await.unwrap();
    assert_answered_within(&drained, Duration::from_secs(10));
    assert!(
        drained.iter().all(Seen::ok),
        "the drain finished every stream: {drained:?}"
    );
    a.set_timing(Timing::default());
    blocking(|| gw.start_again()).unwrap();
    let after = chats(&gw.url(), "gt-after", 4, false).await;
    assert!(after.iter().all(Seen::ok));
    let rows = wait_rows(&pg, "gt-", 10, Duration::from_secs(20)).await;
    assert_eq!(rows.len(), 10);
    assert!(rows.values().all(|r| r.status == "ok"));
    assert_rollups_match(&pg);
}
