//! What the router records after an attempt: the rate limiter's token count corrected to
//! the real usage, and passive health (dead keys, retry-after blocks, the breaker, cooldown
//! and the half-open trial).

use std::time::Duration;

use runtime_core::{Error, Usage};

use crate::deployment::Deployment;
use crate::error::counts_as_failure;
use crate::inner::Inner;
use crate::model::LogicalModel;
use crate::select::Chosen;

impl Inner {
    pub(crate) async fn on_success(&self, d: &Deployment, c: &Chosen) {
        d.breaker.success();
        if c.trial {
            d.breaker.reset();
            tracing::info!(deployment = %d.name, "half-open trial succeeded; circuit closed");
            let _ = self
                .store
                .clear_flags(&[
                    d.skeys.trip.as_str(),
                    d.skeys.fail.as_str(),
                    d.skeys.trial.as_str(),
                ])
                .await;
        }
    }

    /// Replaces the token estimate by the real usage.
    pub(crate) async fn correct_tokens(
        &self,
        m: &LogicalModel,
        d: &Deployment,
        window: Option<u64>,
        estimate: u64,
        usage: &Usage,
    ) {
        let Some(w) = window else { return };
        if d.limits.tpm.is_none() {
            return;
        }
        let real = if usage.total_tokens > 0 {
            usage.total_tokens
        } else {
            usage.prompt_tokens + usage.completion_tokens
        };
        let delta = real as i64 - estimate as i64;
        if delta == 0 {
            return;
        }
        if let Err(e) = self.store.adjust_tokens(&d.skeys.rate, w, delta).await {
            tracing::warn!(error = %e, deployment = %d.name, "could not correct token count");
        }
        if delta < 0 {
            m.queue.notify.notify_waiters();
        }
    }

    pub(crate) async fn on_failure(&self, d: &Deployment, c: &Chosen, e: &Error) {
        self.failure(d, c.trial, c.key.as_ref().map(|(k, _)| *k), e)
            .await;
    }

    /// Passive health: dead keys, retry-after blocks, failure counting and cooldown.
    pub(crate) async fn failure(&self, d: &Deployment, trial: bool, key: Option<usize>, e: &Error) {
        d.recent_errors.push(e);
        let store = &self.store;
        if let (Some(k), Error::Authentication { .. } | Error::QuotaExhausted { .. }) = (key, e) {
            tracing::warn!(deployment = %d.name, key_index = k, error = %e, "key rejected; skipping it until the recheck");
            if let Some(name) = d.skeys.keys.get(k) {
                let _ = store.set_flag(name, self.defaults.dead_key_recheck).await;
            }
            self.release_trial(d, trial).await;
            return;
        }
        // A half-open trial that runs into the deadline failed its trial too.
        let trial_timeout = trial && matches!(e, Error::Timeout { .. });
        if !counts_as_failure(e) && !trial_timeout {
            self.release_trial(d, trial).await;
            return;
        }
        if let Some(ra) = e.retry_after() {
            // The upstream said when to come back (429, 503 with Retry-After): every router
            // sharing the store skips this deployment until then — for at most
            // `max_cooldown`, after which one half-open trial probes it (a `Retry-After:
            // 86400` must not take a deployment away for a day).
            let max = self.defaults.max_cooldown;
            let _ = store.set_flag(&d.skeys.cool, ra.min(max)).await;
            if ra > max {
                tracing::warn!(deployment = %d.name, asked_s = ra.as_secs_f64(), cooldown_s = max.as_secs_f64(), "upstream asked for a wait longer than max_cooldown; cooling down for max_cooldown, then a half-open trial");
                let _ = store.set_flag(&d.skeys.trip, trip_ttl(max)).await;
            }
        }
        let cooldown = self.defaults.cooldown;
        // A failed half-open trial opens the circuit again; otherwise the breaker decides
        // (failures in a row at low volume, the failure rate at volume).
        let trip = d.breaker.failure();
        if trial || trip.is_some() {
            let why = trip.map_or_else(|| "half-open trial failed".to_owned(), |t| t.to_string());
            tracing::warn!(deployment = %d.name, error = %e, cooldown_s = cooldown.as_secs_f64(), trial, why, "deployment cooled down (circuit open)");
            if trial {
                d.breaker.reset();
            }
            let _ = store.set_flag(&d.skeys.cool, cooldown).await;
            let _ = store.set_flag(&d.skeys.trip, trip_ttl(cooldown)).await;
            let _ = store
                .clear_flags(&[d.skeys.fail.as_str(), d.skeys.trial.as_str()])
                .await;
        }
    }

    pub(crate) async fn correct_tokens_chosen(
        &self,
        m: &LogicalModel,
        d: &Deployment,
        c: &Chosen,
        u: &Usage,
    ) {
        self.correct_tokens(m, d, c.window, c.tokens, u).await;
    }
}

/// How long the "half-open" mark outlives a cooldown of `cooldown`.
fn trip_ttl(cooldown: Duration) -> Duration {
    (cooldown * 10).max(Duration::from_secs(600))
}
