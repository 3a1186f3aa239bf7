//! A real OTLP/HTTP trace receiver on 127.0.0.1, built on the official protobuf definitions
//! (`opentelemetry-proto`'s prost types): it answers `POST /v1/traces`
//! (`application/x-protobuf`) as a collector does and keeps every span it decodes, for
//! tests to assert on.
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

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use parking_lot::Mutex;
use prost::Message;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

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

    /// How many export requests arrived.
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

fn attributes(kvs: &[KeyValue]) -> BTreeMap<String, Value> {
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
        let ok_path = head.starts_with("post /v1/traces ");
        let (status, reply) = match (ok_path, decode(&body)) {
            (true, Ok(spans)) => {
                *r.requests.lock() += 1;
                r.spans.lock().extend(spans);
                (
                    "200 OK",
                    ExportTraceServiceResponse::default().encode_to_vec(),
                )
            }
            (false, _) => ("404 Not Found", Vec::new()),
            (true, Err(_)) => ("400 Bad Request", Vec::new()),
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

/// The gRPC side: `opentelemetry.proto.collector.trace.v1.TraceService/Export` over HTTP/2
/// (prior knowledge, as the OTLP/gRPC exporter speaks it), length-prefixed protobuf messages,
/// `grpc-status` in the trailers.
mod grpc {
    use std::convert::Infallible;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll};

    use bytes::Bytes;
    use http_body::{Body, Frame};
    use hyper::body::Incoming;
    use prost::Message;

    use super::{ExportTraceServiceResponse, Received, decode};

    /// The export path.
    pub(super) const PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";

    /// A response body: one data frame, then the trailers.
    pub(super) struct Reply {
        data: Option<Bytes>,
        trailers: Option<http::HeaderMap>,
    }

    impl Body for Reply {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            if let Some(d) = self.data.take() {
                return Poll::Ready(Some(Ok(Frame::data(d))));
            }
            Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t))))
        }
    }

    fn reply(status: u32, message: Option<Vec<u8>>) -> http::Response<Reply> {
        let data = message.map(|m| {
            let mut framed = Vec::with_capacity(5 + m.len());
            framed.push(0);
            framed.extend_from_slice(&(m.len() as u32).to_be_bytes());
            framed.extend_from_slice(&m);
            Bytes::from(framed)
        });
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", status.into());
        let mut resp = http::Response::new(Reply {
            data,
            trailers: Some(trailers),
        });
        resp.headers_mut().insert(
            "content-type",
            http::HeaderValue::from_static("application/grpc"),
        );
        resp
    }

    pub(super) async fn handle(
        req: http::Request<Incoming>,
        r: Arc<Received>,
    ) -> Result<http::Response<Reply>, Infallible> {
        if req.uri().path() != PATH {
            return Ok(reply(12, None)); // UNIMPLEMENTED
        }
        let mut body = req.into_body();
        let mut buf = Vec::new();
        while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            match frame {
                Ok(f) => {
                    if let Ok(d) = f.into_data() {
                        buf.extend_from_slice(&d);
                    }
                }
                Err(_) => return Ok(reply(13, None)), // INTERNAL
            }
        }
        // One uncompressed message: flag 0, 4-byte big-endian length, the protobuf.
        let spans = match buf.as_slice() {
            [0, a, b, c, d, rest @ ..]
                if rest.len() == u32::from_be_bytes([*a, *b, *c, *d]) as usize =>
            {
                decode(rest).ok()
            }
            _ => None,
        };
        match spans {
            Some(spans) => {
                *r.requests.lock() += 1;
                r.spans.lock().extend(spans);
                Ok(reply(
                    0,
                    Some(ExportTraceServiceResponse::default().encode_to_vec()),
                ))
            }
            None => Ok(reply(3, None)), // INVALID_ARGUMENT
        }
    }
}

impl OtlpReceiver {
    /// Listens on a free port of 127.0.0.1 for OTLP/gRPC (`TraceService/Export` over HTTP/2);
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
