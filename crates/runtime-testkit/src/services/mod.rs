//! Real services that tests and `cargo xtask soak` start, break and restart on their own:
//! a private `redis-server`, a private PostgreSQL cluster, and `modelrt` processes, each on a
//! free port of 127.0.0.1, never the shared servers on 6379 / 5432.
//!
//! Every fault a process can suffer is here: [`Proc::kill9`] (SIGKILL), [`Proc::sigterm`],
//! [`Proc::pause`] / [`Proc::resume`] (SIGSTOP / SIGCONT: a hung server whose sockets still
//! accept), restart on the same port. The calls are blocking (they run short commands and
//! poll ports with bounded waits); from async code call them through `spawn_blocking` or on
//! a multi-threaded runtime. Everything started is killed when its handle is dropped.

mod gateway;
mod postgres;
mod process;
mod redis;

pub use gateway::{Gateway, GatewaySpec};
pub use postgres::Postgres;
pub use process::{
    Proc, Result, children, find_bin, free_port, is_root, port_open, rss_kib, signal, wait_port,
    wait_port_closed,
};
pub use redis::Redis;
