//! Usage records of the real `modelrt` binary when its SQLite file fails: the disk fills (a
//! small tmpfs), or the file is read-only (`chattr +i`, which holds for root too). Requests keep
//! being answered; once the fault clears, `/v1/usage` settles on the exact count and stays
//! there; after SIGTERM and a restart the file holds one row per answered request — none
//! lost, none twice. Needs root (CI runs as root) to mount the tmpfs; fails otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::*;
use model_runtime::metrics::UsageStore;
use runtime_testkit::disk::Tmpfs;
use serde_json::Value;

const MASTER: &str = "sk-master-usage-faults";

/// A config with the usage file at `db` and the spill file at `spill`.
fn config(upstream: &str, db: &Path, spill: &Path) -> String {
    mock_config(
        upstream,
        &format!(
            "[storage]\ndatabase_url = \"sqlite://{}\"\nspill_path = \"{}\"\n\
             flush_interval = \"50ms\"\nbusy_timeout = \"500ms\"\n\
             [gateway]\nmaster_key = \"{MASTER}\"\n",
            db.display(),
            spill.display()
        ),
    )
}

/// Sends `n` chat requests, ten at a time; every one must be answered 200.
async fn requests(gw: &Gw, n: usize) {
    paced_requests(gw, n, Duration::ZERO).await;
}

/// Sends `n` chat requests, ten at a time with `pause` between groups (so a fault is met by
/// many write attempts, over the writer's backoff); every one must be answered 200.
async fn paced_requests(gw: &Gw, n: usize, pause: Duration) {
    let c = client();
    for chunk in 0..n.div_ceil(10) {
        tokio::time::sleep(pause).await;
        let batch = (chunk * 10..n.min(chunk * 10 + 10)).map(|_| {
            c.post(gw.at("/v1/chat/completions"))
                .bearer_auth(MASTER)
                .json(&chat_body("mock/gpt-4o-mini"))
                .send()
        });
        for resp in futures::future::join_all(batch).await {
            let resp = resp.unwrap();
            assert_eq!(resp.status(), 200, "a request failed during the fault");
        }
    }
}

async fn usage_total(gw: &Gw) -> (u16, Option<u64>) {
    let resp = client()
        .get(gw.at("/v1/usage?since=24h&group_by="))
        .bearer_auth(MASTER)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let v: Value = resp.json().await.unwrap();
    (status, v["total"]["requests"].as_u64())
}

