//! A real OTLP receiver of traces and metrics on 127.0.0.1, built on the official protobuf
//! definitions (`opentelemetry-proto`'s prost types): it answers `POST /v1/traces` and
//! `POST /v1/metrics` (`application/x-protobuf`), or their gRPC services
//! ([`OtlpReceiver::start_grpc`]), as a collector does and keeps every span and metric it
//! decodes, for tests to assert on.
//!
//! ```no_run
//! # async fn demo() {
//! let rx = runtime_testkit::otlp::OtlpReceiver::start().await;
//! // [telemetry] endpoint = rx.endpoint(), protocol = "http/protobuf"
//! let spans = rx
//!     .wait_for(std::time::Duration::from_secs(10), |s| s.len() >= 3)
//!     .await;
//! # let _ = spans;
//! # }
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use parking_lot::Mutex;
use prost::Message;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod grpc;
mod metrics;

pub use metrics::{Batch, Metric, MetricKind, Point};

/// A link from a span to another span (e.g. a batch to the requests it serves).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The linked span's trace id, 32 hex digits.
    pub trace_id: String,
    /// The linked span's id, 16 hex digits.
    pub span_id: String,
}

/// One span as the receiver decoded it.
#[derive(Debug, Clone)]
pub struct Span {
    /// `service.name` of the resource that sent it.
    pub service_name: Option<String>,
    /// Trace id, 32 lowercase hex digits.
    pub trace_id: String,
    /// Span id, 16 hex digits.
    pub span_id: String,
    /// The parent's span id (empty for a root).
    pub parent_span_id: String,
    /// The span name.
    pub name: String,
    /// `SpanKind` as the proto numbers it (1 internal, 2 server, 3 client).
    pub kind: i32,
    /// Attributes, values as JSON (strings, numbers, booleans, arrays).
    pub attributes: BTreeMap<String, Value>,
    /// The names of the span's events, in order.
    pub events: Vec<String>,
    /// The status code (0 unset, 1 ok, 2 error).
    pub status_code: i32,
    /// Its links to other spans.
    pub links: Vec<Link>,
}

impl Span {
    /// An attribute as a string (numbers and booleans as their text).
    pub fn attr(&self, key: &str) -> Option<String> {
        self.attributes.get(key).map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
    }
}

/// `SpanKind::Server` in the proto.
pub const KIND_SERVER: i32 = 2;
/// `SpanKind::Client` in the proto.
pub const KIND_CLIENT: i32 = 3;

#[derive(Default)]
struct Received {
    spans: Mutex<Vec<Span>>,
    requests: Mutex<usize>,
    metrics: Mutex<Vec<Batch>>,
}

/// What became of one export request.
enum Accepted {
    /// Kept; the protobuf answer.
    Ok(Vec<u8>),
    /// Not an export path.
    UnknownPath,
    /// Not a valid message.
    Bad,
}

/// Decodes and keeps one export request that came to `path` (HTTP or gRPC).
fn accept(r: &Received, path: &str, body: &[u8]) -> Accepted {
    match path {
        "/v1/traces" | grpc::TRACES => match decode(body) {
            Ok(spans) => {
                *r.requests.lock() += 1;
                r.spans.lock().extend(spans);
                Accepted::Ok(ExportTraceServiceResponse::default().encode_to_vec())
            }
            Err(_) => Accepted::Bad,
        },
        "/v1/metrics" | grpc::METRICS => match metrics::decode(body) {
            Ok(batch) => {
                r.metrics.lock().push(batch);
                Accepted::Ok(ExportMetricsServiceResponse::default().encode_to_vec())
            }
            Err(_) => Accepted::Bad,
        },
        _ => Accepted::UnknownPath,
    }
}

/// The running receiver. It stops when dropped.
pub struct OtlpReceiver {
    addr: std::net::SocketAddr,
    received: Arc<Received>,
    task: tokio::task::JoinHandle<()>,
}

