//! The SQLite usage database under real file faults: disk full (a small tmpfs filled to the
//! last byte), read-only files and directory (`chattr +i`, which holds even for root), the
//! file deleted or replaced while running, a write lock held by another connection, and a
//! corrupt file. Each scenario counts records exactly (no loss, no duplicates), checks the
//! usage totals never flip between calls, and that the fault was real (the writer saw it, as
//! the metric's condition). Needs root (CI runs as root) to mount the tmpfs; fails otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// `&[0..260]` lists the ranges of record numbers a file must hold.
#![allow(clippy::single_range_in_vec_init)]

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use runtime_metrics::{
    FailureKind, StorageConfig, StoreError, UsageSink, UsageStore, UsageWriter, spill::Spill,
};
use runtime_testkit::disk::Tmpfs;
use sqlx::Connection;

const T: i64 = 1_790_000_000_000;

fn ids(ranges: &[std::ops::Range<u64>]) -> Vec<String> {
    let mut v: Vec<String> = ranges
        .iter()
        .flat_map(|r| r.clone())
        .map(|i| record(i, T).request_id)
        .collect();
    v.sort();
    v
}

fn db_file(dir: &Path) -> PathBuf {
    dir.join("usage.sqlite")
}

/// The writer and the store share one pool, as the gateway's `Metering` has them.
struct Rig {
    cfg: StorageConfig,
    store: UsageStore,
    writer: UsageWriter,
}

impl Rig {
    fn config(db_dir: &Path, spill_dir: &Path) -> StorageConfig {
        StorageConfig {
            batch_size: 20,
            busy_timeout: Duration::from_millis(300),
            ..storage(&sqlite_url(db_dir), spill_dir)
        }
    }

    fn start(cfg: StorageConfig) -> Rig {
        let store = UsageStore::open_config(&cfg).unwrap();
        let writer = UsageWriter::with_store(Arc::new(store.clone()), &cfg).unwrap();
        Rig { cfg, store, writer }
    }

    /// Submits records `range` in groups of ten, flushing after each (each flush is a write
    /// attempt, so a fault is met many times).
    async fn send(&self, range: std::ops::Range<u64>) {
        for i in range {
            self.writer.submit(record(i, T + i as i64));
            if i % 10 == 9 {
                self.writer.flush().await;
            }
        }
        self.writer.flush().await;
    }

    fn kind_count(&self, kind: FailureKind) -> u64 {
        self.writer
            .db_errors_by_kind()
            .into_iter()
            .find(|(k, _)| *k == kind)
            .map_or(0, |(_, n)| n)
    }

    /// The fault was real: writes failed with one of `kinds`.
    fn saw_fault(&self, kinds: &[FailureKind]) {
        let s = self.writer.stats();
        assert!(s.db_errors > 0, "the fault did not fail a write: {s:?}");
        let seen: u64 = kinds.iter().map(|k| self.kind_count(*k)).sum();
        assert!(
            seen > 0,
            "failures not classified as {kinds:?}: {:?}",
            self.writer.db_errors_by_kind()
        );
    }

    /// Waits (bounded) until `n` records are in the file, seen through a fresh pool, and
    /// the spill file is empty.
    async fn settle(&self, n: u64) {
        let fresh = UsageStore::open(&self.cfg.database_url, 1, Duration::from_secs(2)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            self.writer.flush().await;
            let count = fresh.count().await.unwrap_or(0);
            if count == n && self.writer.spilled_pending().unwrap() == 0 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "writer did not catch up: {count} of {n} rows; {:?}",
                self.writer.stats()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        fresh.close().await;
    }

    /// `/v1/usage` the way the gateway asks: many calls, some concurrent (so several pooled
    /// connections answer); each must give `n`.
    async fn totals_stable(&self, n: u64) {
        for call in 0..20 {
            let (a, b, c) = tokio::join!(
                self.store.usage_summary(0, i64::MAX / 2, &[]),
                self.store.usage_summary(0, i64::MAX / 2, &[]),
                self.store.usage_summary(0, i64::MAX / 2, &[])
            );
            for rows in [a, b, c] {
                let got = rows.unwrap().first().map_or(0, |r| r.requests);
                assert_eq!(got, n, "call {call}: the usage total flipped");
            }
        }
    }

    /// Stops the writer (as SIGTERM does) and closes the pool.
    async fn stop(self) -> UsageWriter {
        self.writer.shutdown().await;
        self.store.close().await;
        self.writer
    }

    /// Stops, then the file, opened afresh, must hold exactly `want`, each counted once in
    /// the rollups, with nothing left to replay and nothing dropped.
    async fn stop_and_check(self, want: &[std::ops::Range<u64>]) {
        let url = self.cfg.database_url.clone();
        let writer = self.stop().await;
        let s = writer.stats();
        assert_eq!(s.dropped, 0, "{s:?}");
        assert_eq!(
            writer.spilled_pending().unwrap(),
            0,
            "records left to replay"
        );
        assert_file_holds(&url, want).await;
    }
}

async fn assert_file_holds(url: &str, want: &[std::ops::Range<u64>]) {
    let fresh = open(url).await;
    assert_eq!(fresh.request_ids().await.unwrap(), ids(want));
    let n: u64 = want.iter().map(|r| r.end - r.start).sum();
    let total = fresh.usage_summary(0, i64::MAX / 2, &[]).await.unwrap();
    assert_eq!(total[0].requests, n, "rollups count each record once");
    fresh.close().await;
}

/// The scenario with the disk full: 200 records, the disk fills, 50 more, space
/// comes back, 10 more. Today's main loses the 60 (a pooled connection is left inside a
/// transaction SQLite had already rolled back; later "commits" only release savepoints) while
/// the writer counts them written, and `/v1/usage` flips between 200 and 260.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_then_space_back_loses_nothing_and_totals_never_flip() {
    let disk = Tmpfs::mount(4 << 20);
    let spill_dir = tempfile::tempdir().unwrap();
    let rig = Rig::start(Rig::config(disk.path(), spill_dir.path()));
    rig.send(0..200).await;
    rig.settle(200).await;

