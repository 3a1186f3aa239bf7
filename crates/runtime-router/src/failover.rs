//! The failover loop: a call goes to the model's deployments attempt by attempt (retry,
//! failover, backoff, the deadline), then to its fallback models. One attempt is
//! [`Inner::attempt`].

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use runtime_core::{Call, Error, Reply, RequestContext, Result, Retryability, TimeoutPhase};
use tokio::time::Instant;
use tracing::Instrument;

use crate::call::{self, Attempted};
use crate::config::{RequestKind, Strategy};
use crate::deployment::{Deployment, InFlight};
use crate::error::{Attempt, RouteError, counts_as_failure, may_fall_back, summary};
use crate::inner::Inner;
use crate::model::LogicalModel;
use crate::select::{Chosen, NoPick, Want};
use crate::stream::{RoutedStream, StreamDone};

impl Inner {
    /// A wait the router reports never exceeds `max_cooldown`: by then every deployment it
    /// cooled down is tried again (half-open), whatever the upstream asked.
    pub(crate) fn cap_wait(&self, e: Error) -> Error {
        match e.wait_hint() {
            Some(w) if w > self.defaults.max_cooldown => {
                e.with_wait_hint(self.defaults.max_cooldown)
            }
            _ => e,
        }
    }

    /// Routes a call: the model's own deployments, then its fallbacks.
    pub(crate) async fn route(
        self: &Arc<Self>,
        call: Call<'_>,
        ctx: &RequestContext,
    ) -> Result<(Reply, Vec<Attempt>), RouteError> {
        let mut attempts = Vec::new();
        let fail = |error, attempts| RouteError {
            error: self.cap_wait(error),
            attempts,
        };
        let m = match self.model(call.model) {
            Ok(m) => m,
            Err(e) => return Err(fail(e, attempts)),
        };
        let mut budget = m.timeout;
        if let Some(rem) = ctx.remaining() {
            budget = budget.min(rem);
        }
        let deadline = Instant::now() + budget;
        let err = match self
            .route_model(&m, call, ctx, deadline, &mut attempts)
            .await
        {
            Ok(out) => return Ok(self.finish(out, attempts)),
            Err(e) => e,
        };
        if !may_fall_back(&err) {
            return Err(fail(err, attempts));
        }
        let list = match &err {
            Error::ContextLengthExceeded { .. } if !m.cw_fallbacks.is_empty() => &m.cw_fallbacks,
            Error::ContentFiltered { .. } if !m.cf_fallbacks.is_empty() => &m.cf_fallbacks,
            _ => &m.fallbacks,
        };
        let mut last = err;
        for fb in list {
            if Instant::now() >= deadline {
                break;
            }
            let fm = match self.model(fb) {
                Ok(fm) => fm,
                Err(e) => {
                    last = e;
                    continue;
                }
            };
            tracing::info!(model = %m.name, fallback = %fb, error = %last, "falling back");
            self.stats.fallback(&m.name);
            match self
                .route_model(&fm, call, ctx, deadline, &mut attempts)
                .await
            {
                Ok(out) => return Ok(self.finish(out, attempts)),
                Err(e) => {
                    let stop = !may_fall_back(&e);
                    last = e;
                    if stop {
                        break;
                    }
                }
            }
        }
        Err(fail(last, attempts))
    }

    /// The route goes into the answer's metadata (the one place the layers above read it).
    pub(crate) fn finish(&self, mut out: Reply, attempts: Vec<Attempt>) -> (Reply, Vec<Attempt>) {
        if let (Some(meta), Some(route)) = (out.meta_mut(), summary(&attempts)) {
            route.write(meta);
        }
        (out, attempts)
    }

