//! The Anthropic Messages dialect over real fixtures: requests → core, upstream answers →
//! core → Messages (non-streamed and streamed), errors. Snapshots are named
//! `<fixture>.<in>-<out>`; every stream we write is checked against the event grammar, and
//! compared with the recorded upstream stream it was made from.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::compare::{messages_accumulate, messages_essentials};
use common::grammar::check_messages;
use common::upstream::{anthropic_events, anthropic_response};
use common::{
    Sse, fixture, fixture_json, fixtures_with, parse_chunks, parse_recorded_sse, parse_sse, pretty,
    render,
};
use runtime_core::annotation;
use runtime_dialects::anthropic_messages::{
    MessagesStreamEncoder, count_tokens, error as anthropic_error, request, response,
};
use runtime_dialects::{ErrorInfo, estimate};
use serde_json::{Value, json};

const D: &str = "anthropic_messages";

#[test]
fn requests_to_core() {
    let names = fixtures_with(D, ".request.json");
    assert!(names.len() >= 12, "{names:?}");
    for name in names {
        let body = fixture(D, &format!("{name}.request.json"));
        let conv = if name == "count-tokens" {
            count_tokens::to_core(&count_tokens::parse(&body).unwrap())
        } else {
            request::to_core(&request::parse(&body).unwrap())
        }
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        insta::assert_snapshot!(
            format!("{name}.messages-core"),
            pretty(&json!({"request": conv.request, "ignored": conv.ignored}))
        );
    }
}

#[test]
fn parsed_requests_reserialise_to_what_the_client_sent() {
    // Unknown fields are kept (`#[serde(flatten)]`), so a body survives parse → serialise.
    for name in fixtures_with(D, ".request.json") {
        let original = fixture_json(D, &format!("{name}.request.json"));
        let back = if name == "count-tokens" {
            serde_json::to_value(count_tokens::parse(original.to_string().as_bytes()).unwrap())
        } else {
            serde_json::to_value(request::parse(original.to_string().as_bytes()).unwrap())
        }
        .unwrap();
        assert_eq!(numbers_as_f64(back), numbers_as_f64(original), "{name}");
    }
}

/// JSON with every number as a float (`1` and `1.0` are the same number on the wire).
fn numbers_as_f64(v: Value) -> Value {
    match v {
        Value::Number(n) => json!(n.as_f64()),
        Value::Array(a) => Value::Array(a.into_iter().map(numbers_as_f64).collect()),
        Value::Object(m) => {
            Value::Object(m.into_iter().map(|(k, v)| (k, numbers_as_f64(v))).collect())
        }
        other => other,
    }
}

#[test]
fn upstream_answers_to_core_to_messages() {
    let names: Vec<String> = fixtures_with(D, ".response.json")
        .into_iter()
        .filter(|n| !n.starts_with("error-") && n != "count-tokens")
        .collect();
    assert!(names.len() >= 8, "{names:?}");
    for name in names {
        let original = fixture_json(D, &format!("{name}.response.json"));
        let core = anthropic_response(&original);
        let ours: Value =
            serde_json::from_slice(&response::body(&core, "msg_fallback", "claude")).unwrap();
        insta::assert_snapshot!(format!("{name}.core-messages"), pretty(&ours));
        // Citations included: provider-anthropic records them, the encoder writes them back.
        assert_eq!(
            messages_essentials(&ours),
            messages_essentials(&original),
            "{name}"
        );
    }
}

#[test]
fn citations_come_back_from_the_core_annotation() {
    let original = fixture_json(D, "citations.response.json");
    let mut core = anthropic_response(&original);
    let text = core.message.text().unwrap();
    // What provider-anthropic must record (see `runtime_core::annotation::CITATIONS`).
    core.meta.annotations.insert(
        annotation::CITATIONS.into(),
        json!([{"start": 0, "end": text.len(), "citations": original["content"][0]["citations"]}]),
    );
    let ours: Value =
        serde_json::from_slice(&response::body(&core, "msg_fallback", "claude")).unwrap();
    assert_eq!(messages_essentials(&ours), messages_essentials(&original));
}

/// A recorded stream: `.sse` bytes or `.chunks.jsonl` payloads.
fn recorded_streams() -> Vec<(String, Vec<Sse>)> {
    let mut out = Vec::new();
    for name in fixtures_with(D, ".sse") {
        out.push((
            name.clone(),
            parse_recorded_sse(&fixture(D, &format!("{name}.sse"))),
        ));
    }
    for name in fixtures_with(D, ".chunks.jsonl") {
        out.push((
            name.clone(),
            parse_chunks(&fixture(D, &format!("{name}.chunks.jsonl"))),
        ));
    }
    out
}

