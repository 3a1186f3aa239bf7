//! The export path of spans: a bounded queue in front of the SDK's batch processor (spans
//! that find it full are dropped and counted, never waited for), an exporter wrapper that
//! counts what was sent and what failed, and the OTLP/HTTP client over the workspace's
//! reqwest, run on the gateway's tokio runtime.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use model_runtime::prom::{Family, Kind};
use opentelemetry::Context;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter, SpanProcessor};

/// What the export path counted (`modelrt_otel_*` on `/metrics`).
#[derive(Debug, Default)]
pub struct Stats {
    /// Spans ended and waiting for export (queued or in a batch being sent).
    pending: AtomicUsize,
    exported: AtomicU64,
    dropped_queue_full: AtomicU64,
    dropped_export_failed: AtomicU64,
    export_errors: AtomicU64,
}

impl Stats {
    /// Appends the `modelrt_otel_*` families in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Family::new(
            out,
            "modelrt_otel_spans_exported_total",
            Kind::Counter,
            "Spans the OTLP collector accepted.",
        )
        .sample(&[], load(&self.exported));
        Family::new(
            out,
            "modelrt_otel_spans_dropped_total",
            Kind::Counter,
            "Spans never delivered: the export queue was full (queue_full) or their batch could not be sent (export_failed).",
        )
        .sample(&[("reason", &"queue_full")], load(&self.dropped_queue_full))
        .sample(&[("reason", &"export_failed")], load(&self.dropped_export_failed));
        Family::new(
            out,
            "modelrt_otel_export_errors_total",
            Kind::Counter,
            "Batches the OTLP exporter failed to send.",
        )
        .sample(&[], load(&self.export_errors));
        Family::new(
            out,
            "modelrt_otel_queue_spans",
            Kind::Gauge,
            "Spans ended and not yet exported.",
        )
        .sample(&[], self.pending.load(Ordering::Relaxed));
    }
}

/// A span processor that admits at most `limit` spans into the batch processor behind it
/// (whose own queue holds as many): an ended span that finds `limit` spans waiting is
/// dropped and counted, so the request that ended it never waits for the collector.
#[derive(Debug)]
pub struct BoundedQueue<P> {
    inner: P,
    limit: usize,
    stats: Arc<Stats>,
}

impl<P> BoundedQueue<P> {
    /// Admits at most `limit` spans into `inner`.
    pub fn new(inner: P, limit: usize, stats: Arc<Stats>) -> Self {
        Self {
            inner,
            limit,
            stats,
        }
    }
}

impl<P: SpanProcessor> SpanProcessor for BoundedQueue<P> {
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        let admitted = self
            .stats
            .pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .is_ok();
        if admitted {
            self.inner.on_end(span);
        } else {
            self.stats
                .dropped_queue_full
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// An exporter that counts what it sent and what failed, and frees the batch's places in the
/// [`BoundedQueue`].
#[derive(Debug)]
pub struct Counted<E> {
    inner: E,
    stats: Arc<Stats>,
}

impl<E> Counted<E> {
    /// Counts `inner`'s exports into `stats`.
    pub fn new(inner: E, stats: Arc<Stats>) -> Self {
        Self { inner, stats }
    }
}

impl<E: SpanExporter> SpanExporter for Counted<E> {
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let n = batch.len();
        let fut = self.inner.export(batch);
        let stats = self.stats.clone();
        async move {
            let r = fut.await;
            stats.pending.fetch_sub(n, Ordering::AcqRel);
            match &r {
                Ok(()) => {
                    stats.exported.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    stats
                        .dropped_export_failed
                        .fetch_add(n as u64, Ordering::Relaxed);
                    // The first failure and then one in a hundred: a collector that is down
                    // must not flood the log.
                    if stats.export_errors.fetch_add(1, Ordering::Relaxed) % 100 == 0 {
                        tracing::warn!(target: "modelrt::otel", error = %e, spans = n, "OTLP export failed; spans dropped");
                    }
                }
            }
            r
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The OTLP/HTTP exporter's client: the workspace's reqwest, each send run as a task on the
/// gateway's tokio runtime (the SDK's batch processor exports from a thread of its own).
#[derive(Debug, Clone)]
pub struct TokioReqwest {
    client: reqwest::Client,
    rt: tokio::runtime::Handle,
}

impl TokioReqwest {
    /// A client whose sends time out after `timeout`.
    pub fn new(rt: tokio::runtime::Handle, timeout: Duration) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .tcp_nodelay(true)
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { client, rt })
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for TokioReqwest {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, opentelemetry_http::HttpError> {
        let client = self.client.clone();
        let task = self.rt.spawn(async move {
            let req = reqwest::Request::try_from(request)?;
            let resp = client.execute(req).await?;
            let mut out = http::Response::new(Bytes::new());
            *out.status_mut() = resp.status();
            *out.headers_mut() = resp.headers().clone();
            *out.body_mut() = resp.bytes().await?;
            Ok::<_, reqwest::Error>(out)
        });
        Ok(task.await??)
    }
}
