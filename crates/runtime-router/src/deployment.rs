//! One deployment: a provider instance, its model, limits, keys and local load statistics.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use runtime_core::{
    Capabilities, ChatRequest, Content, ContentPart, Message, ModelPricing, Secret, Service,
};
use tokio::time::Instant;

use crate::config::RequestKind;
use crate::state::RateLimits;

/// How a deployment is actively checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HealthProbe {
    /// GET this URL; any 2xx is healthy.
    Url(String),
    /// The provider's own probe (no tokens: the model listing by default).
    Provider,
    /// A 1-token chat request (spends tokens).
    Paid,
}

/// Capabilities a request needs beyond its kind (tools, images, JSON-schema output).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Needs {
    pub tools: bool,
    pub vision: bool,
    pub json_schema: bool,
}

/// Store keys of one deployment, built once.
#[derive(Debug)]
pub(crate) struct StateKeys {
    pub cool: String,
    pub trip: String,
    pub down: String,
    pub fail: String,
    pub trial: String,
    pub probe: String,
    pub rate: String,
    pub keys: Vec<String>,
}

/// A deployment as the router uses it.
pub(crate) struct Deployment {
    pub name: Arc<str>,
    pub provider: Arc<dyn Service>,
    pub provider_name: String,
    pub model: String,
    pub weight: u32,
    pub priority: u32,
    pub limits: RateLimits,
    pub keys: Vec<Secret>,
    pub key_rr: AtomicUsize,
    pub probe: Option<HealthProbe>,
    pub ttft_timeout: Duration,
    pub pricing: Option<ModelPricing>,
    pub caps: Capabilities,
    pub in_flight: Arc<AtomicUsize>,
    /// Latency of whole answers (chat, completion, embeddings).
    pub latency: Ewma,
    /// Time to first token of streams (until the router commits).
    pub ttft: Ewma,
    pub skeys: StateKeys,
    /// The last errors it answered with (for the live routing view).
    pub recent_errors: crate::recent::RecentErrors,
    /// When its circuit opens (failures in a row, or the failure rate at volume).
    pub breaker: crate::breaker::Breaker,
}

impl std::fmt::Debug for Deployment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deployment")
            .field("name", &self.name)
            .field("provider", &self.provider_name)
            .field("model", &self.model)
            .finish_non_exhaustive()
    }
}

impl Deployment {
    /// Whether the provider can serve this kind of request with these needs.
    pub fn supports(&self, kind: RequestKind, needs: Needs) -> bool {
        let c = &self.caps;
        let kind_ok = match kind {
            RequestKind::Chat => c.chat,
            RequestKind::Stream => c.streaming,
            RequestKind::Completion => c.completion || c.chat,
            RequestKind::Embedding => c.embeddings,
            RequestKind::Rerank => c.rerank,
        };
        kind_ok
            && (!needs.tools || c.tools)
            && (!needs.vision || c.vision)
            && (!needs.json_schema || c.json_schema)
    }

    /// The latency average that matters for this kind of request.
    pub fn ewma(&self, kind: RequestKind) -> &Ewma {
        match kind {
            RequestKind::Stream => &self.ttft,
            _ => &self.latency,
        }
    }

    /// Calls under way on this deployment (from this process).
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }
}

pub(crate) fn state_keys(name: &str, n_keys: usize) -> StateKeys {
    StateKeys {
        cool: format!("cool:{name}"),
        trip: format!("trip:{name}"),
        down: format!("down:{name}"),
        fail: format!("fail:{name}"),
        trial: format!("trial:{name}"),
        probe: format!("probe:{name}"),
        rate: format!("rate:{name}"),
        keys: (0..n_keys).map(|i| format!("deadkey:{name}:{i}")).collect(),
    }
}

/// Counts a call under way until dropped.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    pub fn new(c: &Arc<AtomicUsize>) -> Self {
        c.fetch_add(1, Ordering::Relaxed);
        Self(c.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Peak-sensitive, time-decayed moving average of latency (as tower's PeakEWMA): a slower
/// sample replaces the average at once, faster ones pull it down with time constant `tau`.
#[derive(Debug)]
pub(crate) struct Ewma {
    state: Mutex<Option<(f64, Instant)>>,
    tau: f64,
}

impl Ewma {
    pub fn new(tau: Duration) -> Self {
        Self {
            state: Mutex::new(None),
            tau: tau.as_secs_f64().max(1e-3),
        }
    }

    /// Adds a sample.
    pub fn observe(&self, sample: Duration) {
        let now = Instant::now();
        let x = sample.as_secs_f64();
        let mut st = self.state.lock();
        *st = Some(match *st {
            None => (x, now),
            Some((avg, _)) if x > avg => (x, now),
            Some((avg, at)) => {
                let dt = now.duration_since(at).as_secs_f64();
                let w = (-dt / self.tau).exp();
                (avg * w + x * (1.0 - w), now)
            }
        });
    }

    /// The current average in seconds (`None` before the first sample).
    pub fn get(&self) -> Option<f64> {
        self.state.lock().map(|(avg, _)| avg)
    }
}

/// Tokens a chat request may spend: characters/4 of the messages plus `max_tokens`.
pub(crate) fn estimate_chat_tokens(req: &ChatRequest) -> u64 {
    let chars: usize = req.messages.iter().map(message_chars).sum();
    (chars / 4) as u64 + u64::from(req.max_tokens.unwrap_or(0))
}

fn content_chars(c: &Content) -> usize {
    match c {
        Content::Text(s) => s.chars().count(),
        Content::Parts(parts) => parts
            .iter()
            .map(|p| match p {
                ContentPart::Text { text } => text.chars().count(),
                _ => 0,
            })
            .sum(),
    }
}

fn message_chars(m: &Message) -> usize {
    match m {
        Message::System { content, .. }
        | Message::User { content, .. }
        | Message::Tool { content, .. } => content_chars(content),
        Message::Assistant(a) => {
            a.content.as_ref().map(content_chars).unwrap_or(0)
                + a.tool_calls
                    .iter()
                    .map(|c| c.function.arguments.len())
                    .sum::<usize>()
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ewma_is_peak_sensitive_and_decays() {
        let e = Ewma::new(Duration::from_secs(10));
        assert_eq!(e.get(), None);
        e.observe(Duration::from_millis(100));
        e.observe(Duration::from_millis(500));
        assert_eq!(e.get(), Some(0.5));
        tokio::time::advance(Duration::from_secs(10)).await;
        e.observe(Duration::from_millis(100));
        let v = e.get().unwrap();
        assert!(v < 0.5 && v > 0.1, "{v}");
    }

    #[test]
    fn token_estimate() {
        let mut r = ChatRequest::new("m", vec![Message::user("12345678")]);
        r.max_tokens = Some(10);
        assert_eq!(estimate_chat_tokens(&r), 12);
    }
}
