//! Round trips through core when the upstream is Anthropic: a Messages request → core →
//! provider-anthropic's upstream body must be the client's body in every byte that matters
//! (thinking signatures, redacted thinking, tool ids and inputs, cache_control, is_error,
//! citations); a Claude answer → core → Responses items → back as Responses input → core must
//! give Claude its signed thinking back.
//!
//! provider-anthropic does not read `ChatRequest::element_extras` yet: `place_extras` below is
//! the reference placement it has to implement (each extra onto the block it emits for that
//! core position). The test proves core carries enough to do it for every fixture.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::field_reassign_with_default
)]

mod common;

use common::{fixture, fixture_json, fixtures_with};
use provider_anthropic::wire::{RequestOptions, messages_request};
use runtime_core::{ChatRequest, Content, ElementRef, Message};
use runtime_dialects::anthropic_messages::request as messages;
use runtime_dialects::openai_responses::{InputItem, request as responses, response};
use serde_json::{Map, Value, json};

const A: &str = "anthropic_messages";

/// The core positions of the upstream body's blocks, in the order provider-anthropic emits
/// them: `(position, path into the body)`.
fn block_positions(core: &ChatRequest, body: &Value) -> Vec<(ElementRef, Vec<Value>)> {
    let mut out = Vec::new();
    let mut flat: Vec<Vec<Value>> = Vec::new();
    for (t, turn) in body["messages"].as_array().unwrap().iter().enumerate() {
        for (b, _) in turn["content"].as_array().unwrap().iter().enumerate() {
            flat.push(vec![
                json!("messages"),
                json!(t),
                json!("content"),
                json!(b),
            ]);
        }
    }
    let mut next = flat.into_iter();
    for (i, m) in core.messages.iter().enumerate() {
        match m {
            Message::System { content, .. } => {
                if let Content::Parts(parts) = content {
                    for j in 0..parts.len() {
                        out.push((
                            ElementRef::Part {
                                message: i,
                                part: j,
                            },
                            vec![json!("system"), json!(j)],
                        ));
                    }
                }
            }
            Message::User { content, .. } => match content {
                Content::Text(_) => {
                    out.push((ElementRef::Message { message: i }, next.next().unwrap()))
                }
                Content::Parts(parts) => {
                    for j in 0..parts.len() {
                        out.push((
                            ElementRef::Part {
                                message: i,
                                part: j,
                            },
                            next.next().unwrap(),
                        ));
                    }
                }
            },
            Message::Tool { content, .. } => {
                let path = next.next().unwrap();
                if let Content::Parts(parts) = content {
                    for j in 0..parts.len() {
                        let mut inner = path.clone();
                        inner.extend([json!("content"), json!(j)]);
                        out.push((
                            ElementRef::Part {
                                message: i,
                                part: j,
                            },
                            inner,
                        ));
                    }
                }
                out.push((ElementRef::Message { message: i }, path));
            }
            Message::Assistant(a) => {
                for _ in &a.reasoning {
                    next.next().unwrap();
                }
                match &a.content {
                    Some(Content::Text(s)) if !s.is_empty() => {
                        out.push((ElementRef::Message { message: i }, next.next().unwrap()));
                    }
                    Some(Content::Parts(parts)) => {
                        for (j, p) in parts.iter().enumerate() {
                            if matches!(p, runtime_core::ContentPart::Text { text } if text.is_empty())
                            {
                                continue;
                            }
                            out.push((
                                ElementRef::Part {
                                    message: i,
                                    part: j,
                                },
                                next.next().unwrap(),
                            ));
                        }
                    }
                    _ => {}
                }
                for k in 0..a.tool_calls.len() {
                    out.push((
                        ElementRef::ToolCall {
                            message: i,
                            call: k,
                        },
                        next.next().unwrap(),
                    ));
                }
            }
            other => panic!("a message kind this test does not know: {other:?}"),
        }
    }
    assert!(
        next.next().is_none(),
        "every upstream block has a core position"
    );
    out
}

fn at_path<'a>(v: &'a mut Value, path: &[Value]) -> &'a mut Value {
    path.iter().fold(v, |v, seg| match seg {
        Value::String(k) => &mut v[k.as_str()],
        Value::Number(n) => &mut v[usize::try_from(n.as_u64().unwrap()).unwrap()],
        _ => unreachable!(),
    })
}

/// What provider-anthropic must do with `element_extras` (reference implementation).
fn place_extras(core: &ChatRequest, body: &mut Value) {
    let positions = block_positions(core, body);
    for e in &core.element_extras {
        let target: &mut Value = match e.at {
            ElementRef::Request => body,
            ElementRef::Tool { tool } => &mut body["tools"][tool],
            at => {
                let path = &positions.iter().find(|(p, _)| *p == at).unwrap().1;
                at_path(body, path)
            }
        };
        let Value::Object(obj) = target else {
            panic!("{target}")
        };
        if let Some(m) = &e.cache_control {
            obj.insert("cache_control".into(), serde_json::to_value(m).unwrap());
        }
        if let Some(b) = e.is_error {
            obj.insert("is_error".into(), Value::Bool(b));
        }
        if let Some(c) = &e.citations {
            obj.insert("citations".into(), Value::Array(c.clone()));
        }
    }
}

