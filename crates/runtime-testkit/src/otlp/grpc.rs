//! The gRPC side: `opentelemetry.proto.collector.trace.v1.TraceService/Export` and
//! `opentelemetry.proto.collector.metrics.v1.MetricsService/Export` over HTTP/2
//! (prior knowledge, as the OTLP/gRPC exporter speaks it), length-prefixed protobuf messages,
//! `grpc-status` in the trailers.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame};
use hyper::body::Incoming;

use super::store::{Accepted, Received, accept};

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
    let path = req.uri().path().to_owned();
    let mut body = req.into_body();
    let mut buf = Vec::new();
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
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
    let message = match buf.as_slice() {
        [0, a, b, c, d, rest @ ..]
            if rest.len() == u32::from_be_bytes([*a, *b, *c, *d]) as usize =>
        {
            rest
        }
        _ => return Ok(reply(3, None)), // INVALID_ARGUMENT
    };
    Ok(match accept(&r, &path, message) {
        Accepted::Ok(answer) => reply(0, Some(answer)),
        Accepted::UnknownPath => reply(12, None), // UNIMPLEMENTED
        Accepted::Bad => reply(3, None),
    })
}
