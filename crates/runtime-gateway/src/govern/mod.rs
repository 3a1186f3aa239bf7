//! Governance on the request path: a database key's aliases, models, rate limits and budget
//! reservation before the call; the settlement with the metered cost after it; the
//! `x-ratelimit-*` headers on every answer.

pub mod config;
pub mod price;

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use model_runtime::{RequestContext, Runtime, UsageReport};
use runtime_governance::model::to_micros;
use runtime_governance::{Governance, GovernanceConfig, Plan, RateHeaders, Refusal, Ticket};

use crate::auth::Principal;
use crate::error::ApiError;
pub use config::GovSettings;
use price::PriceBook;

/// Governance of one gateway: the keys and budgets, and the prices of the models in use.
pub struct Governor {
    /// Keys, teams, users, budgets.
    pub gov: Arc<Governance>,
    /// Worst-case prices.
    pub book: PriceBook,
    /// Settings.
    pub settings: GovSettings,
}

impl std::fmt::Debug for Governor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Governor").finish_non_exhaustive()
    }
}

impl Governor {
    /// Opens the governance database (migrating it) and starts the sync loop.
    pub async fn start(
        runtime: &Runtime,
        settings: GovSettings,
        redis: Option<model_runtime::redis::Redis>,
        reserved_ids: Vec<String>,
    ) -> Result<Self, String> {
        let gov = Governance::start(GovernanceConfig {
            database_url: settings.database_url.clone(),
            redis,
            prefix: settings.redis_prefix.clone(),
            sync_interval: settings.sync_interval,
            lease_ttl: settings.lease_ttl,
            allow_unpriced: settings.allow_unpriced,
            reserved_ids,
            clock: runtime_governance::Clock::offset(settings.time_offset_ms),
        })
        .await
        .map_err(|e| e.to_string())?;
        Ok(Self {
            gov,
            book: PriceBook::new(runtime),
            settings,
        })
    }
}

/// What a request asks for, as far as governance is concerned.
pub struct Ask<'a> {
    /// The model (rewritten by a key alias).
    pub model: &'a mut String,
    /// `max_tokens` (set when a budgeted call must be bounded); `None` for embeddings.
    pub max_tokens: Option<&'a mut Option<u32>>,
    /// The body's `user`.
    pub user: Option<&'a str>,
    /// The request body's length (bounds the prompt's tokens).
    pub body_len: usize,
}

/// An admitted call: its headers, and its settlement when it ends. Dropped (a stream that
/// ended, or a client that went away), it settles from the usage the metering layer
/// reported, or charges the whole reservation when none was.
#[derive(Debug, Default)]
pub struct Admitted {
    ticket: Option<Ticket>,
    /// The call's usage slot (only for a governed call: none is cloned otherwise).
    report: Option<UsageReport>,
    headers: RateHeaders,
}

fn actual(report: &Option<UsageReport>) -> (Option<i64>, Option<u64>) {
    match report.as_ref().and_then(UsageReport::get) {
        Some(r) => {
            let cost = match r.cost_usd {
                Some(c) => Some(to_micros(c)),
                // A call that produced nothing costs nothing; tokens without a price are
                // charged their reservation (never free).
                None if r.usage.total_tokens == 0 => Some(0),
                None => None,
            };
            (cost, Some(r.usage.total_tokens))
        }
        None => (None, None),
    }
}

impl Admitted {
    /// The rate-limit headers.
    pub fn headers(&self) -> RateHeaders {
        self.headers
    }

    /// Settles now (a non-streamed answer or an error).
    pub async fn finish(mut self) {
        if let Some(t) = self.ticket.take() {
            let (cost, tokens) = actual(&self.report);
            t.settle(cost, tokens).await;
        }
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if let Some(t) = self.ticket.take() {
            let (cost, tokens) = actual(&self.report);
            if let Ok(h) = tokio::runtime::Handle::try_current() {
                h.spawn(t.settle(cost, tokens));
            }
        }
    }
}

