//! The asynchronous, batching usage writer.
//!
//! Request path: [`UsageWriter::submit`] is a `try_send` into a bounded channel. When the
//! channel is full the record goes to a second bounded queue beside it (a short lock); when
//! that is full too, the caller appends the whole queue to the spill file in one synced write.
//! After shutdown, records go straight to the spill file. A record is never dropped and the
//! caller never waits for the database.
//!
//! Writer task: collects records into batches (every `batch_size` records or `flush_interval`)
//! and writes each batch in one transaction. When a write fails, its records are appended to
//! the spill file (synced) before they leave memory, and so is every record that arrives
//! while the database is retried (exponential backoff): an outage costs no memory and a
//! crash during it loses nothing already spilled. Once the database answers, the spill file
//! is replayed in batches and removed. Writes are idempotent on request id, so a replay after
//! a crash, or of a batch whose failed commit did land, never double-counts. Only when the
//! spill file cannot be written either (say the same disk is full) do records stay in
//! memory, at most `buffer_max_records`; past that the oldest are dropped, counted and
//! logged as errors.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::StorageConfig;
use crate::failure::FailureKind;
use crate::record::{UsageRecord, UsageSink};
use crate::spill::{Replay, Spill};
use crate::store::{BatchStore, StoreError, UsageStore};

const MAX_BACKOFF: Duration = Duration::from_secs(5);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Spill-file batches replayed per periodic flush.
const REPLAY_BATCHES_PER_FLUSH: usize = 20;

#[derive(Debug, Default)]
struct Counters {
    written: AtomicU64,
    duplicates: AtomicU64,
    spilled: AtomicU64,
    overflowed: AtomicU64,
    replayed: AtomicU64,
    db_errors: AtomicU64,
    dropped: AtomicU64,
    spill_errors: AtomicU64,
    spill_skipped: AtomicU64,
    in_memory: AtomicU64,
    database_down: AtomicU64,
    errors_by_kind: [AtomicU64; FailureKind::ALL.len()],
    /// When the current run of database failures began (`None` while it answers).
    down_since: Mutex<Option<std::time::Instant>>,
}

/// What the writer has done since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// New records stored (replayed ones included).
    pub written: u64,
    /// Records ignored because their request id was already stored.
    pub duplicates: u64,
    /// Records the writer moved from memory to the spill file (database down).
    pub spilled: u64,
    /// Records that found the channel full (queued beside it, or spilled by the request path
    /// when that queue was full too) or the writer stopped (spilled).
    pub overflowed: u64,
    /// Records stored from the spill file.
    pub replayed: u64,
    /// Failed database attempts.
    pub db_errors: u64,
    /// Records lost because neither the database nor the spill file took them.
    pub dropped: u64,
    /// Failed appends to the spill file.
    pub spill_errors: u64,
    /// Unreadable (torn) spill-file lines skipped by a replay.
    pub spill_skipped: u64,
    /// Records the writer holds in memory only (neither stored nor spilled yet).
    pub in_memory: u64,
    /// Whether the last database attempt failed (1) or not (0).
    pub database_down: u64,
}

/// Records that found the channel full: a second bounded queue the writer drains, so a burst
/// costs the request path a short lock, not a file write per record.
#[derive(Default)]
struct Overflow {
    queue: Vec<UsageRecord>,
    /// Set by the writer when it stops: later records go straight to the spill file.
    closed: bool,
}

struct Inner {
    tx: mpsc::Sender<UsageRecord>,
    overflow: Arc<Mutex<Overflow>>,
    overflow_cap: usize,
    flush_tx: mpsc::Sender<oneshot::Sender<()>>,
    spill: Arc<Spill>,
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
    counters: Arc<Counters>,
}

/// Handle to the writer task; cheap to clone. Call [`UsageWriter::shutdown`] before exit.
#[derive(Clone)]
pub struct UsageWriter {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for UsageWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsageWriter")
            .field("spill", &self.inner.spill.path())
            .field("stats", &self.stats())
            .finish()
    }
}

