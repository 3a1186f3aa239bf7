//! The pure half: request bodies, answer parsing and the static catalog. No I/O here.

pub mod embed;
pub mod models;
pub mod rerank;
