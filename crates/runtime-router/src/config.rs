//! Router configuration: the `[router]` defaults and the `[[models]]` list of the config file,
//! plus builders for configuring in code.

use std::collections::BTreeMap;
use std::time::Duration;

use runtime_core::ModelPricing;
use serde::{Deserialize, Deserializer};

/// How a logical model picks among its available deployments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Strategy {
    /// One after the other.
    #[default]
    RoundRobin,
    /// At random, in proportion to `weight`.
    Weighted,
    /// The fewest calls under way (streams count until they end or are dropped).
    LeastConnections,
    /// Uniformly at random.
    Random,
    /// The better of two random deployments by EWMA latency × load (P2C + PeakEWMA).
    LowestLatency,
    /// The cheapest estimate for this request from `pricing`.
    LowestCost,
    /// The most rpm/tpm headroom left in the current window.
    UsageBased,
}

impl Strategy {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::RoundRobin => "round_robin",
            Strategy::Weighted => "weighted",
            Strategy::LeastConnections => "least_connections",
            Strategy::Random => "random",
            Strategy::LowestLatency => "lowest_latency",
            Strategy::LowestCost => "lowest_cost",
            Strategy::UsageBased => "usage_based",
        }
    }
}

/// The kinds of request a model may route with different strategies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RequestKind {
    /// `chat`.
    Chat,
    /// `chat_stream` and `complete_stream`.
    Stream,
    /// `complete`.
    Completion,
    /// `embed`.
    Embedding,
    /// `rerank`.
    Rerank,
}

impl RequestKind {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestKind::Chat => "chat",
            RequestKind::Stream => "stream",
            RequestKind::Completion => "completion",
            RequestKind::Embedding => "embedding",
            RequestKind::Rerank => "rerank",
        }
    }
}

/// What a logical model serves (reported by `list_models`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ModelType {
    /// Chat (and completion over chat).
    #[default]
    Chat,
    /// Embeddings.
    Embedding,
    /// Reranking.
    Rerank,
}

/// The `[router]` table: defaults for every logical model.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouterDefaults {
    /// Default strategy.
    pub strategy: Strategy,
    /// Most attempts per logical model (fallback models get their own).
    pub max_attempts: u32,
    /// First backoff before retrying the same deployment.
    #[serde(deserialize_with = "de_duration")]
    pub backoff_base: Duration,
    /// Longest backoff.
    #[serde(deserialize_with = "de_duration")]
    pub backoff_max: Duration,
    /// Failures in a row (no success between them) that open a deployment's circuit while
    /// it serves fewer than `failure_rate_min_requests` attempts per `failure_rate_window`
    /// (low volume). At volume, `failure_rate_threshold` decides instead.
    pub cooldown_failures: u32,
    /// Share of failed attempts (0 < x ≤ 1) in `failure_rate_window` that opens a
    /// deployment's circuit once it served at least `failure_rate_min_requests` attempts in
    /// that window: `0.5` takes out a deployment failing half its requests, and keeps one with
    /// a 1 % error rate in service however busy it is.
    pub failure_rate_threshold: f64,
    /// Attempts in `failure_rate_window` from which the failure rate (rather than failures
    /// in a row) decides.
    pub failure_rate_min_requests: u32,
    /// The sliding window (in tenths) of the failure rate.
    #[serde(deserialize_with = "de_duration")]
    pub failure_rate_window: Duration,
    /// How long an open circuit stays open before a half-open trial request.
    #[serde(deserialize_with = "de_duration")]
    pub cooldown: Duration,
    /// Longest cooldown of a deployment, however long the upstream asked to wait
    /// (`Retry-After: 86400` cools it for this long; then one half-open trial request probes
    /// it). Also the longest `Retry-After` the router reports for a deployment it will try
    /// again. At least `cooldown`.
    #[serde(deserialize_with = "de_duration")]
    pub max_cooldown: Duration,
    /// Longest wait for the same deployment within one request: a hinted wait (Retry-After,
    /// "try again in 26.604s") longer than this, or past the request's deadline, is not
    /// waited — the request fails over, or is answered at once with the wait as
    /// `Retry-After`.
    #[serde(deserialize_with = "de_duration")]
    pub max_retry_wait: Duration,
    /// Per-request deadline, retries and fallbacks included (the caller's deadline wins when
    /// earlier).
    #[serde(deserialize_with = "de_duration")]
    pub timeout: Duration,
    /// Time to the first content event of a stream, per attempt.
    #[serde(deserialize_with = "de_duration")]
    pub ttft_timeout: Duration,
    /// Most requests waiting for rate-limit capacity per logical model.
    pub queue_max_len: usize,
    /// Longest wait in the queue.
    #[serde(deserialize_with = "de_duration")]
    pub queue_max_wait: Duration,
    /// Interval of active health checks (only for deployments with `health_check = true`).
    #[serde(deserialize_with = "de_duration")]
    pub health_check_interval: Duration,
    /// How long a key rejected with 401/402/403 is skipped before it is tried again.
    #[serde(deserialize_with = "de_duration")]
    pub dead_key_recheck: Duration,
    /// Most stream events held back before committing to a deployment.
    pub stream_holdback_events: usize,
    /// Most stream bytes (text of held events) held back before committing.
    pub stream_holdback_bytes: usize,
    /// Keep limiter, cooldown and health state in the runtime's shared `[redis]` connection
    /// (the facade hands it over; in code, [`RouterBuilder::redis`](crate::RouterBuilder::redis)).
    pub redis: bool,
    /// Keep limiter, cooldown and health state in this standalone Redis (feature `redis`):
    /// a shorthand for `redis = true` with `[redis] url`. Unset: in memory.
    pub redis_url: Option<String>,
    /// Prefix of every Redis key the router writes.
    pub redis_prefix: String,
}