#[derive(Debug, Clone)]
struct Options {
    batch_size: usize,
    flush_interval: Duration,
    buffer_max: usize,
}

impl UsageWriter {
    /// Opens the configured database (lazily: an unreachable database does not fail this)
    /// and starts the writer task on the current Tokio runtime. Migrations run before the
    /// first write.
    pub fn start(config: &StorageConfig) -> Result<Self, StoreError> {
        let store = UsageStore::open_config(config)?;
        Self::with_store(Arc::new(store), config)
    }

    /// Starts a writer over any [`BatchStore`] (the real store, or a test double) on the
    /// current Tokio runtime.
    pub fn with_store(
        store: Arc<dyn BatchStore>,
        config: &StorageConfig,
    ) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| StoreError::NoRuntime)?;
        let (tx, rx) = mpsc::channel(config.channel_capacity.max(1));
        let (flush_tx, flush_rx) = mpsc::channel(16);
        let spill = Arc::new(Spill::new(config.spill_path.clone()));
        let stop = CancellationToken::new();
        let counters = Arc::new(Counters::default());
        let overflow = Arc::new(Mutex::new(Overflow::default()));
        let worker = Worker {
            store,
            overflow: overflow.clone(),
            spill: spill.clone(),
            counters: counters.clone(),
            opts: Options {
                batch_size: config.batch_size.max(1),
                flush_interval: config.flush_interval.max(Duration::from_millis(1)),
                buffer_max: config.buffer_max_records.max(1),
            },
            pending: VecDeque::new(),
            prepared: false,
            retry_at: None,
            backoff: FIRST_BACKOFF,
            replay: None,
            last_kind: None,
            spill_failing: false,
            failed_since: None,
        };
        let task = runtime.spawn(worker.run(rx, flush_rx, stop.clone()));
        Ok(Self {
            inner: Arc::new(Inner {
                tx,
                overflow,
                overflow_cap: config.channel_capacity.max(1),
                flush_tx,
                spill,
                stop,
                task: Mutex::new(Some(task)),
                counters,
            }),
        })
    }

    /// Counters since start.
    pub fn stats(&self) -> WriterStats {
        let c = &self.inner.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        WriterStats {
            written: g(&c.written),
            duplicates: g(&c.duplicates),
            spilled: g(&c.spilled),
            overflowed: g(&c.overflowed),
            replayed: g(&c.replayed),
            db_errors: g(&c.db_errors),
            dropped: g(&c.dropped),
            spill_errors: g(&c.spill_errors),
            spill_skipped: g(&c.spill_skipped),
            in_memory: g(&c.in_memory),
            database_down: g(&c.database_down),
        }
    }

    /// How long the database has been failing, while it is (`None` once a write succeeds).
    /// Read by readiness checks: records meanwhile go to [`UsageWriter::spill_path`].
    pub fn down_for(&self) -> Option<Duration> {
        let since = *self.inner.counters.down_since.lock();
        since.map(|t| t.elapsed())
    }

    /// The spill file that keeps records while the database is down.
    pub fn spill_path(&self) -> &std::path::Path {
        self.inner.spill.path()
    }

    /// Failed database attempts by condition (every kind, zeros included).
    pub fn db_errors_by_kind(&self) -> Vec<(FailureKind, u64)> {
        let c = &self.inner.counters;
        FailureKind::ALL
            .iter()
            .zip(&c.errors_by_kind)
            .map(|(k, n)| (*k, n.load(Ordering::Relaxed)))
            .collect()
    }

    /// Records waiting in the spill file(s).
    pub fn spilled_pending(&self) -> std::io::Result<u64> {
        self.inner.spill.pending_lines()
    }

    /// Asks the writer to write everything queued now (and replay the spill file if the
    /// database answers); returns when that attempt is over.
    pub async fn flush(&self) {
        let (ack, done) = oneshot::channel();
        if self.inner.flush_tx.send(ack).await.is_ok() {
            let _ = done.await;
        }
    }

    /// Stops the writer: everything queued is written to the database, or to the spill file
    /// if the database does not take it. Records submitted afterwards go to the spill file.
    pub async fn shutdown(&self) {
        self.inner.stop.cancel();
        let task = self.inner.task.lock().take();
        if let Some(task) = task {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "usage writer task failed");
            }
        }
    }
}

