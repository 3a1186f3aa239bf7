//! End-to-end tests of model-runtime live in this package's test targets (`tests/*.rs`).
