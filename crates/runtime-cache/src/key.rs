//! Cache keys: SHA-256 over a canonical encoding of everything that changes the answer.
//!
//! The answer-changing fields of a request are serialized (borrowed, through serde) into
//! JSON. Typed fields always come out in the same order; every free-form part (tool
//! parameter schemas, response schemas, provider-specific `extra` fields) is written in a
//! canonical form: object keys sorted (recursively, so two JSON schemas that differ only in
//! key order match) and numbers with an integral value written as integers (`1.0` and `1`
//! are the same number). The hash input is `["modelrt-cache/1", kind, provider, body]`, so
//! the provider instance (or the router's name) and the kind of call are part of every key.
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

/// The key of a chat request served by `provider` (the instance or router name).
pub fn chat_key(provider: &str, req: &ChatRequest) -> Result<CacheKey, KeyError> {
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
        model: &req.model,
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

/// The key of a text completion request served by `provider`.
pub fn completion_key(provider: &str, req: &CompletionRequest) -> Result<CacheKey, KeyError> {
    let view = CompletionView {
        model: &req.model,
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

/// The key of a rerank request served by `provider`: model, query, documents (objects in
/// canonical key order), `top_n`, `return_documents`, `max_tokens_per_doc` and the
/// answer-changing `extra` fields.
pub fn rerank_key(provider: &str, req: &RerankRequest) -> Result<CacheKey, KeyError> {
    let view = RerankView {
        model: &req.model,
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
    /// The key builder for `req` (its `input` is ignored) served by `provider`.
    pub fn new(provider: &str, req: &EmbeddingRequest) -> Result<Self, KeyError> {
        let view = EmbeddingView {
            model: &req.model,
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
mod tests {
    use super::*;
    use runtime_core::{ContentPart, Message, ResponseFormat, ToolDefinition};
    use serde_json::json;

    fn base() -> Value {
        json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": [
                    {"type": "text", "text": "what is this"},
                    {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}}
                ]}
            ],
            "tools": [{"type": "function", "function": {"name": "f", "description": "d",
                "parameters": {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}, "required": ["a"]}}}],
            "tool_choice": "auto",
            "response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object", "properties": {"x": {"type": "number"}}}}},
            "temperature": 0,
            "top_p": 1,
            "max_tokens": 100,
            "stop": ["END"],
            "seed": 7,
            "frequency_penalty": 0.5,
            "presence_penalty": 0.25,
            "top_k": 5
        })
    }

    fn key_of(v: &Value) -> CacheKey {
        let req: ChatRequest = serde_json::from_value(v.clone()).unwrap();
        chat_key("openai", &req).unwrap()
    }

    fn reorder(v: &Value) -> Value {
        // Rebuild every object with its keys in reverse order (as text, so a map that keeps
        // insertion order would see the difference).
        fn text(v: &Value) -> String {
            match v {
                Value::Object(m) => {
                    let mut parts: Vec<String> = m
                        .iter()
                        .map(|(k, v)| format!("{}:{}", json!(k), text(v)))
                        .collect();
                    parts.reverse();
                    format!("{{{}}}", parts.join(","))
                }
                Value::Array(a) => {
                    format!("[{}]", a.iter().map(text).collect::<Vec<_>>().join(","))
                }
                other => other.to_string(),
            }
        }
        serde_json::from_str(&text(v)).unwrap()
    }

    #[test]
    fn key_order_does_not_matter() {
        let v = base();
        let r = reorder(&v);
        assert_eq!(key_of(&v), key_of(&r));
        // The canonical text is the same too, even for the tool schema.
        assert_eq!(canonical_json(&v), canonical_json(&r));
    }

    #[test]
    fn integral_floats_match_integers() {
        let mut a = base();
        a["temperature"] = json!(0.0);
        a["top_k"] = json!(5.0);
        assert_eq!(key_of(&a), key_of(&base()));
    }

    #[test]
    fn every_answer_changing_field_changes_the_key() {
        let b = key_of(&base());
        type Change = Box<dyn Fn(&mut Value)>;
        let changes: Vec<(&str, Change)> = vec![
            ("model", Box::new(|v| v["model"] = json!("gpt-4o-mini"))),
            (
                "system text",
                Box::new(|v| v["messages"][0]["content"] = json!("be long")),
            ),
            (
                "role",
                Box::new(|v| v["messages"][0]["role"] = json!("user")),
            ),
            (
                "part text",
                Box::new(|v| v["messages"][1]["content"][0]["text"] = json!("what is that")),
            ),
            (
                "image url",
                Box::new(|v| {
                    v["messages"][1]["content"][1]["image_url"]["url"] = json!("https://x/z.png")
                }),
            ),
            (
                "image detail",
                Box::new(|v| v["messages"][1]["content"][1]["image_url"]["detail"] = json!("high")),
            ),
            (
                "message name",
                Box::new(|v| v["messages"][0]["name"] = json!("bob")),
            ),
            (
                "extra message",
                Box::new(|v| {
                    v["messages"]
                        .as_array_mut()
                        .unwrap()
                        .push(json!({"role": "user", "content": "more"}))
                }),
            ),
            (
                "tool name",
                Box::new(|v| v["tools"][0]["function"]["name"] = json!("g")),
            ),
            (
                "tool description",
                Box::new(|v| v["tools"][0]["function"]["description"] = json!("e")),
            ),
            (
                "tool schema",
                Box::new(|v| v["tools"][0]["function"]["parameters"]["required"] = json!(["b"])),
            ),
            (
                "tool strict",
                Box::new(|v| v["tools"][0]["function"]["strict"] = json!(true)),
            ),
            (
                "tool_choice",
                Box::new(|v| v["tool_choice"] = json!("required")),
            ),
            (
                "parallel_tool_calls",
                Box::new(|v| v["parallel_tool_calls"] = json!(false)),
            ),
            (
                "response_format",
                Box::new(|v| v["response_format"] = json!({"type": "json_object"})),
            ),
            (
                "response schema",
                Box::new(|v| {
                    v["response_format"]["json_schema"]["schema"]["properties"]["x"]["type"] =
                        json!("string")
                }),
            ),
            ("temperature", Box::new(|v| v["temperature"] = json!(0.1))),
            ("top_p", Box::new(|v| v["top_p"] = json!(0.9))),
            ("max_tokens", Box::new(|v| v["max_tokens"] = json!(101))),
            ("stop", Box::new(|v| v["stop"] = json!(["STOP"]))),
            (
                "stop added",
                Box::new(|v| v["stop"] = json!(["END", "STOP"])),
            ),
            ("seed", Box::new(|v| v["seed"] = json!(8))),
            (
                "frequency_penalty",
                Box::new(|v| v["frequency_penalty"] = json!(0.6)),
            ),
            (
                "presence_penalty",
                Box::new(|v| v["presence_penalty"] = json!(0.3)),
            ),
            ("extra top_k", Box::new(|v| v["top_k"] = json!(6))),
            (
                "extra new",
                Box::new(|v| v["reasoning_effort"] = json!("high")),
            ),
        ];
        let mut seen = std::collections::HashSet::new();
        seen.insert(b);
        for (what, change) in changes {
            let mut v = base();
            change(&mut v);
            let k = key_of(&v);
            assert_ne!(k, b, "changing {what} must change the key");
            assert!(seen.insert(k), "{what} collides with another change");
        }
    }

    #[test]
    fn non_answer_fields_are_ignored() {
        let b = key_of(&base());
        let mut v = base();
        v["user"] = json!("alice");
        v["stream"] = json!(true);
        v["stream_options"] = json!({"include_usage": true});
        v["metadata"] = json!({"trace": "abc"});
        v["request_id"] = json!("req_1");
        v["store"] = json!(true);
        assert_eq!(key_of(&v), b);
    }

    #[test]
    fn provider_and_kind_are_part_of_the_key() {
        let req: ChatRequest = serde_json::from_value(base()).unwrap();
        let a = chat_key("openai", &req).unwrap();
        let b = chat_key("azure", &req).unwrap();
        assert_ne!(a, b);
        let c = CompletionRequest {
            model: "m".into(),
            prompt: "p".into(),
            ..Default::default()
        };
        let chat = ChatRequest::new("m", vec![Message::user("p")]);
        assert_ne!(
            completion_key("x", &c).unwrap().digest,
            chat_key("x", &chat).unwrap().digest
        );
        assert_eq!(
            a.storage_key("ns"),
            format!("ns:chat:{}", hex::encode(a.digest))
        );
    }

    #[test]
    fn typed_requests_build_keys() {
        let mut req = ChatRequest::new(
            "m",
            vec![Message::User {
                content: runtime_core::Content::Parts(vec![
                    ContentPart::Text { text: "a".into() },
                    ContentPart::image_url("https://i"),
                ]),
                name: None,
            }],
        );
        req.tools = vec![ToolDefinition::function(
            "f",
            "d",
            json!({"type": "object"}),
        )];
        req.response_format = Some(ResponseFormat::JsonObject);
        let k1 = chat_key("p", &req).unwrap();
        req.user = Some("u".into());
        assert_eq!(chat_key("p", &req).unwrap(), k1);
    }

    #[test]
    fn completion_key_fields() {
        let base = CompletionRequest {
            model: "m".into(),
            prompt: "p".into(),
            temperature: Some(0.0),
            ..Default::default()
        };
        let k = completion_key("x", &base).unwrap();
        let mut u = base.clone();
        u.user = Some("bob".into());
        u.stream = Some(true);
        assert_eq!(completion_key("x", &u).unwrap(), k);
        for change in [
            |r: &mut CompletionRequest| r.prompt = "q".into(),
            |r: &mut CompletionRequest| r.suffix = Some("s".into()),
            |r: &mut CompletionRequest| r.max_tokens = Some(3),
            |r: &mut CompletionRequest| r.stop = vec!["x".into()],
            |r: &mut CompletionRequest| r.seed = Some(1),
        ] {
            let mut r = base.clone();
            change(&mut r);
            assert_ne!(completion_key("x", &r).unwrap(), k);
        }
    }

    #[test]
    fn rerank_keys_change_with_every_answer_changing_field() {
        let base = RerankRequest::new("rerank-v3.5", "q", vec!["a".into(), "b".into()]);
        let k = |r: &RerankRequest| rerank_key("cohere", r).unwrap();
        assert_eq!(k(&base), k(&base.clone()));
        assert_eq!(k(&base).kind, KeyKind::Rerank);
        let mut other = base.clone();
        other.query = "q2".into();
        assert_ne!(k(&base), k(&other));
        let mut other = base.clone();
        other.documents.reverse();
        assert_ne!(k(&base), k(&other));
        let mut other = base.clone();
        other.top_n = Some(1);
        assert_ne!(k(&base), k(&other));
        let mut other = base.clone();
        other.return_documents = Some(true);
        assert_ne!(k(&base), k(&other));
        let mut other = base.clone();
        other.user = Some("u".into());
        assert_eq!(k(&base), k(&other), "user does not change the answer");
        assert_ne!(k(&base), rerank_key("jina", &base).unwrap());
        let obj = |v: serde_json::Value| RerankDocument::Object(v.as_object().cloned().unwrap());
        let mut a = base.clone();
        a.documents = vec![obj(serde_json::json!({"text": "t", "id": 1}))];
        let mut b = base.clone();
        b.documents = vec![obj(serde_json::json!({"id": 1, "text": "t"}))];
        assert_eq!(k(&a), k(&b), "object key order does not matter");
    }

    #[test]
    fn embedding_keys() {
        let req = EmbeddingRequest::new("e", vec![]);
        let keys = EmbeddingKeys::new("p", &req).unwrap();
        assert_eq!(keys.key("a"), keys.key("a"));
        assert_ne!(keys.key("a"), keys.key("b"));
        let mut other = req.clone();
        other.dimensions = Some(256);
        assert_ne!(
            EmbeddingKeys::new("p", &other).unwrap().key("a"),
            keys.key("a")
        );
        let mut user = req.clone();
        user.user = Some("u".into());
        user.encoding_format = Some(runtime_core::EncodingFormat::Base64);
        user.extra.insert("metadata".into(), json!({"a": 1}));
        assert_eq!(
            EmbeddingKeys::new("p", &user).unwrap().key("a"),
            keys.key("a")
        );
        let mut task = req.clone();
        task.extra
            .insert("task_type".into(), json!("RETRIEVAL_QUERY"));
        assert_ne!(
            EmbeddingKeys::new("p", &task).unwrap().key("a"),
            keys.key("a")
        );
        assert_ne!(
            EmbeddingKeys::new("q", &req).unwrap().key("a"),
            keys.key("a")
        );
        let mut model = req;
        model.model = "f".into();
        assert_ne!(
            EmbeddingKeys::new("p", &model).unwrap().key("a"),
            keys.key("a")
        );
    }
}
