//! Selection: which deployment serves the next attempt (health, cooldowns, capabilities,
//! priorities, the strategy, keys and rate limits), and the FIFO queue while every
//! deployment is at its rate limit.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use runtime_core::{Error, RequestContext, Secret};
use tokio::time::Instant;

use crate::config::{RequestKind, Strategy};
use crate::deployment::{Deployment, Needs};
use crate::inner::Inner;
use crate::model::LogicalModel;
use crate::state::{Acquire, WindowUsage};
use crate::strategy::{PickInput, pick};

/// What a request asks of a deployment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Want {
    pub(crate) kind: RequestKind,
    pub(crate) needs: Needs,
}

/// The outcome of a selection.
#[derive(Debug)]
pub(crate) struct Chosen {
    pub idx: usize,
    pub key: Option<(usize, Secret)>,
    pub window: Option<u64>,
    pub tokens: u64,
    pub trial: bool,
    pub reused: bool,
}

pub(crate) enum Pick {
    Got(Chosen),
    Limited(Duration),
    /// Why nothing is available, and when the first cooldown ends.
    Unavailable(Unavailable),
}

/// Why a selection found nothing, and when to expect a deployment back.
pub(crate) struct Unavailable {
    pub(crate) reason: String,
    /// When the shortest cooldown ends.
    pub(crate) soonest: Option<Duration>,
    /// The wait to tell a client: the shortest cooldown, else the next health probe of an
    /// unhealthy deployment.
    pub(crate) hint: Option<Duration>,
}

/// Why a selection failed.
pub(crate) enum NoPick {
    Error(Error),
    /// Nothing available; the first cooldown ends after this long.
    Unavailable(Error, Option<Duration>),
}

