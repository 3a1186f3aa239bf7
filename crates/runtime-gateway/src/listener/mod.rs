//! The serving loop: accepts client connections, serves each with hyper's HTTP/1 connection,
//! and keeps them in line — timeouts, a connection cap, and the shutdown drain — the way
//! nginx (`client_header_timeout`, `client_body_timeout`, `keepalive_timeout`, `send_timeout`,
//! reusable connections) and Envoy (`request_headers_timeout`, `idle_timeout`) do.
//!
//! **Phases.** Each connection is in one phase at a time, kept in an atomic the connection's
//! own task updates (no lock, no allocation per request):
//!
//! | phase | from | timeout |
//! |---|---|---|
//! | fresh | accept, no byte yet | `header_timeout` from the accept |
//! | head | first byte of a request head | `header_timeout` from the accept (first request) or that first byte |
//! | body | a handler waits for request body bytes | `body_timeout` between two reads |
//! | busy | the head is parsed; the handler runs, the upstream answers, the response is written | none (`request_timeout` bounds the call; a stream runs as long as the upstream produces) |
//! | idle | the response body was handed over; waiting for the next request | `idle_timeout` |
//!
//! A write the client does not take (it stopped reading) is bounded by `send_timeout` in any
//! phase. A partial head gets `408` and is closed; a silent or idle connection is closed; a
//! body that stops short gets `408` (the handler's read fails) and the connection is closed.
//!
//! **Timers.** One sweeper task per listener ticks every quarter of the shortest timeout (25 ms
//! to 1 s), advances a coarse clock (milliseconds, an atomic the phase changes stamp, as nginx
//! caches its time), and wakes the connections whose phase has outlived its timeout. A
//! timeout thus fires between one and two ticks after it is due, never before.
//!
//! **Cap.** At `max_connections` open, a new connection first closes the connections that are
//! not serving a request (fresh, head or idle), oldest first, up to 32 at a time (nginx's
//! `ngx_drain_connections` rule: an eighth of them, 1 to 32). When every connection is busy
//! serving, up to [`OVERLOAD_RESERVE`] more are accepted to answer `/health` and `/ready` and to
//! tell the rest `503 overloaded` with `Retry-After: 1` and `Connection: close`; beyond that a
//! connection is closed at once. An idle-socket flood thus never stops `/health`. The cap is
//! lowered to half the process's open-file limit (the other half is for upstream connections
//! and files), with a warning at start. Every closing is counted in `/metrics`, and a summary
//! is logged at most every 10 s.
//!
//! **Drain.** On the shutdown signal the listener stays open: `/ready` answers
//! `503 {"status":"draining"}`, `/health` `200`, every other new request `503 shutting_down`
//! with `Retry-After: 1`; every response carries `Connection: close`, and idle connections are
//! closed. When no request is in flight, or `shutdown_grace` has passed (then what still runs is
//! cancelled), the listener closes.

mod conn;
mod registry;
mod stats;
mod timeout;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, TcpStream};
use tokio_util::task::{AbortOnDropHandle, TaskTracker};

use crate::server::router;
use crate::state::Gateway;

pub use registry::{Connections, OVERLOAD_RESERVE};
pub use timeout::BodyTimeout;

/// How long connections get to finish writing their last response once the listener closed.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// Serves until `signal` resolves, then drains: the listener keeps answering probes (`/ready`
/// says draining) while in-flight requests and streams finish, for up to `shutdown_grace`;
/// then it closes, what is left is cancelled, and the connections are closed.
pub async fn serve(
    gw: Arc<Gateway>,
    listener: TcpListener,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let conns = gw.connections().clone();
    conns.log_limits();
    // Aborted when `serve` returns or is dropped.
    let _sweeper = AbortOnDropHandle::new(tokio::spawn(conns.clone().sweep()));
    let acceptor = Acceptor {
        conns: conns.clone(),
        router: router(gw.clone()),
        builder: http1_builder(),
        tasks: TaskTracker::new(),
    };
    acceptor.accept_until(&listener, signal).await;

    let grace = gw.config().shutdown_grace;
    tracing::info!(
        grace_secs = grace.as_secs_f64(),
        "shutting down: draining (probes answered, /ready says draining, new requests get 503)"
    );
    conns.start_drain();
    gw.tracker.close();
    let deadline = tokio::time::Instant::now() + grace;
    let drained = acceptor
        .accept_until(
            &listener,
            tokio::time::timeout_at(deadline, gw.tracker.wait()),
        )
        .await
        .is_ok();
    drop(listener);
    if !drained {
        tracing::warn!("shutdown grace period over; cancelling in-flight requests");
        gw.stopping.store(true, Ordering::Relaxed);
        gw.hard_stop.cancel();
        let started = Instant::now();
        if tokio::time::timeout(CLOSE_WAIT, gw.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "{} requests still running after cancellation",
                gw.tracker.len()
            );
        }
        tracing::debug!(
            took_ms = started.elapsed().as_millis() as u64,
            "in-flight requests ended"
        );
    }
    // Responses already handed over carry `Connection: close`; connections waiting for a
    // request are closed now.
    conns.close_waiting();
    acceptor.tasks.close();
    if tokio::time::timeout(CLOSE_WAIT, acceptor.tasks.wait())
        .await
        .is_err()
    {
        conns.close_all();
        let _ = tokio::time::timeout(Duration::from_secs(1), acceptor.tasks.wait()).await;
    }
    Ok(())
}

fn http1_builder() -> hyper::server::conn::http1::Builder {
    let mut b = hyper::server::conn::http1::Builder::new();
    // Our own timeouts (see the module docs) replace hyper's, which would treat an idle
    // keep-alive connection like a slow head.
    b.header_read_timeout(None);
    b
}

/// What accepting a connection needs.
struct Acceptor {
    conns: Arc<Connections>,
    router: axum::Router,
    builder: hyper::server::conn::http1::Builder,
    tasks: TaskTracker,
}

impl Acceptor {
    /// Accepts connections until `until` resolves.
    async fn accept_until<T>(&self, listener: &TcpListener, until: impl Future<Output = T>) -> T {
        let mut until = pin!(until);
        loop {
            tokio::select! {
                biased;
                v = &mut until => return v,
                r = listener.accept() => match r {
                    Ok((tcp, _)) => self.admit(tcp),
                    Err(e) => self.accept_failed(e).await,
                },
            }
        }
    }

    fn admit(&self, tcp: TcpStream) {
        // Without it, Nagle and delayed ACKs add tens of ms to keep-alive requests.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "could not set TCP_NODELAY");
        }
        let Some(state) = self.conns.admit() else {
            // Over the cap and the reserve: closed at once (counted).
            return;
        };
        let task = conn::ConnTask::new(&self.builder, tcp, state, self.router.clone());
        self.tasks.spawn(task);
    }

    /// Out of file descriptors (or another accept error): make room by closing idle
    /// connections, and pause a little so the loop does not spin.
    async fn accept_failed(&self, e: std::io::Error) {
        use std::io::ErrorKind;
        if matches!(
            e.kind(),
            ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted
        ) {
            return;
        }
        self.conns.stats.shed(stats::Shed::AcceptFailed);
        tracing::debug!(error = %e, "accept failed");
        let freed = self.conns.evict_for_room();
        tokio::time::sleep(if freed > 0 {
            Duration::from_millis(5)
        } else {
            Duration::from_millis(50)
        })
        .await;
    }
}
