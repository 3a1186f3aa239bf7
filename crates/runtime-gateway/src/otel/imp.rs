//! The OpenTelemetry SDK behind [`super`]: tracer provider, exporter, propagation.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::Request;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider,
};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{LevelFilter, Targets};

use super::BoxedLayer;
use super::export::{BoundedQueue, Counted, Stats, TokioReqwest};
use crate::telemetry::{OtlpProtocol, TracesConfig};

/// How long one export may take before it counts as failed.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The process's exporter state, set once by [`layer`].
pub(super) struct State {
    pub(super) stats: Arc<Stats>,
    pub(super) capture_content: bool,
    provider: SdkTracerProvider,
}

static STATE: OnceLock<State> = OnceLock::new();

pub(super) fn state() -> Option<&'static State> {
    STATE.get()
}

pub(super) fn layer(cfg: &TracesConfig) -> Result<BoxedLayer, String> {
    if STATE.get().is_some() {
        return Err("the OpenTelemetry exporter is already installed".into());
    }
    let rt = tokio::runtime::Handle::try_current()
        .map_err(|_| "the OpenTelemetry exporter needs a tokio runtime".to_owned())?;
    let url = cfg.export_url();
    let exporter = match cfg.protocol {
        OtlpProtocol::HttpProtobuf => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(TokioReqwest::new(rt, EXPORT_TIMEOUT)?)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url)
            .with_timeout(EXPORT_TIMEOUT)
            .build(),
        OtlpProtocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(url)
            .with_timeout(EXPORT_TIMEOUT)
            .build(),
    }
    .map_err(|e| format!("cannot build the OTLP exporter: {e}"))?;
    let stats = Arc::new(Stats::default());
    // The SDK's defaults (and its OTEL_BSP_* environment variables) for the batch size and
    // delay; the queue is ours.
    let batch = BatchConfigBuilder::default()
        .with_max_queue_size(cfg.queue_size)
        .with_max_export_batch_size(cfg.queue_size.min(512))
        .build();
    let processor = BatchSpanProcessor::builder(Counted::new(exporter, stats.clone()))
        .with_batch_config(batch)
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(BoundedQueue::new(processor, cfg.queue_size, stats.clone()))
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(
            cfg.sampling_ratio,
        ))))
        .with_resource(
            Resource::builder_empty()
                .with_service_name(cfg.service_name.clone())
                .build(),
        )
        .build();
    let tracer = provider.tracer("modelrt");
    let _ = STATE.set(State {
        stats,
        capture_content: cfg.capture_content,
        provider,
    });
    model_runtime::http::set_header_injector(inject);
    // Spans and events at info and above, and the shared HTTP client's `upstream` span (at
    // debug, so that the log output never builds it). The exporter's own client is not
    // traced: it runs outside any span.
    let filter = Targets::new()
        .with_default(LevelFilter::INFO)
        .with_target("runtime_core::http", LevelFilter::DEBUG);
    Ok(tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_location(false)
        .with_threads(false)
        .with_target(false)
        .with_tracked_inactivity(false)
        .with_filter(filter)
        .boxed())
}

pub(super) fn shutdown() {
    if let Some(s) = STATE.get()
        && let Err(e) = s.provider.shutdown()
    {
        tracing::debug!(target: "modelrt::otel", error = %e, "OpenTelemetry shutdown");
    }
}

/// Writes the current span's W3C `traceparent` into an upstream request's headers.
fn inject(headers: &mut http::HeaderMap) {
    let cx = Span::current().context();
    TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(headers));
}

pub(super) fn request_span(req: &Request, request_id: &str) -> Span {
    let method = req.method().as_str();
    let route = crate::route_template::route_of(req.uri().path());
    let empty = tracing::field::Empty;
    let span = tracing::info_span!(
        target: "modelrt::request",
        "request",
        otel.name = format!("{method} {route}"),
        otel.kind = "server",
        otel.status_code = empty,
        http.request.method = method,
        http.route = route,
        http.response.status_code = empty,
        modelrt.request_id = request_id,
        modelrt.deployment = empty,
        gen_ai.operation.name = empty,
        gen_ai.request.model = empty,
        gen_ai.request.max_tokens = empty,
        gen_ai.request.temperature = empty,
        gen_ai.provider.name = empty,
        gen_ai.response.model = empty,
        gen_ai.response.id = empty,
        gen_ai.response.finish_reasons = empty,
        gen_ai.usage.input_tokens = empty,
        gen_ai.usage.output_tokens = empty,
        gen_ai.input.messages = empty,
        gen_ai.output.messages = empty,
        error.type = empty,
    );
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(req.headers()));
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
    span
}
