//! Unit tests of the cache keys.

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
    chat_key("openai", &req.model, &req).unwrap()
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
    let a = chat_key("openai", &req.model, &req).unwrap();
    let b = chat_key("azure", &req.model, &req).unwrap();
    assert_ne!(a, b);
    let c = CompletionRequest {
        model: "m".into(),
        prompt: "p".into(),
        ..Default::default()
    };
    let chat = ChatRequest::new("m", vec![Message::user("p")]);
    assert_ne!(
        completion_key("x", &c.model, &c).unwrap().digest,
        chat_key("x", &chat.model, &chat).unwrap().digest
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
    let k1 = chat_key("p", &req.model, &req).unwrap();
    req.user = Some("u".into());
    assert_eq!(chat_key("p", &req.model, &req).unwrap(), k1);
}

#[test]
fn completion_key_fields() {
    let base = CompletionRequest {
        model: "m".into(),
        prompt: "p".into(),
        temperature: Some(0.0),
        ..Default::default()
    };
    let k = completion_key("x", &base.model, &base).unwrap();
    let mut u = base.clone();
    u.user = Some("bob".into());
    u.stream = Some(true);
    assert_eq!(completion_key("x", &u.model, &u).unwrap(), k);
    for change in [
        |r: &mut CompletionRequest| r.prompt = "q".into(),
        |r: &mut CompletionRequest| r.suffix = Some("s".into()),
        |r: &mut CompletionRequest| r.max_tokens = Some(3),
        |r: &mut CompletionRequest| r.stop = vec!["x".into()],
        |r: &mut CompletionRequest| r.seed = Some(1),
    ] {
        let mut r = base.clone();
        change(&mut r);
        assert_ne!(completion_key("x", &r.model, &r).unwrap(), k);
    }
}

#[test]
fn rerank_keys_change_with_every_answer_changing_field() {
    let base = RerankRequest::new("rerank-v3.5", "q", vec!["a".into(), "b".into()]);
    let k = |r: &RerankRequest| rerank_key("cohere", &r.model, r).unwrap();
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
    assert_ne!(k(&base), rerank_key("jina", &base.model, &base).unwrap());
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
    let keys = EmbeddingKeys::new("p", &req.model, &req).unwrap();
    assert_eq!(keys.key("a"), keys.key("a"));
    assert_ne!(keys.key("a"), keys.key("b"));
    // The key of text `a` of `r` served by `provider` as its own model.
    let key_a = |provider: &str, r: &EmbeddingRequest| {
        EmbeddingKeys::new(provider, &r.model, r).unwrap().key("a")
    };
    let mut other = req.clone();
    other.dimensions = Some(256);
    assert_ne!(key_a("p", &other), keys.key("a"));
    let mut user = req.clone();
    user.user = Some("u".into());
    user.encoding_format = Some(runtime_core::EncodingFormat::Base64);
    user.extra.insert("metadata".into(), json!({"a": 1}));
    assert_eq!(key_a("p", &user), keys.key("a"));
    let mut task = req.clone();
    task.extra
        .insert("task_type".into(), json!("RETRIEVAL_QUERY"));
    assert_ne!(key_a("p", &task), keys.key("a"));
    assert_ne!(key_a("q", &req), keys.key("a"));
    let mut model = req;
    model.model = "f".into();
    assert_ne!(key_a("p", &model), keys.key("a"));
}

/// A call re-targeted from `a` to `b` keys by `b`: the key of a direct call naming `b`,
/// not of one naming `a`, for every kind of call.
#[test]
fn a_retargeted_call_keys_by_the_model_served() {
    // The key served as `model` of a body naming `body`.
    type KeyOf = Box<dyn Fn(&str, &str) -> CacheKey>;
    let kinds: [(&str, KeyOf); 4] = [
        (
            "chat",
            Box::new(|model, body| {
                let r = ChatRequest::new(body, vec![Message::user("q")]);
                chat_key("p", model, &r).unwrap()
            }),
        ),
        (
            "completion",
            Box::new(|model, body| {
                let r = CompletionRequest {
                    model: body.into(),
                    prompt: "q".into(),
                    ..Default::default()
                };
                completion_key("p", model, &r).unwrap()
            }),
        ),
        (
            "rerank",
            Box::new(|model, body| {
                let r = RerankRequest::new(body, "q", vec!["d".into()]);
                rerank_key("p", model, &r).unwrap()
            }),
        ),
        (
            "embedding",
            Box::new(|model, body| {
                let r = EmbeddingRequest::new(body, vec![]);
                EmbeddingKeys::new("p", model, &r).unwrap().key("t")
            }),
        ),
    ];
    for (kind, key) in kinds {
        assert_eq!(
            key("b", "a"),
            key("b", "b"),
            "{kind}: a re-targeted to b is b"
        );
        assert_ne!(
            key("b", "a"),
            key("a", "a"),
            "{kind}: a re-targeted to b is not a"
        );
    }
}
