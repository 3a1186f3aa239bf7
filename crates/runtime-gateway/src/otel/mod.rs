//! OpenTelemetry (feature `otel`): traces through the `tracing-opentelemetry` layer and the
//! OTLP exporter, W3C trace context in from clients and out to upstreams, and the `/metrics`
//! families over OTLP (`[telemetry] metrics = true`, [`start_metrics`]).
//!
//! With `[telemetry] endpoint` set, [`layer`] builds the layer `init_logging` installs beside
//! the log output; every request then runs in a server span (`request`), the router opens a
//! child per attempt (`router.attempt`) and the shared HTTP client one per upstream call
//! (`upstream`), all ordinary `tracing` spans whose fields follow the OpenTelemetry GenAI and
//! HTTP conventions (docs/observability.md, "Traces"). Without the feature, or without an
//! endpoint, every function here is a no-op and no request span is created.

use axum::extract::Request;
use model_runtime::{ChatRequest, ChatResponse, ChatStream, ReportedUsage};
use tracing::Span;

use crate::telemetry::TracesConfig;

#[cfg(feature = "otel")]
pub mod convert;
#[cfg(feature = "otel")]
mod export;
#[cfg(feature = "otel")]
mod imp;
#[cfg(feature = "otel")]
mod metrics;
mod source;

pub use source::MetricsSource;

pub use crate::telemetry::BoxedLayer;

/// Most bytes of prompt or completion put into one span attribute (when content is captured).
pub const MAX_CONTENT_BYTES: usize = 16 * 1024;

/// The OpenTelemetry layer exporting to `cfg`'s collector, installed once per process (the
/// propagation hook of the shared HTTP client too). Must run inside the tokio runtime that
/// will carry the exports. An error says why the exporter could not be built.
#[cfg(feature = "otel")]
pub fn layer(cfg: &TracesConfig) -> Result<BoxedLayer, String> {
    imp::layer(cfg)
}

/// Without the `otel` feature: traces cannot be exported.
#[cfg(not(feature = "otel"))]
pub fn layer(_cfg: &TracesConfig) -> Result<BoxedLayer, String> {
    Err("this modelrt was built without the `otel` feature: traces cannot be exported".into())
}

/// Whether traces are being exported.
pub fn enabled() -> bool {
    #[cfg(feature = "otel")]
    {
        imp::state().is_some()
    }
    #[cfg(not(feature = "otel"))]
    {
        false
    }
}

/// Exports what is still queued and stops the exporter (at process exit).
pub fn shutdown() {
    #[cfg(feature = "otel")]
    imp::shutdown();
}

/// The running export of metrics over OTLP; [`MetricsExport::shutdown`] sends the last
/// values.
pub struct MetricsExport {
    #[cfg(feature = "otel")]
    inner: metrics::MetricsExport,
}

impl MetricsExport {
    /// Exports the final values (after the drain) and stops.
    pub async fn shutdown(self) {
        #[cfg(feature = "otel")]
        self.inner.shutdown().await;
    }
}

/// Starts exporting `gw`'s `/metrics` families over OTLP every `cfg.metrics_interval`, when
/// that is set (`[telemetry] metrics = true`). Must run inside the tokio runtime. `None`
/// when off, without the `otel` feature, or when the exporter cannot be built (a warning).
pub fn start_metrics(cfg: &TracesConfig, gw: MetricsSource) -> Option<MetricsExport> {
    #[cfg(feature = "otel")]
    {
        let interval = cfg.metrics_interval?;
        metrics::start(cfg, interval, gw).map(|inner| MetricsExport { inner })
    }
    #[cfg(not(feature = "otel"))]
    {
        let _ = (cfg, gw);
        None
    }
}

/// Appends the `modelrt_otel_*` families (when traces or metrics are exported).
pub fn render(out: &mut String) {
    #[cfg(feature = "otel")]
    if let Some(s) = imp::state() {
        s.stats.render(out);
    }
    #[cfg(feature = "otel")]
    metrics::render(out);
    #[cfg(not(feature = "otel"))]
    let _ = out;
}

/// The server span of one HTTP request, continuing the client's `traceparent` when it sent
/// a valid one; `Span::none()` when traces are off.
pub fn request_span(req: &Request, request_id: &str) -> Span {
    #[cfg(feature = "otel")]
    if imp::state().is_some() {
        return imp::request_span(req, request_id);
    }
    let _ = (req, request_id);
    Span::none()
}

