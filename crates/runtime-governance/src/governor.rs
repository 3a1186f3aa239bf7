//! [`Governance`]: the keys cache (refreshed from the database within a sync interval of any
//! change, on every replica), admission of a call (rate limits, then the budget
//! reservation), settlement, and the admin operations.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use runtime_redis::Redis;
use tokio_util::sync::CancellationToken;

use crate::db::{Db, DbError};
use crate::enforce::{Enforcer, Lease, Reserved};
use crate::headers::RateHeaders;
use crate::limits::{Cell, Limiter, Slot};
use crate::model::{Budget, Key, Team, User, to_usd};
use crate::period::Clock;
use crate::secret;

/// How governance runs.
#[derive(Debug, Clone)]
pub struct GovernanceConfig {
    /// The database (the usage store's `[storage] database_url`).
    pub database_url: String,
    /// The shared Redis (None: the database alone is the shared state).
    pub redis: Option<Redis>,
    /// Prefix (and hash tag) of every Redis key.
    pub prefix: String,
    /// How often each replica reads the state row (changes, fleet mode).
    pub sync_interval: Duration,
    /// How long a hold or a parallel slot lives if never settled (a crashed replica's).
    pub lease_ttl: Duration,
    /// Budgeted keys may call models without a known price (counted at 0).
    pub allow_unpriced: bool,
    /// Ids that DB keys may not take (the TOML keys').
    pub reserved_ids: Vec<String>,
    /// The clock.
    pub clock: Clock,
}

impl Default for GovernanceConfig {
    fn default() -> Self {
        Self {
            database_url: String::new(),
            redis: None,
            prefix: "modelrt:gov".into(),
            sync_interval: Duration::from_millis(250),
            lease_ttl: Duration::from_secs(900),
            allow_unpriced: false,
            reserved_ids: Vec::new(),
            clock: Clock::system(),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Cache {
    version: i64,
    pub(crate) keys: HashMap<String, Arc<Key>>,
    by_hash: HashMap<String, Arc<Key>>,
    pub(crate) teams: HashMap<String, Arc<Team>>,
    pub(crate) users: HashMap<String, Arc<User>>,
}

impl Cache {
    pub(crate) fn put_key(&mut self, k: Key) {
        if let Some(old) = self.keys.remove(&k.id) {
            self.by_hash.remove(&old.hash);
            if let Some(p) = &old.prev_hash {
                self.by_hash.remove(p);
            }
        }
        let k = Arc::new(k);
        self.by_hash.insert(k.hash.clone(), k.clone());
        if let Some(p) = &k.prev_hash {
            self.by_hash.insert(p.clone(), k.clone());
        }
        self.keys.insert(k.id.clone(), k);
    }

    pub(crate) fn put_team(&mut self, t: Team) {
        if t.deleted {
            self.teams.remove(&t.id);
        } else {
            self.teams.insert(t.id.clone(), Arc::new(t));
        }
    }

    pub(crate) fn put_user(&mut self, u: User) {
        if u.deleted {
            self.users.remove(&u.id);
        } else {
            self.users.insert(u.id.clone(), Arc::new(u));
        }
    }
}

/// Who calls: a database key and its team.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key.
    pub key: Arc<Key>,
    /// Its team.
    pub team: Option<Arc<Team>>,
}

impl Caller {
    /// Whether the key (and its team) may use `model`.
    pub fn allows(&self, model: &str) -> bool {
        self.key.allows(model)
            && self
                .team
                .as_ref()
                .is_none_or(|t| crate::model::model_allowed(&t.models, model))
    }
}

/// What a call may cost, as the gateway estimated it.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The request id.
    pub request_id: String,
    /// The model (after aliases).
    pub model: String,
    /// The end user named by the request.
    pub end_user: Option<String>,
    /// Tokens the call may use (for tpm: prompt estimate + output limit).
    pub tokens: u64,
    /// Worst-case cost in µUSD; `None`: the model has no known price.
    pub cost_micros: Option<i64>,
}

/// Why a call is refused.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// HTTP status (429, 403, 503).
    pub status: u16,
    /// `budget_exceeded`, `rate_limit_exceeded`, `unpriced_model`, `budget_unavailable`.
    pub code: &'static str,
    /// What happened (names the key, team or user, never a secret).
    pub message: String,
    /// When a retry may pass (a period or window end), if known.
    pub retry_after: Option<Duration>,
    /// The rate-limit headers of the caller.
    pub headers: RateHeaders,
}