/// Adds the rate-limit headers to a response.
pub fn add_headers(h: &mut HeaderMap, r: RateHeaders) {
    for (name, value) in r.pairs() {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
}

/// The answer to a refused call, in the OpenAI envelope.
pub fn refusal_error(r: &Refusal) -> ApiError {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
    let kind = match r.status {
        429 => "rate_limit_error",
        403 => "permission_error",
        _ => "api_error",
    };
    let mut e = ApiError::new(status, kind, r.message.clone()).with_code(r.code);
    if let Some(w) = r.retry_after {
        e = e.with_retry_after(w);
    }
    e.with_headers(r.headers.pairs())
}

/// The answer to a refused call in the Anthropic Messages envelope (`/v1/messages`):
/// status, body and the headers to send.
pub fn refusal_anthropic(r: &Refusal) -> (u16, Vec<u8>, Vec<(&'static str, String)>) {
    let kind = match r.status {
        429 => "rate_limit_error",
        403 => "permission_error",
        _ => "api_error",
    };
    let body = serde_json::json!({
        "type": "error",
        "error": {"type": kind, "message": r.message},
    });
    let mut headers = r.headers.pairs();
    if let Some(w) = r.retry_after {
        let secs = w.as_secs() + u64::from(w.subsec_nanos() > 0);
        headers.push(("retry-after", secs.max(1).to_string()));
    }
    (
        r.status,
        serde_json::to_vec(&body).unwrap_or_default(),
        headers,
    )
}

/// Sets the caller's attribution on `ctx` and, for a database key, checks its models and
/// admits the call (rate limits, then the worst-case cost held against every budget).
pub async fn admit(
    g: Option<&Governor>,
    runtime: &Runtime,
    who: &Principal,
    headers: &HeaderMap,
    ask: Ask<'_>,
    ctx: &mut RequestContext,
) -> Result<Admitted, ApiError> {
    let header_user = g.and_then(|g| {
        headers
            .get(g.settings.end_user_header.as_str())
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    });
    ctx.end_user = header_user
        .or_else(|| ask.user.map(str::to_owned))
        .filter(|u| !u.is_empty() && u.len() <= 256);
    let (Some(g), Some(caller)) = (g, who.caller.as_ref()) else {
        return Ok(Admitted::default());
    };
    let key = &caller.key;
    if let Some(target) = key.aliases.get(ask.model.as_str()) {
        *ask.model = target.clone();
    }
    if !caller.allows(ask.model) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            format!(
                "key `{}` is not allowed to use model `{}`",
                key.id,
                model_runtime::error::excerpt(ask.model)
            ),
        )
        .with_param("model")
        .with_code("model_not_allowed"));
    }
    ctx.key_id = Some(key.id.clone());
    ctx.team_id.clone_from(&key.team_id);
    let worst = g.book.worst(runtime, ask.model);
    let budgeted = key.budget.is_some()
        || caller.team.as_ref().is_some_and(|t| t.budget.is_some())
        || ctx.end_user.is_some();
    let output = match ask.max_tokens {
        Some(mt) => match (*mt, worst.max_output) {
            (Some(n), _) => u64::from(n),
            (None, Some(limit)) => u64::from(limit),
            (None, None) if budgeted => {
                // Unknown bound: the call is bounded, so its reservation is one.
                *mt = Some(g.settings.default_max_output_tokens);
                u64::from(g.settings.default_max_output_tokens)
            }
            (None, None) => u64::from(g.settings.default_max_output_tokens),
        },
        None => 0,
    };
    let prompt = ask.body_len as u64;
    let plan = Plan {
        request_id: ctx.request_id.clone(),
        model: ask.model.clone(),
        end_user: ctx.end_user.clone(),
        tokens: prompt / 4 + output,
        cost_micros: worst
            .pricing
            .map(|p| price::worst_cost_micros(&p, prompt, output)),
    };
    match g.gov.admit(caller, &plan).await {
        Ok(ticket) => Ok(Admitted {
            headers: ticket.headers(),
            ticket: Some(ticket),
            report: Some(ctx.usage.clone()),
        }),
        Err(r) => Err(refusal_error(&r)),
    }
}

/// Adds the headers of `adm` to an answer (success or error) and settles a non-streamed one.
pub async fn answer(
    adm: Admitted,
    result: Result<Response, ApiError>,
) -> Result<Response, ApiError> {
    let headers = adm.headers();
    adm.finish().await;
    match result {
        Ok(mut r) => {
            add_headers(r.headers_mut(), headers);
            Ok(r)
        }
        Err(e) => Err(e.with_headers(headers.pairs())),
    }
}

/// A stream that keeps its call's [`Admitted`] until the stream ends or is dropped; the
/// inner (metered) stream is dropped first, so the settlement sees its usage.
struct Held {
    inner: model_runtime::ChatStream,
    _adm: Admitted,
}

impl futures::Stream for Held {
    type Item = model_runtime::Result<model_runtime::StreamEvent>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        futures::StreamExt::poll_next_unpin(&mut self.inner, cx)
    }
}

/// `stream`, settling `adm` when it ends or the client drops it.
pub fn hold(stream: model_runtime::ChatStream, adm: Admitted) -> model_runtime::ChatStream {
    if adm.ticket.is_none() {
        return stream;
    }
    let meta = stream.meta().clone();
    model_runtime::ChatStream::new(Held {
        inner: stream,
        _adm: adm,
    })
    .with_meta(meta)
}
