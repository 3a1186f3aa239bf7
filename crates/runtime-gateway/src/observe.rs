//! Per-request observability at the HTTP edge: HTTP server metrics by route and status, the
//! in-flight gauge, auth and limit rejections, and the access log line.
//!
//! The serving middleware wraps each request in [`Observed`]: it opens a task-local
//! [`Access`] record that the handler's [`RequestContext`] shares (see [`attach`]), so the
//! layers below (metering, router) leave the usage, cost and route there. The response body
//! is wrapped too: when it has been sent (a stream: when it ended or the client left) the
//! request is counted and one access line is logged at `info` — request id, key id (never the
//! key), model, provider, deployment, attempts, status, latency, time to first token, tokens,
//! cost and cache result. Bodies, prompts and headers are never logged.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::Method;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use model_runtime::prom::{Family, Kind, Label};
use model_runtime::{RequestContext, UsageReport};
use parking_lot::{Mutex, RwLock};

pub use crate::route_template::route_of;

/// Upper bounds of the request-duration histogram, in seconds.
const BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
];

/// Routes whose requests are probes: their access line is at `debug`, not `info`.
fn is_probe(route: &str) -> bool {
    matches!(route, "/health" | "/ready" | "/metrics")
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Why the gateway refused a request itself (set by [`crate::ApiError`] on its response).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rejection {
    /// `auth` (no or bad key, a model or endpoint the key may not use) or `limit` (rate
    /// limits, budgets).
    pub reason: &'static str,
    /// The error code (`invalid_api_key`, `rate_limit_exceeded`…).
    pub code: &'static str,
}

impl Rejection {
    /// The rejection an error code stands for, if it is one.
    pub fn of_code(code: &str) -> Option<Self> {
        const AUTH: &[&str] = &["invalid_api_key", "admin_only", "model_not_allowed"];
        const LIMIT: &[&str] = &[
            "rate_limit_exceeded",
            "budget_exceeded",
            "budget_unavailable",
            "unpriced_model",
        ];
        if let Some(c) = AUTH.iter().find(|c| **c == code) {
            return Some(Self {
                reason: "auth",
                code: *c,
            });
        }
        LIMIT.iter().find(|c| **c == code).map(|c| Self {
            reason: "limit",
            code: *c,
        })
    }
}

#[derive(Default)]
struct Counts {
    count: AtomicU64,
    sum_us: AtomicU64,
    buckets: [AtomicU64; BUCKETS.len()],
}

impl Counts {
    fn observe(&self, secs: f64) {
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add((secs * 1e6) as u64, Ordering::Relaxed);
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}

type SeriesKey = (&'static str, &'static str, u16);

/// The gateway's HTTP metrics.
#[derive(Default)]
pub struct HttpMetrics {
    in_flight: AtomicI64,
    series: RwLock<HashMap<SeriesKey, Arc<Counts>>>,
    rejections: RwLock<HashMap<Rejection, Arc<AtomicU64>>>,
}

impl std::fmt::Debug for HttpMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpMetrics")
            .field("in_flight", &self.in_flight.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl HttpMetrics {
    fn record(&self, key: SeriesKey, secs: f64) {
        let found = self.series.read().get(&key).cloned();
        let counts = match found {
            Some(c) => c,
            None => self.series.write().entry(key).or_default().clone(),
        };
        counts.observe(secs);
    }

    fn reject(&self, r: Rejection) {
        let found = self.rejections.read().get(&r).cloned();
        let c = match found {
            Some(c) => c,
            None => self.rejections.write().entry(r).or_default().clone(),
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// Appends the `modelrt_http_*` families in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let mut series: Vec<(SeriesKey, Arc<Counts>)> = self
            .series
            .read()
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        series.sort_by_key(|(k, _)| *k);
        let mut f = Family::new(
            out,
            "modelrt_http_requests_total",
            Kind::Counter,
            "HTTP requests served, by route, method and status.",
        );
        for ((route, method, status), c) in &series {
            f.sample(
                &[("route", route), ("method", method), ("status", status)],
                c.count.load(Ordering::Relaxed),
            );
        }
        let mut f = Family::new(
            out,
            "modelrt_http_request_duration_seconds",
            Kind::Histogram,
            "Time from the request to the end of its response body (streams: the whole stream).",
        );
        for ((route, method, status), c) in &series {
            let labels: [Label<'_>; 3] = [("route", route), ("method", method), ("status", status)];
            let mut cum = 0;
            for (b, n) in BUCKETS.iter().zip(&c.buckets) {
                cum += n.load(Ordering::Relaxed);
                f.bucket(&labels, b, cum);
            }
            let count = c.count.load(Ordering::Relaxed);
            f.bucket(&labels, "+Inf", count)
                .sample_of(
                    "_sum",
                    &labels,
                    c.sum_us.load(Ordering::Relaxed) as f64 / 1e6,
                )
                .sample_of("_count", &labels, count);
        }
        Family::new(
            out,
            "modelrt_http_requests_in_flight",
            Kind::Gauge,
            "HTTP requests being served (streams until their body ends).",
        )
        .sample(&[], self.in_flight.load(Ordering::Relaxed));
        let mut rej: Vec<(Rejection, u64)> = self
            .rejections
            .read()
            .iter()
            .map(|(k, v)| (*k, v.load(Ordering::Relaxed)))
            .collect();
        rej.sort_by_key(|(r, _)| (r.reason, r.code));
        let mut f = Family::new(
            out,
            "modelrt_gateway_rejections_total",
            Kind::Counter,
            "Requests the gateway refused itself, by reason (auth, limit) and error code.",
        );
        for (r, n) in rej {
            f.sample(&[("reason", &r.reason), ("code", &r.code)], n);
        }
    }
}

/// What the layers below leave about one request, shared through a task-local.
#[derive(Debug, Default)]
pub struct Access {
    usage: UsageReport,
    key_id: Mutex<Option<String>>,
    model: Mutex<Option<String>>,
}

tokio::task_local! {
    static ACCESS: Arc<Access>;
}

/// Makes `ctx` report into the current request's access record (a no-op outside one).
pub fn attach(ctx: &mut RequestContext) {
    let _ = ACCESS.try_with(|a| {
        ctx.usage = a.usage.clone();
        a.key_id.lock().clone_from(&ctx.key_id);
    });
}

/// Notes the model the client asked for (for the access line).
pub fn note_model(model: &str) {
    let _ = ACCESS.try_with(|a| {
        *a.model.lock() = Some(model_runtime::error::excerpt(model).to_string());
    });
}

/// One request being observed.
pub struct Observed {
    metrics: Arc<HttpMetrics>,
    access: Arc<Access>,
    id: Arc<str>,
    method: &'static str,
    route: &'static str,
    start: Instant,
    /// The request's trace span (`Span::none()` when traces are off), ended with the body.
    span: tracing::Span,
}

impl Observed {
    /// Starts observing `req` (counts it in flight); `span` is its trace span, closed when
    /// the response body has been sent.
    pub fn start(
        metrics: &Arc<HttpMetrics>,
        req: &Request,
        id: Arc<str>,
        span: tracing::Span,
    ) -> Self {
        metrics.in_flight.fetch_add(1, Ordering::Relaxed);
        Self {
            metrics: metrics.clone(),
            access: Arc::default(),
            id,
            method: method_label(req.method()),
            route: route_of(req.uri().path()),
            start: Instant::now(),
            span,
        }
    }

    /// Runs the request's handler with its access record in scope.
    pub async fn scope<F: Future<Output = Response>>(&self, fut: F) -> Response {
        ACCESS.scope(self.access.clone(), fut).await
    }

    /// Hands the response out with its body wrapped: the request is counted and logged when
    /// the body has been sent (or dropped).
    pub fn finish(self, resp: Response) -> Response {
        if let Some(r) = resp.extensions().get::<Rejection>() {
            self.metrics.reject(*r);
        }
        let status = resp.status().as_u16();
        let h = resp.headers();
        let header = |name: &str| h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let done = Done {
            provider: header("x-modelrt-provider"),
            deployment: header("x-modelrt-deployment"),
            attempts: header("x-modelrt-attempts"),
            cache: header("x-modelrt-cache"),
            status,
            obs: self,
        };
        resp.map(|b| {
            Body::new(Logged {
                inner: b,
                done: Some(done),
            })
        })
    }
}

/// What is logged when the body ends.
struct Done {
    provider: Option<String>,
    deployment: Option<String>,
    attempts: Option<String>,
    cache: Option<String>,
    status: u16,
    obs: Observed,
}

impl Drop for Done {
    fn drop(&mut self) {
        let o = &self.obs;
        let secs = o.start.elapsed().as_secs_f64();
        o.metrics.in_flight.fetch_sub(1, Ordering::Relaxed);
        o.metrics.record((o.route, o.method, self.status), secs);
        if !o.span.is_disabled() {
            crate::otel::finish_request(&o.span, self.status, o.access.usage.get().as_ref());
        }
        let probe = is_probe(o.route);
        if probe && !tracing::enabled!(target: "modelrt::access", tracing::Level::DEBUG) {
            return;
        }
        if !probe && !tracing::enabled!(target: "modelrt::access", tracing::Level::INFO) {
            return;
        }
        let usage = o.access.usage.get();
        // A failed routed call's route is in its answer's `x-modelrt-*` headers.
        let provider = usage
            .as_ref()
            .map(|u| u.provider.clone())
            .or_else(|| self.provider.clone());
        let deployment = usage
            .as_ref()
            .and_then(|u| u.deployment.clone())
            .or_else(|| self.deployment.clone());
        let attempts = self.attempts.clone();
        let key_id = o.access.key_id.lock().clone();
        let model = o.access.model.lock().clone();
        let u = usage.as_ref().map(|u| &u.usage);
        macro_rules! line {
            ($lvl:ident) => {
                tracing::$lvl!(
                    target: "modelrt::access",
                    request_id = %o.id,
                    key_id = key_id.as_deref().unwrap_or("-"),
                    method = o.method,
                    route = o.route,
                    status = self.status,
                    latency_ms = (secs * 1e4).round() / 10.0,
                    model = model.as_deref(),
                    provider = provider.as_deref(),
                    deployment = deployment.as_deref(),
                    attempts = attempts.as_deref(),
                    ttft_ms = usage.as_ref().and_then(|u| u.ttft_ms),
                    input_tokens = u.map(|u| u.prompt_tokens),
                    output_tokens = u.map(|u| u.completion_tokens),
                    cost_usd = usage.as_ref().and_then(|u| u.cost_usd),
                    cache = self.cache.as_deref(),
                    "request"
                )
            };
        }
        if probe {
            line!(debug);
        } else {
            line!(info);
        }
    }
}

/// A response body that reports its request when it ends or is dropped.
struct Logged {
    inner: Body,
    done: Option<Done>,
}

impl http_body::Body for Logged {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(None) = r {
            // Ended: report now rather than when hyper drops the body.
            self.done.take();
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_templates_and_unknown_paths_one_series() {
        assert_eq!(route_of("/v1/chat/completions"), "/v1/chat/completions");
        assert_eq!(route_of("/v1/models/openai/gpt-4o"), "/v1/models/{id}");
        assert_eq!(route_of("/admin/keys/k1"), "/admin");
        assert_eq!(route_of("/wp-login.php"), "other");
        assert_eq!(route_of("/v1/chat/completions/x"), "other");
    }

    #[test]
    fn rejections_are_classified_by_code() {
        assert_eq!(
            Rejection::of_code("invalid_api_key").map(|r| r.reason),
            Some("auth")
        );
        assert_eq!(
            Rejection::of_code("budget_exceeded").map(|r| r.reason),
            Some("limit")
        );
        assert_eq!(Rejection::of_code("invalid_json"), None);
    }

    #[test]
    fn rendered_families_parse_strictly() {
        let m = HttpMetrics::default();
        m.record(("/v1/chat/completions", "POST", 200), 0.2);
        m.record(("/v1/chat/completions", "POST", 200), 7.0);
        m.record(("/health", "GET", 200), 0.001);
        m.reject(Rejection::of_code("invalid_api_key").unwrap());
        let mut text = String::new();
        m.render(&mut text);
        let e = runtime_testkit::prom::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(
            e.sum(
                "modelrt_http_requests_total",
                &[("route", "/v1/chat/completions"), ("status", "200")]
            ),
            2.0
        );
        assert_eq!(
            e.sum(
                "modelrt_http_request_duration_seconds_bucket",
                &[("route", "/v1/chat/completions"), ("le", "5")]
            ),
            1.0
        );
        assert_eq!(
            e.sum("modelrt_gateway_rejections_total", &[("reason", "auth")]),
            1.0
        );
    }
}
