//! Cache keys: SHA-256 over a canonical encoding of everything that changes the answer.
//!
//! The answer-changing fields of a request are serialized (borrowed, through serde) into
//! JSON. Typed fields always come out in the same order; every free-form part (tool
//! parameter schemas, response schemas, provider-specific `extra` fields) is written in a
//! canonical form: object keys sorted (recursively, so two JSON schemas that differ only in
//! key order match) and numbers with an integral value written as integers (`1.0` and `1`
//! are the same number). The hash input is `["modelrt-cache/1", kind, provider, body]`, so
//! the provider instance (or the router's name) and the kind of call are part of every key.
//! The body's model is the model served (the call's, which a layer may have re-targeted away
//! from the one the request names, see `runtime_core::Call::with_model`), passed apart from
//! the request: a re-targeted call shares its entries with direct calls naming that model.
//!
//! Fields left out of the key (they never change the answer):
//! - `user`, `stream`, `stream_options` (typed fields of chat and completion requests);
//! - `encoding_format` of embedding requests (vectors are stored as `f32` either way);
//! - any `extra` (provider-specific) key in [`IGNORED_EXTRA_KEYS`].
//!
//! Every other `extra` key is part of the key: an unknown provider parameter is assumed to
//! change the answer.

use runtime_core::{
    ChatRequest, CompletionRequest, EmbeddingRequest, Message, RerankDocument, RerankRequest,
    ResponseFormat, ToolChoice,
};
use serde::Serialize;
use serde::ser::{self, SerializeMap, SerializeSeq, Serializer};

pub use crate::hashser::KeyError;
use crate::hashser::{HashSer, hash_into};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Provider-specific (`extra`) request fields that do not change the answer and are left out
/// of cache keys.
pub const IGNORED_EXTRA_KEYS: &[&str] = &[
    "metadata",
    "user",
    "request_id",
    "stream",
    "stream_options",
    "store",
    "safety_identifier",
    "prompt_cache_key",
    "encoding_format",
];

/// The version tag hashed into every key; bump it to invalidate all stored entries.
const KEY_VERSION: &str = "modelrt-cache/1";

/// What kind of call a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyKind {
    /// A chat answer (streamed or not).
    Chat,
    /// A text completion (streamed or not).
    Completion,
    /// One embedding vector.
    Embedding,
    /// A rerank answer.
    Rerank,
}

impl KeyKind {
    /// The short name used in storage keys.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Chat => "chat",
            KeyKind::Completion => "cmpl",
            KeyKind::Embedding => "emb",
            KeyKind::Rerank => "rrk",
        }
    }
}

/// A cache key: the kind of call and the SHA-256 of its canonical encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey {
    /// The kind of call.
    pub kind: KeyKind,
    /// SHA-256 of the canonical encoding.
    pub digest: [u8; 32],
}

impl CacheKey {
    /// The key as stored: `<namespace>:<kind>:<hex digest>`.
    pub fn storage_key(&self, namespace: &str) -> String {
        let mut s = String::with_capacity(namespace.len() + 6 + 64);
        s.push_str(namespace);
        s.push(':');
        s.push_str(self.kind.as_str());
        s.push(':');
        push_hex(&mut s, &self.digest);
        s
    }

    /// The digest in hex.
    pub fn hex(&self) -> String {
        let mut s = String::with_capacity(64);
        push_hex(&mut s, &self.digest);
        s
    }
}

/// Lower-case hex of `bytes`, appended (a table lookup per nibble: this runs for every cache
/// lookup and store).
fn push_hex(s: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    s.reserve(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 0xf)]));
    }
}

/// A JSON value serialized canonically: object keys sorted (recursively), integral numbers
/// as integers. Used for every free-form part of a request (tool and response schemas,
/// provider-specific fields), whatever map type `serde_json` was built with.
pub struct Canon<'a>(pub &'a Value);

impl Serialize for Canon<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(m) => CanonMap { map: m, skip: &[] }.serialize(s),
            Value::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(&Canon(v))?;
                }
                seq.end()
            }
            Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    s.serialize_i64(i)
                } else if let Some(u) = n.as_u64() {
                    s.serialize_u64(u)
                } else {
                    let f = n.as_f64().unwrap_or(0.0);
                    // Integral floats within the exactly representable range are integers.
                    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
                        s.serialize_i64(f as i64)
                    } else {
                        s.serialize_f64(f)
                    }
                }
            }
            other => other.serialize(s),
        }
    }
}

