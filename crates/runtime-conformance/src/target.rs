//! A provider as the suite sees it: how to build it, and where its cases and fixtures are.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use runtime_core::http::{HttpClient, HttpClientConfig};
use runtime_core::registry::{API_KEY, BASE_URL, STREAM_IDLE_TIMEOUT, TIMEOUT, validate_with};
use runtime_core::{BuildContext, Error, Provider, ProviderFactory, Result, Secret};
use serde_json::{Map, Value, json};

use crate::category::Category;
use crate::scenario::{Call, Scenario};

/// The provider's error envelope for a status, its message containing the given text.
pub type ErrorBodyFn = Arc<dyn Fn(u16, &str) -> String + Send + Sync>;

/// Builds the provider under test against `base_url` with `key`, timeouts set to `timeout`.
pub type Builder = Arc<dyn Fn(&str, &Secret, Duration) -> Result<Arc<dyn Provider>> + Send + Sync>;

/// Reads a recorded wire request (a fixture's `.request.json`) into the core call it expresses.
pub type RequestReader = Arc<dyn Fn(&Value) -> std::result::Result<Call, String> + Send + Sync>;

/// Turns a `.chunks.jsonl` / `.chunks.json` fixture (one stream payload per line, or a JSON
/// array of them) into the streamed body the provider reads.
pub type ChunksFn = Arc<dyn Fn(&str) -> Vec<u8> + Send + Sync>;

/// A provider built through its registry factory, as an application would.
#[derive(Clone)]
struct FromFactory {
    factory: &'static ProviderFactory,
    config: Map<String, Value>,
    base_url_key: String,
}

/// A provider as the suite sees it. Most of it has defaults: a declaration names the
/// provider, its case folder and its fixtures; see the crate docs.
#[derive(Clone)]
#[non_exhaustive]
pub struct Target {
    /// Provider name (table row).
    pub name: String,
    /// The model the generic checks use (default: the model of the first case).
    pub model: Option<String>,
    /// The provider's error envelope for a status (default: OpenAI's
    /// `{"error": {"message", "type", "code"}}`).
    pub error_body: ErrorBodyFn,
    /// The header that carries the key, and its value with `{key}` for the key (default
    /// `authorization: Bearer {key}`).
    pub auth_header: (String, String),
    /// One complete streamed content event, framing included, and the stream content type,
    /// for the stall and drop checks (default: the first event of the first streamed case).
    pub stream_event: Option<(Vec<u8>, String)>,
    /// The recorded wire fixtures cases refer to by name.
    pub fixtures: Option<PathBuf>,
    /// The folders of case files (`*.json`, see the crate docs).
    pub cases: Vec<PathBuf>,
    /// Reads a fixture's recorded request into a core call (default: the request is
    /// OpenAI-shaped, as the core types are).
    pub read_request: RequestReader,
    /// Frames `.chunks.jsonl` fixtures (default: one SSE `data:` event per line).
    pub chunks: ChunksFn,
    /// Scenarios written in code (provider-specific checks).
    pub scenarios: Vec<Scenario>,
    /// Categories the provider cannot produce, with why (reported as n/a, not as a pass).
    pub not_applicable: Vec<(Category, String)>,
    /// Request fields (with a value) the provider cannot express: each must be refused with a
    /// typed error naming the field.
    pub cannot_express: Vec<(String, Value)>,
    build: Option<Builder>,
    factory: Option<FromFactory>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("name", &self.name)
            .field("cases", &self.cases)
            .field("fixtures", &self.fixtures)
            .finish_non_exhaustive()
    }
}

fn openai_error_body(status: u16, message: &str) -> String {
    let (kind, code) = match status {
        400 => ("invalid_request_error", "invalid_value"),
        401 => ("invalid_request_error", "invalid_api_key"),
        403 => ("invalid_request_error", "forbidden"),
        404 => ("invalid_request_error", "model_not_found"),
        429 => ("requests", "rate_limit_exceeded"),
        _ => ("server_error", "server_error"),
    };
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}}).to_string()
}

