//! The router's shared core: its logical models, state store and counters. The façade
//! ([`crate::Router`]), the attempt loop, health tasks and committed streams all hold it.
//!
//! Its methods live with their job: selection (`select.rs`), the failover loop
//! (`failover.rs`), the call onto a provider (`call.rs`), limiter and health bookkeeping
//! (`bookkeeping.rs`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use runtime_core::http::HttpClient;
use runtime_core::{Error, Result};

use crate::config::RouterDefaults;
use crate::model::LogicalModel;
use crate::state::StateStore;
use crate::stats::Stats;

/// The state every part of one router shares.
pub(crate) struct Inner {
    pub name: String,
    pub defaults: RouterDefaults,
    pub models: HashMap<String, Arc<LogicalModel>>,
    pub order: Vec<String>,
    pub store: Arc<dyn StateStore>,
    pub http: Option<HttpClient>,
    pub stats: Stats,
}

impl Inner {
    pub(crate) fn model(&self, name: &str) -> Result<Arc<LogicalModel>> {
        self.models
            .get(name)
            .cloned()
            .ok_or_else(|| Error::ModelNotFound {
                provider: self.name.clone(),
                model: name.to_owned(),
                message: format!(
                    "no logical model of that name; configured: [{}]",
                    self.order.join(", ")
                ),
            })
    }

    /// cool/trip/down flags of every deployment (3 per deployment). A store error counts as
    /// "no flags" (fail open) and is logged.
    pub(crate) async fn flags(&self, m: &LogicalModel) -> Vec<Option<Duration>> {
        let refs: Vec<&str> = m.flag_keys.iter().map(String::as_str).collect();
        match self.store.flags(&refs).await {
            Ok(f) if f.len() == refs.len() => f,
            Ok(_) => vec![None; refs.len()],
            Err(e) => {
                tracing::warn!(error = %e, model = %m.name, "router state store failed; routing without shared flags");
                vec![None; refs.len()]
            }
        }
    }
}
