//! The metrics side of the receiver: `ExportMetricsServiceRequest` decoded into plain values.

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use prost::Message;
use serde_json::Value;

use super::spans::attributes;

/// What kind of metric, as OTLP carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A `Sum`; `monotonic` for a counter.
    Sum {
        /// Whether it only goes up.
        monotonic: bool,
        /// 1 delta, 2 cumulative.
        temporality: i32,
    },
    /// A `Gauge`.
    Gauge,
    /// An explicit-bucket `Histogram`.
    Histogram {
        /// 1 delta, 2 cumulative.
        temporality: i32,
    },
    /// Anything else (exponential histograms, summaries).
    Other,
}

/// One data point.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Its attributes, values as JSON.
    pub attributes: BTreeMap<String, Value>,
    /// A sum's or gauge's value (integers as floats).
    pub value: f64,
    /// A histogram's count.
    pub count: u64,
    /// A histogram's sum.
    pub sum: f64,
    /// A histogram's finite bucket bounds.
    pub bounds: Vec<f64>,
    /// A histogram's per-bucket counts (one more than `bounds`).
    pub buckets: Vec<u64>,
    /// When counting began (Unix nanoseconds).
    pub start_time_unix_nano: u64,
    /// When the point was read (Unix nanoseconds).
    pub time_unix_nano: u64,
}

impl Point {
    /// Whether every `(key, value)` is among its attributes (values compared as text).
    pub fn has(&self, attrs: &[(&str, &str)]) -> bool {
        attrs.iter().all(|(k, v)| {
            self.attributes.get(*k).is_some_and(|a| match a {
                Value::String(s) => s == v,
                other => other.to_string().as_str() == *v,
            })
        })
    }
}

/// One metric of one export request.
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    /// `service.name` of the resource that sent it.
    pub service_name: Option<String>,
    /// Its name (`gen_ai.client.token.usage`).
    pub name: String,
    /// Its description.
    pub description: String,
    /// Its unit.
    pub unit: String,
    /// Sum, gauge or histogram.
    pub kind: MetricKind,
    /// Its data points.
    pub points: Vec<Point>,
}

impl Metric {
    /// The sum of the values (sums, gauges) or counts (histograms) of the points with these
    /// attributes.
    pub fn total(&self, attrs: &[(&str, &str)]) -> f64 {
        self.points
            .iter()
            .filter(|p| p.has(attrs))
            .map(|p| match self.kind {
                MetricKind::Histogram { .. } => p.count as f64,
                _ => p.value,
            })
            .sum()
    }
}

/// One export request's metrics.
pub type Batch = Vec<Metric>;

/// Decodes one metrics export request.
pub fn decode(body: &[u8]) -> Result<Batch, prost::DecodeError> {
    let req = ExportMetricsServiceRequest::decode(body)?;
    let mut out = Vec::new();
    for rm in req.resource_metrics {
        let service_name = rm.resource.as_ref().and_then(|r| {
            attributes(&r.attributes)
                .get("service.name")
                .and_then(|v| v.as_str().map(str::to_owned))
        });
        for sm in rm.scope_metrics {
            for m in sm.metrics {
                let number = |p: &opentelemetry_proto::tonic::metrics::v1::NumberDataPoint| Point {
                    attributes: attributes(&p.attributes),
                    value: match p.value {
                        Some(number_data_point::Value::AsDouble(f)) => f,
                        Some(number_data_point::Value::AsInt(i)) => i as f64,
                        None => f64::NAN,
                    },
                    count: 0,
                    sum: 0.0,
                    bounds: Vec::new(),
                    buckets: Vec::new(),
                    start_time_unix_nano: p.start_time_unix_nano,
                    time_unix_nano: p.time_unix_nano,
                };
                let (kind, points) = match &m.data {
                    Some(metric::Data::Sum(s)) => (
                        MetricKind::Sum {
                            monotonic: s.is_monotonic,
                            temporality: s.aggregation_temporality,
                        },
                        s.data_points.iter().map(number).collect(),
                    ),
                    Some(metric::Data::Gauge(g)) => (
                        MetricKind::Gauge,
                        g.data_points.iter().map(number).collect(),
                    ),
                    Some(metric::Data::Histogram(h)) => (
                        MetricKind::Histogram {
                            temporality: h.aggregation_temporality,
                        },
                        h.data_points
                            .iter()
                            .map(|p| Point {
                                attributes: attributes(&p.attributes),
                                value: 0.0,
                                count: p.count,
                                sum: p.sum.unwrap_or(0.0),
                                bounds: p.explicit_bounds.clone(),
                                buckets: p.bucket_counts.clone(),
                                start_time_unix_nano: p.start_time_unix_nano,
                                time_unix_nano: p.time_unix_nano,
                            })
                            .collect(),
                    ),
                    _ => (MetricKind::Other, Vec::new()),
                };
                out.push(Metric {
                    service_name: service_name.clone(),
                    name: m.name,
                    description: m.description,
                    unit: m.unit,
                    kind,
                    points,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::metrics::v1::{
        Histogram, HistogramDataPoint, Metric as PMetric, NumberDataPoint, ResourceMetrics,
        ScopeMetrics, Sum, metric, number_data_point,
    };
    use prost::Message;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::otlp::OtlpReceiver;

    fn request() -> ExportMetricsServiceRequest {
        let attr = vec![KeyValue {
            key: "gen_ai.token.type".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue("input".into())),
            }),
            ..Default::default()
        }];
        let sum = PMetric {
            name: "requests".into(),
            data: Some(metric::Data::Sum(Sum {
                data_points: vec![NumberDataPoint {
                    value: Some(number_data_point::Value::AsDouble(3.0)),
                    ..Default::default()
                }],
                aggregation_temporality: 2,
                is_monotonic: true,
            })),
            ..Default::default()
        };
        let hist = PMetric {
            name: "gen_ai.client.token.usage".into(),
            data: Some(metric::Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    attributes: attr,
                    count: 2,
                    sum: Some(30.0),
                    explicit_bounds: vec![10.0],
                    bucket_counts: vec![0, 2],
                    ..Default::default()
                }],
                aggregation_temporality: 2,
            })),
            ..Default::default()
        };
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: vec![sum, hist],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }
    }

    #[tokio::test]
    async fn a_metrics_export_over_http_is_decoded_and_kept() {
        let rx = OtlpReceiver::start().await;
        let body = request().encode_to_vec();
        let mut sock = tokio::net::TcpStream::connect(rx.addr).await.unwrap();
        let head = format!(
            "POST /v1/metrics HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        sock.write_all(head.as_bytes()).await.unwrap();
        sock.write_all(&body).await.unwrap();
        let mut answer = [0u8; 64];
        let n = sock.read(&mut answer).await.unwrap();
        assert!(answer[..n].starts_with(b"HTTP/1.1 200"));
        let batches = rx
            .wait_for_metrics(Duration::from_secs(5), |b| !b.is_empty())
            .await;
        let batch = &batches[0];
        assert_eq!(
            batch[0].kind,
            MetricKind::Sum {
                monotonic: true,
                temporality: 2
            }
        );
        assert_eq!(batch[0].total(&[]), 3.0);
        let h = &batch[1];
        assert_eq!(h.total(&[("gen_ai.token.type", "input")]), 2.0);
        assert_eq!(
            (h.points[0].sum, h.points[0].buckets.as_slice()),
            (30.0, &[0u64, 2][..])
        );
        assert_eq!(rx.requests(), 0, "not a trace export");
    }

    use std::time::Duration;
}
