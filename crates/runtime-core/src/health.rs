//! A health probe's result, below both the provider contract and the calls-as-data one that
//! answer it.

use std::time::Duration;

/// Result of a health probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthStatus {
    /// Whether the provider answered as expected.
    pub healthy: bool,
    /// How long the probe took.
    pub latency: Duration,
    /// What the probe saw.
    pub detail: String,
}
