//! `/v1/responses` end to end: the real `modelrt` binary over wiremock upstreams (an
//! OpenAI-compatible chat-completions one and an Anthropic one), with stored responses in
//! memory, in one SQLite file shared by two processes, and in one PostgreSQL database shared
//! by two processes.
//!
//! Request bodies are real: the Responses fixtures of runtime-dialects (pydantic-ai's
//! recorded OpenAI Responses cassettes, see
//! `crates/runtime-dialects/tests/fixtures/openai_responses/SOURCES.md`); upstream answers
//! are the shared wire fixtures (`crates/runtime-testkit/fixtures/SOURCES.md`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

/// The event runtime-dialects' grammar checker reads (as `super::Sse`).
use common::sse::Sse;

/// The Responses stream grammar checker of runtime-dialects (also run there on real OpenAI
/// recordings), shared rather than copied.
#[allow(dead_code)]
#[path = "../../crates/runtime-dialects/tests/common/grammar.rs"]
mod grammar;

use std::time::Duration;

use common::*;
use runtime_testkit::fixtures;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY_A: &str = "sk-gw-team-a";
const KEY_B: &str = "sk-gw-team-b";

/// A fixture request of runtime-dialects, aimed at `model`.
fn fixture_request(name: &str, model: &str) -> Value {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../runtime-dialects/tests/fixtures/openai_responses")
        .join(name);
    let mut v: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    v["model"] = json!(model);
    v
}

/// Parses an SSE body strictly: `event:` + one `data:` line per frame.
fn parse_sse(text: &str) -> Vec<Sse> {
    assert!(text.ends_with("\n\n"), "unterminated stream: {text:?}");
    text.split("\n\n")
        .filter(|f| !f.trim().is_empty())
        .map(|frame| {
            let mut event = String::new();
            let mut data = None;
            for line in frame.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = e.to_owned();
                } else if let Some(d) = line.strip_prefix("data: ") {
                    assert!(data.is_none(), "two data lines: {frame:?}");
                    data = Some(serde_json::from_str(d).unwrap());
                } else {
                    panic!("unexpected line {line:?}");
                }
            }
            Sse {
                event,
                data: data.expect("a data line"),
            }
        })
        .collect()
}

fn keys_config(base: &str, extra: &str) -> String {
    mock_config(
        base,
        &format!(
            "[gateway]\n[[gateway.keys]]\nid = \"team-a\"\nkey = \"{KEY_A}\"\n\n[[gateway.keys]]\nid = \"team-b\"\nkey = \"{KEY_B}\"\n\n{extra}"
        ),
    )
}

