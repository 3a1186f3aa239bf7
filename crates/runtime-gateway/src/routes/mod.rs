//! Route handlers kept out of `server.rs`, one module per API.

pub mod rerank;
