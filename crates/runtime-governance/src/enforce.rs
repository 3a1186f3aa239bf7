//! Budget enforcement across replicas: reserve the worst-case cost of a call before it runs,
//! settle with the real cost after.
//!
//! **Redis mode** (the fleet's normal state): one Lua script holds the amount on every
//! applicable counter (key, team, end user) atomically, or refuses; settling releases the
//! hold and adds the real cost. A hold is a lease with an expiry: a crashed replica's holds
//! are released by the next reservation after the lease time. Settled amounts are also
//! written to the database ledger (batched every sync interval), so spend is durable.
//!
//! **Database mode** (a replica cannot reach Redis): that replica heartbeats the fleet state
//! row; while a heartbeat is fresh, every replica reserves with a conditional `UPDATE … WHERE
//! spent + reserved + cost <= limit` in one transaction. Before any database admission a
//! fence passes, in which every replica that learnt of the switch (each polls the state row
//! every sync interval) writes its unflushed settlements and registers its in-flight Redis
//! holds in the database. When no heartbeat came for a while, the fleet returns to Redis,
//! whose counters are loaded again from the database (under the state row's lock, once per
//! generation) before use. See `docs/governance.md` for the bound this gives.

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::Mutex;
use runtime_redis::{Redis, RedisState, redis};

use crate::db::{CounterRow, Db, DbReserve, LeaseRow, ModeTimes, Settlement, State};
use crate::period::Clock;

/// `spent`, `reserved`, `gen` of a counter hash.
type CounterFields = (Option<i64>, Option<i64>, Option<i64>);

/// Where a hold lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Home {
    /// In Redis.
    Redis,
    /// In the database.
    Db,
}

/// A held reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Its id (unique per call).
    pub id: String,
    /// µUSD held on each counter.
    pub amount: i64,
    /// The counters.
    pub counters: Vec<String>,
    /// Where it is held.
    pub home: Home,
}

/// A reservation's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserved {
    /// Held.
    Held(Lease),
    /// `counter` cannot hold the amount: its spend and holds.
    Over {
        /// The counter.
        counter: String,
        /// Settled spend, µUSD.
        spent: i64,
        /// Held by calls under way, µUSD.
        reserved: i64,
    },
    /// Neither Redis nor the database can take the reservation now.
    Unavailable(String),
}

/// The fleet mode as this replica sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Reserve in Redis (generation).
    Redis(i64),
    /// Reserve in the database.
    Db,
    /// Switching: wait.
    Wait,
}

/// Budgets in Redis with a database fallback.
pub struct Enforcer {
    db: Db,
    redis: Option<Redis>,
    prefix: String,
    clock: Clock,
    times: ModeTimes,
    lease_ttl_ms: i64,
    state: Mutex<(State, i64)>,
    inflight: Mutex<HashMap<String, Lease>>,
    buffer: Mutex<Vec<Settlement>>,
    /// One flush at a time: a flush returns only when what was buffered before it is written.
    flushing: tokio::sync::Mutex<()>,
    left_redis_gen: Mutex<i64>,
    reserve: redis::Script,
    settle: redis::Script,
    load: redis::Script,
}

impl std::fmt::Debug for Enforcer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enforcer")
            .field("prefix", &self.prefix)
            .field("redis", &self.redis.is_some())
            .finish_non_exhaustive()
    }
}

/// The mode the state row says at `now`, and whether database admissions may start.
pub fn mode_of(s: &State, now: i64, t: ModeTimes) -> Mode {
    if crate::db::redis_mode_pub(s, now, t) {
        Mode::Redis(s.generation)
    } else if crate::db::db_admits_pub(s, now, t) {
        Mode::Db
    } else {
        Mode::Wait
    }
}

impl Enforcer {
    /// Over `db` and (optionally) `redis`, keys under `{prefix}`.
    pub fn new(
        db: Db,
        redis: Option<Redis>,
        prefix: &str,
        clock: Clock,
        sync_interval: Duration,
        lease_ttl: Duration,
    ) -> Self {
        let s = sync_interval.as_millis().max(10) as i64;
        Self {
            db,
            redis,
            prefix: format!("{{{prefix}}}"),
            clock,
            times: ModeTimes {
                active_ms: 4 * s,
                fence_ms: 3 * s,
                quiet_ms: 8 * s,
            },
            lease_ttl_ms: lease_ttl.as_millis() as i64,
            state: Mutex::new((State::default(), i64::MIN)),
            inflight: Mutex::new(HashMap::new()),
            buffer: Mutex::new(Vec::new()),
            flushing: tokio::sync::Mutex::new(()),
            left_redis_gen: Mutex::new(-1),
            reserve: redis::Script::new(crate::scripts::RESERVE),
            settle: redis::Script::new(crate::scripts::SETTLE),
            load: redis::Script::new(crate::scripts::LOAD),
        }
    }