    disk.fill();
    rig.send(200..250).await;
    rig.saw_fault(&[FailureKind::DiskFull]);
    // A failed write's records are in the spill file (on another disk), not only in memory.
    let s = rig.writer.stats();
    assert!(s.spilled > 0, "{s:?}");
    assert_eq!(s.in_memory, 0, "{s:?}");
    assert_eq!(s.database_down, 1, "{s:?}");

    disk.free();
    rig.send(250..260).await;
    rig.settle(260).await;
    assert_eq!(rig.writer.stats().database_down, 0);
    rig.totals_stable(260).await;
    rig.stop_and_check(&[0..260]).await;
}

/// SIGTERM while the disk is full: the records of the outage are in the spill file; the next
/// start replays them exactly once — even when a crash left the same records to replay
/// twice (a replay whose database writes landed but whose file removal did not).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_during_disk_full_then_restart_replays_exactly_once() {
    let disk = Tmpfs::mount(4 << 20);
    let spill_dir = tempfile::tempdir().unwrap();
    let cfg = Rig::config(disk.path(), spill_dir.path());
    let rig = Rig::start(cfg.clone());
    rig.send(0..200).await;
    rig.settle(200).await;
    disk.fill();
    rig.send(200..250).await;
    rig.saw_fault(&[FailureKind::DiskFull]);
    let writer = rig.stop().await;
    assert_eq!(writer.spilled_pending().unwrap(), 50);
    assert_eq!(writer.stats().dropped, 0);
    // Keep a copy of what is spilled (a retry may have moved it to `.replay` already): put
    // back later as a replay a crash interrupted.
    let mut leftover = cfg.spill_path.clone().into_os_string();
    leftover.push(".replay");
    let mut spill_copy = std::fs::read(&leftover).unwrap_or_default();
    spill_copy.extend(std::fs::read(&cfg.spill_path).unwrap_or_default());
    assert_eq!(spill_copy.iter().filter(|b| **b == b'\n').count(), 50);

    disk.free();
    let rig = Rig::start(cfg.clone());
    rig.send(250..260).await;
    rig.settle(260).await;
    assert_eq!(rig.writer.stats().replayed, 50);
    let writer = rig.stop().await;
    assert_eq!(writer.stats().dropped, 0);

    std::fs::write(&leftover, &spill_copy).unwrap();
    let rig = Rig::start(cfg.clone());
    rig.writer.flush().await;
    let s = rig.writer.stats();
    assert_eq!((s.written, s.duplicates), (0, 50), "{s:?}");
    rig.totals_stable(260).await;
    rig.stop_and_check(&[0..260]).await;
}

/// The spill file on the same full disk: records stay in memory (loudly: counted, gauged)
/// and reach the database once space is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disk_full_with_the_spill_file_on_it_keeps_records_in_memory() {
    let disk = Tmpfs::mount(4 << 20);
    let rig = Rig::start(Rig::config(disk.path(), disk.path()));
    rig.send(0..200).await;
    rig.settle(200).await;
    disk.fill();
    rig.send(200..250).await;
    rig.saw_fault(&[FailureKind::DiskFull]);
    let s = rig.writer.stats();
    assert!(s.spill_errors > 0, "{s:?}");
    assert_eq!((s.in_memory, s.dropped), (50, 0), "{s:?}");
    disk.free();
    rig.send(250..260).await;
    rig.settle(260).await;
    rig.totals_stable(260).await;
    rig.stop_and_check(&[0..260]).await;
}

