//! The two client dialects' rows of the conformance table (`cargo xtask conformance`): each
//! row runs the dialect's translation over every real fixture of its kind and passes only
//! when all of them do.
//!
//! | row | what it checks |
//! |---|---|
//! | `messages:requests` | every recorded Messages (and count_tokens) request parses and maps to core |
//! | `messages:answers` | every recorded Anthropic answer → core → our Messages body keeps what a client reads (blocks, citations, signatures, tool inputs, stop, usage) |
//! | `messages:stream_grammar` | every recorded Anthropic stream passes the grammar checker, and → core → our encoder passes it and folds to the same message |
//! | `messages:errors` | every error category → Anthropic's envelope and status (529 for overload) |
//! | `responses:requests` | every recorded Responses request parses and maps to core |
//! | `responses:answers` | every recorded Responses answer → core → our Response object keeps what a client reads (reasoning `encrypted_content` included) |
//! | `responses:stream_grammar` | every recorded Responses stream passes the grammar checker, and → core → our encoder passes it with the same event sequence and final response |
//! | `responses:errors` | every error category → OpenAI's envelope and status |
//!
//! The report is written as `dialects.json` next to the providers' (its column in the table).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use common::compare::{messages_accumulate, messages_essentials, responses_essentials};
use common::grammar::{check_messages, check_responses};
use common::upstream::{
    anthropic_events, anthropic_response, responses_events, responses_response,
};
use common::{
    Sse, fixture, fixture_json, fixtures_with, parse_chunks, parse_recorded_sse, parse_sse,
};
use runtime_conformance::{Outcome, Report};
use runtime_dialects::anthropic_messages::{
    MessagesStreamEncoder, count_tokens, error as anthropic_error, request as messages_request,
    response as messages_response,
};
use runtime_dialects::openai_responses::{
    ResponsesStreamEncoder, error as responses_error, request as responses_request,
    response as responses_response_body,
};
use runtime_dialects::{ErrorCategory, ErrorInfo};
use serde_json::{Value, json};

const M: &str = "anthropic_messages";
const R: &str = "openai_responses";

/// Runs `check` once per item; the first failure (an `Err` or a panic) fails the row.
fn row<T>(items: Vec<(String, T)>, check: impl Fn(&T) -> Result<(), String>) -> Outcome {
    if items.is_empty() {
        return Outcome::Fail("no fixtures".into());
    }
    for (name, item) in &items {
        match catch_unwind(AssertUnwindSafe(|| check(item))) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Outcome::Fail(format!("{name}: {e}")),
            Err(p) => {
                let msg = p
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                return Outcome::Fail(format!("{name}: panicked: {msg}"));
            }
        }
    }
    Outcome::Pass
}

fn named(dialect: &str, suffix: &str) -> Vec<(String, String)> {
    fixtures_with(dialect, suffix)
        .into_iter()
        .map(|n| (n.clone(), n))
        .collect()
}

fn eq(a: &Value, b: &Value) -> Result<(), String> {
    if a == b {
        Ok(())
    } else {
        Err(format!("ours {a} != recorded {b}"))
    }
}

/// The recorded Anthropic streams (`.sse` and `.chunks.jsonl`).
fn anthropic_streams() -> Vec<(String, Vec<Sse>)> {
    let mut out: Vec<(String, Vec<Sse>)> = fixtures_with(M, ".sse")
        .into_iter()
        .map(|n| {
            let ev = parse_recorded_sse(&fixture(M, &format!("{n}.sse")));
            (n, ev)
        })
        .collect();
    for n in fixtures_with(M, ".chunks.jsonl") {
        let ev = parse_chunks(&fixture(M, &format!("{n}.chunks.jsonl")));
        out.push((n, ev));
    }
    out
}

fn messages_rows(report: &mut Report) {
    report.push(
        "messages:requests",
        row(named(M, ".request.json"), |n| {
            let body = fixture(M, &format!("{n}.request.json"));
            if n == "count-tokens" {
                let req = count_tokens::parse(&body).map_err(|e| e.to_string())?;
                count_tokens::to_core(&req).map_err(|e| e.to_string())?;
            } else {
                let req = messages_request::parse(&body).map_err(|e| e.to_string())?;
                messages_request::to_core(&req).map_err(|e| e.to_string())?;
            }
            Ok(())
        }),
    );
    let answers: Vec<(String, String)> = named(M, ".response.json")
        .into_iter()
        .filter(|(n, _)| !n.starts_with("error-") && n != "count-tokens")
        .collect();
    report.push(
        "messages:answers",
        row(answers, |n| {
            let original = fixture_json(M, &format!("{n}.response.json"));
            let core = anthropic_response(&original);
            let ours: Value =
                serde_json::from_slice(&messages_response::body(&core, "msg_gw", "claude"))
                    .map_err(|e| e.to_string())?;
            eq(&messages_essentials(&ours), &messages_essentials(&original))
        }),
    );
    report.push(
        "messages:stream_grammar",
        row(anthropic_streams(), |recorded| {
            check_messages(recorded).map_err(|e| format!("recorded: {e}"))?;
            let mut enc = MessagesStreamEncoder::new("msg_gw", "claude");
            let mut bytes = Vec::new();
            for e in anthropic_events(recorded, "claude") {
                enc.event(e, &mut bytes);
            }
            enc.finish(&mut bytes);
            let ours = parse_sse(&bytes)?;
            check_messages(&ours)?;
            eq(
                &messages_essentials(&messages_accumulate(&ours)),
                &messages_essentials(&messages_accumulate(recorded)),
            )
        }),
    );
    report.push(
        "messages:errors",
        row(categories(), |(category, want_type, want_status)| {
            let info = ErrorInfo::new(*category, "boom");
            let v: Value = serde_json::from_slice(&anthropic_error::body(&info, Some("req_1")))
                .map_err(|e| e.to_string())?;
            eq(
                &v,
                &json!({"type": "error", "error": {"type": want_type, "message": "boom"}, "request_id": "req_1"}),
            )?;
            eq(&json!(anthropic_error::status(&info)), &json!(want_status))
        }),
    );
}