/// An admitted call: settle it with its real cost. Dropped unsettled (the client went away
/// mid-call), it is charged its whole reservation — never counted as free.
#[derive(Debug)]
pub struct Ticket {
    gov: Arc<Governance>,
    request_id: String,
    lease: Option<Lease>,
    slots: Vec<Slot>,
    token_cells: Vec<Cell>,
    tokens: u64,
    headers: RateHeaders,
    done: bool,
}

impl Ticket {
    /// The rate-limit headers to send.
    pub fn headers(&self) -> RateHeaders {
        self.headers
    }

    /// µUSD held for this call.
    pub fn reserved_micros(&self) -> i64 {
        self.lease.as_ref().map_or(0, |l| l.amount)
    }

    /// Settles with the real cost (`None`: unknown, charged the reservation) and tokens.
    pub async fn settle(mut self, cost_micros: Option<i64>, tokens: Option<u64>) {
        self.done = true;
        let gov = self.gov.clone();
        finish(
            &gov,
            &self.request_id,
            self.lease.take(),
            std::mem::take(&mut self.slots),
            std::mem::take(&mut self.token_cells),
            self.tokens,
            cost_micros,
            tokens,
        )
        .await;
    }

    /// Releases a call that never reached a provider (nothing charged).
    pub async fn release(self) {
        self.settle(Some(0), Some(0)).await;
    }
}

#[allow(clippy::too_many_arguments)]
async fn finish(
    gov: &Governance,
    request_id: &str,
    lease: Option<Lease>,
    slots: Vec<Slot>,
    cells: Vec<Cell>,
    estimate: u64,
    cost: Option<i64>,
    tokens: Option<u64>,
) {
    gov.limiter.release(request_id, &slots).await;
    if let Some(t) = tokens {
        let delta = t as i64 - estimate as i64;
        for c in &cells {
            gov.limiter.adjust(c, delta).await;
        }
    }
    if let Some(l) = lease {
        let actual = cost.unwrap_or(l.amount);
        gov.enforcer.settle(&l, actual).await;
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let gov = self.gov.clone();
        let id = std::mem::take(&mut self.request_id);
        let lease = self.lease.take();
        let slots = std::mem::take(&mut self.slots);
        let cells = std::mem::take(&mut self.token_cells);
        let estimate = self.tokens;
        if let Ok(h) = tokio::runtime::Handle::try_current() {
            h.spawn(async move {
                finish(&gov, &id, lease, slots, cells, estimate, None, None).await;
            });
        }
    }
}

/// Keys, teams, users and budgets of a fleet of gateways.
pub struct Governance {
    pub(crate) db: Db,
    enforcer: Enforcer,
    limiter: Limiter,
    pub(crate) cfg: GovernanceConfig,
    pub(crate) cache: RwLock<Cache>,
    stop: CancellationToken,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl std::fmt::Debug for Governance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Governance")
            .field("keys", &self.cache.read().keys.len())
            .finish_non_exhaustive()
    }
}

fn counter(scope: &str, id: &str, b: Budget, now_ms: i64) -> (String, i64, Option<i64>) {
    let (start, end) = b.period.window(now_ms);
    (
        format!("{scope}:{id}:{}:{start}", b.period.as_str()),
        b.max_micros,
        end,
    )
}