/// Past `buffer_max_records`, with the database and the spill file both failing, the oldest
/// records are dropped: exactly the excess, counted. This is the one loss the writer accepts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_bound_drops_exactly_the_oldest_excess_and_counts_it() {
    let disk = Tmpfs::mount(4 << 20);
    let rig = Rig::start(StorageConfig {
        buffer_max_records: 30,
        ..Rig::config(disk.path(), disk.path())
    });
    rig.send(0..200).await;
    rig.settle(200).await;
    disk.fill();
    rig.send(200..250).await;
    let s = rig.writer.stats();
    assert_eq!((s.in_memory, s.dropped), (30, 20), "{s:?}");
    disk.free();
    rig.settle(230).await;
    let url = rig.cfg.database_url.clone();
    let writer = rig.stop().await;
    assert_eq!(writer.stats().dropped, 20);
    assert_file_holds(&url, &[0..200, 220..250]).await;
}

/// Restarted while the files are read-only (`chattr +i`: even root cannot open them for
/// writing, nor create `-wal`/`-shm` in the directory), then writable again. On main the
/// connections opened read-only stay in the pool and every later write fails on them.
async fn read_only_at_restart(immutable: fn(&Path) -> Vec<PathBuf>) {
    let disk = Tmpfs::mount(4 << 20);
    let spill_dir = tempfile::tempdir().unwrap();
    let cfg = Rig::config(disk.path(), spill_dir.path());
    let rig = Rig::start(cfg.clone());
    rig.send(0..200).await;
    rig.settle(200).await;
    rig.stop().await;

    let paths = immutable(disk.path());
    for p in &paths {
        disk.set_immutable(p, true);
    }
    for p in &paths {
        assert!(
            p.is_dir() || Tmpfs::write_refused(p),
            "{} still writable",
            p.display()
        );
    }
    let rig = Rig::start(cfg);
    rig.send(200..250).await;
    rig.saw_fault(&[
        FailureKind::ReadOnly,
        FailureKind::CantOpen,
        FailureKind::Io,
    ]);
    assert!(rig.writer.stats().spilled > 0);
    for p in &paths {
        disk.set_immutable(p, false);
    }
    rig.send(250..260).await;
    rig.settle(260).await;
    rig.totals_stable(260).await;
    rig.stop_and_check(&[0..260]).await;
}