impl Default for RouterDefaults {
    fn default() -> Self {
        Self {
            strategy: Strategy::RoundRobin,
            max_attempts: 3,
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(10),
            cooldown_failures: 3,
            failure_rate_threshold: 0.5,
            failure_rate_min_requests: 20,
            failure_rate_window: Duration::from_secs(10),
            cooldown: Duration::from_secs(30),
            max_cooldown: Duration::from_secs(60),
            max_retry_wait: Duration::from_secs(10),
            timeout: Duration::from_secs(120),
            ttft_timeout: Duration::from_secs(30),
            queue_max_len: 1000,
            queue_max_wait: Duration::from_secs(30),
            health_check_interval: Duration::from_secs(30),
            dead_key_recheck: Duration::from_secs(300),
            stream_holdback_events: 8,
            stream_holdback_bytes: 4096,
            redis: false,
            redis_url: None,
            redis_prefix: "modelrt:router".into(),
        }
    }
}

/// One `[[models]]` entry: a logical model and its deployments.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// The name callers use (`req.model`).
    pub name: String,
    /// What it serves.
    #[serde(default, rename = "type")]
    pub model_type: ModelType,
    /// Strategy (else the router default).
    #[serde(default)]
    pub strategy: Option<Strategy>,
    /// Strategy per request kind (`chat`, `stream`, `completion`, `embedding`).
    #[serde(default)]
    pub strategies: BTreeMap<RequestKind, Strategy>,
    /// Overrides `max_attempts`.
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// Overrides `timeout`.
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub timeout: Option<Duration>,
    /// Logical models tried in order when this one's deployments are exhausted.
    #[serde(default)]
    pub fallbacks: Vec<String>,
    /// Tried instead of `fallbacks` after a context-window-exceeded error.
    #[serde(default)]
    pub context_window_fallbacks: Vec<String>,
    /// Tried instead of `fallbacks` after a content-filtered error.
    #[serde(default)]
    pub content_filter_fallbacks: Vec<String>,
    /// The deployments.
    #[serde(default)]
    pub deployments: Vec<DeploymentConfig>,
}

impl ModelConfig {
    /// A logical model with no deployments yet.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            model_type: ModelType::Chat,
            strategy: None,
            strategies: BTreeMap::new(),
            max_attempts: None,
            timeout: None,
            fallbacks: Vec::new(),
            context_window_fallbacks: Vec::new(),
            content_filter_fallbacks: Vec::new(),
            deployments: Vec::new(),
        }
    }

    /// Sets the strategy.
    pub fn strategy(mut self, s: Strategy) -> Self {
        self.strategy = Some(s);
        self
    }

    /// Sets the strategy for one request kind.
    pub fn strategy_for(mut self, kind: RequestKind, s: Strategy) -> Self {
        self.strategies.insert(kind, s);
        self
    }

    /// Sets the model type.
    pub fn model_type(mut self, t: ModelType) -> Self {
        self.model_type = t;
        self
    }

    /// Sets `max_attempts`.
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = Some(n);
        self
    }

    /// Sets the per-request deadline.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// Adds a deployment.
    pub fn deployment(mut self, d: DeploymentConfig) -> Self {
        self.deployments.push(d);
        self
    }

    /// Sets the fallback models.
    pub fn fallbacks<I: IntoIterator<Item = S>, S: Into<String>>(mut self, models: I) -> Self {
        self.fallbacks = models.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the context-window fallback models.
    pub fn context_window_fallbacks<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        models: I,
    ) -> Self {
        self.context_window_fallbacks = models.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the content-filter fallback models.
    pub fn content_filter_fallbacks<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        models: I,
    ) -> Self {
        self.content_filter_fallbacks = models.into_iter().map(Into::into).collect();
        self
    }
}

