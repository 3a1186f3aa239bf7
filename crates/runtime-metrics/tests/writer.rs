//! The batching writer against real databases: 10 000 concurrent records, a shutdown in the
//! middle of a burst, the database stopped and restarted mid-run, and a flaky store.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use common::*;
use parking_lot::Mutex;
use runtime_metrics::{
    BatchStore, StorageConfig, StoreError, UsageRecord, UsageSink, UsageStore, UsageWriter,
};

const T: i64 = 1_790_000_000_000;

fn all_ids(n: u64) -> Vec<String> {
    let mut v: Vec<String> = (0..n).map(|i| record(i, T).request_id).collect();
    v.sort();
    v
}

/// Submits records `range` from `tasks` concurrent tasks, each also re-submitting a few of
/// its records (duplicate deliveries).
async fn burst(writer: &UsageWriter, n: u64, tasks: u64) {
    let mut handles = Vec::new();
    for t in 0..tasks {
        let w = writer.clone();
        handles.push(tokio::spawn(async move {
            let mut i = t;
            while i < n {
                w.submit(record(i, T + i as i64));
                if i % 97 == 0 {
                    w.submit(record(i, T + i as i64)); // duplicate delivery
                }
                if i % 64 == 0 {
                    tokio::task::yield_now().await;
                }
                i += tasks;
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
}

async fn check_exactly_once(store: &UsageStore, n: u64) {
    assert_eq!(store.request_ids().await.unwrap(), all_ids(n));
    let total = store.usage_summary(0, i64::MAX / 2, &[]).await.unwrap();
    assert_eq!(total[0].requests, n, "rollups count each record once");
}

async fn ten_thousand_concurrent(url: String, dir: &std::path::Path) {
    let writer = UsageWriter::start(&storage(&url, dir)).unwrap();
    burst(&writer, 10_000, 8).await;
    writer.shutdown().await;
    let store = open(&url).await;
    // Anything that overflowed the channel went to the spill file; a new writer replays it.
    if writer.spilled_pending().unwrap() > 0 {
        let w2 = UsageWriter::start(&storage(&url, dir)).unwrap();
        w2.flush().await;
        w2.shutdown().await;
    }
    check_exactly_once(&store, 10_000).await;
    let s = writer.stats();
    assert!(s.duplicates > 0 || s.overflowed > 0, "{s:?}");
    assert_eq!(s.dropped, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_ten_thousand_concurrent_records_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    ten_thousand_concurrent(sqlite_url(dir.path()), dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_ten_thousand_concurrent_records_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    ten_thousand_concurrent(pg_schema_url().await, dir.path()).await;
}

async fn shutdown_in_the_middle_of_a_burst(url: String, dir: &std::path::Path) {
    let cfg = storage(&url, dir);
    let writer = UsageWriter::start(&cfg).unwrap();
    let n = 10_000u64;
    let submitted = Arc::new(AtomicU64::new(0));
    let mut handles = Vec::new();
    for t in 0..4u64 {
        let w = writer.clone();
        let submitted = submitted.clone();
        handles.push(tokio::spawn(async move {
            let mut i = t;
            while i < n {
                w.submit(record(i, T));
                submitted.fetch_add(1, Ordering::SeqCst);
                if i % 16 == 0 {
                    tokio::task::yield_now().await;
                }
                i += 4;
            }
        }));
    }
    // Shut down while the burst is under way.
    while submitted.load(Ordering::SeqCst) < n / 3 {
        tokio::task::yield_now().await;
    }
    writer.shutdown().await;
    for h in handles {
        h.await.unwrap();
    }
    let stats = writer.stats();
    assert!(
        stats.overflowed > 0,
        "the burst outlived the writer: {stats:?}"
    );
    assert_eq!(stats.dropped, 0);
    let store = open(&url).await;
    let in_db = store.count().await.unwrap();
    let in_spill = writer.spilled_pending().unwrap();
    assert_eq!(in_db + in_spill, n, "db {in_db} + spill {in_spill}");
    // The next start replays the spill file: all present, exactly once.
    let w2 = UsageWriter::start(&cfg).unwrap();
    w2.flush().await;
    w2.shutdown().await;
    assert_eq!(w2.spilled_pending().unwrap(), 0);
    check_exactly_once(&store, n).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_shutdown_in_the_middle_of_a_burst_loses_none() {
    let dir = tempfile::tempdir().unwrap();
    shutdown_in_the_middle_of_a_burst(sqlite_url(dir.path()), dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_shutdown_in_the_middle_of_a_burst_loses_none() {
    let dir = tempfile::tempdir().unwrap();
    shutdown_in_the_middle_of_a_burst(pg_schema_url().await, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_and_restarted_mid_run() {
    let pg = PrivatePg::new();
    let dir = tempfile::tempdir().unwrap();
    let cfg = StorageConfig {
        buffer_max_records: 300, // small, so the outage spills to the file
        ..storage(&pg.url(), dir.path())
    };
    let writer = UsageWriter::start(&cfg).unwrap();
    let n = 10_000u64;
    let third = n / 3;
    // First third with the database up.
    for i in 0..third {
        writer.submit(record(i, T + i as i64));
    }
    writer.flush().await;
    pg.stop();
    // Second third while it is down: memory stays bounded, records reach the spill file.
    for i in third..2 * third {
        writer.submit(record(i, T + i as i64));
        if i % 100 == 0 {
            tokio::task::yield_now().await;
        }
    }
    writer.flush().await;
    let during = writer.stats();
    assert!(during.db_errors > 0, "{during:?}");
    assert!(writer.spilled_pending().unwrap() > 0, "{during:?}");
    pg.start();
    // The rest with the database back.
    for i in 2 * third..n {
        writer.submit(record(i, T + i as i64));
    }
    // Bounded wait for the writer to catch up (retries with backoff, then replays the file).
    let store = open(&pg.url()).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        writer.flush().await;
        if store.count().await.unwrap() == n && writer.spilled_pending().unwrap() == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "writer did not catch up: {:?}",
            writer.stats()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    writer.shutdown().await;
    check_exactly_once(&store, n).await;
    let s = writer.stats();
    assert!(s.replayed > 0, "{s:?}");
    assert_eq!(s.dropped, 0);
}

/// A store that fails while `down` is set and remembers every delivery.
#[derive(Default)]
struct Flaky {
    down: AtomicBool,
    stored: Mutex<HashSet<String>>,
    batches: AtomicU64,
}

#[async_trait]
impl BatchStore for Flaky {
    async fn prepare(&self) -> Result<(), StoreError> {
        Ok(())
    }
    async fn write(&self, records: &[UsageRecord]) -> Result<u64, StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Io(std::io::Error::other("down")));
        }
        self.batches.fetch_add(1, Ordering::SeqCst);
        let mut s = self.stored.lock();
        Ok(records
            .iter()
            .filter(|r| s.insert(r.request_id.clone()))
            .count() as u64)
    }
}

#[tokio::test]
async fn outage_keeps_memory_bounded_and_replays_everything() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Flaky::default());
    let cfg = StorageConfig {
        channel_capacity: 100,
        batch_size: 50,
        buffer_max_records: 200,
        flush_interval: Duration::from_millis(5),
        spill_path: dir.path().join("spill.jsonl"),
        ..StorageConfig::default()
    };
    let writer = UsageWriter::with_store(store.clone(), &cfg).unwrap();
    store.down.store(true, Ordering::SeqCst);
    for i in 0..5_000u64 {
        writer.submit(record(i, T));
        if i % 50 == 0 {
            tokio::task::yield_now().await;
        }
    }
    writer.flush().await;
    let s = writer.stats();
    assert_eq!(s.written, 0);
    // At most buffer_max + a batch + the channel + the overflow queue are in memory.
    let on_disk = writer.spilled_pending().unwrap();
    assert!(on_disk >= 5_000 - 200 - 50 - 100 - 100, "{on_disk} {s:?}");
    store.down.store(false, Ordering::SeqCst);
    writer.flush().await;
    assert_eq!(writer.spilled_pending().unwrap(), 0);
    // Duplicate deliveries after recovery are not counted again.
    writer.submit(record(7, T));
    writer.shutdown().await;
    assert_eq!(store.stored.lock().len(), 5_000);
    let s = writer.stats();
    assert_eq!(s.written, 5_000, "{s:?}");
    assert!(s.duplicates >= 1);
    // Batching: far fewer writes than records.
    assert!(store.batches.load(Ordering::SeqCst) < 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_down_from_the_start_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let down = format!("postgres://nobody@127.0.0.1:{port}/none");
    let writer = UsageWriter::start(&storage(&down, dir.path())).unwrap();
    for i in 0..500 {
        writer.submit(record(i, T));
    }
    writer.flush().await;
    assert!(writer.stats().db_errors > 0);
    writer.shutdown().await;
    assert_eq!(writer.spilled_pending().unwrap(), 500);
    // Later, with a database: the spill file is replayed into it.
    let url = sqlite_url(dir.path());
    let w2 = UsageWriter::start(&storage(&url, dir.path())).unwrap();
    w2.flush().await;
    w2.shutdown().await;
    check_exactly_once(&open(&url).await, 500).await;
}

#[tokio::test]
async fn a_flush_replays_a_leftover_replay_file_and_the_spill_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("spill.jsonl");
    let spill = runtime_metrics::spill::Spill::new(&path);
    spill.append(&[record(1, T), record(2, T)], true).unwrap();
    drop(spill.begin_replay().unwrap()); // a replay stopped by a crash: `.replay` stays
    spill.append(&[record(3, T)], true).unwrap();
    let store = Arc::new(Flaky::default());
    let cfg = StorageConfig {
        spill_path: path,
        ..StorageConfig::default()
    };
    let writer = UsageWriter::with_store(store.clone(), &cfg).unwrap();
    writer.flush().await;
    assert_eq!(writer.spilled_pending().unwrap(), 0);
    writer.shutdown().await;
    assert_eq!(store.stored.lock().len(), 3);
}

/// A failed write's records are appended to the spill file at once (not kept in memory up to
/// `buffer_max_records`), so a crash right after — the runtime dropped mid-run, as a kill -9
/// would stop it — loses none of them: the next writer replays them, exactly once.
#[test]
fn a_failed_write_reaches_the_spill_file_before_it_leaves_memory() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StorageConfig {
        spill_path: dir.path().join("spill.jsonl"),
        buffer_max_records: 100_000,
        flush_interval: Duration::from_millis(5),
        ..StorageConfig::default()
    };
    let down = Arc::new(Flaky::default());
    down.down.store(true, Ordering::SeqCst);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let writer = rt.block_on(async {
        let writer = UsageWriter::with_store(down.clone(), &cfg).unwrap();
        for i in 0..30 {
            writer.submit(record(i, T));
        }
        writer.flush().await;
        writer
    });
    let s = writer.stats();
    assert_eq!((s.written, s.spilled, s.in_memory), (0, 30, 0), "{s:?}");
    assert_eq!(s.database_down, 1);
    assert_eq!(writer.spilled_pending().unwrap(), 30);
    drop(rt); // no shutdown: the writer task is gone, as after a kill -9

    let up = Arc::new(Flaky::default());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let w2 = UsageWriter::with_store(up.clone(), &cfg).unwrap();
        w2.flush().await;
        w2.shutdown().await;
        assert_eq!(w2.stats().replayed, 30);
    });
    assert_eq!(up.stored.lock().len(), 30);
}

/// While the database stays down, records that arrive later are spilled on the next tick too
/// (not held until the retry), so memory stays near zero however long the outage.
#[tokio::test]
async fn records_arriving_during_an_outage_are_spilled_on_the_next_tick() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Flaky::default());
    store.down.store(true, Ordering::SeqCst);
    let cfg = StorageConfig {
        spill_path: dir.path().join("spill.jsonl"),
        buffer_max_records: 100_000,
        flush_interval: Duration::from_millis(5),
        ..StorageConfig::default()
    };
    let writer = UsageWriter::with_store(store.clone(), &cfg).unwrap();
    writer.submit(record(0, T));
    writer.flush().await; // fails: backoff starts
    for i in 1..=40 {
        writer.submit(record(i, T));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while writer.spilled_pending().unwrap() < 41 {
        assert!(Instant::now() < deadline, "{:?}", writer.stats());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(writer.stats().in_memory, 0);
    store.down.store(false, Ordering::SeqCst);
    writer.flush().await;
    // Recovered through the replay alone (nothing new was pending): no longer "down".
    assert_eq!(writer.stats().database_down, 0, "{:?}", writer.stats());
    writer.shutdown().await;
    assert_eq!(store.stored.lock().len(), 41);
    assert_eq!(writer.spilled_pending().unwrap(), 0);
}
