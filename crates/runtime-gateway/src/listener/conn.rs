//! One client connection: its phase (see the module docs of [`super`]), the IO wrapper and the
//! request/response body wrappers that move it from phase to phase, the hyper service that
//! answers probes and refusals when overloaded or draining, and the task that drives it.
//!
//! Everything a connection does runs in its own task, so the phase is written by one task
//! only (relaxed atomics: plain stores on x86) and read by the sweeper.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::future::RouteFuture;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tower::Service as _;

use super::registry::{ConnState, Kick, Phase};
use super::stats::{Rejected, Shed, Timeout};
use super::timeout::BodyTimeout;
use crate::error::ApiError;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The client socket, noting reads (a new head begins; body progress) and blocked writes.
struct ConnIo {
    tcp: TcpStream,
    state: Arc<ConnState>,
}

impl ConnIo {
    #[inline]
    fn on_write<T>(&self, r: &Poll<std::io::Result<T>>) {
        let blocked = &self.state.write_blocked;
        if r.is_pending() {
            if blocked.load(Ordering::Relaxed) == 0 {
                blocked.store(self.state.conns.now() + 1, Ordering::Relaxed);
            }
        } else if blocked.load(Ordering::Relaxed) != 0 {
            blocked.store(0, Ordering::Relaxed);
        }
    }
}

impl AsyncRead for ConnIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.tcp).poll_read(cx, buf);
        if buf.filled().len() > before {
            let st = &this.state;
            match st.phase() {
                // The header timeout of a first request runs from the accept.
                Phase::Fresh => st.set_phase(Phase::Head),
                Phase::Idle => st.enter(Phase::Head),
                Phase::Body => st.since.store(st.conns.now(), Ordering::Relaxed),
                Phase::Head | Phase::Busy => {}
            }
        }
        r
    }
}

impl AsyncWrite for ConnIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.tcp).poll_write(cx, buf);
        this.on_write(&r);
        r
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.tcp).poll_write_vectored(cx, bufs);
        this.on_write(&r);
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

/// The request body: `Body` phase while the handler waits for bytes; fails with
/// [`BodyTimeout`] when the sweeper says the client stopped sending.
pub(super) struct TimedBody {
    inner: Incoming,
    state: Arc<ConnState>,
}