/// Reads an OpenAI-shaped request: `messages` is a chat (`"stream": true` a streamed one),
/// `input` embeddings, `prompt` a completion.
pub fn core_call(v: &Value) -> std::result::Result<Call, String> {
    let err = |e: serde_json::Error| e.to_string();
    if v.get("messages").is_some() {
        let req: runtime_core::ChatRequest = serde_json::from_value(v.clone()).map_err(err)?;
        Ok(if req.stream == Some(true) {
            Call::Stream(req)
        } else {
            Call::Chat(req)
        })
    } else if v.get("input").is_some() {
        Ok(Call::Embed(serde_json::from_value(v.clone()).map_err(err)?))
    } else if v.get("prompt").is_some() {
        Ok(Call::Complete(
            serde_json::from_value(v.clone()).map_err(err)?,
        ))
    } else {
        Err("a request needs `messages`, `input` or `prompt`".into())
    }
}

/// One SSE `data:` event per line of a `.chunks.jsonl` (or element of a `.chunks.json` array).
pub fn chunks_as_sse(text: &str) -> Vec<u8> {
    let lines: Vec<String> = match serde_json::from_str::<Vec<Value>>(text) {
        Ok(array) => array.iter().map(Value::to_string).collect(),
        Err(_) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect(),
    };
    let mut out = String::new();
    for l in lines {
        out.push_str("data: ");
        out.push_str(&l);
        out.push_str("\n\n");
    }
    out.into_bytes()
}

impl Target {
    fn with_builder(name: &str, build: Option<Builder>, factory: Option<FromFactory>) -> Self {
        Self {
            name: name.to_owned(),
            model: None,
            error_body: Arc::new(openai_error_body),
            auth_header: ("authorization".into(), "Bearer {key}".into()),
            stream_event: None,
            fixtures: None,
            cases: Vec::new(),
            read_request: Arc::new(core_call),
            chunks: Arc::new(chunks_as_sse),
            scenarios: Vec::new(),
            not_applicable: Vec::new(),
            cannot_express: Vec::new(),
            build,
            factory,
        }
    }

    /// A target built by `build(base_url, key, timeout)`.
    pub fn new(
        name: &str,
        build: impl Fn(&str, &Secret, Duration) -> Result<Arc<dyn Provider>> + Send + Sync + 'static,
    ) -> Self {
        Self::with_builder(name, Some(Arc::new(build)), None)
    }

    /// A target built through the provider's registry factory, as an application would build
    /// it: the config table sets `api_key`, `base_url`, `timeout` and `stream_idle_timeout`
    /// (those the factory declares) plus [`Target::config`]. Each build gets an HTTP client of
    /// its own (mock servers come and go; a pooled connection must not outlive one).
    pub fn from_factory(factory: &'static ProviderFactory) -> Self {
        Self::with_builder(
            factory.name,
            None,
            Some(FromFactory {
                factory,
                config: Map::new(),
                base_url_key: BASE_URL.to_owned(),
            }),
        )
    }

    /// More config fields for [`Target::from_factory`] (a `null` removes a field); in
    /// string values `{base}` is replaced by the mock server's URL.
    pub fn config(mut self, fields: Value) -> Self {
        if let (Some(f), Value::Object(m)) = (self.factory.as_mut(), fields) {
            f.config.extend(m);
        }
        self
    }

    /// The config field that takes the mock server's URL (default `base_url`).
    pub fn base_url_setting(mut self, key: &str) -> Self {
        if let Some(f) = self.factory.as_mut() {
            f.base_url_key = key.to_owned();
        }
        self
    }