/// One `[[models.deployments]]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentConfig {
    /// Unique name (default `"<provider>/<model>"`). Deployments with the same name share
    /// limiter, cooldown and health state.
    #[serde(default)]
    pub name: Option<String>,
    /// The provider instance.
    pub provider: String,
    /// The provider's model id.
    pub model: String,
    /// Relative weight for the `weighted` strategy.
    #[serde(default = "one")]
    pub weight: u32,
    /// Tier: lower numbers are used first; a higher number only when every lower tier is
    /// unavailable.
    #[serde(default)]
    pub priority: u32,
    /// Requests per minute this router fleet may send.
    #[serde(default)]
    pub rpm: Option<u64>,
    /// Tokens per minute (estimated up front, corrected by real usage).
    #[serde(default)]
    pub tpm: Option<u64>,
    /// Keys rotated per request (`${VAR}` is read from the environment).
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// Enables the active health check.
    #[serde(default)]
    pub health_check: bool,
    /// URL to GET for the active check (else the provider's no-token probe).
    #[serde(default)]
    pub health_check_url: Option<String>,
    /// Probe with a 1-token chat request instead (spends tokens).
    #[serde(default)]
    pub health_check_paid: bool,
    /// Overrides the time-to-first-token timeout.
    #[serde(default, deserialize_with = "de_opt_duration")]
    pub ttft_timeout: Option<Duration>,
    /// Prices (for `lowest_cost`).
    #[serde(default)]
    pub pricing: Option<ModelPricing>,
}

fn one() -> u32 {
    1
}

impl DeploymentConfig {
    /// A deployment of `model` on provider instance `provider`.
    pub fn new(provider: impl Into<String>, model: impl Into<String>) -> Self {
        Self {
            name: None,
            provider: provider.into(),
            model: model.into(),
            weight: 1,
            priority: 0,
            rpm: None,
            tpm: None,
            api_keys: Vec::new(),
            health_check: false,
            health_check_url: None,
            health_check_paid: false,
            ttft_timeout: None,
            pricing: None,
        }
    }

    /// The deployment name.
    pub fn display_name(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("{}/{}", self.provider, self.model))
    }

    /// Sets the name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the weight.
    pub fn weight(mut self, w: u32) -> Self {
        self.weight = w;
        self
    }

    /// Sets the priority tier.
    pub fn priority(mut self, p: u32) -> Self {
        self.priority = p;
        self
    }

    /// Sets the rpm limit.
    pub fn rpm(mut self, rpm: u64) -> Self {
        self.rpm = Some(rpm);
        self
    }

    /// Sets the tpm limit.
    pub fn tpm(mut self, tpm: u64) -> Self {
        self.tpm = Some(tpm);
        self
    }

    /// Sets the keys.
    pub fn api_keys<I: IntoIterator<Item = S>, S: Into<String>>(mut self, keys: I) -> Self {
        self.api_keys = keys.into_iter().map(Into::into).collect();
        self
    }

    /// Enables the active health check, optionally against a URL.
    pub fn health_check(mut self, url: Option<String>) -> Self {
        self.health_check = true;
        self.health_check_url = url;
        self
    }

    /// Uses the paid 1-token probe.
    pub fn health_check_paid(mut self, paid: bool) -> Self {
        self.health_check_paid = paid;
        self
    }

    /// Sets the time-to-first-token timeout.
    pub fn ttft_timeout(mut self, d: Duration) -> Self {
        self.ttft_timeout = Some(d);
        self
    }

    /// Sets the pricing.
    pub fn pricing(mut self, p: ModelPricing) -> Self {
        self.pricing = Some(p);
        self
    }
}

/// The router's part of the config file: the `[router]` table and the `[[models]]` list.
///
/// The facade embeds these two fields in its own top-level config struct.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct RouterConfig {
    /// `[router]`.
    pub router: RouterDefaults,
    /// `[[models]]`.
    pub models: Vec<ModelConfig>,
}

impl RouterConfig {
    /// Defaults and no models.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the defaults.
    pub fn defaults(mut self, d: RouterDefaults) -> Self {
        self.router = d;
        self
    }