impl http_body::Body for TimedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let st = &this.state;
        match st.kicked() {
            Some(Kick::Body) => {
                st.kick.store(Kick::BodyFired as u8, Ordering::Release);
                st.conns.stats.timeout(Timeout::Body);
                st.set_phase(Phase::Busy);
                return Poll::Ready(Some(Err(Box::new(BodyTimeout(
                    st.conns.limits.body_timeout,
                )))));
            }
            Some(Kick::BodyFired) => {
                return Poll::Ready(Some(Err(Box::new(BodyTimeout(
                    st.conns.limits.body_timeout,
                )))));
            }
            _ => {}
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => {
                if st.phase() == Phase::Busy {
                    st.enter(Phase::Body);
                }
                Poll::Pending
            }
            Poll::Ready(frame) => {
                if st.phase() == Phase::Body {
                    st.set_phase(Phase::Busy);
                }
                Poll::Ready(frame.map(|r| r.map_err(Into::into)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The response body: when hyper is done with it, the connection goes idle.
pub(super) struct TrackedBody {
    inner: Body,
    state: Arc<ConnState>,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for TrackedBody {
    fn drop(&mut self) {
        self.state.response_done();
    }
}

/// The hyper service of one connection: the gateway's router, except that an overloaded
/// connection or a draining gateway answers only probes and refuses the rest.
pub(super) struct ConnService {
    router: axum::Router,
    state: Arc<ConnState>,
}

fn is_probe(path: &str) -> bool {
    path == "/health" || path == "/ready"
}

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response<TrackedBody>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, req: Request<Incoming>) -> ResponseFuture {
        let st = &self.state;
        st.set_phase(Phase::Busy);
        if (st.overload || st.conns.draining()) && !is_probe(req.uri().path()) {
            return ResponseFuture::Ready(Some(refuse(st, &req)), st.clone());
        }
        let req = req.map(|inner| TimedBody {
            inner,
            state: st.clone(),
        });
        // `Router` is always ready (its `poll_ready` returns `Ready` at once); one clone per
        // request (an `Arc`) as `axum::serve` does.
        let fut = self.router.clone().call(req);
        ResponseFuture::Route(fut, st.clone())
    }
}

/// `503` with `Retry-After: 1` for a non-probe request on an overloaded connection or while
/// draining.
fn refuse(st: &ConnState, req: &Request<Incoming>) -> Response<Body> {
    let err = if st.overload {
        st.conns.stats.rejected(Rejected::Overloaded);
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "api_error",
            "the gateway is at its connection limit; retry shortly",
        )
        .with_code("overloaded")
    } else {
        st.conns.stats.rejected(Rejected::Draining);
        crate::http::shutting_down()
    };
    let id = crate::http::request_id(req.headers());
    let mut resp = crate::routes::error_for_path(
        req.uri().path(),
        err.with_retry_after(Duration::from_secs(1)),
        &id,
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut()
            .insert(header::HeaderName::from_static("x-request-id"), v);
    }
    resp
}

/// The router's answer, its body tracked, with `Connection: close` when the connection is to
/// close after it (draining, overloaded, or its body timed out).
pub(super) enum ResponseFuture {
    Route(RouteFuture<Infallible>, Arc<ConnState>),
    Ready(Option<Response<Body>>, Arc<ConnState>),
}

impl Future for ResponseFuture {
    type Output = Result<Response<TrackedBody>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let (resp, state) = match this {
            Self::Route(fut, state) => match Pin::new(fut).poll(cx) {
                Poll::Ready(Ok(resp)) => (resp, state),
                Poll::Ready(Err(never)) => match never {},
                Poll::Pending => return Poll::Pending,
            },
            Self::Ready(resp, state) => match resp.take() {
                Some(resp) => (resp, state),
                None => (StatusCode::INTERNAL_SERVER_ERROR.into_response(), state),
            },
        };
        let (mut parts, inner) = resp.into_parts();
        if state.overload || state.conns.draining() || state.kick.load(Ordering::Relaxed) != 0 {
            parts
                .headers
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        Poll::Ready(Ok(Response::from_parts(
            parts,
            TrackedBody {
                inner,
                state: state.clone(),
            },
        )))
    }
}

type Http1 = hyper::server::conn::http1::Connection<TokioIo<ConnIo>, ConnService>;

/// The task of one connection: drives hyper's connection and handles what the sweeper, the
/// cap or the drain tell it.
pub(super) struct ConnTask {
    conn: Option<Http1>,
    state: Arc<ConnState>,
}

impl ConnTask {
    pub(super) fn new(
        builder: &hyper::server::conn::http1::Builder,
        tcp: TcpStream,
        state: Arc<ConnState>,
        router: axum::Router,
    ) -> Self {
        let io = TokioIo::new(ConnIo {
            tcp,
            state: state.clone(),
        });
        let svc = ConnService {
            router,
            state: state.clone(),
        };
        Self {
            conn: Some(builder.serve_connection(io, svc)),
            state,
        }
    }

    /// Whether to close now for `kick` (re-checked against the phase: the connection may have
    /// started a request since the sweeper looked).
    fn handle(&mut self, kick: Kick) -> bool {
        let st = &*self.state;
        let phase = st.phase();
        let stats = &st.conns.stats;
        let close = match kick {
            Kick::Header => matches!(phase, Phase::Fresh | Phase::Head),
            Kick::Idle | Kick::Drain => phase == Phase::Idle,
            Kick::Evict => {
                st.conns.evicting.fetch_sub(1, Ordering::Relaxed);
                let close = matches!(phase, Phase::Fresh | Phase::Head | Phase::Idle);
                // Handled: `Drop` must not count it again.
                st.kick
                    .store(if close { Kick::Stop as u8 } else { 0 }, Ordering::Release);
                if !close {
                    return false;
                }
                true
            }
            Kick::Send | Kick::Stop => true,
            // The body read fails, the handler answers 408 and the connection closes after it.
            Kick::Body | Kick::BodyFired => return false,
        };
        if !close {
            st.clear_kick(kick);
            return false;
        }
        match kick {
            Kick::Header => {
                stats.timeout(Timeout::Header);
                if phase == Phase::Head {
                    self.answer_408();
                }
            }
            Kick::Idle => stats.timeout(Timeout::Idle),
            Kick::Send => stats.timeout(Timeout::Send),
            Kick::Evict => stats.shed(Shed::EvictedIdle),
            _ => {}
        }
        true
    }

    /// Writes `408` to a client whose request head stopped short (best effort: one
    /// non-blocking write into an empty socket buffer).
    fn answer_408(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        let io = conn.into_parts().io.into_inner();
        let body = br#"{"error":{"message":"the request head did not arrive within the header timeout","type":"invalid_request_error","param":null,"code":"request_timeout"}}"#;
        let mut out = format!(
            "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(body);
        let _ = io.tcp.try_write(&out);
    }
}

impl Future for ConnTask {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        this.state.waker.register(cx.waker());
        if let Some(kick) = this.state.kicked()
            && this.handle(kick)
        {
            this.conn = None;
            return Poll::Ready(());
        }
        let Some(conn) = this.conn.as_mut() else {
            return Poll::Ready(());
        };
        match Pin::new(conn).poll(cx) {
            Poll::Ready(r) => {
                if let Err(e) = r {
                    tracing::trace!(error = %e, "client connection ended with an error");
                }
                this.conn = None;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for ConnTask {
    fn drop(&mut self) {
        // Close the socket before the slot is freed, so the open count never undercounts.
        self.conn = None;
        if self.state.kicked() == Some(Kick::Evict) {
            // Dropped before it handled its eviction (the runtime shut down).
            self.state.conns.evicting.fetch_sub(1, Ordering::Relaxed);
        }
        self.state.conns.remove(self.state.slot);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_timeout_is_found_behind_the_body_error() {
        let t = BodyTimeout(Duration::from_secs(3));
        // What a handler sees: the boxed error of `TimedBody`, wrapped by axum's body.
        let e = axum::Error::new(Box::new(t) as BoxError);
        assert_eq!(BodyTimeout::find(&e), Some(&t));
        let other = axum::Error::new(std::io::Error::other("reset"));
        assert_eq!(BodyTimeout::find(&other), None);
    }

    #[test]
    fn only_the_probe_paths_pass_while_refusing() {
        assert!(is_probe("/health") && is_probe("/ready"));
        assert!(!is_probe("/v1/chat/completions") && !is_probe("/metrics"));
        assert!(!is_probe("/health/x") && !is_probe("/readyz"));
    }
}
