//! What the crate's exported macros expand to, named by a path below the crate root so the
//! file defining a macro does not import `lib.rs` (which re-exports that file).

pub use inventory;