impl UsageSink for UsageWriter {
    fn submit(&self, record: UsageRecord) {
        let inner = &self.inner;
        let record = match inner.tx.try_send(record) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(r) | mpsc::error::TrySendError::Closed(r)) => r,
        };
        inner.counters.overflowed.fetch_add(1, Ordering::Relaxed);
        // Channel full: queue it beside the channel; when that queue is full too, this caller
        // writes the whole queue to the spill file (one synced write for many records).
        let (batch, sync) = {
            let mut o = inner.overflow.lock();
            if o.closed {
                (vec![record], false)
            } else {
                o.queue.push(record);
                if o.queue.len() < inner.overflow_cap {
                    return;
                }
                (std::mem::take(&mut o.queue), true)
            }
        };
        if let Err(e) = inner.spill.append(&batch, sync) {
            inner.counters.spill_errors.fetch_add(1, Ordering::Relaxed);
            inner
                .counters
                .dropped
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            tracing::error!(error = %e, lost = batch.len(),
                "usage records lost: writer queue full and spill file not writable");
        }
    }
}

struct Worker {
    store: Arc<dyn BatchStore>,
    overflow: Arc<Mutex<Overflow>>,
    spill: Arc<Spill>,
    counters: Arc<Counters>,
    opts: Options,
    pending: VecDeque<UsageRecord>,
    prepared: bool,
    retry_at: Option<Instant>,
    backoff: Duration,
    replay: Option<Replay>,
    /// The condition of the last failure, while the database is failing.
    last_kind: Option<FailureKind>,
    /// Whether the last spill-file append failed.
    spill_failing: bool,
    /// When the current run of failures began.
    failed_since: Option<Instant>,
}