/// Every category with Anthropic's error type and status for it (529 for an overload).
fn categories() -> Vec<(String, (ErrorCategory, &'static str, u16))> {
    [
        (ErrorCategory::InvalidRequest, "invalid_request_error", 400),
        (ErrorCategory::Authentication, "authentication_error", 401),
        (ErrorCategory::Permission, "permission_error", 403),
        (ErrorCategory::NotFound, "not_found_error", 404),
        (ErrorCategory::RequestTooLarge, "request_too_large", 413),
        (ErrorCategory::RateLimited, "rate_limit_error", 429),
        (ErrorCategory::Overloaded, "overloaded_error", 529),
        (ErrorCategory::Timeout, "timeout_error", 504),
        (ErrorCategory::Api, "api_error", 500),
    ]
    .into_iter()
    .map(|c| (format!("{:?}", c.0), c))
    .collect()
}

fn responses_rows(report: &mut Report) {
    report.push(
        "responses:requests",
        row(named(R, ".request.json"), |n| {
            let req = responses_request::parse(&fixture(R, &format!("{n}.request.json")))
                .map_err(|e| e.to_string())?;
            responses_request::to_core(&req).map_err(|e| e.to_string())?;
            Ok(())
        }),
    );
    report.push(
        "responses:answers",
        row(named(R, ".response.json"), |n| {
            let original = fixture_json(R, &format!("{n}.response.json"));
            let core = responses_response(&original);
            let req = responses_request::parse(
                json!({"model": original["model"]}).to_string().as_bytes(),
            )
            .map_err(|e| e.to_string())?;
            let ours: Value = serde_json::from_slice(&responses_response_body::body(
                &core,
                &req,
                "gw1",
                1_700_000_000,
            ))
            .map_err(|e| e.to_string())?;
            eq(
                &responses_essentials(&ours),
                &responses_essentials(&original),
            )
        }),
    );
    let streams: Vec<(String, Vec<Sse>)> = fixtures_with(R, ".chunks.jsonl")
        .into_iter()
        .map(|n| {
            let ev = parse_chunks(&fixture(R, &format!("{n}.chunks.jsonl")));
            (n, ev)
        })
        .collect();
    report.push(
        "responses:stream_grammar",
        row(streams, |recorded| {
            check_responses(recorded).map_err(|e| format!("recorded: {e}"))?;
            let model = recorded[0].data["response"]["model"]
                .as_str()
                .unwrap_or("m");
            let req = responses_request::parse(
                json!({"model": model, "stream": true})
                    .to_string()
                    .as_bytes(),
            )
            .map_err(|e| e.to_string())?;
            let mut enc = ResponsesStreamEncoder::new(&req, "gw1", 1_700_000_000);
            let mut bytes = Vec::new();
            for e in responses_events(recorded) {
                enc.event(e, &mut bytes);
            }
            match recorded.iter().find(|e| e.event == "error") {
                Some(e) => {
                    let mut info = ErrorInfo::new(
                        ErrorCategory::RateLimited,
                        e.data["error"]["message"].as_str().unwrap_or(""),
                    );
                    info.code = e.data["error"]["code"].as_str().map(str::to_owned);
                    enc.fail(&info, &mut bytes);
                }
                None => enc.finish(&mut bytes),
            }
            let ours = parse_sse(&bytes)?;
            check_responses(&ours)?;
            let kinds = |v: &[Sse]| json!(v.iter().map(|e| e.event.clone()).collect::<Vec<_>>());
            eq(&kinds(&ours), &kinds(recorded))?;
            let last = |v: &[Sse]| v.last().map(|e| e.data["response"].clone());
            match (last(&ours), last(recorded)) {
                (Some(a), Some(b)) if !b.is_null() => {
                    eq(&responses_essentials(&a), &responses_essentials(&b))
                }
                _ => Ok(()),
            }
        }),
    );
    report.push(
        "responses:errors",
        row(categories(), |(category, _, _)| {
            let mut info = ErrorInfo::new(*category, "boom");
            info.param = Some("input".into());
            let v: Value =
                serde_json::from_slice(&responses_error::body(&info)).map_err(|e| e.to_string())?;
            let e = &v["error"];
            if e["message"] != "boom" || !e["type"].is_string() || e["param"] != "input" {
                return Err(format!("not OpenAI's envelope: {v}"));
            }
            let status = responses_error::status(&info);
            if (400..=599).contains(&status) {
                Ok(())
            } else {
                Err(format!("status {status}"))
            }
        }),
    );
}

#[test]
fn dialect_conformance() {
    let mut report = Report::new("dialects");
    messages_rows(&mut report);
    responses_rows(&mut report);
    report.finish();
}