/// Encodes core events into our Messages SSE bytes.
pub fn encode(events: Vec<runtime_core::StreamEvent>) -> Vec<u8> {
    let mut enc = MessagesStreamEncoder::new("msg_fallback", "claude");
    let mut out = Vec::new();
    for e in events {
        enc.event(e, &mut out);
    }
    enc.finish(&mut out);
    out
}

#[test]
fn recorded_upstream_streams_obey_the_grammar() {
    // The checker must accept what Anthropic really sends, or it proves nothing about ours.
    for (name, events) in recorded_streams() {
        check_messages(&events).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn upstream_streams_to_core_to_messages_stream() {
    let streams = recorded_streams();
    assert!(streams.len() >= 8);
    for (name, recorded) in streams {
        let core = anthropic_events(&recorded, "claude");
        let bytes = encode(core);
        let ours = parse_sse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        check_messages(&ours).unwrap_or_else(|e| panic!("{name}: {e}\n{}", render(&ours)));
        insta::assert_snapshot!(format!("{name}.core-messages-stream"), render(&ours));
        assert_eq!(
            messages_essentials(&messages_accumulate(&ours)),
            messages_essentials(&messages_accumulate(&recorded)),
            "{name}"
        );
        // The first event carries the upstream's id and model.
        assert_eq!(
            ours[0].data["message"]["id"],
            recorded[0].data["message"]["id"]
        );
    }
}

#[test]
fn count_tokens_estimate_is_labelled_and_near_the_real_count() {
    let req = count_tokens::parse(&fixture(D, "count-tokens.request.json")).unwrap();
    let core = count_tokens::to_core(&req).unwrap().request;
    let n = estimate::input_tokens(&core);
    let real = fixture_json(D, "count-tokens.response.json")["input_tokens"]
        .as_u64()
        .unwrap();
    // The recorded exact count is 1114; the estimate is within ±25 % of it.
    assert!(n * 4 >= real * 3 && n * 4 <= real * 5, "{n} vs {real}");
    let body: Value = serde_json::from_slice(&count_tokens::body(n, true)).unwrap();
    assert_eq!(body, json!({"input_tokens": n, "estimated": true}));
    let exact: Value = serde_json::from_slice(&count_tokens::body(real, false)).unwrap();
    assert_eq!(exact, fixture_json(D, "count-tokens.response.json"));
}

fn upstream_error(status: u16, body: &[u8]) -> runtime_core::Error {
    let ctx = runtime_core::http::ErrorContext {
        provider: "anthropic",
        model: "claude",
        secret: None,
    };
    provider_anthropic::wire::map_error(&ctx, status, &http::HeaderMap::new(), body)
}

#[test]
fn upstream_errors_keep_their_anthropic_type_and_status() {
    let overloaded =
        br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
    for (name, status, body) in [
        ("error-400", 400, fixture(D, "error-400.response.json")),
        ("error-404", 404, fixture(D, "error-404.response.json")),
        ("overloaded", 529, overloaded.to_vec()),
    ] {
        let original: Value = serde_json::from_slice(&body).unwrap();
        let info = ErrorInfo::from(&upstream_error(status, &body));
        let ours: Value =
            serde_json::from_slice(&anthropic_error::body(&info, Some("req_gateway"))).unwrap();
        assert_eq!(anthropic_error::status(&info), status, "{name}");
        assert_eq!(ours["type"], "error");
        assert_eq!(ours["error"]["type"], original["error"]["type"], "{name}");
        insta::assert_snapshot!(format!("{name}.core-messages"), pretty(&ours));
    }
}

#[test]
fn a_stream_that_fails_ends_with_an_error_event() {
    let mut enc = MessagesStreamEncoder::new("msg_x", "claude");
    let mut out = Vec::new();
    enc.event(
        runtime_core::StreamEvent::TextDelta {
            text: "partial".into(),
        },
        &mut out,
    );
    let err = upstream_error(
        529,
        br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
    );
    enc.fail(&ErrorInfo::from(&err), &mut out);
    enc.finish(&mut out); // ignored after a failure
    let events = parse_sse(&out).unwrap();
    check_messages(&events).unwrap();
    let last = events.last().unwrap();
    assert_eq!(last.event, "error");
    assert_eq!(last.data["error"]["type"], "overloaded_error");
}
