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

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod grpc;
mod metrics;
mod spans;
mod store;

pub use metrics::{Batch, Metric, MetricKind, Point};
pub use spans::{KIND_CLIENT, KIND_SERVER, Link, Span, decode};
use store::{Accepted, Received, accept};

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