impl OtlpReceiver {
    /// Listens on a free port of 127.0.0.1.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Received::default());
        let r = received.clone();
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(serve(sock, r.clone()));
            }
        });
        Self {
            addr,
            received,
            task,
        }
    }

    /// The base URL to configure as the OTLP endpoint (`http://127.0.0.1:PORT`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Span> {
        self.received.spans.lock().clone()
    }

    /// Every metrics export request received so far, in order.
    pub fn metric_batches(&self) -> Vec<Batch> {
        self.received.metrics.lock().clone()
    }

    /// Waits (at most `timeout`) until `done` holds for the metric batches received, and
    /// returns them (whatever arrived when the time is up).
    pub async fn wait_for_metrics(
        &self,
        timeout: Duration,
        done: impl Fn(&[Batch]) -> bool,
    ) -> Vec<Batch> {
        let until = tokio::time::Instant::now() + timeout;
        loop {
            let b = self.metric_batches();
            if done(&b) || tokio::time::Instant::now() >= until {
                return b;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// How many trace export requests arrived.
    pub fn requests(&self) -> usize {
        *self.received.requests.lock()
    }

    /// Waits (at most `timeout`) until `done` holds for the spans received, and returns them
    /// (whatever arrived when the time is up).
    pub async fn wait_for(&self, timeout: Duration, done: impl Fn(&[Span]) -> bool) -> Vec<Span> {
        let until = tokio::time::Instant::now() + timeout;
        loop {
            let spans = self.spans();
            if done(&spans) || tokio::time::Instant::now() >= until {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for OtlpReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A port on 127.0.0.1 where nothing listens (bound, then released): a collector that is
/// down.
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn json(v: &AnyValue) -> Value {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => Value::String(s.clone()),
        Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
        Some(any_value::Value::IntValue(i)) => Value::from(*i),
        Some(any_value::Value::DoubleValue(f)) => Value::from(*f),
        Some(any_value::Value::ArrayValue(a)) => Value::Array(a.values.iter().map(json).collect()),
        Some(any_value::Value::KvlistValue(kv)) => Value::Object(
            kv.values
                .iter()
                .map(|k| (k.key.clone(), k.value.as_ref().map_or(Value::Null, json)))
                .collect(),
        ),
        Some(any_value::Value::BytesValue(b)) => Value::String(hex(b)),
        _ => Value::Null,
    }
}

pub(crate) fn attributes(kvs: &[KeyValue]) -> BTreeMap<String, Value> {
    kvs.iter()
        .map(|k| (k.key.clone(), k.value.as_ref().map_or(Value::Null, json)))
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Decodes one export request into spans.
pub fn decode(body: &[u8]) -> Result<Vec<Span>, prost::DecodeError> {
    let req = ExportTraceServiceRequest::decode(body)?;
    let mut out = Vec::new();
    for rs in req.resource_spans {
        let service_name = rs.resource.as_ref().and_then(|r| {
            attributes(&r.attributes)
                .get("service.name")
                .and_then(|v| v.as_str().map(str::to_owned))
        });
        for ss in rs.scope_spans {
            for s in ss.spans {
                out.push(Span {
                    service_name: service_name.clone(),
                    trace_id: hex(&s.trace_id),
                    span_id: hex(&s.span_id),
                    parent_span_id: hex(&s.parent_span_id),
                    name: s.name.clone(),
                    kind: s.kind,
                    attributes: attributes(&s.attributes),
                    events: s.events.iter().map(|e| e.name.clone()).collect(),
                    status_code: s.status.as_ref().map_or(0, |st| st.code),
                    links: s
                        .links
                        .iter()
                        .map(|l| Link {
                            trace_id: hex(&l.trace_id),
                            span_id: hex(&l.span_id),
                        })
                        .collect(),
                });
            }
        }
    }
    Ok(out)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Serves one keep-alive connection: requests until the client closes it.
async fn serve(mut sock: TcpStream, r: Arc<Received>) {
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let head_end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 8192];
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < head_end + len {
            let mut chunk = [0u8; 65536];
            match sock.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let body: Vec<u8> = buf[head_end..head_end + len].to_vec();
        buf.drain(..head_end + len);
        let path = head
            .strip_prefix("post ")
            .and_then(|h| h.split(' ').next())
            .unwrap_or("");
        let (status, reply) = match accept(&r, path, &body) {
            Accepted::Ok(answer) => ("200 OK", answer),
            Accepted::UnknownPath => ("404 Not Found", Vec::new()),
            Accepted::Bad => ("400 Bad Request", Vec::new()),
        };
        let resp = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
            reply.len()
        );
        if sock.write_all(resp.as_bytes()).await.is_err() || sock.write_all(&reply).await.is_err() {
            return;
        }
    }
}

impl OtlpReceiver {
    /// Listens on a free port of 127.0.0.1 for OTLP/gRPC (`TraceService/Export` and
    /// `MetricsService/Export` over HTTP/2);
    /// [`OtlpReceiver::endpoint`] is then the gRPC endpoint.
    pub async fn start_grpc() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Received::default());
        let r = received.clone();
        let task = tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                let r = r.clone();
                tokio::spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req| grpc::handle(req, r.clone()));
                    let _ = hyper::server::conn::http2::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(sock), service)
                    .await;
                });
            }
        });
        Self {
            addr,
            received,
            task,
        }
    }
}