async fn post(gw: &Gw, key: &str, body: &Value) -> reqwest::Response {
    client()
        .post(gw.at("/v1/responses"))
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn post_ok(gw: &Gw, key: &str, body: &Value) -> Value {
    let resp = post(gw, key, body).await;
    let status = resp.status();
    let v: Value = resp.json().await.unwrap();
    assert_eq!(status, 200, "{v}");
    v
}

async fn get(gw: &Gw, key: &str, id: &str) -> reqwest::Response {
    client()
        .get(gw.at(&format!("/v1/responses/{id}")))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

/// An OpenAI-compatible upstream whose first chat answer is a tool call (`get_user_country`)
/// and whose later answers are text.
async fn tool_call_upstream() -> MockServer {
    let up = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(fixtures::json("openai", "chat-tool-call.response.json")),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&up)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion_json()))
        .with_priority(2)
        .mount(&up)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(wiremock::matchers::body_partial_json(
            json!({"stream": true}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(sse_body()),
        )
        .with_priority(1)
        .mount(&up)
        .await;
    up
}

#[tokio::test]
async fn create_over_a_chat_completions_upstream() {
    let (up, gw) = gw_over_openai(|u| keys_config(u, "")).await;
    let mut body = fixture_request("reasoning.request.json", "mock/gpt-4o-mini");
    body["instructions"] = json!("Answer in one word.");
    body["max_output_tokens"] = json!(64);
    let v = post_ok(&gw, KEY_A, &body).await;
    assert_eq!(v["object"], "response");
    assert_eq!(v["status"], "completed");
    assert!(v["id"].as_str().unwrap().starts_with("resp_"), "{v}");
    assert_eq!(v["output"][0]["type"], "message");
    assert_eq!(v["output"][0]["content"][0]["text"], "Hello there!");
    assert_eq!(v["usage"]["input_tokens"], 9);
    assert_eq!(v["usage"]["output_tokens"], 3);
    assert_eq!(v["usage"]["total_tokens"], 12);
    assert_eq!(v["max_output_tokens"], 64);
    assert_eq!(v["reasoning"]["effort"], "high");
    // What the upstream got: the instructions first, the effort, the limit.
    let sent = received_bodies(&up, "/v1/chat/completions").await;
    insta::assert_json_snapshot!("reasoning.responses-openai_chat", sent[0]);

    // The same without the `/v1` prefix.
    let resp = client()
        .post(gw.at("/responses"))
        .bearer_auth(KEY_A)
        .json(&json!({"model": "mock/gpt-4o-mini", "input": "Say hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn usage_rows_are_written_as_for_chat_completions() {
    let (_up, gw) = gw_over_openai(|u| mock_config(u, STORAGE)).await;
    post_ok(
        &gw,
        "unused",
        &json!({"model": "mock/gpt-4o-mini", "input": "Say hi"}),
    )
    .await;
    let resp = client()
        .post(gw.at("/v1/responses"))
        .json(&json!({"model": "mock/gpt-4o-mini", "input": "Say hi", "stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    resp.text().await.unwrap();
    let usage = wait_usage(&gw, None, "since=1h&group_by=model", |v| {
        v["data"].as_array().is_some_and(|d| {
            d.iter()
                .map(|r| r["requests"].as_u64().unwrap_or(0))
                .sum::<u64>()
                == 2
        })
    })
    .await;
    let row = &usage["data"][0];
    // 9 + 3 tokens from the plain answer, 5 + 2 from the streamed one.
    assert_eq!(row["prompt_tokens"], 14, "{usage}");
    assert_eq!(row["completion_tokens"], 5, "{usage}");
}

#[tokio::test]
async fn stream_follows_the_responses_grammar() {
    let (_up, gw) = gw_over_openai(|u| keys_config(u, "")).await;
    let resp = post(
        &gw,
        KEY_A,
        &json!({"model": "mock/gpt-4o-mini", "input": "Say hi", "stream": true}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let events = parse_sse(&resp.text().await.unwrap());
    grammar::check_responses(&events).unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let done = &events.last().unwrap().data["response"];
    assert_eq!(done["output"][0]["content"][0]["text"], "Hello");
    assert_eq!(done["usage"]["input_tokens"], 5);
    assert_eq!(done["usage"]["output_tokens"], 2);
    // The streamed response was stored as it ended, and reads back whole.
    let id = done["id"].as_str().unwrap();
    let resp = get(&gw, KEY_A, id).await;
    assert_eq!(resp.status(), 200);
    let stored: Value = resp.json().await.unwrap();
    assert_eq!(&stored, done);
}

#[tokio::test]
async fn function_call_round_trip_with_previous_response_id() {
    let up = tool_call_upstream().await;
    let gw = Gw::start(Some(&keys_config(&up.uri(), ""))).await;
    let full = fixture_request("json-schema.request.json", "mock/gpt-4o-mini");
    // Turn 1: the question and the tool.
    let turn1 = json!({
        "model": full["model"], "input": [full["input"][0]], "tools": full["tools"],
        "tool_choice": "auto",
    });
    let r1 = post_ok(&gw, KEY_A, &turn1).await;
    let call = &r1["output"][0];
    assert_eq!(call["type"], "function_call", "{r1}");
    assert_eq!(call["name"], "get_user_country");
    assert_eq!(call["call_id"], "call_iXFttys57ap0o16JSlC8yhYo");
    // Turn 2: only the tool's output, continuing from turn 1, with the output format.
    let turn2 = json!({
        "model": full["model"], "previous_response_id": r1["id"], "tools": full["tools"],
        "text": full["text"],
        "input": [{"type": "function_call_output", "call_id": call["call_id"], "output": "Mexico"}],
    });
    let r2 = post_ok(&gw, KEY_A, &turn2).await;
    assert_eq!(r2["previous_response_id"], r1["id"]);
    assert_eq!(r2["output"][0]["content"][0]["text"], "Hello there!");
    let sent = received_bodies(&up, "/v1/chat/completions").await;
    assert_eq!(sent.len(), 2);
    insta::assert_json_snapshot!("json-schema.responses-openai_chat.turn2", sent[1]);
    let roles: Vec<&str> = sent[1]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "assistant", "tool"]);
}

/// An Anthropic upstream: a tool use for the plain call, the recorded text stream for the
/// streamed one.
async fn anthropic_upstream() -> MockServer {
    let up = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(wiremock::matchers::body_partial_json(
            json!({"stream": true}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(fixtures::text("anthropic", "stream-basic.sse")),
        )
        .with_priority(1)
        .mount(&up)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixtures::json(
            "anthropic",
            "messages-tool-use.response.json",
        )))
        .with_priority(2)
        .mount(&up)
        .await;
    up
}

#[tokio::test]
async fn over_an_anthropic_upstream() {
    let up = anthropic_upstream().await;
    let cfg = format!(
        "[providers.claude]\ntype = \"anthropic\"\nbase_url = \"{}\"\napi_key = \"{UPSTREAM_KEY}\"\n",
        up.uri()
    );
    let gw = Gw::start(Some(&cfg)).await;
    let full = fixture_request("json-schema.request.json", "claude/claude-sonnet-4-5");
    let body = json!({
        "model": full["model"], "instructions": "Use the tools.", "input": [full["input"][0]],
        "tools": full["tools"], "max_output_tokens": 256,
    });
    let v = post_ok(&gw, "unused", &body).await;
    assert_eq!(v["output"][0]["type"], "function_call", "{v}");
    assert_eq!(v["output"][0]["call_id"], "toolu_01X9wcHKKAZD9tBC711xipPa");
    assert_eq!(v["output"][0]["arguments"], "{}");
    assert_eq!(v["usage"]["input_tokens"], 445);
    let sent = received_bodies(&up, "/v1/messages").await;
    insta::assert_json_snapshot!("json-schema.responses-anthropic", sent[0]);

    let mut streamed = body.clone();
    streamed["stream"] = json!(true);
    let resp = post(&gw, "unused", &streamed).await;
    assert_eq!(resp.status(), 200);
    let events = parse_sse(&resp.text().await.unwrap());
    grammar::check_responses(&events).unwrap();
    let done = &events.last().unwrap().data["response"];
    assert_eq!(events.last().unwrap().event, "response.completed");
    assert_eq!(done["output"][0]["content"][0]["text"], "Hello there!");
    assert_eq!(done["usage"]["input_tokens"], 11);
    assert_eq!(done["usage"]["output_tokens"], 6);
}

#[tokio::test]
async fn get_delete_and_another_keys_404() {
    let (_up, gw) = gw_over_openai(|u| keys_config(u, "")).await;
    let created = post_ok(
        &gw,
        KEY_A,
        &json!({"model": "mock/gpt-4o-mini", "input": "Say hi", "metadata": {"topic": "greeting"}}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let resp = get(&gw, KEY_A, id).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap(), created);
    // Another key: as if it did not exist, for reads, deletes and continuations.
    let v = error_envelope(get(&gw, KEY_B, id).await, 404).await;
    assert_eq!(v["error"]["code"], "not_found");
    let resp = client()
        .delete(gw.at(&format!("/v1/responses/{id}")))
        .bearer_auth(KEY_B)
        .send()
        .await
        .unwrap();
    error_envelope(resp, 404).await;
    let follow = json!({"model": "mock/gpt-4o-mini", "input": "more", "previous_response_id": id});
    let v = error_envelope(post(&gw, KEY_B, &follow).await, 404).await;
    assert_eq!(v["error"]["param"], "previous_response_id");
    assert_eq!(v["error"]["code"], "previous_response_not_found");
    // Its owner deletes it (also without the prefix); then it is gone.
    let resp = client()
        .delete(gw.at(&format!("/responses/{id}")))
        .bearer_auth(KEY_A)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v,
        json!({"id": id, "object": "response.deleted", "deleted": true})
    );
    error_envelope(get(&gw, KEY_A, id).await, 404).await;
    // `store: false` keeps nothing.
    let unstored = post_ok(
        &gw,
        KEY_A,
        &json!({"model": "mock/gpt-4o-mini", "input": "Say hi", "store": false}),
    )
    .await;
    assert_eq!(unstored["store"], false);
    error_envelope(get(&gw, KEY_A, unstored["id"].as_str().unwrap()).await, 404).await;
}

#[tokio::test]
async fn stored_responses_expire() {
    let up = openai_upstream().await;
    let cfg = keys_config(
        &up.uri(),
        "[gateway.responses]\nstore_ttl = \"1s\"\npurge_interval = \"1s\"\n",
    );
    let gw = Gw::start(Some(&cfg)).await;
    let body = json!({"model": "mock/gpt-4o-mini", "input": "Say hi"});
    let id = post_ok(&gw, KEY_A, &body).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(get(&gw, KEY_A, &id).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    error_envelope(get(&gw, KEY_A, &id).await, 404).await;
    let follow = json!({"model": "mock/gpt-4o-mini", "input": "more", "previous_response_id": id});
    let v = error_envelope(post(&gw, KEY_A, &follow).await, 404).await;
    assert_eq!(v["error"]["param"], "previous_response_id");
}

/// Two gateway processes sharing one usage database: a conversation started on one continues
/// on the other, and the second turn's upstream request carries the whole conversation.
async fn conversation_across_two_processes(storage: &str) {
    let up = tool_call_upstream().await;
    let cfg = keys_config(&up.uri(), storage);
    let a = Gw::start(Some(&cfg)).await;
    let b = Gw::start(Some(&cfg)).await;
    let full = fixture_request("json-schema.request.json", "mock/gpt-4o-mini");
    let turn1 =
        json!({"model": full["model"], "input": [full["input"][0]], "tools": full["tools"]});
    let r1 = post_ok(&a, KEY_A, &turn1).await;
    let call_id = r1["output"][0]["call_id"].clone();
    let id1 = r1["id"].as_str().unwrap();
    // Read through the other process, by its owner only.
    assert_eq!(get(&b, KEY_A, id1).await.json::<Value>().await.unwrap(), r1);
    error_envelope(get(&b, KEY_B, id1).await, 404).await;
    let turn2 = json!({
        "model": full["model"], "previous_response_id": id1, "tools": full["tools"],
        "input": [{"type": "function_call_output", "call_id": call_id, "output": "Mexico"}],
        "stream": true,
    });
    let resp = post(&b, KEY_A, &turn2).await;
    assert_eq!(resp.status(), 200);
    let events = parse_sse(&resp.text().await.unwrap());
    grammar::check_responses(&events).unwrap();
    let r2 = events.last().unwrap().data["response"].clone();
    let sent = received_bodies(&up, "/v1/chat/completions").await;
    assert_eq!(sent.len(), 2);
    let msgs = sent[1]["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 3, "{}", sent[1]);
    assert_eq!(msgs[0]["content"], full["input"][0]["content"]);
    assert_eq!(msgs[1]["tool_calls"][0]["id"], call_id);
    assert_eq!(msgs[2]["tool_call_id"], call_id);
    assert_eq!(msgs[2]["content"], "Mexico");
    // The streamed turn 2 was stored by `b`; `a` continues from it.
    let turn3 =
        json!({"model": full["model"], "previous_response_id": r2["id"], "input": "Thanks!"});
    post_ok(&a, KEY_A, &turn3).await;
    let sent = received_bodies(&up, "/v1/chat/completions").await;
    let msgs = sent[2]["messages"].as_array().unwrap();
    let roles: Vec<&str> = msgs.iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "tool", "assistant", "user"]);
    assert!(
        msgs[3]["content"].to_string().contains("Hello"),
        "{}",
        msgs[3]
    );
}

#[tokio::test]
async fn previous_response_id_across_two_processes_sharing_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("shared.sqlite").display());
    conversation_across_two_processes(&format!(
        "[storage]\ndatabase_url = \"{url}\"\nflush_interval = \"50ms\"\n"
    ))
    .await;
}

#[tokio::test]
async fn previous_response_id_across_two_processes_sharing_postgres() {
    let pg = runtime_testkit::services::Postgres::start()
        .expect("PostgreSQL (cargo xtask services installs it)");
    conversation_across_two_processes(&format!(
        "[storage]\ndatabase_url = \"{}\"\nflush_interval = \"50ms\"\n",
        pg.url()
    ))
    .await;
}

#[tokio::test]
async fn bad_bodies_get_openai_errors_naming_the_field() {
    let (up, gw) = gw_over_openai(|u| keys_config(u, "")).await;
    for (body, param) in [
        (json!({"input": "hi"}), Some("model")),
        (json!({"model": "mock/gpt-4o-mini"}), Some("input")),
        (
            json!({"model": "mock/gpt-4o-mini", "input": "q", "tools": [{"type": "web_search"}]}),
            Some("tools[0].type"),
        ),
        (
            json!({"model": "mock/gpt-4o-mini", "input": [{"type": "item_reference", "id": "x"}]}),
            Some("input[0].type"),
        ),
        (
            json!({"model": "mock/gpt-4o-mini", "input": "q", "tool_choice": {"type": "function"}}),
            Some("tool_choice.name"),
        ),
        (
            json!({"model": "mock/gpt-4o-mini", "input": "q", "max_output_tokens": -1}),
            Some("max_output_tokens"),
        ),
    ] {
        let v = error_envelope(post(&gw, KEY_A, &body).await, 400).await;
        assert_eq!(v["error"]["param"].as_str(), param, "{body}: {v}");
        assert_eq!(v["error"]["type"], "invalid_request_error");
    }
    assert!(
        received_bodies(&up, "/v1/chat/completions")
            .await
            .is_empty()
    );
}

fn dialect_fixture(name: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../runtime-dialects/tests/fixtures/openai_responses")
        .join(name);
    std::fs::read_to_string(p).unwrap()
}

/// A provider instance with `responses_api = "always"` calls OpenAI's `/v1/responses`
/// natively: an encrypted reasoning item the client sends back reaches the upstream untouched,
/// and the upstream's answer (a recorded Responses body) reaches the client whole.
#[tokio::test]
async fn native_responses_upstream_passes_reasoning_through() {
    let up = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .and(wiremock::matchers::body_partial_json(
            json!({"stream": true}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(fixtures::jsonl_to_sse(
                    &dialect_fixture("text.chunks.jsonl"),
                    false,
                )),
        )
        .with_priority(1)
        .mount(&up)
        .await;
    let answer: Value = serde_json::from_str(&dialect_fixture("tool-call.response.json")).unwrap();
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer.clone()))
        .with_priority(2)
        .mount(&up)
        .await;
    let cfg = format!(
        "[providers.native]\ntype = \"openai\"\nbase_url = \"{}/v1\"\napi_key = \"{UPSTREAM_KEY}\"\nresponses_api = \"always\"\n",
        up.uri()
    );
    let gw = Gw::start(Some(&cfg)).await;
    let replay = fixture_request("reasoning-replay.request.json", "native/gpt-5.1-codex-max");
    let v = post_ok(&gw, "unused", &replay).await;
    let call = &answer["output"][0];
    assert_eq!(v["id"], answer["id"], "an upstream Responses id is kept");
    assert_eq!(v["output"][0]["type"], "function_call", "{v}");
    assert_eq!(v["output"][0]["call_id"], call["call_id"]);
    assert_eq!(v["output"][0]["arguments"], call["arguments"]);
    let sent = received_bodies(&up, "/v1/responses").await;
    assert!(
        received_bodies(&up, "/v1/chat/completions")
            .await
            .is_empty(),
        "nothing went to chat/completions"
    );
    let reasoning = sent[0]["input"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "reasoning")
        .expect("the reasoning item was sent")
        .clone();
    assert_eq!(
        reasoning["encrypted_content"], replay["input"][0]["encrypted_content"],
        "encrypted reasoning passes through untouched"
    );
    assert_eq!(sent[0]["store"], false);
    insta::assert_json_snapshot!("reasoning-replay.responses-openai_responses", sent[0]);

    let resp = post(
        &gw,
        "unused",
        &json!({"model": "native/gpt-5.1", "input": "Say hi", "stream": true}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let events = parse_sse(&resp.text().await.unwrap());
    grammar::check_responses(&events).unwrap();
    let done = &events.last().unwrap().data["response"];
    assert_eq!(events.last().unwrap().event, "response.completed");
    assert!(
        done["output"][0]["content"][0]["text"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "{done}"
    );
    assert!(
        done["usage"]["output_tokens"].as_u64().unwrap() > 0,
        "{done}"
    );
}

#[tokio::test]
async fn a_streamed_native_answer_keeps_its_encrypted_reasoning() {
    // A recorded gpt-5 stream (SwiftAgent's test suite, see the fixture's SOURCES.md): a
    // reasoning item without summary whose `encrypted_content` the client must get, stored and
    // sent back as it came, then a function call.
    let recorded = dialect_fixture("reasoning-tool-call.sse");
    let up = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .and(wiremock::matchers::body_partial_json(
            json!({"stream": true}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_string(recorded.clone()),
        )
        .mount(&up)
        .await;
    let answer: Value = serde_json::from_str(&dialect_fixture("text.response.json")).unwrap();
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .mount(&up)
        .await;
    let cfg = keys_config(
        "http://unused.invalid",
        &format!(
            "[providers.native]\ntype = \"openai\"\nbase_url = \"{}/v1\"\napi_key = \"{UPSTREAM_KEY}\"\nresponses_api = \"always\"\n",
            up.uri()
        ),
    );
    let gw = Gw::start(Some(&cfg)).await;
    // What the upstream said when the item was done.
    let upstream_item = recorded
        .split("\n\n")
        .filter_map(|f| f.lines().find_map(|l| l.strip_prefix("data: ")))
        .map(|d| serde_json::from_str::<Value>(d).unwrap())
        .find(|v| v["type"] == "response.output_item.done" && v["item"]["type"] == "reasoning")
        .unwrap()["item"]
        .clone();
    let enc = upstream_item["encrypted_content"].as_str().unwrap();
    assert!(enc.starts_with("gAAAAABo2TA_9aB"), "{enc}");

    let resp = post(
        &gw,
        KEY_A,
        &json!({"model": "native/gpt-5", "input": "What is the weather in New York City, USA?",
                "stream": true}),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let events = parse_sse(&resp.text().await.unwrap());
    grammar::check_responses(&events).unwrap();
    let item_done = events
        .iter()
        .find(|e| e.event == "response.output_item.done" && e.data["item"]["type"] == "reasoning")
        .expect("a reasoning item");
    assert_eq!(item_done.data["item"]["encrypted_content"], enc);
    let done = &events.last().unwrap().data["response"];
    let kinds: Vec<&str> = done["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["reasoning", "function_call"], "{done}");
    assert_eq!(done["output"][0]["encrypted_content"], enc);
    assert_eq!(
        done["output"][1]["call_id"],
        "call_5dp5Uj0Loqn1YcyIpqSq6sLX"
    );
    // Stored with it, and sent back untouched on the next turn.
    let id = done["id"].as_str().unwrap();
    let stored: Value = get(&gw, KEY_A, id).await.json().await.unwrap();
    assert_eq!(stored["output"][0]["encrypted_content"], enc);
    post_ok(
        &gw,
        KEY_A,
        &json!({"model": "native/gpt-5", "previous_response_id": id,
                "input": [{"type": "function_call_output", "call_id": "call_5dp5Uj0Loqn1YcyIpqSq6sLX",
                           "output": "\"Sunny\""}]}),
    )
    .await;
    let sent = received_bodies(&up, "/v1/responses").await;
    let replayed = sent[1]["input"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["type"] == "reasoning")
        .expect("the reasoning item went back")
        .clone();
    assert_eq!(replayed["encrypted_content"], enc);
}
