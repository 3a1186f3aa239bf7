//! What the receiver keeps, and the one place an export request (HTTP or gRPC) is decoded
//! and kept.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use parking_lot::Mutex;
use prost::Message;

use super::metrics::{self, Batch};
use super::spans::{Span, decode};

/// The trace export path of gRPC.
pub(super) const GRPC_TRACES: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
/// The metrics export path of gRPC.
pub(super) const GRPC_METRICS: &str =
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

#[derive(Default)]
pub(super) struct Received {
    pub(super) spans: Mutex<Vec<Span>>,
    pub(super) requests: Mutex<usize>,
    pub(super) metrics: Mutex<Vec<Batch>>,
}

/// What became of one export request.
pub(super) enum Accepted {
    /// Kept; the protobuf answer.
    Ok(Vec<u8>),
    /// Not an export path.
    UnknownPath,
    /// Not a valid message.
    Bad,
}

/// Decodes and keeps one export request that came to `path` (HTTP or gRPC).
pub(super) fn accept(r: &Received, path: &str, body: &[u8]) -> Accepted {
    match path {
        "/v1/traces" | GRPC_TRACES => match decode(body) {
            Ok(spans) => {
                *r.requests.lock() += 1;
                r.spans.lock().extend(spans);
                Accepted::Ok(ExportTraceServiceResponse::default().encode_to_vec())
            }
            Err(_) => Accepted::Bad,
        },
        "/v1/metrics" | GRPC_METRICS => match metrics::decode(body) {
            Ok(batch) => {
                r.metrics.lock().push(batch);
                Accepted::Ok(ExportMetricsServiceResponse::default().encode_to_vec())
            }
            Err(_) => Accepted::Bad,
        },
        _ => Accepted::UnknownPath,
    }
}