impl Governance {
    /// Opens the database, migrates it, loads the keys and starts the sync loop.
    pub async fn start(cfg: GovernanceConfig) -> Result<Arc<Self>, DbError> {
        let db = Db::open(&cfg.database_url, 4, Duration::from_secs(2))?;
        db.migrate().await?;
        let gov = Arc::new(Self {
            enforcer: Enforcer::new(
                db.clone(),
                cfg.redis.clone(),
                &cfg.prefix,
                cfg.clock.clone(),
                cfg.sync_interval,
                cfg.lease_ttl,
            ),
            limiter: Limiter::new(cfg.redis.clone(), &cfg.prefix, cfg.lease_ttl),
            db,
            cfg,
            cache: RwLock::new(Cache::default()),
            stop: CancellationToken::new(),
            task: Mutex::new(None),
        });
        gov.sync().await;
        let weak = Arc::downgrade(&gov);
        let stop = gov.stop.clone();
        let every = gov.cfg.sync_interval;
        *gov.task.lock() = Some(tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(every) => {}
                }
                let Some(g) = weak.upgrade() else { return };
                g.sync().await;
            }
        }));
        Ok(gov)
    }

    /// Stops the sync loop and writes buffered settlements.
    pub async fn shutdown(&self) {
        self.stop.cancel();
        let task = self.task.lock().take();
        if let Some(t) = task {
            let _ = t.await;
        }
        self.enforcer.flush().await;
        self.db.close().await;
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.cfg.clock
    }

    /// One sync: the fleet state, then the keys, teams and users changed since the last.
    pub async fn sync(&self) {
        self.enforcer.tick().await;
        let since = self.cache.read().version;
        let Ok(state) = self.db.state().await else {
            return;
        };
        if state.version <= since {
            return;
        }
        match self.db.changes(since).await {
            Ok((keys, teams, users)) => {
                let mut c = self.cache.write();
                for k in keys {
                    c.put_key(k);
                }
                for t in teams {
                    c.put_team(t);
                }
                for u in users {
                    c.put_user(u);
                }
                c.version = c.version.max(state.version);
            }
            Err(e) => tracing::warn!(error = %e, "cannot read key changes"),
        }
    }

    /// The database key presented (`Authorization: Bearer …`), if it is one and usable now:
    /// not revoked, not expired, or a rotated-out secret within its grace.
    pub fn identify(&self, presented: &str) -> Option<Caller> {
        self.identify_hash(&secret::hash_hex(presented))
    }

    /// Like [`Governance::identify`], from the key's SHA-256 (hex) rather than the key
    /// itself: what a stored admin UI session keeps, so that revoking, expiring or rotating
    /// the key (past its grace) ends the session.
    pub fn identify_hash(&self, hash: &str) -> Option<Caller> {
        let c = self.cache.read();
        let key = c.by_hash.get(hash)?.clone();
        let now = self.cfg.clock.now_ms();
        if !key.active(now) {
            return None;
        }
        if key.hash != hash && key.prev_valid_until_ms.is_none_or(|t| now >= t) {
            return None;
        }
        let team = key.team_id.as_ref().and_then(|t| c.teams.get(t).cloned());
        Some(Caller { key, team })
    }

    /// Admits a call: rate limits (key, team, end user), then its worst-case cost held
    /// against every budget that applies.
    pub async fn admit(self: &Arc<Self>, who: &Caller, plan: &Plan) -> Result<Ticket, Refusal> {
        let now = self.cfg.clock.now_ms();
        let user = plan
            .end_user
            .as_ref()
            .and_then(|u| self.cache.read().users.get(u).cloned());
        let k = &who.key;
        let mut cells = Vec::new();
        let mut slots = Vec::new();
        let mut add = |scope: &str, id: &str, l: crate::model::Limits| {
            if let Some(rpm) = l.rpm {
                cells.push(Cell {
                    name: format!("{scope}:{id}:rpm"),
                    per_minute: rpm,
                    cost: 1,
                    requests: true,
                });
            }
            if let Some(tpm) = l.tpm {
                cells.push(Cell {
                    name: format!("{scope}:{id}:tpm"),
                    per_minute: tpm,
                    cost: plan.tokens.min(u64::from(tpm)),
                    requests: false,
                });
            }
            if let Some(p) = l.max_parallel {
                slots.push(Slot {
                    name: format!("{scope}:{id}:par"),
                    max: p,
                });
            }
        };
        add("k", &k.id, k.limits);
        if let Some(t) = &who.team {
            add("t", &t.id, t.limits);
        }
        if let Some(u) = &user {
            add(
                "u",
                &u.id,
                crate::model::Limits {
                    rpm: u.rpm,
                    ..Default::default()
                },
            );
        }
        let mut budgets: Vec<(String, i64, Option<i64>, String)> = Vec::new();
        if let Some(b) = k.budget {
            let (c, l, e) = counter("k", &k.id, b, now);
            budgets.push((c, l, e, format!("key `{}`", k.id)));
        }
        if let Some(b) = who.team.as_ref().and_then(|t| t.budget) {
            let id = who.team.as_ref().map(|t| t.id.clone()).unwrap_or_default();
            let (c, l, e) = counter("t", &id, b, now);
            budgets.push((c, l, e, format!("team `{id}`")));
        }
        if let Some(u) = &user {
            if let Some(b) = u.budget {
                let (c, l, e) = counter("u", &u.id, b, now);
                budgets.push((c, l, e, format!("end user `{}`", u.id)));
            }
        }
        let amount = match plan.cost_micros {
            Some(c) => c,
            None if budgets.is_empty() => 0,
            None if k.allow_unpriced || self.cfg.allow_unpriced => 0,
            None => {
                return Err(Refusal {
                    status: 403,
                    code: "unpriced_model",
                    message: format!(
                        "model `{}` has no known price, so a budgeted call cannot be counted: \
                         add a [pricing.overrides] entry, or allow unpriced calls for this key \
                         (allow_unpriced)",
                        runtime_core::error::excerpt(&plan.model)
                    ),
                    retry_after: None,
                    headers: RateHeaders::default(),
                });
            }
        };
        let states = match self.limiter.admit(&plan.request_id, &cells, &slots).await {
            Ok(s) => s,
            Err(l) => {
                return Err(Refusal {
                    status: 429,
                    code: "rate_limit_exceeded",
                    message: format!("rate limit `{}` reached", l.name),
                    retry_after: Some(l.wait.max(Duration::from_millis(1))),
                    headers: RateHeaders::default(),
                });
            }
        };
        let headers = RateHeaders::from_states(&states);
        let token_cells: Vec<Cell> = cells.iter().filter(|c| !c.requests).cloned().collect();
        let mut ticket = Ticket {
            gov: self.clone(),
            request_id: plan.request_id.clone(),
            lease: None,
            slots,
            token_cells,
            tokens: plan.tokens,
            headers,
            done: false,
        };
        if budgets.is_empty() {
            return Ok(ticket);
        }
        let limits: Vec<(String, Option<i64>)> = budgets
            .iter()
            .map(|(c, l, _, _)| (c.clone(), Some(*l)))
            .collect();
        match self
            .enforcer
            .reserve(&plan.request_id, &limits, amount)
            .await
        {
            Reserved::Held(lease) => {
                ticket.lease = Some(lease);
                Ok(ticket)
            }
            Reserved::Over {
                counter,
                spent,
                reserved,
            } => {
                ticket.release().await;
                let (_, limit, end, who) = budgets
                    .into_iter()
                    .find(|b| b.0 == counter)
                    .unwrap_or_default();
                Err(Refusal {
                    status: 429,
                    code: "budget_exceeded",
                    message: format!(
                        "budget of {who} exceeded: ${:.6} spent and ${:.6} held by calls under \
                         way of ${:.6}; this call may cost up to ${:.6}",
                        to_usd(spent),
                        to_usd(reserved),
                        to_usd(limit),
                        to_usd(amount)
                    ),
                    retry_after: end.map(|e| Duration::from_millis((e - now).max(1) as u64)),
                    headers,
                })
            }
            Reserved::Unavailable(why) => {
                ticket.release().await;
                Err(Refusal {
                    status: 503,
                    code: "budget_unavailable",
                    message: format!(
                        "budgets cannot be checked now (Redis and the database are unreachable): {why}"
                    ),
                    retry_after: Some(Duration::from_secs(1)),
                    headers,
                })
            }
        }
    }

    /// Spend and holds of every budgeted key, team and user in their current period.
    pub async fn budgets(&self) -> Vec<serde_json::Value> {
        let now = self.cfg.clock.now_ms();
        let mut items: Vec<(String, String, Budget)> = Vec::new();
        {
            let c = self.cache.read();
            for k in c.keys.values().filter(|k| k.revoked_ms.is_none()) {
                if let Some(b) = k.budget {
                    items.push(("key".into(), k.id.clone(), b));
                }
            }
            for t in c.teams.values() {
                if let Some(b) = t.budget {
                    items.push(("team".into(), t.id.clone(), b));
                }
            }
            for u in c.users.values() {
                if let Some(b) = u.budget {
                    items.push(("user".into(), u.id.clone(), b));
                }
            }
        }
        items.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let names: Vec<String> = items
            .iter()
            .map(|(kind, id, b)| counter(&kind[..1], id, *b, now).0)
            .collect();
        let rows = self.enforcer.counters(&names).await;
        items
            .iter()
            .zip(&names)
            .map(|((kind, id, b), name)| {
                let row = rows.iter().find(|r| &r.counter == name);
                let (start, end) = b.period.window(now);
                serde_json::json!({
                    "object": "budget",
                    "kind": kind,
                    "id": id,
                    "max_usd": to_usd(b.max_micros),
                    "period": b.period,
                    "period_start": start / 1000,
                    "period_end": end.map(|e| e / 1000),
                    "spent_usd": to_usd(row.map_or(0, |r| r.spent)),
                    "reserved_usd": to_usd(row.map_or(0, |r| r.reserved)),
                })
            })
            .collect()
    }
}