/// An object with sorted keys, some left out, values canonical.
struct CanonMap<'a> {
    map: &'a Map<String, Value>,
    skip: &'a [&'a str],
}

impl Serialize for CanonMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut entries: Vec<(&String, &Value)> = self
            .map
            .iter()
            .filter(|(k, _)| !self.skip.contains(&k.as_str()))
            .collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut m = s.serialize_map(Some(entries.len()))?;
        for (k, v) in entries {
            m.serialize_entry(k, &Canon(v))?;
        }
        m.end()
    }
}

/// The canonical encoding of a JSON value (for tests and debugging).
pub fn canonical_json(v: &Value) -> String {
    serde_json::to_string(&Canon(v)).unwrap_or_default()
}

/// The canonical text of an object without some keys (`skip`).
pub(crate) fn canonical_object_into(out: &mut Vec<u8>, m: &Map<String, Value>, skip: &[&str]) {
    let _ = serde_json::to_writer(out, &CanonMap { map: m, skip });
}

#[derive(Serialize)]
struct FunctionView<'a> {
    name: &'a str,
    description: &'a Option<String>,
    parameters: Option<Canon<'a>>,
    strict: Option<bool>,
}

#[derive(Serialize)]
struct ToolView<'a> {
    kind: &'a str,
    function: FunctionView<'a>,
}

#[derive(Serialize)]
struct SchemaView<'a> {
    name: &'a str,
    description: &'a Option<String>,
    schema: Option<Canon<'a>>,
    strict: Option<bool>,
}

#[derive(Serialize)]
enum FormatView<'a> {
    JsonSchema(SchemaView<'a>),
    Other(&'a ResponseFormat),
}

/// Everything in a chat request that changes the answer, borrowed.
#[derive(Serialize)]
struct ChatView<'a> {
    model: &'a str,
    messages: &'a [Message],
    tools: Vec<ToolView<'a>>,
    tool_choice: &'a Option<ToolChoice>,
    parallel_tool_calls: Option<bool>,
    response_format: Option<FormatView<'a>>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    max_tokens: Option<u32>,
    stop: &'a [String],
    seed: Option<i64>,
    frequency_penalty: Option<f64>,
    presence_penalty: Option<f64>,
    extra: CanonMap<'a>,
}

/// Everything in a completion request that changes the answer, borrowed.
#[derive(Serialize)]
struct CompletionView<'a> {
    model: &'a str,
    prompt: &'a str,
    suffix: &'a Option<String>,
    max_tokens: Option<u32>,
    temperature: Option<f64>,
    top_p: Option<f64>,
    stop: &'a [String],
    seed: Option<i64>,
    frequency_penalty: Option<f64>,
    presence_penalty: Option<f64>,
    extra: CanonMap<'a>,
}

/// The embedding parameters shared by all texts of a request.
#[derive(Serialize)]
struct EmbeddingView<'a> {
    model: &'a str,
    dimensions: Option<u32>,
    extra: CanonMap<'a>,
}

fn hash_view<T: Serialize>(kind: KeyKind, provider: &str, view: &T) -> Result<CacheKey, KeyError> {
    let mut h = Sha256::new();
    hash_into(&mut h, &(KEY_VERSION, kind.as_str(), provider, view))?;
    Ok(CacheKey {
        kind,
        digest: h.finalize().into(),
    })
}

/// The key of a chat request served by `provider` (the instance or router name) as `model`
/// (the call's model, whatever `req.model` says).
pub fn chat_key(provider: &str, model: &str, req: &ChatRequest) -> Result<CacheKey, KeyError> {
    let tools = req
        .tools
        .iter()
        .map(|t| ToolView {
            kind: &t.kind,
            function: FunctionView {
                name: &t.function.name,
                description: &t.function.description,
                parameters: t.function.parameters.as_ref().map(Canon),
                strict: t.function.strict,
            },
        })
        .collect();
    let response_format = req.response_format.as_ref().map(|f| match f {
        ResponseFormat::JsonSchema { json_schema } => FormatView::JsonSchema(SchemaView {
            name: &json_schema.name,
            description: &json_schema.description,
            schema: json_schema.schema.as_ref().map(Canon),
            strict: json_schema.strict,
        }),
        other => FormatView::Other(other),
    });
    let view = ChatView {
        model,
        messages: &req.messages,
        tools,
        tool_choice: &req.tool_choice,
        parallel_tool_calls: req.parallel_tool_calls,
        response_format,
        temperature: req.temperature,
        top_p: req.top_p,
        max_tokens: req.max_tokens,
        stop: &req.stop,
        seed: req.seed,
        frequency_penalty: req.frequency_penalty,
        presence_penalty: req.presence_penalty,
        extra: CanonMap {
            map: &req.extra,
            skip: IGNORED_EXTRA_KEYS,
        },
    };
    hash_view(KeyKind::Chat, provider, &view)
}