    /// The mode thresholds.
    pub fn times(&self) -> ModeTimes {
        self.times
    }

    fn counter_key(&self, c: &str) -> String {
        format!("{}:c:{c}", self.prefix)
    }

    fn redis_down(&self) -> bool {
        match &self.redis {
            None => true,
            Some(r) => r.state() == RedisState::Down,
        }
    }

    /// Records the state row read at `now`.
    pub fn observe(&self, s: State) {
        *self.state.lock() = (s, self.clock.now_ms());
    }

    /// The mode now, from the last state read.
    pub fn mode(&self) -> Mode {
        let (s, _) = *self.state.lock();
        if self.redis.is_none() {
            // Without Redis the database is the only shared place: always database mode.
            return Mode::Db;
        }
        mode_of(&s, self.clock.now_ms(), self.times)
    }

    /// Holds `amount` µUSD on each `(counter, limit)` for a call (`request_id` names its
    /// lease). Waits through a mode switch (a fence), at most a few seconds.
    pub async fn reserve(
        &self,
        request_id: &str,
        counters: &[(String, Option<i64>)],
        amount: i64,
    ) -> Reserved {
        let lease_id = format!("{request_id}.{:08x}", rand::random::<u32>());
        let names: Vec<String> = counters.iter().map(|(c, _)| c.clone()).collect();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        let mut last_err = String::from("no answer");
        while tokio::time::Instant::now() < deadline {
            if self.redis.is_some() && self.redis_down() {
                // This replica cannot reach Redis: the fleet goes to the database.
                if let Err(e) = self.heartbeat().await {
                    last_err = e;
                }
            }
            match self.mode() {
                Mode::Redis(generation) if !self.redis_down() => {
                    match self
                        .reserve_redis(generation, &lease_id, counters, amount)
                        .await
                    {
                        Ok(Some(r)) => return self.track(r),
                        Ok(None) => continue, // loaded; try again
                        Err(e) => last_err = e,
                    }
                }
                Mode::Redis(_) => {}
                Mode::Db => {
                    self.leave_redis().await;
                    let lease = LeaseRow {
                        id: lease_id.clone(),
                        counters: names.clone(),
                        amount,
                        expires_ms: self.clock.now_ms() + self.lease_ttl_ms,
                    };
                    match self
                        .db
                        .reserve(
                            &lease,
                            counters,
                            self.clock.now_ms(),
                            self.redis.is_some().then_some(self.times),
                        )
                        .await
                    {
                        Ok(DbReserve::Held) => {
                            return self.track(Reserved::Held(Lease {
                                id: lease_id,
                                amount,
                                counters: names,
                                home: Home::Db,
                            }));
                        }
                        Ok(DbReserve::Rejected {
                            counter,
                            spent,
                            reserved,
                        }) => {
                            return Reserved::Over {
                                counter,
                                spent,
                                reserved,
                            };
                        }
                        Ok(DbReserve::NotNow) => {}
                        Err(e) => last_err = e.to_string(),
                    }
                }
                Mode::Wait => self.leave_redis().await,
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
            self.refresh().await;
        }
        Reserved::Unavailable(last_err)
    }

    fn track(&self, r: Reserved) -> Reserved {
        if let Reserved::Held(l) = &r {
            self.inflight.lock().insert(l.id.clone(), l.clone());
        }
        r
    }

    /// `Ok(None)`: the generation or a counter had to be loaded first.
    async fn reserve_redis(
        &self,
        generation: i64,
        lease_id: &str,
        counters: &[(String, Option<i64>)],
        amount: i64,
    ) -> Result<Option<Reserved>, String> {
        let Some(redis) = &self.redis else {
            return Err("no redis".into());
        };
        let keys: Vec<String> = counters.iter().map(|(c, _)| self.counter_key(c)).collect();
        let mut call = self.reserve.prepare_invoke();
        call.key(format!("{}:generation", self.prefix))
            .key(format!("{}:leases", self.prefix))
            .key(format!("{}:l:{lease_id}", self.prefix));
        for k in &keys {
            call.key(k);
        }
        call.arg(generation)
            .arg(self.clock.now_ms())
            .arg(amount)
            .arg(self.clock.now_ms() + self.lease_ttl_ms)
            .arg(lease_id)
            .arg(keys.join(" "))
            .arg(format!("{}:l:", self.prefix));
        for (_, limit) in counters {
            call.arg(limit.unwrap_or(-1));
        }
        let answer: Vec<i64> = redis
            .run(|mut c| async move { call.invoke_async(&mut c).await })
            .await
            .map_err(|e| e.to_string())?;
        match answer.first().copied() {
            Some(1) => Ok(Some(Reserved::Held(Lease {
                id: lease_id.to_owned(),
                amount,
                counters: counters.iter().map(|(c, _)| c.clone()).collect(),
                home: Home::Redis,
            }))),
            Some(0) => {
                let i = answer.get(1).copied().unwrap_or(1).max(1) as usize - 1;
                Ok(Some(Reserved::Over {
                    counter: counters.get(i).map(|c| c.0.clone()).unwrap_or_default(),
                    spent: answer.get(2).copied().unwrap_or(0),
                    reserved: answer.get(3).copied().unwrap_or(0),
                }))
            }
            _ => {
                let names: Vec<String> = counters.iter().map(|(c, _)| c.clone()).collect();
                self.load_redis(&names).await?;
                Ok(None)
            }
        }
    }

    /// Loads the generation's leases and these counters from the database into Redis,
    /// under the state row's lock.
    async fn load_redis(&self, counters: &[String]) -> Result<(), String> {
        let Some(redis) = self.redis.clone() else {
            return Ok(());
        };
        let prefix = self.prefix.clone();
        let script = self.load.clone();
        let ck = |c: &str| format!("{prefix}:c:{c}");
        let loaded = self
            .db
            .with_snapshot(
                counters,
                self.clock.now_ms(),
                self.times,
                |s: State, leases: Vec<LeaseRow>, rows: Vec<CounterRow>| {
                    let mut call = script.prepare_invoke();
                    call.key(format!("{prefix}:generation"))
                        .key(format!("{prefix}:leases"));
                    for r in &rows {
                        call.key(ck(&r.counter));
                    }
                    call.arg(s.generation)
                        .arg(format!("{prefix}:l:"))
                        .arg(rows.len());
                    for r in &rows {
                        call.arg(r.spent).arg(r.reserved);
                    }
                    for l in &leases {
                        let keys: Vec<String> = l.counters.iter().map(|c| ck(c)).collect();
                        call.arg(&l.id)
                            .arg(l.amount)
                            .arg(l.expires_ms)
                            .arg(keys.join(" "));
                    }
                    async move {
                        redis
                            .run(|mut c| async move { call.invoke_async::<i64>(&mut c).await })
                            .await
                            .is_ok()
                    }
                },
            )
            .await
            .map_err(|e| e.to_string())?;
        if !loaded {
            self.refresh().await;
        }
        Ok(())
    }

    /// Settles `lease` with the real cost `actual` µUSD.
    pub async fn settle(&self, lease: &Lease, actual: i64) {
        self.inflight.lock().remove(&lease.id);
        let item = Settlement {
            lease_id: lease.id.clone(),
            counters: lease.counters.clone(),
            amount: actual.max(0),
            time_ms: self.clock.now_ms(),
        };
        let home = lease.home;
        let mode = self.mode();
        let mut redis_done = false;
        if let (Mode::Redis(generation), Some(redis)) = (mode, &self.redis) {
            if home == Home::Db {
                // Durable first (see the module docs: a Redis load in between counts twice,
                // never zero times).
                self.settle_db(item.clone()).await;
            }
            let mut call = self.settle.prepare_invoke();
            call.key(format!("{}:generation", self.prefix))
                .key(format!("{}:leases", self.prefix))
                .key(format!("{}:l:{}", self.prefix, lease.id));
            for c in &lease.counters {
                call.key(self.counter_key(c));
            }
            call.arg(generation).arg(actual.max(0)).arg(&lease.id);
            let r: Result<i64, _> = redis
                .run(|mut c| async move { call.invoke_async(&mut c).await })
                .await;
            redis_done = matches!(r, Ok(1));
            if home == Home::Db {
                return;
            }
        }
        if redis_done {
            self.buffer.lock().push(item);
        } else {
            self.settle_db(item).await;
        }
    }

    async fn settle_db(&self, item: Settlement) {
        if let Err(e) = self.db.settle(std::slice::from_ref(&item)).await {
            tracing::warn!(error = %e, "budget settlement not written yet; kept for the next flush");
            self.buffer.lock().push(item);
        }
    }

    /// Reads the state row.
    pub async fn refresh(&self) {
        if let Ok(s) = self.db.state().await {
            self.observe(s);
        }
    }

    /// One heartbeat: this replica cannot reach Redis.
    async fn heartbeat(&self) -> Result<(), String> {
        let s = self
            .db
            .heartbeat(self.clock.now_ms(), self.times)
            .await
            .map_err(|e| e.to_string())?;
        self.observe(s);
        Ok(())
    }

    /// Once per generation, when the fleet leaves Redis: writes the unflushed settlements
    /// and registers this replica's in-flight Redis holds in the database.
    async fn leave_redis(&self) {
        let generation = self.state.lock().0.generation;
        if *self.left_redis_gen.lock() == generation {
            return;
        }
        self.flush().await;
        let redis_held: Vec<LeaseRow> = self
            .inflight
            .lock()
            .values()
            .filter(|l| l.home == Home::Redis)
            .map(|l| LeaseRow {
                id: l.id.clone(),
                counters: l.counters.clone(),
                amount: l.amount,
                expires_ms: self.clock.now_ms() + self.lease_ttl_ms,
            })
            .collect();
        match self.db.register_leases(&redis_held).await {
            Ok(()) => {
                let mut inflight = self.inflight.lock();
                for l in &redis_held {
                    if let Some(x) = inflight.get_mut(&l.id) {
                        x.home = Home::Db;
                    }
                }
                *self.left_redis_gen.lock() = generation;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot register in-flight budget holds in the database yet")
            }
        }
    }

    /// Writes buffered settlements to the database.
    pub async fn flush(&self) {
        let _one = self.flushing.lock().await;
        let items = std::mem::take(&mut *self.buffer.lock());
        if items.is_empty() {
            return;
        }
        if let Err(e) = self.db.settle(&items).await {
            tracing::warn!(error = %e, n = items.len(), "budget settlements not written yet");
            let mut b = self.buffer.lock();
            let mut items = items;
            items.append(&mut b);
            *b = items;
        }
    }

    /// The sync loop's work: state row, heartbeat or Redis ping, switch duties, flush,
    /// expired database holds.
    pub async fn tick(&self) {
        if let Some(redis) = &self.redis {
            // A ping trips the breaker when Redis went away, so the fleet learns of it
            // without waiting for a request.
            let _ = redis
                .run(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
                .await;
            if self.redis_down() {
                let _ = self.heartbeat().await;
            }
        }
        self.refresh().await;
        if !matches!(self.mode(), Mode::Redis(_)) {
            self.leave_redis().await;
        }
        self.flush().await;
        let _ = self.db.expire_leases(self.clock.now_ms()).await;
    }

    /// Spend and holds of counters, from Redis when the fleet uses it (else the database).
    pub async fn counters(&self, names: &[String]) -> Vec<CounterRow> {
        if let (Mode::Redis(generation), Some(redis)) = (self.mode(), &self.redis) {
            let mut pipe = redis::pipe();
            for n in names {
                pipe.cmd("HMGET")
                    .arg(self.counter_key(n))
                    .arg("spent")
                    .arg("reserved")
                    .arg("generation");
            }
            let got: Result<Vec<CounterFields>, _> = redis
                .run(|mut c| async move { pipe.query_async(&mut c).await })
                .await;
            if let Ok(rows) = got {
                if rows.iter().all(|r| r.2 == Some(generation)) {
                    return names
                        .iter()
                        .zip(rows)
                        .map(|(n, (s, r, _))| CounterRow {
                            counter: n.clone(),
                            spent: s.unwrap_or(0),
                            reserved: r.unwrap_or(0),
                        })
                        .collect();
                }
            }
        }
        self.db.counters(names).await.unwrap_or_default()
    }
}