    /// Adds a logical model.
    pub fn model(mut self, m: ModelConfig) -> Self {
        self.models.push(m);
        self
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum DurRepr {
    Num(f64),
    Str(String),
}

fn parse_dur<E: serde::de::Error>(r: DurRepr) -> Result<Duration, E> {
    match r {
        DurRepr::Num(n) if Duration::try_from_secs_f64(n).is_ok() => Ok(Duration::from_secs_f64(n)),
        DurRepr::Num(n) => Err(E::custom(format!("`{n}` is not a duration"))),
        DurRepr::Str(s) => runtime_core::registry::parse_duration_str(&s).map_err(E::custom),
    }
}

fn de_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    parse_dur(DurRepr::deserialize(d)?)
}

fn de_opt_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    match Option::<DurRepr>::deserialize(d)? {
        Some(r) => parse_dur(r).map(Some),
        None => Ok(None),
    }
}

/// Expands `${VAR}` references (whole value or embedded) from the environment.
pub(crate) fn expand_env(
    value: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unterminated `${{` in `{value}`"))?;
        let var = &after[..end];
        let v = env(var).ok_or_else(|| format!("environment variable `{var}` is not set"))?;
        out.push_str(&v);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_shape() {
        let text = r#"
[router]
strategy = "round_robin"
max_attempts = 3
backoff_base = "200ms"
backoff_max = "10s"
cooldown_failures = 3
failure_rate_threshold = 0.25
failure_rate_min_requests = 50
failure_rate_window = "30s"
cooldown = "30s"
max_cooldown = "2m"
max_retry_wait = "5s"
timeout = "120s"
ttft_timeout = "30s"
queue_max_len = 1000
queue_max_wait = "30s"
health_check_interval = "30s"
dead_key_recheck = "5m"
redis_url = "redis://127.0.0.1:6379/"
redis_prefix = "fleet-a"

[[models]]
name = "chat-default"
strategy = "weighted"
strategies = { stream = "least_connections" }
fallbacks = ["chat-backup"]
context_window_fallbacks = ["chat-long"]
content_filter_fallbacks = []

[[models.deployments]]
name = "oai-1"
provider = "openai"
model = "gpt-4o-mini"
weight = 3
priority = 0
rpm = 600
tpm = 100000
api_keys = ["${K1}", "${K2}"]
health_check = true
health_check_url = "http://127.0.0.1:1/health"
health_check_paid = false
ttft_timeout = "10s"
pricing = { input_per_mtok = 0.15, output_per_mtok = 0.6 }

[[models]]
name = "embed"
type = "embedding"
[[models.deployments]]
provider = "openai"
model = "text-embedding-3-small"
"#;
        let cfg: RouterConfig = toml::from_str(text).unwrap();
        assert_eq!(cfg.router.dead_key_recheck, Duration::from_secs(300));
        assert_eq!(cfg.router.backoff_base, Duration::from_millis(200));
        assert_eq!(cfg.router.redis_prefix, "fleet-a");
        assert_eq!(cfg.router.max_cooldown, Duration::from_secs(120));
        assert_eq!(cfg.router.max_retry_wait, Duration::from_secs(5));
        assert_eq!(cfg.router.failure_rate_threshold, 0.25);
        assert_eq!(cfg.router.failure_rate_min_requests, 50);
        assert_eq!(cfg.router.failure_rate_window, Duration::from_secs(30));
        let m = &cfg.models[0];
        assert_eq!(m.strategy, Some(Strategy::Weighted));
        assert_eq!(
            m.strategies.get(&RequestKind::Stream),
            Some(&Strategy::LeastConnections)
        );
        let d = &m.deployments[0];
        assert_eq!(d.weight, 3);
        assert_eq!(d.ttft_timeout, Some(Duration::from_secs(10)));
        assert_eq!(d.pricing.unwrap().output_per_mtok, 0.6);
        assert_eq!(cfg.models[1].model_type, ModelType::Embedding);
        assert_eq!(
            cfg.models[1].deployments[0].display_name(),
            "openai/text-embedding-3-small"
        );
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = toml::from_str::<RouterConfig>("[router]\nstrategy = \"weighted\"\nfoo = 1\n");
        assert!(err.is_err());
        let err = toml::from_str::<RouterConfig>("[router]\nstrategy = \"fastest\"\n");
        assert!(err.is_err());
    }

    #[test]
    fn env_expansion() {
        let env = |k: &str| (k == "K1").then(|| "sk-1".to_owned());
        assert_eq!(expand_env("${K1}", &env).unwrap(), "sk-1");
        assert_eq!(expand_env("a${K1}b", &env).unwrap(), "ask-1b");
        assert!(expand_env("${K2}", &env).is_err());
        assert_eq!(expand_env("plain", &env).unwrap(), "plain");
    }
}