    pub(crate) async fn route_model(
        self: &Arc<Self>,
        m: &Arc<LogicalModel>,
        call: Call<'_>,
        ctx: &RequestContext,
        deadline: Instant,
        attempts: &mut Vec<Attempt>,
    ) -> Result<Reply> {
        let Some(kind) = call::kind(&call) else {
            return Err(Error::unsupported(&self.name, call.operation()));
        };
        let want = Want {
            kind,
            needs: call::needs(&call),
        };
        let strategy = m.strategy_for(kind);
        let tokens = call::tokens(&call);
        let mut avoid: Vec<usize> = Vec::new();
        let mut exclude: Vec<usize> = Vec::new();
        let mut last: Option<Error> = None;
        let mut retry_after: Option<Duration> = None;
        // True right after waiting out a hinted wait: no backoff on top of it.
        let mut waited = false;
        let mut n = 0;
        // Deployments this request tried at this model (a second try is a retry, a new one
        // a failover, in the router's metrics).
        let mut tried: Vec<usize> = Vec::new();
        while n < m.max_attempts {
            if ctx.cancel.is_cancelled() {
                return Err(Error::Cancelled);
            }
            if Instant::now() >= deadline {
                break;
            }
            let chosen = match self
                .select_or_wait(m, want, strategy, &avoid, &exclude, tokens, deadline, ctx)
                .await
            {
                Ok(c) => c,
                Err(NoPick::Unavailable(e, soonest)) => {
                    // The deployment asked us to wait (Retry-After) and is blocked for no
                    // longer than that: wait for it, when the wait is short enough and fits
                    // the deadline, instead of giving up.
                    if let (Some(ra), Some(s)) = (retry_after.take(), soonest) {
                        if s <= ra + Duration::from_millis(5) && self.may_wait(s, deadline) {
                            tokio::select! {
                                biased;
                                _ = ctx.cancel.cancelled() => return Err(Error::Cancelled),
                                _ = tokio::time::sleep(s) => {}
                            }
                            waited = true;
                            continue;
                        }
                    }
                    // Attempts were made: their error says more than "none left", with the
                    // wait until the first deployment is back.
                    if let Some(e) = last.take() {
                        return Err(match soonest {
                            Some(s) => e.with_wait_hint(s),
                            None => e,
                        });
                    }
                    return Err(e);
                }
                Err(NoPick::Error(e)) => return Err(e),
            };
            if chosen.reused && n > 0 && !std::mem::take(&mut waited) {
                let wait = self.backoff(n).max(retry_after.unwrap_or_default());
                if !self.may_wait(wait, deadline) {
                    self.release(m, &chosen).await;
                    break;
                }
                tracing::debug!(model = %m.name, wait_ms = wait.as_millis() as u64, "backing off before retrying");
                tokio::select! {
                    biased;
                    _ = ctx.cancel.cancelled() => return Err(Error::Cancelled),
                    _ = tokio::time::sleep(wait) => {}
                }
            }
            n += 1;
            let d = m.deployments[chosen.idx].clone();
            // A span event on the request's trace (and a log line) for each new try.
            if !tried.is_empty() {
                let why = if tried.contains(&chosen.idx) {
                    "retry"
                } else {
                    "failover"
                };
                tracing::info!(model = %m.name, deployment = %d.name, attempt = n, "{why}");
            }
            let (res, attempt) = self
                .attempt(m, &d, &chosen, call, ctx, deadline, strategy, n)
                .await;
            attempts.push(attempt);
            self.stats.attempt(
                &m.name,
                chosen.idx,
                res.is_ok(),
                tried.is_empty(),
                tried.contains(&chosen.idx),
            );
            tried.push(chosen.idx);
            match res {
                Ok(out) => return Ok(out),
                Err(e) => {
                    let key_problem = chosen.key.is_some()
                        && matches!(
                            e,
                            Error::Authentication { .. } | Error::QuotaExhausted { .. }
                        );
                    match e.retryability() {
                        Retryability::Never => return Err(e),
                        Retryability::Retry { after } => {
                            retry_after = after;
                            avoid.push(chosen.idx);
                        }
                        Retryability::Failover if key_problem => {
                            retry_after = None;
                        }
                        Retryability::Failover => {
                            retry_after = None;
                            exclude.push(chosen.idx);
                        }
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.unwrap_or_else(|| Error::Timeout {
            provider: self.name.clone(),
            model: m.name.clone(),
            phase: TimeoutPhase::Deadline,
            after: m.timeout,
        }))
    }

    /// Whether a wait for the same deployment is worth it: no longer than `max_retry_wait`
    /// and ending before the deadline.
    pub(crate) fn may_wait(&self, wait: Duration, deadline: Instant) -> bool {
        wait <= self.defaults.max_retry_wait && Instant::now() + wait < deadline
    }

    pub(crate) fn backoff(&self, n: u32) -> Duration {
        let base = self.defaults.backoff_base.as_secs_f64();
        let max = self.defaults.backoff_max.as_secs_f64();
        let exp = (base * 2f64.powi(n.saturating_sub(1).min(30) as i32)).min(max);
        // Equal jitter: half fixed, half random.
        Duration::from_secs_f64(exp / 2.0 + rand::rng().random_range(0.0..=exp / 2.0))
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn attempt(
        self: &Arc<Self>,
        m: &Arc<LogicalModel>,
        d: &Arc<Deployment>,
        c: &Chosen,
        call: Call<'_>,
        ctx: &RequestContext,
        deadline: Instant,
        strategy: Strategy,
        n: u32,
    ) -> (Result<Reply>, Attempt) {
        // Fields after the OpenTelemetry GenAI conventions too (exported as a trace span by
        // the gateway's `otel` feature; docs/observability.md).
        let operation = call.operation();
        let span = tracing::info_span!(
            "router.attempt",
            otel.name = format!("{operation} {}", d.model),
            otel.status_code = tracing::field::Empty,
            gen_ai.operation.name = operation,
            gen_ai.provider.name = %d.provider_name,
            gen_ai.request.model = %d.model,
            error.type = tracing::field::Empty,
            model = %m.name,
            deployment = %d.name,
            provider = %d.provider_name,
            strategy = strategy.as_str(),
            attempt = n,
            trial = c.trial,
            outcome = tracing::field::Empty,
        );
        let mut actx = ctx.clone();
        let left = deadline.saturating_duration_since(Instant::now());
        actx.deadline = Some(std::time::Instant::now() + left);
        if let Some((_, k)) = &c.key {
            actx.api_key = Some(k.clone());
        }
        let start = Instant::now();
        let guard = InFlight::new(&d.in_flight);
        let fut = self.call_deployment(d, call, &actx, guard);
        let res = tokio::select! {
            biased;
            _ = ctx.cancel.cancelled() => Err(Error::Cancelled),
            r = tokio::time::timeout_at(deadline, fut.instrument(span.clone())) => match r {
                Ok(r) => r,
                Err(_) => Err(Error::Timeout {
                    provider: d.provider_name.clone(),
                    model: d.model.clone(),
                    phase: TimeoutPhase::Deadline,
                    after: left,
                }),
            },
        };
        let latency = start.elapsed();
        let outcome = match &res {
            Ok(_) => "ok",
            Err(e) => e.kind(),
        };
        span.record("outcome", outcome);
        if res.is_err() {
            span.record("error.type", outcome);
            span.record("otel.status_code", "ERROR");
        }
        let attempt = Attempt {
            model: m.name.clone(),
            deployment: d.name.to_string(),
            provider: d.provider_name.clone(),
            strategy: strategy.as_str(),
            outcome: outcome.to_owned(),
            error: res.as_ref().err().map(ToString::to_string),
            key_index: c.key.as_ref().map(|(k, _)| *k),
            trial: c.trial,
            latency_ms: latency.as_secs_f64() * 1000.0,
        };
        let kind = call::kind(&call).unwrap_or(RequestKind::Chat);
        let res = match res {
            Ok(out) => {
                d.ewma(kind).observe(latency);
                self.on_success(d, c).await;
                if let Some(u) = out.usage() {
                    self.correct_tokens_chosen(m, d, c, &u).await;
                }
                Ok(match out {
                    // The stream corrects tokens and counts failures when it ends.
                    Attempted::Held(h) => Reply::Stream(RoutedStream::into_chat_stream(
                        h,
                        StreamDone {
                            inner: self.clone(),
                            model: m.clone(),
                            deployment: d.clone(),
                            window: c.window,
                            tokens: c.tokens,
                            key: c.key.as_ref().map(|(k, _)| *k),
                        },
                    )),
                    Attempted::Done(reply) => reply,
                })
            }
            Err(e) => {
                tracing::info!(parent: &span, error = %e, "attempt failed");
                if counts_as_failure(&e) {
                    d.ewma(kind).observe(latency);
                }
                // A failed request keeps its token estimate charged: the upstream may have
                // counted it.
                self.on_failure(d, c, &e).await;
                Err(e)
            }
        };
        (res, attempt)
    }
}
