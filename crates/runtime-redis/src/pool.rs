//! [`RedisPool`]: one handle per distinct configuration, shared by the components that use it.

use parking_lot::Mutex;
use runtime_core::Error;

use crate::config::RedisConfig;
use crate::handle::{Redis, RedisStatus};

/// Hands out one [`Redis`] handle per distinct [`RedisConfig`], so the router, the cache and
/// the gateway's key limits configured with the same Redis share one connection, and reports
/// the state of each component's handle.
#[derive(Debug, Default)]
pub struct RedisPool {
    handles: Mutex<Vec<Redis>>,
    components: Mutex<Vec<(String, Redis)>>,
}

impl RedisPool {
    /// An empty pool.
    pub fn new() -> Self {
        Self::default()
    }

    /// The handle for `cfg` (made on first request, without connecting), registered as used
    /// by `component` (`router`, `cache`, `gateway`).
    pub fn get(&self, cfg: &RedisConfig, component: &str) -> Result<Redis, Error> {
        let handle = {
            let mut handles = self.handles.lock();
            match handles.iter().find(|h| h.config() == cfg) {
                Some(h) => h.clone(),
                None => {
                    let h = Redis::new(cfg)?;
                    handles.push(h.clone());
                    h
                }
            }
        };
        handle.add_user(component);
        let mut comps = self.components.lock();
        if !comps
            .iter()
            .any(|(c, h)| c == component && Redis::same(h, &handle))
        {
            comps.push((component.to_owned(), handle.clone()));
        }
        Ok(handle)
    }

    /// Every distinct handle.
    pub fn handles(&self) -> Vec<Redis> {
        self.handles.lock().clone()
    }

    /// Each component with the status of its handle, in registration order.
    pub fn statuses(&self) -> Vec<(String, RedisStatus)> {
        self.components
            .lock()
            .iter()
            .map(|(c, h)| (c.clone(), h.status()))
            .collect()
    }

    /// Starts every connection in the background.
    pub fn warm(&self) {
        for h in self.handles() {
            h.warm();
        }
    }

    /// Stops every background probe.
    pub async fn shutdown(&self) {
        for h in self.handles() {
            h.shutdown().await;
        }
    }
}