/// The client's body in upstream terms: string message contents become one text block (the
/// same request to Anthropic), `stream` is always present, numbers compare as numbers.
fn normalise(mut v: Value) -> Value {
    for m in v["messages"].as_array_mut().unwrap() {
        if let Value::String(s) = &m["content"] {
            m["content"] = json!([{"type": "text", "text": s}]);
        }
    }
    if v.get("stream").is_none() {
        v["stream"] = Value::Bool(false);
    }
    canon(v)
}

fn canon(v: Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64()),
        Value::Array(a) => Value::Array(a.into_iter().map(canon).collect()),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| (k, canon(v)))
                .collect::<Map<_, _>>(),
        ),
        other => other,
    }
}

#[test]
fn messages_to_core_to_anthropic_keeps_every_byte_that_matters() {
    let names: Vec<String> = fixtures_with(A, ".request.json")
        .into_iter()
        .filter(|n| n != "count-tokens")
        .collect();
    for name in &names {
        let original = fixture_json(A, &format!("{name}.request.json"));
        let core = messages::to_core(&messages::parse(original.to_string().as_bytes()).unwrap())
            .unwrap()
            .request;
        let stream = core.stream == Some(true);
        let mut upstream = serde_json::to_value(
            messages_request(
                &core,
                &core.model,
                "anthropic",
                RequestOptions::default(),
                stream,
            )
            .unwrap_or_else(|e| panic!("{name}: {e}")),
        )
        .unwrap();
        place_extras(&core, &mut upstream);
        assert_eq!(normalise(upstream), normalise(original), "{name}");
    }
    assert!(names.len() >= 11);
}

#[test]
fn provider_anthropic_writes_the_per_block_fields_itself() {
    // The per-block fields the dialect keeps in element extras reach an Anthropic upstream
    // through provider-anthropic alone, without the reference placement of the test above.
    let mut lost = Vec::new();
    for name in fixtures_with(A, ".request.json") {
        if name == "count-tokens" {
            continue;
        }
        let body = fixture(A, &format!("{name}.request.json"));
        let core = messages::to_core(&messages::parse(&body).unwrap())
            .unwrap()
            .request;
        let upstream = messages_request(
            &core,
            &core.model,
            "anthropic",
            RequestOptions::default(),
            false,
        )
        .unwrap();
        let text = serde_json::to_string(&upstream).unwrap();
        for e in &core.element_extras {
            if e.cache_control.is_some() && !text.contains("cache_control") {
                lost.push(format!("{name}: cache_control"));
            }
            if e.is_error.is_some() && !text.contains("is_error") {
                lost.push(format!("{name}: is_error"));
            }
        }
    }
    lost.dedup();
    // provider-anthropic writes `cache_control` and `is_error` from the element extras itself
    // (it once lost them, and this list named the three fixtures that showed it).
    assert!(lost.is_empty(), "{lost:?}");
}

#[test]
fn claude_thinking_survives_a_responses_client_loop() {
    // Claude answers with signed thinking and a tool call…
    let answer =
        common::upstream::anthropic_response(&fixture_json(A, "thinking-tool-use.response.json"));
    let req = responses::parse(br#"{"model":"claude-sonnet-4-0","store":false}"#).unwrap();
    let out = response::response(&answer, &req, "gw1", 1);
    // …a Responses client (Codex-style, store: false) sends every output item back with the
    // tool's result…
    let mut input: Vec<Value> = serde_json::to_value(&out.output)
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    input.insert(
        0,
        json!({"role": "user", "content": "Generate a random user for me."}),
    );
    input.push(json!({"type": "function_call_output", "call_id": answer.message.tool_calls[0].id, "output": "saved"}));
    let body = json!({"model": "claude-sonnet-4-0", "store": false, "input": input});
    let items: Vec<InputItem> = serde_json::from_value(body["input"].clone()).unwrap();
    assert_eq!(items.len(), 5);
    let core = responses::to_core(&responses::parse(body.to_string().as_bytes()).unwrap())
        .unwrap()
        .request;
    // …and Claude gets its thinking block back byte for byte, before its text and tool call.
    let Message::Assistant(a) = &core.messages[1] else {
        panic!()
    };
    assert_eq!(a.reasoning, answer.message.reasoning);
    assert_eq!(a.tool_calls, answer.message.tool_calls);
    let upstream = serde_json::to_value(
        messages_request(
            &core,
            &core.model,
            "anthropic",
            RequestOptions::default(),
            false,
        )
        .unwrap(),
    )
    .unwrap();
    let original = fixture_json(A, "thinking-tool-use.response.json");
    assert_eq!(
        upstream["messages"][1]["content"][0],
        original["content"][0]
    );
    assert_eq!(
        upstream["messages"][1]["content"][2]["input"],
        original["content"][2]["input"]
    );
}

#[test]
fn openai_encrypted_reasoning_passes_through_untouched() {
    let body = fixture("openai_responses", "reasoning-replay.request.json");
    let req = responses::parse(&body).unwrap();
    let core = responses::to_core(&req).unwrap().request;
    let sent = fixture_json("openai_responses", "reasoning-replay.request.json")["input"][0]["encrypted_content"].clone();
    let Message::Assistant(a) = &core.messages[0] else {
        panic!()
    };
    assert_eq!(a.reasoning[0].data.as_deref(), sent.as_str());
    // Rendered back as a Responses item, the same bytes.
    let mut answer = runtime_core::ChatResponse::default();
    answer.message = a.clone();
    let out = serde_json::to_value(response::response(&answer, &req, "gw1", 1)).unwrap();
    assert_eq!(out["output"][0]["encrypted_content"], sent);
}
