//! Rate limits of keys, teams and users: requests and tokens per minute (GCRA cells) and
//! requests under way (leased sets), all or nothing per request, in Redis on the server's
//! clock, or — while Redis is unreachable — in this process (then N replicas admit up to N ×
//! a limit). Also the `x-ratelimit-*` values of the answer.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use runtime_redis::{Redis, redis};

const MINUTE_US: u64 = 60_000_000;

/// One GCRA cell of a request: a rate per minute and what this request costs of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// Its name (`k:<key>:rpm`).
    pub name: String,
    /// Units per minute (also the burst).
    pub per_minute: u32,
    /// Units this request takes.
    pub cost: u64,
    /// Requests (`true`) or tokens.
    pub requests: bool,
}

/// A parallel-requests set of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// Its name (`k:<key>:par`).
    pub name: String,
    /// Most requests under way.
    pub max: u32,
}

/// A cell's state after admission, for the headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellState {
    /// The limit.
    pub limit: u32,
    /// What is left now.
    pub remaining: u64,
    /// Until the cell is full again.
    pub reset: Duration,
    /// Requests (`true`) or tokens.
    pub requests: bool,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limited {
    /// The cell or set that refused.
    pub name: String,
    /// When to come back.
    pub wait: Duration,
}

fn interval_us(per_minute: u32) -> u64 {
    MINUTE_US / u64::from(per_minute.max(1))
}

fn state_of(c: &Cell, ahead_us: u64) -> CellState {
    let interval = interval_us(c.per_minute);
    CellState {
        limit: c.per_minute,
        remaining: MINUTE_US.saturating_sub(ahead_us) / interval.max(1),
        reset: Duration::from_micros(ahead_us),
        requests: c.requests,
    }
}

/// The limiter: Redis when it answers, else local.
pub struct Limiter {
    redis: Option<Redis>,
    prefix: String,
    admit: redis::Script,
    adjust: redis::Script,
    local: Mutex<Local>,
    slot_ttl: Duration,
}

