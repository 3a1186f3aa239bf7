//! Hostile bodies for both request parsers: truncated, random, wrong-typed. Never a panic;
//! always a typed error, and when a value has the wrong type the error names that field (or
//! the block / item holding it). Bounded: a fixed seed and a fixed number of cases.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{fixture, fixtures_with};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use runtime_dialects::anthropic_messages::{count_tokens, request as messages};
use runtime_dialects::openai_responses::request as responses;
use runtime_dialects::{RequestError, RequestErrorKind};
use serde_json::{Value, json};

type Parse = fn(&[u8]) -> Result<(), RequestError>;

fn messages_all(b: &[u8]) -> Result<(), RequestError> {
    messages::to_core(&messages::parse(b)?).map(|_| ())
}

fn count_all(b: &[u8]) -> Result<(), RequestError> {
    count_tokens::to_core(&count_tokens::parse(b)?).map(|_| ())
}

fn responses_all(b: &[u8]) -> Result<(), RequestError> {
    responses::to_core(&responses::parse(b)?).map(|_| ())
}

fn corpora() -> Vec<(String, Parse, Vec<u8>)> {
    let mut out: Vec<(String, Parse, Vec<u8>)> = Vec::new();
    for n in fixtures_with("anthropic_messages", ".request.json") {
        let f: Parse = if n == "count-tokens" {
            count_all
        } else {
            messages_all
        };
        out.push((
            n.clone(),
            f,
            fixture("anthropic_messages", &format!("{n}.request.json")),
        ));
    }
    for n in fixtures_with("openai_responses", ".request.json") {
        out.push((
            n.clone(),
            responses_all,
            fixture("openai_responses", &format!("{n}.request.json")),
        ));
    }
    out
}

/// Runs the parser, turning a panic into a test failure that names the input.
fn run(name: &str, parse: Parse, body: &[u8]) -> Result<(), RequestError> {
    std::panic::catch_unwind(|| parse(body)).unwrap_or_else(|_| {
        panic!(
            "{name}: panicked on {:?}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        )
    })
}

#[test]
fn every_fixture_parses() {
    for (name, parse, body) in corpora() {
        run(&name, parse, &body).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn truncated_bodies_are_invalid_json() {
    for (name, parse, body) in corpora() {
        // Every cut of small bodies, 200 evenly spaced cuts of large ones.
        let step = (body.len() / 200).max(1);
        for cut in (0..body.len()).step_by(step) {
            let prefix = &body[..cut];
            if body[cut..].iter().all(u8::is_ascii_whitespace) {
                continue; // the whole document is there
            }
            let e = run(&name, parse, prefix).expect_err("a truncated body parsed");
            assert_eq!(
                e.kind,
                RequestErrorKind::InvalidJson,
                "{name} cut at {cut}: {e}"
            );
            assert!(!e.message.is_empty());
        }
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = StdRng::seed_from_u64(15);
    let parsers: [Parse; 3] = [messages_all, count_all, responses_all];
    for i in 0..3_000 {
        let len = rng.random_range(0..64);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        if i % 3 == 0 {
            // Mostly-JSON noise reaches deeper into the parsers.
            bytes = format!(
                "{{\"model\":{},\"messages\":[{}],\"input\":{}}}",
                ["\"m\"", "1", "null", "[]"][i % 4],
                ["", "{}", "1", "{\"role\":\"user\"}"][(i / 4) % 4],
                ["\"x\"", "[{}]", "{}", "[1]"][(i / 16) % 4]
            )
            .into_bytes();
        }
        for p in parsers {
            let _ = run("random", p, &bytes);
        }
    }
}

/// Every value position of a JSON document, as (pointer segments).
fn positions(v: &Value, at: Vec<Value>, out: &mut Vec<Vec<Value>>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let mut p = at.clone();
                p.push(json!(k));
                out.push(p.clone());
                positions(v, p, out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                let mut p = at.clone();
                p.push(json!(i));
                out.push(p.clone());
                positions(v, p, out);
            }
        }
        _ => {}
    }
}

/// `messages[0].content[1].source` style, as the errors name fields.
fn param(path: &[Value]) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Value::String(k) => {
                if !s.is_empty() {
                    s.push('.');
                }
                s.push_str(k);
            }
            Value::Number(n) => s.push_str(&format!("[{n}]")),
            _ => unreachable!(),
        }
    }
    s
}

fn set(v: &mut Value, path: &[Value], new: Value) {
    let mut cur = v;
    for seg in path {
        cur = match seg {
            Value::String(k) => &mut cur[k.as_str()],
            Value::Number(n) => &mut cur[usize::try_from(n.as_u64().unwrap()).unwrap()],
            _ => unreachable!(),
        };
    }
    *cur = new;
}

fn wrong_for(v: &Value, rng: &mut StdRng) -> Value {
    let options = [
        json!(42),
        json!(true),
        json!(null),
        json!({"x": 1}),
        json!([1, 2]),
        json!("text"),
    ];
    loop {
        let cand = options[rng.random_range(0..options.len())].clone();
        let same = matches!(
            (v, &cand),
            (Value::Number(_), Value::Number(_))
                | (Value::Bool(_), Value::Bool(_))
                | (Value::Null, Value::Null)
                | (Value::Object(_), Value::Object(_))
                | (Value::Array(_), Value::Array(_))
                | (Value::String(_), Value::String(_))
        );
        if !same {
            return cand;
        }
    }
}

#[test]
fn wrong_typed_values_are_errors_naming_the_field() {
    let mut rng = StdRng::seed_from_u64(1015);
    let mut errors = 0;
    for (name, parse, body) in corpora() {
        let original: Value = serde_json::from_slice(&body).unwrap();
        let mut all = Vec::new();
        positions(&original, Vec::new(), &mut all);
        for _ in 0..60 {
            let path = &all[rng.random_range(0..all.len())];
            let mut old = &original;
            for seg in path {
                old = match seg {
                    Value::String(k) => &old[k.as_str()],
                    Value::Number(n) => &old[usize::try_from(n.as_u64().unwrap()).unwrap()],
                    _ => unreachable!(),
                };
            }
            let mut v = original.clone();
            set(&mut v, path, wrong_for(old, &mut rng));
            let bytes = serde_json::to_vec(&v).unwrap();
            let Err(e) = run(&name, parse, &bytes) else {
                continue; // free-form places (schemas, unknown fields, metadata) take anything
            };
            errors += 1;
            assert_ne!(
                e.kind,
                RequestErrorKind::InvalidJson,
                "{name}: {e}: {}",
                String::from_utf8_lossy(&bytes)
            );
            let p = param(path);
            let named = e
                .param
                .as_deref()
                .unwrap_or_else(|| panic!("{name} {p}: no param: {e}"));
            assert!(
                p.starts_with(named) || named.starts_with(&p),
                "{name}: changed `{p}`, the error names `{named}`: {e}"
            );
        }
    }
    assert!(errors > 200, "only {errors} mutations were rejected");
}
