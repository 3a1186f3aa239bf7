//! PostgreSQL (the usage store) faults: refused (down, even at start), hung (SIGSTOP),
//! restarted, hung at shutdown. Requests never wait for the database; every record arrives
//! exactly once when it is back.

use std::time::Duration;

use super::*;

/// PostgreSQL is down when the gateway starts and while it serves: requests succeed at normal
/// speed; once the database is back, exactly one row per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused() {
    let mut pg = postgres();
    let a = upstream().await;
    blocking(|| pg.stop()).unwrap();
    let (gw, _dir) = start_gateway(config(&[&a], &pg.url(), ""));
    let mut seen = chats(&gw.url(), "pgr", 10, false).await;
    seen.extend(chats(&gw.url(), "pgr-s", 10, true).await);
    assert_answered_within(&seen, Duration::from_secs(3));
    assert!(seen.iter().all(Seen::ok), "{seen:?}");
    blocking(|| pg.start_again()).unwrap();
    let rows = wait_rows(&pg, "pgr", 20, Duration::from_secs(30)).await;
    assert_eq!(rows.len(), 20, "every record arrived after the outage");
    assert!(
        rows.values()
            .all(|r| r.status == "ok" && r.total_tokens == 18)
    );
    assert_rollups_match(&pg);
}

/// PostgreSQL hangs (SIGSTOP: connections accepted, queries never answered): requests still
/// succeed at normal speed; after SIGCONT, exactly one row per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung() {
    let mut pg = postgres();
    let a = upstream().await;
    let (gw, _dir) = start_gateway(config(&[&a], &pg.url(), ""));
    let warm = chats(&gw.url(), "pgh-warm", 2, false).await;
    assert!(warm.iter().all(Seen::ok));
    wait_rows(&pg, "pgh-warm", 2, Duration::from_secs(20)).await;
    blocking(|| pg.pause()).unwrap();
    let seen = chats(&gw.url(), "pgh-during", 20, false).await;
    assert_answered_within(&seen, Duration::from_secs(3));
    assert!(seen.iter().all(Seen::ok), "{seen:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    blocking(|| pg.resume()).unwrap();
    let rows = wait_rows(&pg, "pgh-", 22, Duration::from_secs(30)).await;
    assert_eq!(rows.len(), 22);
    assert_rollups_match(&pg);
}

/// PostgreSQL restarts (killed, started again) between two bursts of requests: every row,
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart() {
    let mut pg = postgres();
    let a = upstream().await;
    let (gw, _dir) = start_gateway(config(&[&a], &pg.url(), ""));
    let first = chats(&gw.url(), "pgrs-1", 10, false).await;
    assert!(first.iter().all(Seen::ok));
    blocking(|| {
        pg.kill9()?;
        pg.start_again()
    })
    .unwrap();
    let second = chats(&gw.url(), "pgrs-2", 10, true).await;
    assert_answered_within(&second, Duration::from_secs(3));
    assert!(second.iter().all(Seen::ok), "{second:?}");
    let rows = wait_rows(&pg, "pgrs-", 20, Duration::from_secs(30)).await;
    assert_eq!(rows.len(), 20);
    assert_rollups_match(&pg);
}

/// PostgreSQL hangs and the gateway gets SIGTERM: it still exits within its grace period plus
/// a bound (its records go to the spill file), and the next start replays them: exactly one
/// row per request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_at_shutdown_spills_then_replays() {
    let mut pg = postgres();
    let a = upstream().await;
    let (mut gw, _dir) = start_gateway(config(&[&a], &pg.url(), ""));
    let warm = chats(&gw.url(), "pghs-warm", 2, false).await;
    assert!(warm.iter().all(Seen::ok));
    wait_rows(&pg, "pghs-warm", 2, Duration::from_secs(20)).await;
    blocking(|| pg.pause()).unwrap();
    let seen = chats(&gw.url(), "pghs-during", 10, false).await;
    assert!(seen.iter().all(Seen::ok), "{seen:?}");
    let started = std::time::Instant::now();
    let exit = blocking(|| gw.sigterm_and_wait(Duration::from_secs(40)));
    let took = started.elapsed();
    blocking(|| pg.resume()).unwrap();
    let exit = exit.unwrap_or_else(|e| panic!("{e}; log:\n{}", gw.log_tail(30)));
    assert!(exit.success(), "{exit}; log:\n{}", gw.log_tail(30));
    assert!(took < Duration::from_secs(25), "shutdown took {took:?}");
    blocking(|| gw.start_again()).unwrap();
    let rows = wait_rows(&pg, "pghs-", 12, Duration::from_secs(30)).await;
    assert_eq!(rows.len(), 12, "log:\n{}", gw.log_tail(30));
    assert_rollups_match(&pg);
}
