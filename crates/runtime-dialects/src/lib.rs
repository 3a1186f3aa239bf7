#![doc = include_str!("../README.md")]

pub mod anthropic_messages;
mod error;
pub mod estimate;
pub mod openai_responses;
mod sse;

pub use error::{Converted, ErrorCategory, ErrorInfo, RequestError, RequestErrorKind};