    /// The table row's name (default: the factory's name).
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_owned();
        self
    }

    /// The model the generic checks use.
    pub fn model(mut self, model: &str) -> Self {
        self.model = Some(model.to_owned());
        self
    }

    /// A folder of case files (call again for more folders).
    pub fn cases(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cases.push(dir.into());
        self
    }

    /// The folder of recorded fixtures the cases name.
    pub fn fixtures(mut self, dir: impl Into<PathBuf>) -> Self {
        self.fixtures = Some(dir.into());
        self
    }

    /// How a fixture's recorded wire request reads as a core call.
    pub fn read_request(
        mut self,
        f: impl Fn(&Value) -> std::result::Result<Call, String> + Send + Sync + 'static,
    ) -> Self {
        self.read_request = Arc::new(f);
        self
    }

    /// How `.chunks.jsonl` fixtures are framed.
    pub fn chunks(mut self, f: impl Fn(&str) -> Vec<u8> + Send + Sync + 'static) -> Self {
        self.chunks = Arc::new(f);
        self
    }

    /// The provider's error envelope.
    pub fn error_body(mut self, f: impl Fn(u16, &str) -> String + Send + Sync + 'static) -> Self {
        self.error_body = Arc::new(f);
        self
    }

    /// The credential header and its value, `{key}` standing for the key.
    pub fn auth_header(mut self, name: &str, value: &str) -> Self {
        self.auth_header = (name.to_owned(), value.to_owned());
        self
    }

    /// One streamed content event (framing included) and the stream's content type.
    pub fn stream_event(mut self, event: impl Into<Vec<u8>>, content_type: &str) -> Self {
        self.stream_event = Some((event.into(), content_type.to_owned()));
        self
    }

    /// A scenario written in code.
    pub fn scenario(mut self, s: Scenario) -> Self {
        self.scenarios.push(s);
        self
    }

    /// A category the provider cannot produce, and why.
    pub fn not_applicable(mut self, category: Category, why: &str) -> Self {
        self.not_applicable.push((category, why.to_owned()));
        self
    }

    /// A request field the provider cannot express, with a value to send: the suite checks
    /// that a chat (or, for an embeddings-only provider, embedding) request carrying it is
    /// refused with `InvalidRequest` or `Unsupported` naming it.
    pub fn cannot_express(mut self, field: &str, value: Value) -> Self {
        self.cannot_express.push((field.to_owned(), value));
        self
    }

    /// Builds the provider against `base` with `key`.
    pub fn build(&self, base: &str, key: &Secret, timeout: Duration) -> Result<Arc<dyn Provider>> {
        if let Some(b) = &self.build {
            return b(base, key, timeout);
        }
        let Some(f) = &self.factory else {
            return Err(Error::unsupported(&self.name, "building (no builder)"));
        };
        let declares = |k: &str| f.factory.settings.iter().any(|s| s.key == k);
        let mut table = Map::new();
        let secs = format!("{}ms", timeout.as_millis());
        if declares(API_KEY) {
            table.insert(API_KEY.into(), Value::String(key.expose().to_owned()));
        }
        table.insert(f.base_url_key.clone(), Value::String(base.to_owned()));
        for k in [TIMEOUT, STREAM_IDLE_TIMEOUT] {
            if declares(k) {
                table.insert(k.into(), Value::String(secs.clone()));
            }
        }
        for (k, v) in &f.config {
            match v {
                Value::Null => {
                    table.remove(k);
                }
                other => {
                    table.insert(k.clone(), with_base(other, base));
                }
            }
        }
        let cfg = validate_with(f.factory, &self.name, &table, &|_| None)?;
        let http = HttpClient::new(&HttpClientConfig::default())?;
        (f.factory.build)(cfg, &BuildContext::new(http))
    }
}

fn with_base(v: &Value, base: &str) -> Value {
    match v {
        Value::String(s) => Value::String(s.replace("{base}", base)),
        Value::Array(a) => Value::Array(a.iter().map(|x| with_base(x, base)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), with_base(x, base)))
                .collect(),
        ),
        other => other.clone(),
    }
}