/// Records the outcome of a request on its span: status, who answered, tokens.
pub fn finish_request(span: &Span, status: u16, usage: Option<&ReportedUsage>) {
    if span.is_disabled() {
        return;
    }
    span.record("http.response.status_code", i64::from(status));
    // A server span's error is a 5xx (HTTP conventions); a 4xx is the client's.
    if status >= 500 {
        span.record("error.type", status.to_string());
        span.record("otel.status_code", "ERROR");
    }
    if let Some(u) = usage {
        span.record("gen_ai.provider.name", u.provider.as_str());
        if let Some(d) = &u.deployment {
            span.record("modelrt.deployment", d.as_str());
        }
        span.record(
            "gen_ai.usage.input_tokens",
            i64::try_from(u.usage.prompt_tokens).unwrap_or(i64::MAX),
        );
        span.record(
            "gen_ai.usage.output_tokens",
            i64::try_from(u.usage.completion_tokens).unwrap_or(i64::MAX),
        );
        if u.cache_hit {
            tracing::info!(target: "modelrt::request", parent: span, "cache hit");
        }
    }
}

/// Notes the operation and the model the client asked for on the current request span.
pub fn record_operation(operation: &'static str, model: &str) {
    let span = Span::current();
    if span.is_disabled() {
        return;
    }
    span.record("gen_ai.operation.name", operation);
    span.record(
        "gen_ai.request.model",
        &*model_runtime::error::excerpt(model),
    );
}

/// Notes a chat request on the current request span: operation, model, parameters, and the
/// prompt when content is captured.
pub fn record_chat_request(req: &ChatRequest) {
    let span = Span::current();
    if span.is_disabled() {
        return;
    }
    record_operation("chat", &req.model);
    if let Some(n) = req.max_tokens {
        span.record("gen_ai.request.max_tokens", i64::from(n));
    }
    if let Some(t) = req.temperature {
        span.record("gen_ai.request.temperature", t);
    }
    if capture_content()
        && let Ok(json) = serde_json::to_string(&req.messages)
    {
        span.record("gen_ai.input.messages", clip(&json));
    }
}

/// Notes a chat answer on the current request span: id, model, finish reason, and the
/// completion when content is captured.
pub fn record_chat_response(resp: &ChatResponse) {
    let span = Span::current();
    if span.is_disabled() {
        return;
    }
    span.record("gen_ai.response.id", resp.id.as_str());
    span.record("gen_ai.response.model", resp.model.as_str());
    span.record(
        "gen_ai.response.finish_reasons",
        finish_reasons(resp.finish_reason.as_str()),
    );
    if capture_content()
        && let Ok(json) = serde_json::to_string(&resp.message)
    {
        span.record("gen_ai.output.messages", clip(&json));
    }
}

/// Watches a streamed answer for the current request span: id and model from its start,
/// the finish reason, and the completion text when content is captured.
pub fn observe_stream(stream: ChatStream) -> ChatStream {
    let span = Span::current();
    if span.is_disabled() {
        return stream;
    }
    let meta = stream.meta().clone();
    let capture = capture_content();
    let mut text = String::new();
    let watched = futures::StreamExt::inspect(stream, move |ev| {
        use model_runtime::StreamEvent;
        match ev {
            Ok(StreamEvent::Start { id, model, .. }) => {
                span.record("gen_ai.response.id", id.as_str());
                span.record("gen_ai.response.model", model.as_str());
            }
            Ok(StreamEvent::TextDelta { text: t, .. })
                if capture && text.len() < MAX_CONTENT_BYTES =>
            {
                text.push_str(t);
            }
            Ok(StreamEvent::Finish { reason }) => {
                span.record(
                    "gen_ai.response.finish_reasons",
                    finish_reasons(reason.as_str()),
                );
                if capture {
                    let msg = serde_json::json!([{"role": "assistant", "parts": [{"type": "text", "content": text}]}]);
                    span.record("gen_ai.output.messages", clip(&msg.to_string()));
                }
            }
            _ => {}
        }
    });
    ChatStream::new(watched).with_meta(meta)
}

/// The `gen_ai.response.finish_reasons` value: a JSON array of one reason.
fn finish_reasons(reason: &str) -> String {
    serde_json::json!([reason]).to_string()
}

fn capture_content() -> bool {
    #[cfg(feature = "otel")]
    {
        imp::state().is_some_and(|s| s.capture_content)
    }
    #[cfg(not(feature = "otel"))]
    {
        false
    }
}

/// `s` cut to at most [`MAX_CONTENT_BYTES`] on a character boundary.
fn clip(s: &str) -> &str {
    if s.len() <= MAX_CONTENT_BYTES {
        return s;
    }
    let mut end = MAX_CONTENT_BYTES;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_clipped_on_a_char_boundary() {
        let s = "é".repeat(MAX_CONTENT_BYTES);
        let c = clip(&s);
        assert!(c.len() <= MAX_CONTENT_BYTES && c.len() >= MAX_CONTENT_BYTES - 1);
        assert_eq!(clip("short"), "short");
        assert_eq!(finish_reasons("stop"), r#"["stop"]"#);
    }

    #[test]
    fn without_an_exporter_nothing_is_recorded() {
        assert!(!enabled());
        let req = Request::new(axum::body::Body::empty());
        assert!(request_span(&req, "r1").is_disabled());
        let mut out = String::new();
        render(&mut out);
        assert!(out.is_empty());
    }
}