/// The key of a text completion request served by `provider` as `model`.
pub fn completion_key(
    provider: &str,
    model: &str,
    req: &CompletionRequest,
) -> Result<CacheKey, KeyError> {
    let view = CompletionView {
        model,
        prompt: &req.prompt,
        suffix: &req.suffix,
        max_tokens: req.max_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        stop: &req.stop,
        seed: req.seed,
        frequency_penalty: req.frequency_penalty,
        presence_penalty: req.presence_penalty,
        extra: CanonMap {
            map: &req.extra,
            skip: IGNORED_EXTRA_KEYS,
        },
    };
    hash_view(KeyKind::Completion, provider, &view)
}

#[derive(Serialize)]
struct RerankView<'a> {
    model: &'a str,
    query: &'a str,
    documents: Vec<DocView<'a>>,
    top_n: Option<u32>,
    return_documents: Option<bool>,
    max_tokens_per_doc: Option<u32>,
    extra: CanonMap<'a>,
}

#[derive(Serialize)]
enum DocView<'a> {
    Text(&'a str),
    Object(CanonMap<'a>),
}

/// The key of a rerank request served by `provider` as `model`: model, query, documents
/// (objects in canonical key order), `top_n`, `return_documents`, `max_tokens_per_doc` and
/// the answer-changing `extra` fields.
pub fn rerank_key(provider: &str, model: &str, req: &RerankRequest) -> Result<CacheKey, KeyError> {
    let view = RerankView {
        model,
        query: &req.query,
        documents: req
            .documents
            .iter()
            .map(|d| match d {
                RerankDocument::Text(t) => DocView::Text(t),
                RerankDocument::Object(m) => DocView::Object(CanonMap { map: m, skip: &[] }),
            })
            .collect(),
        top_n: req.top_n,
        return_documents: req.return_documents,
        max_tokens_per_doc: req.max_tokens_per_doc,
        extra: CanonMap {
            map: &req.extra,
            skip: IGNORED_EXTRA_KEYS,
        },
    };
    hash_view(KeyKind::Rerank, provider, &view)
}

/// Builds one key per input text of an embedding request: the common part (provider, model,
/// dimensions, answer-changing `extra` fields) is hashed once and each text appended.
#[derive(Clone)]
pub struct EmbeddingKeys {
    prefix: Sha256,
}

impl std::fmt::Debug for EmbeddingKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddingKeys").finish_non_exhaustive()
    }
}

impl EmbeddingKeys {
    /// The key builder for `req` (its `input` and `model` are ignored) served by `provider`
    /// as `model`.
    pub fn new(provider: &str, model: &str, req: &EmbeddingRequest) -> Result<Self, KeyError> {
        let view = EmbeddingView {
            model,
            dimensions: req.dimensions,
            extra: CanonMap {
                map: &req.extra,
                skip: IGNORED_EXTRA_KEYS,
            },
        };
        let mut h = Sha256::new();
        // An open tuple: the text completes it in `key`.
        let mut ser = HashSer::new(&mut h);
        ser::SerializeTuple::serialize_element(
            &mut ser::Serializer::serialize_tuple(&mut ser, 5)?,
            &(KEY_VERSION, KeyKind::Embedding.as_str(), provider, &view),
        )?;
        ser.finish();
        Ok(Self { prefix: h })
    }

    /// The key of one text.
    pub fn key(&self, text: &str) -> CacheKey {
        let mut h = self.prefix.clone();
        let _ = hash_into(&mut h, text);
        h.update(b"]");
        CacheKey {
            kind: KeyKind::Embedding,
            digest: h.finalize().into(),
        }
    }
}

#[cfg(test)]
mod tests;