impl Inner {
    pub(crate) async fn select(
        &self,
        m: &LogicalModel,
        want: Want,
        strategy: Strategy,
        avoid: &[usize],
        exclude: &[usize],
        tokens: (u64, u64),
    ) -> Pick {
        let flags = self.flags(m).await;
        let n = m.deployments.len();
        let mut avail: Vec<usize> = Vec::with_capacity(n);
        let (mut cooling, mut unhealthy, mut unsupported, mut failed) = (0, 0, 0, 0);
        let mut soonest: Option<Duration> = None;
        for (i, d) in m.deployments.iter().enumerate() {
            if !d.supports(want.kind, want.needs) {
                unsupported += 1;
            } else if exclude.contains(&i) {
                failed += 1;
            } else if flags[3 * i + 2].is_some() {
                unhealthy += 1;
            } else if let Some(left) = flags[3 * i] {
                cooling += 1;
                soonest = Some(soonest.map_or(left, |s| s.min(left)));
            } else {
                avail.push(i);
            }
        }
        let (mut pool, reused) = if avoid.is_empty() {
            (avail, false)
        } else {
            let fresh: Vec<usize> = avail
                .iter()
                .copied()
                .filter(|i| !avoid.contains(i))
                .collect();
            if fresh.is_empty() {
                (avail, true)
            } else {
                (fresh, false)
            }
        };
        pool.sort_by_key(|i| m.deployments[*i].priority);
        let total = tokens.0 + tokens.1;
        let mut limited: Option<Duration> = None;
        let mut dead = 0;
        let mut start = 0;
        while start < pool.len() {
            let prio = m.deployments[pool[start]].priority;
            let end = pool[start..]
                .iter()
                .position(|i| m.deployments[*i].priority != prio)
                .map_or(pool.len(), |p| start + p);
            let mut tier: Vec<usize> = pool[start..end].to_vec();
            start = end;
            while !tier.is_empty() {
                let usage = if strategy == Strategy::UsageBased {
                    let mut u = Vec::with_capacity(tier.len());
                    for i in &tier {
                        let d = &m.deployments[*i];
                        u.push(if d.limits.is_unlimited() {
                            WindowUsage::default()
                        } else {
                            self.store.usage(&d.skeys.rate).await.unwrap_or_default()
                        });
                    }
                    u
                } else {
                    Vec::new()
                };
                let pos = pick(
                    strategy,
                    &PickInput {
                        deployments: &m.deployments,
                        candidates: &tier,
                        rr: &m.rr,
                        kind: want.kind,
                        cost_tokens: tokens,
                        usage: &usage,
                    },
                );
                let i = tier.remove(pos);
                let d = &m.deployments[i];
                let trial = flags[3 * i + 1].is_some();
                if trial
                    && !self
                        .store
                        .try_lock(&d.skeys.trial, m.timeout)
                        .await
                        .unwrap_or(true)
                {
                    // Another request holds the half-open trial.
                    cooling += 1;
                    continue;
                }
                let key = if d.keys.is_empty() {
                    None
                } else {
                    match self.pick_key(d).await {
                        Some(k) => Some(k),
                        None => {
                            dead += 1;
                            self.release_trial(d, trial).await;
                            continue;
                        }
                    }
                };
                let window = if d.limits.is_unlimited() {
                    None
                } else {
                    match self.store.acquire(&d.skeys.rate, d.limits, total).await {
                        Ok(Acquire::Granted { window }) => Some(window),
                        Ok(Acquire::Denied { retry_after }) => {
                            limited = Some(limited.map_or(retry_after, |l| l.min(retry_after)));
                            self.release_trial(d, trial).await;
                            continue;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, deployment = %d.name, "rate limiter store failed; letting the request through");
                            None
                        }
                    }
                };
                return Pick::Got(Chosen {
                    idx: i,
                    key,
                    window,
                    tokens: total,
                    trial,
                    reused,
                });
            }
        }
        if let Some(l) = limited {
            return Pick::Limited(l);
        }
        let mut reason = format!(
            "{n} deployments: {cooling} cooling down, {unhealthy} unhealthy, {failed} already failed for this request"
        );
        if dead > 0 {
            reason.push_str(&format!(", {dead} with every key dead"));
        }
        if unsupported > 0 {
            reason.push_str(&format!(
                ", {unsupported} cannot serve this {} request",
                want.kind.as_str()
            ));
        }
        if let Some(s) = soonest {
            reason.push_str(&format!("; next cooldown ends in {:.3}s", s.as_secs_f64()));
        }
        let probe = (unhealthy > 0).then_some(self.defaults.health_check_interval);
        let hint = match (soonest, probe) {
            (Some(s), Some(p)) => Some(s.min(p)),
            (s, p) => s.or(p),
        };
        Pick::Unavailable(Unavailable {
            reason,
            soonest,
            hint,
        })
    }

    pub(crate) async fn release_trial(&self, d: &Deployment, trial: bool) {
        if trial {
            let _ = self.store.clear_flags(&[d.skeys.trial.as_str()]).await;
        }
    }

    pub(crate) async fn pick_key(&self, d: &Deployment) -> Option<(usize, Secret)> {
        let n = d.keys.len();
        let refs: Vec<&str> = d.skeys.keys.iter().map(String::as_str).collect();
        let dead = self
            .store
            .flags(&refs)
            .await
            .unwrap_or_else(|_| vec![None; n]);
        let start = d.key_rr.fetch_add(1, Ordering::Relaxed);
        (0..n)
            .map(|k| (start + k) % n)
            .find(|k| dead.get(*k).is_none_or(Option::is_none))
            .map(|k| (k, d.keys[k].clone()))
    }

    /// Selects a deployment, waiting in the model's FIFO queue while every one is at its
    /// rate limit.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn select_or_wait(
        &self,
        m: &LogicalModel,
        want: Want,
        strategy: Strategy,
        avoid: &[usize],
        exclude: &[usize],
        tokens: (u64, u64),
        deadline: Instant,
        ctx: &RequestContext,
    ) -> Result<Chosen, NoPick> {
        let q = &m.queue;
        if q.waiting.load(Ordering::Acquire) == 0 {
            match self.select(m, want, strategy, avoid, exclude, tokens).await {
                Pick::Got(c) => return Ok(c),
                Pick::Unavailable(u) => {
                    let soonest = u.soonest;
                    return Err(NoPick::Unavailable(self.no_healthy(m, u), soonest));
                }
                Pick::Limited(ra) => {
                    q.last_retry_ms
                        .store(ra.as_millis() as u64, Ordering::Relaxed);
                }
            }
        }
        let limited = |ra: Duration, msg: &str| Error::RateLimited {
            provider: self.name.clone(),
            model: m.name.clone(),
            retry_after: Some(ra),
            message: msg.to_owned(),
        };
        let last_ra = || Duration::from_millis(q.last_retry_ms.load(Ordering::Relaxed));
        // Join the queue.
        let joined = q.waiting.fetch_add(1, Ordering::AcqRel);
        let _leave = Leave(&q.waiting);
        if joined >= self.defaults.queue_max_len {
            return Err(NoPick::Error(limited(
                last_ra(),
                &format!(
                    "every deployment is at its rate limit and the request queue is full ({} waiting)",
                    self.defaults.queue_max_len
                ),
            )));
        }
        let wait_until = deadline.min(Instant::now() + self.defaults.queue_max_wait);
        let timed_out = || {
            limited(
                last_ra(),
                "every deployment stayed at its rate limit for the longest queue wait",
            )
        };
        let _head = tokio::select! {
            biased;
            _ = ctx.cancel.cancelled() => return Err(NoPick::Error(Error::Cancelled)),
            g = tokio::time::timeout_at(wait_until, q.lock.lock()) => match g {
                Ok(g) => g,
                Err(_) => return Err(NoPick::Error(timed_out())),
            },
        };
        loop {
            let notified = q.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.select(m, want, strategy, avoid, exclude, tokens).await {
                Pick::Got(c) => return Ok(c),
                Pick::Unavailable(u) => {
                    let soonest = u.soonest;
                    return Err(NoPick::Unavailable(self.no_healthy(m, u), soonest));
                }
                Pick::Limited(ra) => {
                    q.last_retry_ms
                        .store(ra.as_millis() as u64, Ordering::Relaxed);
                    let now = Instant::now();
                    if now >= wait_until {
                        return Err(NoPick::Error(timed_out()));
                    }
                    let wake = wait_until.min(now + ra);
                    tokio::select! {
                        biased;
                        _ = ctx.cancel.cancelled() => return Err(NoPick::Error(Error::Cancelled)),
                        _ = &mut notified => {}
                        _ = tokio::time::sleep_until(wake) => {}
                    }
                }
            }
        }
    }

    pub(crate) fn no_healthy(&self, m: &LogicalModel, u: Unavailable) -> Error {
        Error::NoHealthyDeployment {
            model: m.name.clone(),
            reason: u.reason,
            retry_after: u.hint,
        }
    }

    /// Gives back what a selection took when the attempt is not made.
    pub(crate) async fn release(&self, m: &LogicalModel, c: &Chosen) {
        let d = &m.deployments[c.idx];
        self.release_trial(d, c.trial).await;
        if let Some(w) = c.window {
            let _ = self
                .store
                .adjust_tokens(&d.skeys.rate, w, -(c.tokens as i64))
                .await;
        }
    }
}

/// Leaves the queue (one fewer waiting) when dropped.
struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
