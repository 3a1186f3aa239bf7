#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![allow(clippy::panic)]

mod cases;
mod category;
mod checks;
mod generic;
mod harness;
mod matching;
mod report;
mod retarget;
mod scenario;
mod target;

/// Writing a provider, from an empty crate to a passing conformance run (the project's
/// `docs/writing-a-provider.md`).
#[doc = include_str!("../guide.md")]
pub mod guide {}

pub use cases::error_kind;
pub use category::Category;
pub use checks::run;
pub use generic::{OVERRIDE_KEY, PROBE_FIELD};
pub use harness::TEST_KEY;
pub use matching::{json_contains, matches};
pub use report::{CheckResult, Outcome, Report};
pub use scenario::{Call, EVENTSTREAM, Expect, Got, MockReply, Scenario};
pub use target::{Builder, ChunksFn, ErrorBodyFn, RequestReader, Target, chunks_as_sse, core_call};
