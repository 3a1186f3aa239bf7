//! The OpenAI Responses dialect over real fixtures: requests → core, recorded answers → core
//! → Response objects and streams, compared with the recordings; every stream we write is
//! checked against the event grammar (which the recorded OpenAI streams pass too).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::compare::responses_essentials;
use common::grammar::check_responses;
use common::upstream::{responses_events, responses_response};
use common::{fixture, fixture_json, fixtures_with, parse_chunks, parse_sse, pretty, render};
use runtime_dialects::openai_responses::{
    ResponsesRequest, ResponsesStreamEncoder, error as responses_error, request, response,
};
use runtime_dialects::{ErrorCategory, ErrorInfo};
use serde_json::{Value, json};

const D: &str = "openai_responses";

fn parse_req(name: &str) -> ResponsesRequest {
    request::parse(&fixture(D, &format!("{name}.request.json"))).unwrap()
}

#[test]
fn requests_to_core() {
    let names = fixtures_with(D, ".request.json");
    assert!(names.len() >= 7, "{names:?}");
    for name in names {
        let conv = request::to_core(&parse_req(&name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        insta::assert_snapshot!(
            format!("{name}.responses-core"),
            pretty(&json!({"request": conv.request, "ignored": conv.ignored}))
        );
    }
}

#[test]
fn parsed_requests_reserialise_to_what_the_client_sent() {
    for name in fixtures_with(D, ".request.json") {
        let original = fixture_json(D, &format!("{name}.request.json"));
        let back = serde_json::to_value(parse_req(&name)).unwrap();
        assert_eq!(drop_nulls(back), drop_nulls(original), "{name}");
    }
}

/// JSON without `null` members (an explicit `null` means the same as an absent field).
fn drop_nulls(v: Value) -> Value {
    match v {
        Value::Array(a) => Value::Array(a.into_iter().map(drop_nulls).collect()),
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, drop_nulls(v)))
                .collect(),
        ),
        other => other,
    }
}

#[test]
fn recorded_answers_to_core_to_responses() {
    let names = fixtures_with(D, ".response.json");
    assert!(names.len() >= 6, "{names:?}");
    for name in names {
        let original = fixture_json(D, &format!("{name}.response.json"));
        let core = responses_response(&original);
        let req = if common::fixture_path(D, &format!("{name}.request.json")).exists() {
            parse_req(&name)
        } else {
            request::parse(json!({"model": original["model"]}).to_string().as_bytes()).unwrap()
        };
        let ours: Value =
            serde_json::from_slice(&response::body(&core, &req, "gw1", 1_700_000_000)).unwrap();
        insta::assert_snapshot!(format!("{name}.core-responses"), pretty(&ours));
        assert_eq!(
            responses_essentials(&ours),
            responses_essentials(&original),
            "{name}"
        );
        assert_eq!(
            ours["id"], original["id"],
            "{name}: an upstream Responses id is kept"
        );
        assert_eq!(ours["object"], "response");
    }
}

fn encode(req: &ResponsesRequest, recorded: &[common::Sse]) -> Vec<u8> {
    let mut enc = ResponsesStreamEncoder::new(req, "gw1", 1_700_000_000);
    let mut out = Vec::new();
    for e in responses_events(recorded) {
        enc.event(e, &mut out);
    }
    match recorded.iter().find(|e| e.event == "error") {
        Some(e) => {
            let mut info = ErrorInfo::new(
                ErrorCategory::RateLimited,
                e.data["error"]["message"].as_str().unwrap(),
            );
            info.code = e.data["error"]["code"].as_str().map(str::to_owned);
            enc.fail(&info, &mut out);
        }
        None => enc.finish(&mut out),
    }
    out
}

#[test]
fn recorded_streams_obey_the_grammar() {
    // The checker must accept what OpenAI really sends, or it proves nothing about ours.
    for name in fixtures_with(D, ".chunks.jsonl") {
        let recorded = parse_chunks(&fixture(D, &format!("{name}.chunks.jsonl")));
        check_responses(&recorded).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn recorded_streams_to_core_to_responses_stream() {
    let names = fixtures_with(D, ".chunks.jsonl");
    assert!(names.len() >= 3, "{names:?}");
    for name in names {
        let recorded = parse_chunks(&fixture(D, &format!("{name}.chunks.jsonl")));
        let model = recorded[0].data["response"]["model"].as_str().unwrap();
        let req = request::parse(
            json!({"model": model, "stream": true})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        let bytes = encode(&req, &recorded);
        let ours = parse_sse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        check_responses(&ours).unwrap_or_else(|e| panic!("{name}: {e}\n{}", render(&ours)));
        insta::assert_snapshot!(format!("{name}.core-responses-stream"), render(&ours));
        let kinds = |v: &[common::Sse]| v.iter().map(|e| e.event.clone()).collect::<Vec<_>>();
        assert_eq!(
            kinds(&ours),
            kinds(&recorded),
            "{name}: the same event sequence"
        );
        let last = |v: &[common::Sse]| v.last().unwrap().data["response"].clone();
        assert_eq!(
            responses_essentials(&last(&ours)),
            responses_essentials(&last(&recorded)),
            "{name}"
        );
        assert_eq!(last(&ours)["id"], last(&recorded)["id"]);
    }
}

#[test]
fn errors_use_openais_envelope() {
    let mut info = ErrorInfo::from(&runtime_dialects::RequestError::unsupported(
        "tools[0].type",
        "hosted tool `web_search` cannot be served by the gateway yet",
    ));
    let v: Value = serde_json::from_slice(&responses_error::body(&info)).unwrap();
    assert_eq!(v["error"]["param"], "tools[0].type");
    assert_eq!(v["error"]["type"], "invalid_request_error");
    assert_eq!(responses_error::status(&info), 400);
    info.category = ErrorCategory::Overloaded;
    assert_eq!(responses_error::status(&info), 503);
}
