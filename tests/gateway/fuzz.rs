//! Fuzz-style: thousands of malformed or hostile bodies, each answered with a 4xx OpenAI error
//! envelope, and the gateway keeps serving.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use futures::StreamExt;
use serde_json::{Value, json};

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Values of the wrong type for `field` (every one is rejected when decoding).
fn wrong_values(field: &str) -> Vec<Value> {
    let structured = [json!([]), json!([1, 2]), json!({}), json!({"x": 1})];
    let mut v: Vec<Value> = match field {
        "model" | "prompt" => vec![json!(null), json!(true), json!(-1), json!(1.5)],
        "messages" | "tools" => vec![
            json!(null),
            json!(true),
            json!(7),
            json!({"x": 1}),
            json!([1, 2]),
        ],
        // `[1, 2]` is an embedding input (token ids), not a wrong value.
        "input" => vec![
            json!(null),
            json!(true),
            json!(7),
            json!({"x": 1}),
            json!([true, "a"]),
        ],
        "temperature" | "top_p" => vec![json!(true), json!("warm"), json!([]), json!({})],
        "max_tokens" | "dimensions" => vec![json!(true), json!(-1), json!(1.5), json!("many")],
        "seed" => vec![json!(true), json!(1.5), json!("s")],
        "stream" => vec![json!(1), json!("yes")],
        "response_format" => vec![
            json!(true),
            json!(1),
            json!("json"),
            json!({"type": "yaml"}),
        ],
        "encoding_format" => vec![json!(true), json!(1), json!("int8")],
        _ => vec![],
    };
    if !matches!(field, "messages" | "tools" | "input" | "response_format") {
        v.extend(structured);
    }
    v
}

const HUGE: &[&str] = &[
    "1e999",
    "-1e999",
    "18446744073709551616",
    "99999999999999999999999999999999",
    "-99999999999999999999",
    "4294967296",
];