/// Waits (bounded) for `/v1/usage` to report `n`, then asks 20 more times: it must not flip.
async fn usage_settles_on(gw: &Gw, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if usage_total(gw).await == (200, Some(n)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/v1/usage never reached {n}: {:?}\n{}",
            usage_total(gw).await,
            gw.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for call in 0..20 {
        let (a, b) = tokio::join!(usage_total(gw), usage_total(gw));
        assert_eq!(a, (200, Some(n)), "call {call}: /v1/usage flipped");
        assert_eq!(b, (200, Some(n)), "call {call}: /v1/usage flipped");
    }
}

/// Waits (bounded) until the writer says it stored `n` records in this process — asked through
/// `/metrics`, which reads no database, so no reader opens a fresh connection meanwhile (on
/// main a pooled connection stuck read-only or inside a dead transaction was then the only one
/// the writer ever got).
async fn writer_stored(gw: &Gw, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = metrics_text(gw).await;
        let written = text
            .lines()
            .find_map(|l| l.strip_prefix("modelrt_usage_records_written_total "))
            .and_then(|v| v.trim().parse::<u64>().ok());
        if written == Some(n) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the writer stored {written:?} of {n} records:\n{}\n{}",
            text.lines()
                .filter(|l| l.starts_with("modelrt_usage"))
                .collect::<Vec<_>>()
                .join("\n"),
            gw.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (bounded) until `/metrics` shows a usage write failure of `kind`: the fault is real.
async fn fault_seen(gw: &Gw, kinds: &[&str]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = metrics_text(gw).await;
        let seen = text.lines().any(|l| {
            kinds.iter().any(|k| {
                l.starts_with(&format!(
                    "modelrt_usage_database_errors_by_kind_total{{kind=\"{k}\"}}"
                )) && !l.ends_with(" 0")
            })
        });
        if seen {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no usage write failed as {kinds:?}:\n{}\n{}",
            text.lines()
                .filter(|l| l.starts_with("modelrt_usage"))
                .collect::<Vec<_>>()
                .join("\n"),
            gw.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sigterm_and_wait(mut gw: Gw) -> String {
    gw.sigterm();
    let status = tokio::time::timeout(Duration::from_secs(30), gw.child.wait())
        .await
        .expect("modelrt exits after SIGTERM")
        .unwrap();
    assert!(status.success(), "{status:?}\n{}", gw.logs());
    gw.logs()
}

/// The file holds exactly `n` rows (one per answered request: ids are unique by key).
async fn rows_in(db: &Path, n: u64) {
    let store = UsageStore::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    assert_eq!(store.count().await.unwrap(), n, "rows in the usage file");
    let total = store.usage_summary(0, i64::MAX / 2, &[]).await.unwrap();
    assert_eq!(total[0].requests, n, "rollups");
    store.close().await;
}

fn nothing_spilled(spill: &Path) {
    let mut replay = spill.as_os_str().to_owned();
    replay.push(".replay");
    for p in [spill.to_owned(), PathBuf::from(replay)] {
        let len = std::fs::metadata(&p).map_or(0, |m| m.len());
        assert_eq!(len, 0, "{} still holds records", p.display());
    }
}

/// The scenario with the disk full: 200 requests; the disk fills; 50 more; space
/// back; 10 more. `/v1/usage` settles on 260 and stays; after SIGTERM the file holds 260
/// rows; a restart replays nothing twice. On main the 60 were lost (200 rows after SIGTERM,
/// no spill file) and `/v1/usage` alternated between 200 and 260.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_then_space_back_sigterm_restart_every_request_recorded_once() {
    let up = openai_upstream().await;
    let disk = Tmpfs::mount(8 << 20);
    let other = tempfile::tempdir().unwrap();
    let db = disk.path().join("usage.sqlite");
    let spill = other.path().join("usage.spill.jsonl");
    let cfg = config(&up.uri(), &db, &spill);

    let gw = Gw::start(Some(&cfg)).await;
    requests(&gw, 200).await;
    // Asked through /metrics: the writer's one connection stays the only one in the pool.
    writer_stored(&gw, 200).await;

    disk.fill();
    // Over about 3 s, so the writer meets the full disk several times (its backoff doubles
    // from 100 ms).
    paced_requests(&gw, 50, Duration::from_millis(600)).await;
    fault_seen(&gw, &["disk_full"]).await;
    disk.free();
    requests(&gw, 10).await;
    writer_stored(&gw, 260).await;
    usage_settles_on(&gw, 260).await;
    let logs = sigterm_and_wait(gw).await;
    assert!(logs.contains("usage database write failed"), "{logs}");
    assert!(logs.contains("reachable again"), "{logs}");
    rows_in(&db, 260).await;
    nothing_spilled(&spill);

    let gw = Gw::start(Some(&cfg)).await;
    usage_settles_on(&gw, 260).await;
    sigterm_and_wait(gw).await;
    rows_in(&db, 260).await;
}

/// SIGTERM while the disk is still full: the records of the outage wait in the spill file (on
/// another disk); the restart, with space back, replays them exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_disk_full_then_restart_replays_exactly_once() {
    let up = openai_upstream().await;
    let disk = Tmpfs::mount(8 << 20);
    let other = tempfile::tempdir().unwrap();
    let db = disk.path().join("usage.sqlite");
    let spill = other.path().join("usage.spill.jsonl");
    let cfg = config(&up.uri(), &db, &spill);

    let gw = Gw::start(Some(&cfg)).await;
    requests(&gw, 100).await;
    usage_settles_on(&gw, 100).await;
    disk.fill();
    requests(&gw, 40).await;
    fault_seen(&gw, &["disk_full"]).await;
    sigterm_and_wait(gw).await;
    disk.free();
    rows_in(&db, 100).await;

    let gw = Gw::start(Some(&cfg)).await;
    requests(&gw, 10).await;
    usage_settles_on(&gw, 150).await;
    sigterm_and_wait(gw).await;
    rows_in(&db, 150).await;
    nothing_spilled(&spill);
}

/// The scenario as reported: the database file read-only, then writable again. The
/// gateway is restarted while it is read-only (as root, `chattr +i` stops new opens only, as
/// `chmod` does for a non-root owner). On main the connection opened read-only stayed in the
/// pool and the writer got it back every time: nothing was written again (until readers
/// happened to open other connections, or a restart).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_file_then_writable_sigterm_restart_every_request_recorded_once() {
    let up = openai_upstream().await;
    let disk = Tmpfs::mount(8 << 20);
    let other = tempfile::tempdir().unwrap();
    let db = disk.path().join("usage.sqlite");
    let spill = other.path().join("usage.spill.jsonl");
    let cfg = config(&up.uri(), &db, &spill);

    let gw = Gw::start(Some(&cfg)).await;
    requests(&gw, 200).await;
    usage_settles_on(&gw, 200).await;
    sigterm_and_wait(gw).await;

    disk.set_immutable(&db, true);
    assert!(Tmpfs::write_refused(&db));
    let gw = Gw::start(Some(&cfg)).await;
    paced_requests(&gw, 50, Duration::from_millis(100)).await;
    fault_seen(&gw, &["read_only", "cant_open", "io"]).await;
    disk.set_immutable(&db, false);
    requests(&gw, 10).await;
    writer_stored(&gw, 60).await;
    usage_settles_on(&gw, 260).await;
    sigterm_and_wait(gw).await;
    rows_in(&db, 260).await;
    nothing_spilled(&spill);

    let gw = Gw::start(Some(&cfg)).await;
    usage_settles_on(&gw, 260).await;
    sigterm_and_wait(gw).await;
    rows_in(&db, 260).await;
}
