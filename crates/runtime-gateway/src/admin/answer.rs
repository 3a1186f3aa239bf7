//! What the admin handlers share: their context and their answer.

use axum::http::StatusCode;
use model_runtime::Runtime;
use serde_json::{Value, json};

use crate::govern::Governor;

/// What the admin handlers work on.
pub struct AdminCtx<'a> {
    /// Governance, when on.
    pub gov: Option<&'a Governor>,
    /// The runtime (usage store, router).
    pub runtime: &'a Runtime,
}

/// An admin answer: status and JSON.
pub type Answer = (StatusCode, Value);

pub(super) fn ok(v: Value) -> Answer {
    (StatusCode::OK, v)
}

pub(super) fn list(items: Vec<Value>) -> Answer {
    ok(json!({"object": "list", "data": items}))
}
