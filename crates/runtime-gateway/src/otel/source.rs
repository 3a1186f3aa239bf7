//! What the OTLP metrics export reads, given to it by the gateway (below both: the export
//! does not know the gateway's state).

/// What the OTLP metrics export reads at every interval: the `/metrics` exposition as it is
/// now (the gateway's `metrics_text`, see `Gateway::metrics_source`).
pub type MetricsSource =
    std::sync::Arc<dyn Fn() -> futures::future::BoxFuture<'static, String> + Send + Sync>;