impl Worker {
    async fn run(
        mut self,
        mut rx: mpsc::Receiver<UsageRecord>,
        mut flush_rx: mpsc::Receiver<oneshot::Sender<()>>,
        stop: CancellationToken,
    ) {
        let mut tick = tokio::time::interval(self.opts.flush_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = stop.cancelled() => break,
                Some(ack) = flush_rx.recv() => {
                    while let Ok(r) = rx.try_recv() {
                        self.pending.push_back(r);
                    }
                    self.flush(true).await;
                    let _ = ack.send(());
                }
                r = rx.recv() => match r {
                    Some(r) => {
                        self.pending.push_back(r);
                        if self.pending.len() >= self.opts.batch_size {
                            self.flush(false).await;
                        }
                    }
                    None => break,
                },
                _ = tick.tick() => self.flush(false).await,
            }
        }
        rx.close();
        while let Some(r) = rx.recv().await {
            self.pending.push_back(r);
        }
        {
            let mut o = self.overflow.lock();
            o.closed = true;
            self.pending.extend(o.queue.drain(..));
        }
        // A replay under way keeps only its unread lines for the next start.
        if let Some(r) = self.replay.take() {
            if let Err(e) = r.keep_rest() {
                tracing::error!(error = %e, "cannot shorten the usage spill file being replayed");
            }
        }
        // One last attempt at the database, then the spill file.
        self.retry_at = None;
        self.write_pending().await;
        if !self.pending.is_empty() {
            self.spill_pending().await;
        }
        if !self.pending.is_empty() {
            let lost = self.pending.len() as u64;
            self.counters.dropped.fetch_add(lost, Ordering::Relaxed);
            tracing::error!(
                lost,
                spill = %self.spill.path().display(),
                "usage records lost at shutdown: neither the database nor the spill file took them"
            );
            self.pending.clear();
        }
        self.note_memory();
        while let Ok(ack) = flush_rx.try_recv() {
            let _ = ack.send(());
        }
    }

    fn failed(&mut self, e: &StoreError) {
        let kind = e.kind();
        self.counters.db_errors.fetch_add(1, Ordering::Relaxed);
        self.counters.errors_by_kind[kind.index()].fetch_add(1, Ordering::Relaxed);
        self.counters.database_down.store(1, Ordering::Relaxed);
        // Logged when the database starts failing and when the condition changes, not on
        // every retry.
        if self.last_kind != Some(kind) {
            tracing::warn!(
                error = %e,
                kind = %kind,
                hint = kind.hint(),
                spill = %self.spill.path().display(),
                "usage database write failed; records go to the spill file until it is back"
            );
        }
        self.last_kind = Some(kind);
        self.failed_since.get_or_insert_with(Instant::now);
        self.counters
            .down_since
            .lock()
            .get_or_insert_with(std::time::Instant::now);
        // The next attempt checks (and, on a new file, creates) the tables again.
        self.prepared = false;
        self.retry_at = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    fn succeeded(&mut self) {
        if self.retry_at.take().is_some() {
            let down_ms = self
                .failed_since
                .map_or(0, |t| t.elapsed().as_millis() as u64);
            tracing::info!(
                down_ms,
                last_kind = %self.last_kind.map_or("none", FailureKind::as_str),
                "usage database reachable again; replaying the spill file"
            );
        }
        self.last_kind = None;
        self.failed_since = None;
        *self.counters.down_since.lock() = None;
        self.counters.database_down.store(0, Ordering::Relaxed);
        self.backoff = FIRST_BACKOFF;
    }

    fn note_memory(&self) {
        self.counters
            .in_memory
            .store(self.pending.len() as u64, Ordering::Relaxed);
    }

    /// Runs the store's migrations once; false (and backoff) when the database fails.
    async fn ensure_prepared(&mut self) -> bool {
        if self.prepared {
            return true;
        }
        match self.store.prepare().await {
            Ok(()) => {
                self.prepared = true;
                true
            }
            Err(e) => {
                self.failed(&e);
                false
            }
        }
    }

    /// Writes `pending` in batches; stops at the first failure. Returns whether all went.
    async fn write_pending(&mut self) -> bool {
        if self.pending.is_empty() {
            return true;
        }
        if !self.ensure_prepared().await {
            return false;
        }
        while !self.pending.is_empty() {
            let n = self.opts.batch_size.min(self.pending.len());
            let result = {
                let all = self.pending.make_contiguous();
                self.store.write(&all[..n]).await
            };
            match result {
                Ok(new) => {
                    self.counters.written.fetch_add(new, Ordering::Relaxed);
                    self.counters
                        .duplicates
                        .fetch_add((n as u64).saturating_sub(new), Ordering::Relaxed);
                    self.pending.drain(..n);
                    self.succeeded();
                }
                Err(e) => {
                    self.failed(&e);
                    return false;
                }
            }
        }
        true
    }

    fn take_overflow(&mut self) {
        let mut o = self.overflow.lock();
        if !o.queue.is_empty() {
            self.pending.extend(o.queue.drain(..));
        }
    }

    async fn flush(&mut self, force: bool) {
        self.take_overflow();
        let waiting = matches!(self.retry_at, Some(t) if Instant::now() < t);
        if waiting && !force {
            // The database is failing: what arrived goes to the spill file now, not later.
            self.spill_pending().await;
        } else if self.write_pending().await {
            self.replay(force).await;
        } else {
            // A failed write's records reach the spill file before they leave memory.
            self.spill_pending().await;
        }
        self.note_memory();
    }

    /// Moves `pending` to the spill file (one synced append). When the file cannot be
    /// written, the records stay in memory, at most `buffer_max_records`; past that the
    /// oldest are dropped (counted, logged).
    async fn spill_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let records: Vec<UsageRecord> = self.pending.drain(..).collect();
        let n = records.len() as u64;
        let spill = self.spill.clone();
        let result = tokio::task::spawn_blocking(move || {
            let r = spill.append(&records, true);
            (r, records)
        })
        .await;
        match result {
            Ok((Ok(()), _)) => {
                self.counters.spilled.fetch_add(n, Ordering::Relaxed);
                if std::mem::take(&mut self.spill_failing) {
                    tracing::info!(
                        spill = %self.spill.path().display(),
                        records = n,
                        "usage spill file writable again; records held in memory written to it"
                    );
                }
            }
            Ok((Err(e), records)) => {
                self.counters.spill_errors.fetch_add(1, Ordering::Relaxed);
                self.pending.extend(records);
                if !std::mem::replace(&mut self.spill_failing, true) {
                    tracing::error!(
                        error = %e,
                        spill = %self.spill.path().display(),
                        in_memory = self.pending.len(),
                        bound = self.opts.buffer_max,
                        "cannot write the usage spill file either: records are held in memory \
                         only (lost on a crash) until the database or the spill file takes them; \
                         put spill_path on another disk than the database"
                    );
                }
                let excess = self.pending.len().saturating_sub(self.opts.buffer_max);
                if excess > 0 {
                    self.pending.drain(..excess);
                    self.counters
                        .dropped
                        .fetch_add(excess as u64, Ordering::Relaxed);
                    tracing::error!(
                        lost = excess,
                        bound = self.opts.buffer_max,
                        "usage records lost: database and spill file both failing and the \
                         in-memory bound (buffer_max_records) reached"
                    );
                }
            }
            Err(e) => {
                self.counters.dropped.fetch_add(n, Ordering::Relaxed);
                tracing::error!(error = %e, lost = n, "usage spill task failed");
            }
        }
    }

    /// Replays the spill file into the database, batch by batch: all of it when `force`,
    /// else at most [`REPLAY_BATCHES_PER_FLUSH`] batches, so new records keep flowing while a
    /// large file is replayed. Stops at the first failure (the file is kept and replayed again
    /// from its start later: writes are idempotent).
    async fn replay(&mut self, force: bool) {
        if !self.ensure_prepared().await {
            return;
        }
        let mut batches = 0;
        // A replay under way, then the file left over by a stopped replay, then the spill file.
        loop {
            let mut replay = match self.replay.take() {
                Some(r) => r,
                None => match self.spill.begin_replay() {
                    Ok(Some(r)) => r,
                    Ok(None) => return,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot open the usage spill file for replay");
                        return;
                    }
                },
            };
            loop {
                if !force && batches == REPLAY_BATCHES_PER_FLUSH {
                    self.replay = Some(replay);
                    return;
                }
                batches += 1;
                let batch = match replay.next_batch(self.opts.batch_size) {
                    Ok(b) => b,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read the usage spill file");
                        return;
                    }
                };
                if batch.is_empty() {
                    break;
                }
                match self.store.write(&batch).await {
                    Ok(new) => {
                        self.succeeded();
                        self.counters.replayed.fetch_add(new, Ordering::Relaxed);
                        self.counters.written.fetch_add(new, Ordering::Relaxed);
                        self.counters
                            .duplicates
                            .fetch_add((batch.len() as u64).saturating_sub(new), Ordering::Relaxed);
                    }
                    Err(e) => {
                        self.failed(&e);
                        return;
                    }
                }
            }
            let skipped = replay.skipped();
            if let Err(e) = replay.finish() {
                tracing::error!(error = %e, "cannot remove the replayed usage spill file");
                return;
            }
            self.counters
                .spill_skipped
                .fetch_add(skipped, Ordering::Relaxed);
            tracing::info!(skipped, "usage spill file replayed");
        }
    }
}