fn valid(endpoint: usize) -> Value {
    match endpoint {
        0 => json!({"model": "mock/gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}),
        1 => json!({"model": "mock/gpt-4o-mini", "prompt": "hi"}),
        _ => json!({"model": "mock/text-embedding-3-small", "input": ["a"]}),
    }
}

/// Fields whose every wrong-typed value is a 400 (so the body never reaches the upstream).
fn typed_fields(endpoint: usize) -> &'static [&'static str] {
    match endpoint {
        0 => &[
            "model",
            "messages",
            "temperature",
            "max_tokens",
            "top_p",
            "stream",
            "seed",
            "tools",
            "response_format",
        ],
        1 => &["model", "prompt", "max_tokens", "temperature", "stream"],
        _ => &["model", "input", "dimensions", "encoding_format"],
    }
}

fn hostile(rng: &mut Rng, i: usize) -> (usize, Vec<u8>) {
    let endpoint = rng.below(3);
    let body = valid(endpoint);
    let text = body.to_string();
    let bytes = match i % 8 {
        // A field of a wrong type.
        0 => {
            let field = *rng.pick(typed_fields(endpoint));
            let mut v = body.clone();
            v[field] = rng.pick(&wrong_values(field)).clone();
            serde_json::to_vec(&v).unwrap()
        }
        // A number out of range where a number belongs.
        1 => {
            let field = match endpoint {
                0 | 1 => *rng.pick(&["max_tokens", "temperature", "seed"]),
                _ => "dimensions",
            };
            // 2^32 only overflows the u32 fields; the seed is an i64.
            let n = if field == "seed" {
                rng.pick(&HUGE[..5])
            } else {
                rng.pick(HUGE)
            };
            let mut v = body.clone();
            v[field] = json!("PLACEHOLDER");
            let s = v.to_string().replace("\"PLACEHOLDER\"", n);
            // -1e999 etc. are out of range for f64; 2^64 and beyond are out of range for u32/i64.
            if field == "temperature" && !n.contains('e') {
                // Huge integers parse as f64 fine: make it an object instead.
                s.replace(n, "{\"deep\": 1}").into_bytes()
            } else {
                s.into_bytes()
            }
        }
        // Deep nesting.
        2 => {
            let depth = 200 + rng.below(5000);
            let mut s = String::from("{\"model\": \"mock/gpt-4o-mini\", \"messages\": ");
            s.push_str(&"[".repeat(depth));
            s.push_str(&"]".repeat(depth));
            s.push('}');
            s.into_bytes()
        }
        // Invalid UTF-8 inside a string or raw.
        3 => {
            let mut b = text.into_bytes();
            let pos = b.iter().position(|&c| c == b'h' || c == b'a').unwrap_or(1);
            let bads: [&[u8]; 4] = [
                &[0xff],
                &[0xc3, 0x28],
                &[0xed, 0xa0, 0x80],
                &[0xf8, 0x88, 0x80, 0x80, 0x80],
            ];
            let bad = *rng.pick(&bads);
            b.splice(pos..pos, bad.iter().copied());
            b
        }
        // Truncated JSON.
        4 => {
            let cut = rng.below(text.len() - 1).max(1);
            text.as_bytes()[..cut].to_vec()
        }
        // Not an object at all, or an empty body.
        5 => {
            const BODIES: [&str; 14] = [
                "",
                "null",
                "[]",
                "42",
                "\"str\"",
                "true",
                "{",
                "}",
                "{}",
                "{\"model\":}",
                "{\"model\": \"mock/x\"} trailing",
                "\u{feff}{}",
                "NaN",
                "{'model': 'x'}",
            ];
            rng.pick(&BODIES).as_bytes().to_vec()
        }
        // Random bytes.
        6 => (0..rng.below(300))
            .map(|_| (rng.next() & 0xff) as u8)
            .collect(),
        // Hostile content inside an otherwise-invalid request: a wrong role / content part type.
        _ => {
            let mut v = valid(0);
            v["messages"] = rng
                .pick(&[
                    json!([{"role": "wizard", "content": "x"}]),
                    json!([{"role": "user"}]),
                    json!([{"role": "user", "content": [{"type": "video", "url": "x"}]}]),
                    json!([{"role": "tool", "content": "x"}]),
                    json!([{"content": "no role"}]),
                    json!([{"role": "user", "content": 5}]),
                    json!([]),
                ])
                .clone();
            return (0, serde_json::to_vec(&v).unwrap());
        }
    };
    (endpoint, bytes)
}

/// One hostile case's answer: its index, status, the body sent and the JSON answered.
type Answered = (usize, u16, Vec<u8>, Option<Value>);

/// Sends every `(path, body)` case to `gw` (16 at a time) and checks each answer with
/// `accept(status, json)`; fails listing the first 20 cases it rejected. Returns the answers.
async fn send_hostile(
    gw: &Gw,
    cases: Vec<(&'static str, Vec<u8>)>,
    accept: impl Fn(u16, Option<&Value>) -> bool,
) -> Vec<Answered> {
    let c = client();
    let results: Vec<Answered> = futures::stream::iter(cases.into_iter().enumerate())
        .map(|(i, (path, body))| {
            let c = c.clone();
            let url = gw.at(path);
            async move {
                let resp = c
                    .post(url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("case {i}: transport error {e}"));
                let status = resp.status().as_u16();
                let json = resp.json::<Value>().await.ok();
                (i, status, body, json)
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let failures: Vec<String> = results
        .iter()
        .filter(|(_, status, _, json)| !accept(*status, json.as_ref()))
        .map(|(i, status, body, json)| {
            format!(
                "case {i}: status {status}, body {:?} -> {json:?}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            )
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        results.len(),
        failures[..failures.len().min(20)].join("\n")
    );
    results
}

/// A 4xx with OpenAI's error envelope (`message`, `type`, `param`, `code`).
fn openai_4xx(status: u16, json: Option<&Value>) -> bool {
    (400..500).contains(&status)
        && json.is_some_and(|v| {
            v["error"]["message"].is_string()
                && v["error"]["type"].is_string()
                && v["error"].get("param").is_some()
                && v["error"].get("code").is_some()
        })
}

/// A 200 (a hostile-looking body that is valid), or a 4xx with Anthropic's error envelope.
fn anthropic_4xx_or_ok(status: u16, json: Option<&Value>) -> bool {
    let anthropic = json.is_some_and(|v| {
        v["type"] == "error" && v["error"]["type"].is_string() && v["error"]["message"].is_string()
    });
    status == 200 || ((400..500).contains(&status) && anthropic)
}

#[tokio::test]
async fn hostile_bodies_get_4xx_envelopes_and_the_server_keeps_serving() {
    let up = openai_upstream().await;
    let gw = Gw::start(Some(&mock_config(&up.uri(), ""))).await;
    let c = client();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let paths = ["/v1/chat/completions", "/v1/completions", "/v1/embeddings"];
    let cases = (0..3000)
        .map(|i| {
            let (endpoint, body) = hostile(&mut rng, i);
            (paths[endpoint], body)
        })
        .collect();
    send_hostile(&gw, cases, openai_4xx).await;
    // None of it reached the upstream, and a valid request still works.
    assert!(up.received_requests().await.unwrap().is_empty());
    let resp = c
        .post(gw.at("/v1/chat/completions"))
        .json(&chat_body("mock/gpt-4o-mini"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(c.get(gw.at("/health")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn hostile_request_ids_are_replaced_not_echoed() {
    let up = openai_upstream().await;
    let gw = Gw::start(Some(&mock_config(&up.uri(), ""))).await;
    let c = client();
    for bad in [
        "x".repeat(1000),
        "has space".to_owned(),
        String::new(),
        "tab\there".to_owned(),
    ] {
        let resp = c
            .get(gw.at("/health"))
            .header("x-request-id", &bad)
            .send()
            .await
            .unwrap();
        let id = resp.headers()["x-request-id"].to_str().unwrap().to_owned();
        assert_ne!(id, bad);
        assert!(id.starts_with("req_"), "{id}");
    }
    let resp = c
        .get(gw.at("/health"))
        .header("x-request-id", "ok-id_123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "ok-id_123");
}

/// Wrong values for the fields of a `/v1/responses` body: every one is a 4xx (never `null`
/// where a field is optional, which is simply absent).
fn responses_wrong_values(field: &str) -> Vec<Value> {
    match field {
        "model" => vec![json!(null), json!(true), json!(1), json!([]), json!({})],
        "input" => vec![
            json!(null),
            json!(true),
            json!(7),
            json!({"x": 1}),
            json!([1, 2]),
            json!([[[]]]),
        ],
        "instructions" | "user" | "truncation" => vec![json!(true), json!(7), json!([]), json!({})],
        "tools" => vec![
            json!(true),
            json!(7),
            json!({"x": 1}),
            json!([1]),
            json!([{"type": "web_search"}]),
            json!([{"type": "function"}]),
            json!([{"name": "f"}]),
        ],
        "tool_choice" => vec![
            json!("maybe"),
            json!(7),
            json!(true),
            json!([]),
            json!({"type": "function"}),
            json!({"type": "file_search"}),
            json!({}),
        ],
        "text" => vec![
            json!(true),
            json!(7),
            json!({"format": {"type": "yaml"}}),
            json!({"format": "json"}),
            json!({"format": {"type": "json_schema"}}),
        ],
        "reasoning" => vec![json!(true), json!(7), json!("high"), json!({"effort": 5})],
        "max_output_tokens" => vec![json!(true), json!(-1), json!(1.5), json!("many")],
        "temperature" | "top_p" => vec![json!(true), json!("warm"), json!([]), json!({})],
        "stream" | "store" | "parallel_tool_calls" => vec![json!(1), json!("yes")],
        "previous_response_id" => vec![
            json!(7),
            json!(true),
            json!([]),
            json!("resp_0000000000000000000000"),
        ],
        "metadata" => vec![json!(7), json!("x"), json!([])],
        "include" => vec![json!(7), json!("x"), json!([1])],
        _ => vec![],
    }
}

const RESPONSES_FIELDS: &[&str] = &[
    "model",
    "input",
    "instructions",
    "user",
    "truncation",
    "tools",
    "tool_choice",
    "text",
    "reasoning",
    "max_output_tokens",
    "temperature",
    "top_p",
    "stream",
    "store",
    "parallel_tool_calls",
    "previous_response_id",
    "metadata",
    "include",
];

/// Input items a client could send that cannot be served: each a 4xx naming the item.
fn hostile_items() -> Vec<Value> {
    vec![
        json!([{"role": "wizard", "content": "x"}]),
        json!([{"role": "user"}]),
        json!([{"role": "user", "content": 5}]),
        json!([{"type": "function_call", "name": "f"}]),
        json!([{"type": "function_call_output", "output": "x"}]),
        json!([{"type": "message", "role": "user", "content": [{"type": "input_image", "file_id": "file-1"}]}]),
        json!([{"type": "message", "role": "user", "content": [{"type": "input_file", "file_id": "file-1"}]}]),
        json!([{"type": "message", "role": "user", "content": [{"type": "refusal", "refusal": "no"}]}]),
        json!([{"type": "message", "role": "assistant", "content": [{"type": "input_image", "image_url": "https://x.test/a.png"}]}]),
        json!([{"type": "message", "role": "user", "content": [{"text": "no type"}]}]),
        json!([{"type": "reasoning", "summary": 5}]),
        json!([{"type": 5}]),
        json!([{}]),
        json!([{"type": "item_reference", "id": "msg_1"}]),
        json!([{"type": "web_search_call", "id": "ws_1", "status": "completed"}]),
        json!([]),
    ]
}

fn hostile_responses(rng: &mut Rng, i: usize) -> Vec<u8> {
    let body = json!({"model": "mock/gpt-4o-mini", "input": "hi"});
    let text = body.to_string();
    match i % 7 {
        0 => {
            let field = *rng.pick(RESPONSES_FIELDS);
            let mut v = body.clone();
            v[field] = rng.pick(&responses_wrong_values(field)).clone();
            serde_json::to_vec(&v).unwrap()
        }
        1 => {
            let mut v = body.clone();
            v["input"] = rng.pick(&hostile_items()).clone();
            serde_json::to_vec(&v).unwrap()
        }
        2 => {
            let depth = 200 + rng.below(5000);
            let mut s = String::from("{\"model\": \"mock/gpt-4o-mini\", \"input\": ");
            s.push_str(&"[".repeat(depth));
            s.push_str(&"]".repeat(depth));
            s.push('}');
            s.into_bytes()
        }
        3 => {
            let field = *rng.pick(&["max_output_tokens", "temperature", "top_p"]);
            let mut v = body.clone();
            v[field] = json!("PLACEHOLDER");
            let n = rng.pick(HUGE);
            let s = v.to_string().replace("\"PLACEHOLDER\"", n);
            if field != "max_output_tokens" && !n.contains('e') {
                s.replace(n, "{\"deep\": 1}").into_bytes()
            } else {
                s.into_bytes()
            }
        }
        4 => {
            let mut b = text.into_bytes();
            let pos = b.iter().position(|&c| c == b'h').unwrap_or(1);
            b.splice(pos..pos, [0xed, 0xa0, 0x80]);
            b
        }
        5 => {
            let cut = rng.below(text.len() - 1).max(1);
            text.as_bytes()[..cut].to_vec()
        }
        _ => (0..rng.below(300))
            .map(|_| (rng.next() & 0xff) as u8)
            .collect(),
    }
}

#[tokio::test]
async fn hostile_responses_bodies_get_4xx_envelopes_and_never_reach_the_upstream() {
    let up = openai_upstream().await;
    let gw = Gw::start(Some(&mock_config(&up.uri(), ""))).await;
    let c = client();
    let mut rng = Rng(0x5851_F42D_4C95_7F2D);
    let cases = (0..1500)
        .map(|i| {
            let path = if i % 2 == 0 {
                "/v1/responses"
            } else {
                "/responses"
            };
            (path, hostile_responses(&mut rng, i))
        })
        .collect();
    send_hostile(&gw, cases, openai_4xx).await;
    assert!(up.received_requests().await.unwrap().is_empty());
    let resp = c
        .post(gw.at("/v1/responses"))
        .json(&json!({"model": "mock/gpt-4o-mini", "input": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

/// A hostile Messages body: a field of a wrong type, huge numbers, deep nesting, bad UTF-8,
/// truncation, non-objects, random bytes, and hostile blocks inside valid JSON.
fn hostile_messages(rng: &mut Rng, i: usize) -> Vec<u8> {
    let valid = json!({"model": "mock/gpt-4o-mini", "max_tokens": 16,
                       "messages": [{"role": "user", "content": "hi"}]});
    let text = valid.to_string();
    match i % 7 {
        0 => {
            let mut v = valid.clone();
            let (field, bad) = rng
                .pick(&[
                    ("model", json!(null)),
                    ("model", json!(5)),
                    ("max_tokens", json!(-1)),
                    ("max_tokens", json!("many")),
                    ("max_tokens", json!(1.5)),
                    ("messages", json!({"x": 1})),
                    ("messages", json!([1, 2])),
                    ("messages", json!([])),
                    ("system", json!(7)),
                    ("system", json!([{"type": "image"}])),
                    ("temperature", json!("warm")),
                    ("stream", json!("yes")),
                    ("tools", json!([{"name": 5}])),
                    ("tool_choice", json!({"type": "sometimes"})),
                    ("thinking", json!({"type": "enabled"})),
                    ("thinking", json!(true)),
                    ("stop_sequences", json!("STOP")),
                    ("metadata", json!([])),
                    ("top_k", json!(-3)),
                    ("cache_control", json!(1)),
                ])
                .clone();
            v[field] = bad;
            serde_json::to_vec(&v).unwrap()
        }
        1 => {
            let n = rng.pick(HUGE);
            text.replace("16", n).into_bytes()
        }
        2 => {
            let depth = 200 + rng.below(5000);
            let mut s =
                String::from("{\"model\": \"mock/gpt-4o-mini\", \"max_tokens\": 1, \"messages\": ");
            s.push_str(&"[".repeat(depth));
            s.push_str(&"]".repeat(depth));
            s.push('}');
            s.into_bytes()
        }
        3 => {
            let mut b = text.into_bytes();
            let pos = b.iter().position(|&c| c == b'h').unwrap_or(1);
            b.splice(pos..pos, [0xff, 0xc3, 0x28]);
            b
        }
        4 => {
            let cut = rng.below(text.len() - 1).max(1);
            text.as_bytes()[..cut].to_vec()
        }
        5 => (0..rng.below(300))
            .map(|_| (rng.next() & 0xff) as u8)
            .collect(),
        _ => {
            let mut v = valid.clone();
            v["messages"] = rng
                .pick(&[
                    json!([{"role": "wizard", "content": "x"}]),
                    json!([{"role": "user"}]),
                    json!([{"role": "user", "content": [{"type": "video"}]}]),
                    json!([{"role": "user", "content": [{"type": "image", "source": {"type": "base64"}}]}]),
                    json!([{"role": "user", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]}]),
                    json!([{"role": "assistant", "content": [{"type": "tool_result", "tool_use_id": "t"}]}]),
                    json!([{"role": "assistant", "content": [{"type": "thinking"}]}]),
                    json!([{"role": "user", "content": [{"type": "document", "source": {"type": "text", "data": "x"}}]}]),
                    json!([{"role": "user", "content": 5}]),
                    json!([{"content": "no role"}]),
                ])
                .clone();
            serde_json::to_vec(&v).unwrap()
        }
    }
}

#[tokio::test]
async fn hostile_messages_bodies_get_anthropic_4xx_envelopes_never_a_5xx() {
    let up = openai_upstream().await;
    let gw = Gw::start(Some(&mock_config(&up.uri(), ""))).await;
    let c = client();
    let mut rng = Rng(0x51A7_E5EE_D00D_F00D);
    let paths = ["/v1/messages", "/v1/messages/count_tokens"];
    let cases = (0..1500)
        .map(|i| (paths[i % 2], hostile_messages(&mut rng, i)))
        .collect();
    let results = send_hostile(&gw, cases, anthropic_4xx_or_ok).await;
    let rejected = results.iter().filter(|r| r.1 >= 400).count();
    assert!(
        rejected > 1000,
        "most hostile bodies are rejected: {rejected}"
    );
    let resp = c
        .post(gw.at("/v1/messages"))
        .json(&json!({"model": "mock/gpt-4o-mini", "max_tokens": 16,
                      "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}