/// The case: the database file read-only. On main the connections opened read-only
/// stay pooled after the file is writable again, and no record is ever written again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_database_file_then_writable_loses_nothing() {
    read_only_at_restart(|dir| vec![db_file(dir)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_file_and_directory_then_writable_loses_nothing() {
    read_only_at_restart(|dir| vec![db_file(dir), dir.to_owned()]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_directory_then_writable_loses_nothing() {
    read_only_at_restart(|dir| vec![dir.to_owned()]).await;
}

fn remove_db_files(dir: &Path, suffixes: &[&str]) {
    for suffix in suffixes {
        let mut p = db_file(dir).into_os_string();
        p.push(suffix);
        let _ = std::fs::remove_file(p);
    }
}

/// The file deleted while running: SQLite in WAL mode keeps writing into the unlinked file
/// without an error (on main, every later record vanished with it). The store notices, closes
/// the old connections and creates the file anew; every record sent after the deletion lands.
async fn deleted_while_running(suffixes: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let rig = Rig::start(Rig::config(dir.path(), dir.path()));
    rig.send(0..200).await;
    rig.settle(200).await;
    remove_db_files(dir.path(), suffixes);
    rig.send(200..260).await;
    rig.settle(60).await;
    let UsageStore::Sqlite(db) = &rig.store else {
        unreachable!()
    };
    assert_eq!(db.reopened(), 1);
    rig.totals_stable(60).await;
    rig.stop_and_check(&[200..260]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_files_deleted_while_running_are_recreated_and_nothing_after_is_lost() {
    deleted_while_running(&["", "-wal", "-shm"]).await;
}

/// `rm usage.sqlite` alone leaves the old `-wal` beside the new file: it is moved aside, not
/// adopted (the new file would show the old pages, or be corrupt).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_file_alone_deleted_while_running_does_not_adopt_the_old_wal() {
    deleted_while_running(&[""]).await;
}

fn wal_set_aside(dir: &Path) -> bool {
    std::fs::read_dir(dir).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("usage.sqlite-wal.replaced-")
    })
}

/// The file replaced while running (a backup restored with `mv`, leaving the old `-wal` and
/// `-shm` beside it): the backup's rows plus every record sent after the swap.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_file_replaced_while_running_uses_the_new_file() {
    let dir = tempfile::tempdir().unwrap();
    let rig = Rig::start(Rig::config(dir.path(), dir.path()));
    rig.send(0..200).await;
    rig.settle(200).await;
    let backup = dir.path().join("backup.sqlite");
    let UsageStore::Sqlite(db) = &rig.store else {
        unreachable!()
    };
    sqlx::query(&format!("VACUUM INTO '{}'", backup.display()))
        .execute(&db.pool())
        .await
        .unwrap();
    rig.send(200..230).await;
    rig.settle(230).await;
    std::fs::rename(&backup, db_file(dir.path())).unwrap();
    rig.send(230..260).await;
    rig.settle(230).await; // 200 from the backup + 30 after the swap
    assert_eq!(db.reopened(), 1);
    assert!(
        wal_set_aside(dir.path()),
        "the old file's -wal was not moved aside"
    );
    rig.totals_stable(230).await;
    // Records 200..230 went to the file the backup replaced, by the operator's choice.
    rig.stop_and_check(&[0..200, 230..260]).await;
}

/// Another process holds the write lock longer than `busy_timeout`: the writes fail as
/// `locked`, their records go to the spill file, and land once the lock is released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_locked_by_another_connection_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let rig = Rig::start(Rig::config(dir.path(), dir.path()));
    rig.send(0..200).await;
    rig.settle(200).await;
    let mut other = sqlx::SqliteConnection::connect(&rig.cfg.database_url)
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    rig.send(200..250).await;
    rig.saw_fault(&[FailureKind::Locked]);
    assert!(rig.writer.stats().spilled > 0);
    // Readers are not blocked by a writer in WAL mode.
    rig.totals_stable(200).await;
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    other.close().await.unwrap();
    rig.send(250..260).await;
    rig.settle(260).await;
    rig.totals_stable(260).await;
    rig.stop_and_check(&[0..260]).await;
}

/// A corrupt file (its header overwritten): writes fail as `corrupt` and the records wait in
/// the spill file; once the operator moves the file aside, a new one is created and every
/// record since the corruption lands in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_database_file_keeps_records_until_it_is_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Rig::config(dir.path(), dir.path());
    let rig = Rig::start(cfg.clone());
    rig.send(0..200).await;
    rig.settle(200).await;
    rig.stop().await;
    std::fs::write(db_file(dir.path()), vec![0xAB; 8192]).unwrap();

    let rig = Rig::start(cfg);
    rig.send(200..250).await;
    rig.saw_fault(&[FailureKind::Corrupt]);
    assert_eq!(rig.writer.spilled_pending().unwrap(), 50);
    let err = rig.store.usage_summary(0, i64::MAX / 2, &[]).await;
    assert!(
        matches!(&err, Err(e) if e.kind() == FailureKind::Corrupt),
        "{err:?}"
    );
    std::fs::rename(db_file(dir.path()), dir.path().join("usage.sqlite.corrupt")).unwrap();
    rig.send(250..260).await;
    rig.settle(60).await;
    rig.totals_stable(60).await;
    rig.stop_and_check(&[200..260]).await;
}

/// An append that fails part-way (the disk fills in the middle of it) leaves nothing behind:
/// the file is cut back, and once there is room the records are appended whole and replay
/// reads every line.
#[test]
fn a_spill_append_that_fails_part_way_leaves_nothing_half_written() {
    let disk = Tmpfs::mount(1 << 20);
    let spill = Spill::new(disk.path().join("spill.jsonl"));
    let first: Vec<_> = (0..5).map(|i| record(i, T)).collect();
    spill.append(&first, true).unwrap();
    let before = std::fs::metadata(spill.path()).unwrap().len();
    disk.fill_leaving(4096);
    let big: Vec<_> = (5..200).map(|i| record(i, T)).collect(); // ~60 KB
    let err = spill.append(&big, true).unwrap_err();
    assert_eq!(
        StoreError::Io(err).kind(),
        FailureKind::DiskFull,
        "the append must fail for lack of space"
    );
    assert_eq!(
        std::fs::metadata(spill.path()).unwrap().len(),
        before,
        "a failed append was left half-written"
    );
    disk.free();
    spill.append(&big, true).unwrap();
    let mut replay = spill.begin_replay().unwrap().unwrap();
    let got = replay.next_batch(1_000).unwrap();
    assert_eq!(got.len(), 200);
    assert_eq!(replay.skipped(), 0);
}