#[derive(Default)]
struct Local {
    tat: HashMap<String, Instant>,
    sets: HashMap<String, HashMap<String, Instant>>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Limiter {
    /// Keys under `{prefix}`; a parallel slot not given back is freed after `slot_ttl`.
    pub fn new(redis: Option<Redis>, prefix: &str, slot_ttl: Duration) -> Self {
        Self {
            redis,
            prefix: format!("{{{prefix}}}"),
            admit: redis::Script::new(crate::scripts::ADMIT),
            adjust: redis::Script::new(crate::scripts::ADJUST),
            local: Mutex::default(),
            slot_ttl,
        }
    }

    /// Admits request `id` through every cell and slot, or says which refused.
    pub async fn admit(
        &self,
        id: &str,
        cells: &[Cell],
        slots: &[Slot],
    ) -> Result<Vec<CellState>, Limited> {
        if cells.is_empty() && slots.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(redis) = &self.redis {
            let mut call = self.admit.prepare_invoke();
            for c in cells {
                call.key(format!("{}:r:{}", self.prefix, c.name));
            }
            for s in slots {
                call.key(format!("{}:r:{}", self.prefix, s.name));
            }
            call.arg(cells.len())
                .arg(id)
                .arg(self.slot_ttl.as_micros() as u64);
            for c in cells {
                call.arg(interval_us(c.per_minute))
                    .arg(MINUTE_US)
                    .arg(c.cost);
            }
            for s in slots {
                call.arg(s.max);
            }
            let got: Result<Vec<redis::Value>, _> = redis
                .run(|mut c| async move { call.invoke_async(&mut c).await })
                .await;
            if let Ok(v) = got {
                let num = |x: Option<&redis::Value>| -> u64 {
                    match x {
                        Some(redis::Value::Int(n)) => (*n).max(0) as u64,
                        Some(redis::Value::BulkString(b)) => std::str::from_utf8(b)
                            .ok()
                            .and_then(|s| s.parse().ok())
                            .unwrap_or(0),
                        _ => 0,
                    }
                };
                if num(v.first()) == 1 {
                    return Ok(cells
                        .iter()
                        .enumerate()
                        .map(|(i, c)| state_of(c, num(v.get(i + 1))))
                        .collect());
                }
                let i = num(v.get(1)).max(1) as usize - 1;
                let name = cells
                    .iter()
                    .map(|c| c.name.clone())
                    .chain(slots.iter().map(|s| s.name.clone()))
                    .nth(i)
                    .unwrap_or_default();
                return Err(Limited {
                    name,
                    wait: Duration::from_micros(num(v.get(2))),
                });
            }
        }
        self.admit_local(id, cells, slots, Instant::now())
    }

    fn admit_local(
        &self,
        id: &str,
        cells: &[Cell],
        slots: &[Slot],
        now: Instant,
    ) -> Result<Vec<CellState>, Limited> {
        let mut l = self.local.lock();
        let period = Duration::from_micros(MINUTE_US);
        let mut news = Vec::with_capacity(cells.len());
        for c in cells {
            let tat = l.tat.get(&c.name).copied().unwrap_or(now).max(now);
            let new = tat + Duration::from_micros(interval_us(c.per_minute).saturating_mul(c.cost));
            let ahead = new - now;
            if ahead > period {
                return Err(Limited {
                    name: c.name.clone(),
                    wait: ahead - period,
                });
            }
            news.push(new);
        }
        for s in slots {
            let set = l.sets.entry(s.name.clone()).or_default();
            set.retain(|_, until| *until > now);
            if set.len() >= s.max as usize {
                return Err(Limited {
                    name: s.name.clone(),
                    wait: Duration::from_secs(1),
                });
            }
        }
        let mut out = Vec::new();
        for (c, new) in cells.iter().zip(news) {
            l.tat.insert(c.name.clone(), new);
            out.push(state_of(c, (new - now).as_micros() as u64));
        }
        for s in slots {
            l.sets
                .entry(s.name.clone())
                .or_default()
                .insert(id.to_owned(), now + self.slot_ttl);
        }
        Ok(out)
    }

    /// Gives back request `id`'s parallel slots.
    pub async fn release(&self, id: &str, slots: &[Slot]) {
        {
            let mut l = self.local.lock();
            for s in slots {
                if let Some(set) = l.sets.get_mut(&s.name) {
                    set.remove(id);
                }
            }
        }
        if let Some(redis) = &self.redis {
            if slots.is_empty() {
                return;
            }
            let mut pipe = redis::pipe();
            for s in slots {
                pipe.cmd("ZREM")
                    .arg(format!("{}:r:{}", self.prefix, s.name))
                    .arg(id)
                    .ignore();
            }
            let _ = redis
                .run(|mut c| async move { pipe.query_async::<()>(&mut c).await })
                .await;
        }
    }

    /// Corrects a token cell by `delta` tokens (real usage minus the estimate taken).
    pub async fn adjust(&self, cell: &Cell, delta: i64) {
        if delta == 0 {
            return;
        }
        let interval = interval_us(cell.per_minute);
        {
            let mut l = self.local.lock();
            if let Some(t) = l.tat.get_mut(&cell.name) {
                let d = Duration::from_micros(interval.saturating_mul(delta.unsigned_abs()));
                *t = if delta > 0 {
                    *t + d
                } else {
                    t.checked_sub(d).unwrap_or(*t)
                };
            }
        }
        if let Some(redis) = &self.redis {
            let mut call = self.adjust.prepare_invoke();
            call.key(format!("{}:r:{}", self.prefix, cell.name))
                .arg(interval)
                .arg(delta);
            let _ = redis
                .run(|mut c| async move { call.invoke_async::<i64>(&mut c).await })
                .await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(name: &str, per_minute: u32, cost: u64) -> Cell {
        Cell {
            name: name.into(),
            per_minute,
            cost,
            requests: true,
        }
    }

    #[test]
    fn local_cells_burst_then_pace_and_report_remaining() {
        let l = Limiter::new(None, "t", Duration::from_secs(60));
        let t0 = Instant::now();
        let c = [cell("k", 3, 1)];
        let s = l.admit_local("a", &c, &[], t0).unwrap();
        assert_eq!((s[0].limit, s[0].remaining), (3, 2));
        assert_eq!(s[0].reset, Duration::from_secs(20));
        l.admit_local("b", &c, &[], t0).unwrap();
        let s = l.admit_local("c", &c, &[], t0).unwrap();
        assert_eq!(s[0].remaining, 0);
        let e = l.admit_local("d", &c, &[], t0).unwrap_err();
        assert_eq!(e.wait, Duration::from_secs(20));
        // All or nothing: a refused second cell takes nothing from the first.
        let both = [cell("x", 10, 1), cell("y", 1, 2)];
        assert!(l.admit_local("e", &both, &[], t0).is_err());
        assert_eq!(
            l.admit_local("f", &[cell("x", 10, 1)], &[], t0).unwrap()[0].remaining,
            9
        );
    }

    #[tokio::test]
    async fn local_slots_count_requests_under_way() {
        let l = Limiter::new(None, "t", Duration::from_secs(60));
        let s = [Slot {
            name: "p".into(),
            max: 2,
        }];
        l.admit("a", &[], &s).await.unwrap();
        l.admit("b", &[], &s).await.unwrap();
        assert!(l.admit("c", &[], &s).await.is_err());
        l.release("a", &s).await;
        l.admit("c", &[], &s).await.unwrap();
    }
}
