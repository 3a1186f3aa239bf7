//! Metrics over OTLP: every `metrics_interval` a task renders the `/metrics` exposition, turns
//! it into one OTLP export request ([`super::convert`]) and sends it over HTTP/protobuf
//! (`POST {endpoint}/v1/metrics`, the workspace's reqwest) or gRPC (`MetricsService/Export`,
//! tonic). A request never waits for it; a failed export is counted and dropped (the values
//! are cumulative: the next export carries them); the last export runs at shutdown.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use model_runtime::prom::{Family, Kind};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use prost::Message;
use tokio_util::sync::CancellationToken;

use super::convert::{self, Times};
use super::source::MetricsSource;
use crate::telemetry::{OtlpProtocol, TracesConfig};

/// How long one export may take before it counts as failed.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the metrics export counted (`modelrt_otel_metric_*` on `/metrics`).
#[derive(Debug, Default)]
pub struct MetricStats {
    exports: AtomicU64,
    errors: AtomicU64,
    points: AtomicU64,
}

static STATS: OnceLock<Arc<MetricStats>> = OnceLock::new();

/// Appends the `modelrt_otel_metric_*` families (when metrics are exported).
pub fn render(out: &mut String) {
    let Some(s) = STATS.get() else { return };
    for (name, help, count) in [
        (
            "modelrt_otel_metric_exports_total",
            "Metric export requests the OTLP collector accepted.",
            &s.exports,
        ),
        (
            "modelrt_otel_metric_export_errors_total",
            "Metric export requests that could not be sent (dropped; the next export carries the cumulative values).",
            &s.errors,
        ),
        (
            "modelrt_otel_metric_points_exported_total",
            "Data points the OTLP collector accepted.",
            &s.points,
        ),
    ] {
        Family::new(out, name, Kind::Counter, help).sample(&[], count.load(Ordering::Relaxed));
    }
}

enum Transport {
    Http {
        client: reqwest::Client,
        url: String,
    },
    Grpc(MetricsServiceClient<tonic::transport::Channel>),
}

impl Transport {
    fn new(cfg: &TracesConfig) -> Result<Self, String> {
        match cfg.protocol {
            OtlpProtocol::HttpProtobuf => Ok(Self::Http {
                client: reqwest::Client::builder()
                    .tcp_nodelay(true)
                    .connect_timeout(EXPORT_TIMEOUT)
                    .timeout(EXPORT_TIMEOUT)
                    .build()
                    .map_err(|e| e.to_string())?,
                url: cfg.metrics_url(),
            }),
            OtlpProtocol::Grpc => {
                let channel = tonic::transport::Endpoint::from_shared(cfg.metrics_url())
                    .map_err(|e| e.to_string())?
                    .connect_timeout(EXPORT_TIMEOUT)
                    .timeout(EXPORT_TIMEOUT)
                    .connect_lazy();
                Ok(Self::Grpc(MetricsServiceClient::new(channel)))
            }
        }
    }

    /// Sends one request; the data points the collector rejected (a partial success).
    async fn send(&self, req: ExportMetricsServiceRequest) -> Result<u64, String> {
        match self {
            Self::Http { client, url } => {
                let resp = client
                    .post(url)
                    .header("content-type", "application/x-protobuf")
                    .body(req.encode_to_vec())
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if !resp.status().is_success() {
                    return Err(format!("the collector answered {}", resp.status()));
                }
                // An empty or undecodable body is a full success.
                let body = resp.bytes().await.unwrap_or_default();
                Ok(ExportMetricsServiceResponse::decode(body).map_or(0, |r| rejected(&r)))
            }
            Self::Grpc(client) => {
                let mut client = client.clone();
                tokio::time::timeout(EXPORT_TIMEOUT, client.export(req))
                    .await
                    .map_err(|_| "timed out".to_owned())?
                    .map(|r| rejected(r.get_ref()))
                    .map_err(|s| format!("{}: {}", s.code(), s.message()))
            }
        }
    }
}

/// The data points a collector's answer says it rejected.
fn rejected(r: &ExportMetricsServiceResponse) -> u64 {
    r.partial_success
        .as_ref()
        .map_or(0, |p| u64::try_from(p.rejected_data_points).unwrap_or(0))
}

/// The running metrics export; [`MetricsExport::shutdown`] sends the last values.
pub struct MetricsExport {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// One export: the exposition as it is now, sent; counted either way.
async fn export_once(
    gw: &MetricsSource,
    t: &Transport,
    service: &str,
    start: u64,
    stats: &MetricStats,
) {
    let text = gw().await;
    let req = convert::request(
        &text,
        service,
        Times {
            start,
            now: unix_nanos(),
        },
    );
    let points: usize = req
        .resource_metrics
        .iter()
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .map(|m| {
            use opentelemetry_proto::tonic::metrics::v1::metric::Data;
            match &m.data {
                Some(Data::Sum(s)) => s.data_points.len(),
                Some(Data::Gauge(g)) => g.data_points.len(),
                Some(Data::Histogram(h)) => h.data_points.len(),
                _ => 0,
            }
        })
        .sum();
    match t.send(req).await {
        Ok(rejected) => {
            stats.exports.fetch_add(1, Ordering::Relaxed);
            stats
                .points
                .fetch_add((points as u64).saturating_sub(rejected), Ordering::Relaxed);
            if rejected > 0 {
                tracing::debug!(target: "modelrt::otel", rejected, "the collector rejected some metric data points");
            }
        }
        Err(e) => {
            // The first failure and then one in a hundred: a collector that is down must
            // not flood the log.
            if stats.errors.fetch_add(1, Ordering::Relaxed) % 100 == 0 {
                tracing::warn!(target: "modelrt::otel", error = %e, "OTLP metrics export failed; values dropped until the next export");
            }
        }
    }
}

/// Starts exporting `gw`'s metrics to `cfg`'s collector every `interval`; `None` (with a
/// warning) when the exporter cannot be built.
pub fn start(cfg: &TracesConfig, interval: Duration, gw: MetricsSource) -> Option<MetricsExport> {
    let transport = match Transport::new(cfg) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(target: "modelrt::otel", error = %e, "metrics are not exported over OTLP");
            return None;
        }
    };
    let stats = STATS.get_or_init(Default::default).clone();
    let stop = CancellationToken::new();
    let service = cfg.service_name.clone();
    let start = unix_nanos();
    let token = stop.clone();
    let task = tokio::spawn(async move {
        let first = tokio::time::Instant::now() + interval;
        let mut tick = tokio::time::interval_at(first, interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                _ = tick.tick() => export_once(&gw, &transport, &service, start, &stats).await,
                () = token.cancelled() => break,
            }
        }
        // The last values, after the drain.
        export_once(&gw, &transport, &service, start, &stats).await;
    });
    Some(MetricsExport { stop, task })
}

impl MetricsExport {
    /// Sends the metrics once more (the final values) and stops.
    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = tokio::time::timeout(EXPORT_TIMEOUT + Duration::from_secs(1), self.task).await;
    }
}
