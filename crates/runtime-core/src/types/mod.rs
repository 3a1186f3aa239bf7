//! Request and response types, OpenAI-shaped on the wire but typed.

pub mod chat;
pub mod completion;
pub mod element;
pub mod embedding;
pub mod model;
pub mod pricing;
pub mod rerank;
pub mod usage;

pub(crate) mod serde_util;

pub use chat::*;
pub use completion::*;
pub use element::*;
pub use embedding::*;
pub use model::*;
pub use pricing::*;
pub use rerank::*;
pub use usage::*;
