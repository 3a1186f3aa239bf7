//! The translation failures agentgateway's users reported, as tests of ours:
//!
//! - #2318 "Anthropic to OpenAI translation not applied": a Messages client (Claude Code) in
//!   front of a vLLM / OpenAI-compatible chat backend must reach it as a real chat request,
//!   and the chat stream must come back in Anthropic's grammar.
//! - #1089 "Output tokens unexpectedly low in metrics" (fixed by #1108 "Fix haiku streaming
//!   token count"): a stream whose last `message_delta` carries `output_tokens` only must keep
//!   both the input count of `message_start` and the final output count.
//! - #3479 (fixed by #3516 "messages to responses better cache control ... inject it in text
//!   content too"): `cache_control` lost when a Messages request is carried to another API.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::grammar::{check_messages, check_responses};
use common::upstream::anthropic_events;
use common::{Sse, fixture, fixture_json, parse_recorded_sse, parse_sse, pretty};
use provider_openai::wire::{ChunkDecoder, MaxTokensField, RequestOptions, chat_request};
use runtime_core::{ChatRequest, ElementRef, StreamAccumulator, StreamEvent};
use runtime_dialects::anthropic_messages::{MessagesStreamEncoder, request as messages};
use runtime_dialects::openai_responses::{ResponsesStreamEncoder, request as responses};
use serde_json::{Value, json};

const A: &str = "anthropic_messages";

fn messages_core(name: &str) -> ChatRequest {
    let body = fixture(A, &format!("{name}.request.json"));
    messages::to_core(&messages::parse(&body).unwrap())
        .unwrap()
        .request
}

/// Every key path of a JSON value (`a.b[0].c` style), for "no Anthropic-only field" checks.
fn keys(v: &Value, path: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                out.push(p.clone());
                keys(v, &p, out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                keys(v, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn issue_2318_a_claude_code_request_reaches_a_vllm_backend_as_a_chat_request() {
    for name in [
        "claude-code",
        "tool-result-followup",
        "thinking-replay",
        "image-url",
    ] {
        let core = messages_core(name);
        let opts = RequestOptions {
            max_tokens_field: MaxTokensField::MaxTokens,
            stream_usage: true,
            reasoning_content: false,
        };
        let body = serde_json::to_value(chat_request(&core, "Qwen/Qwen3-8B", true, opts)).unwrap();
        insta::assert_snapshot!(format!("{name}.messages-openai-chat"), pretty(&body));
        let mut paths = Vec::new();
        keys(&body, "", &mut paths);
        // Nothing of Anthropic's wire shape reaches a chat server…
        for bad in [
            "system",
            "stop_sequences",
            "input_schema",
            "cache_control",
            "tool_use_id",
            "metadata",
        ] {
            assert!(
                !paths
                    .iter()
                    .any(|p| p == bad || p.ends_with(&format!(".{bad}"))),
                "{name}: `{bad}` in {paths:?}"
            );
        }
        let roles: Vec<&str> = body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["role"].as_str().unwrap())
            .collect();
        assert!(
            roles
                .iter()
                .all(|r| ["system", "user", "assistant", "tool"].contains(r))
        );
        for m in body["messages"].as_array().unwrap() {
            if let Some(parts) = m["content"].as_array() {
                for p in parts {
                    let t = p["type"].as_str().unwrap();
                    assert!(["text", "image_url"].contains(&t), "{name}: part {p}");
                }
            }
        }
        for t in body["tools"].as_array().into_iter().flatten() {
            assert_eq!(t["type"], "function");
            assert!(t["function"]["parameters"].is_object());
        }
        assert!(body["max_tokens"].is_u64(), "{name}");
    }
    // …except `thinking`, which provider-openai still forwards as an unknown extra field:
    // pinned here so mapping it (to `reasoning_effort` / a template flag) is a visible change.
    let core = messages_core("thinking-replay");
    let body = serde_json::to_value(chat_request(
        &core,
        "Qwen/Qwen3-8B",
        false,
        RequestOptions::default(),
    ))
    .unwrap();
    assert_eq!(
        body["thinking"],
        json!({"type": "enabled", "budget_tokens": 10000})
    );
}

fn chat_stream_events(name: &str) -> Vec<StreamEvent> {
    let raw = String::from_utf8(fixture("upstream_chat", &format!("{name}.sse"))).unwrap();
    let mut dec = ChunkDecoder::new("vllm", "qwen");
    let mut out = Vec::new();
    for line in raw.lines() {
        if let Some(data) = line.strip_prefix("data:") {
            dec.decode(data.trim(), &mut out).unwrap();
        }
    }
    dec.end(&mut out).unwrap();
    assert!(!out.is_empty(), "{name}");
    out
}

/// The final message a client folds from a Messages stream (text, tool inputs, usage).
fn fold_messages(events: &[Sse]) -> (String, Vec<(String, Value)>, Value, Value) {
    let mut text = String::new();
    let mut tools: Vec<(String, String)> = Vec::new();
    let mut usage = Value::Null;
    let mut stop = Value::Null;
    for e in events {
        let d = &e.data;
        match d["type"].as_str().unwrap() {
            "message_start" => usage = d["message"]["usage"].clone(),
            "content_block_start" if d["content_block"]["type"] == "tool_use" => tools.push((
                d["content_block"]["name"].as_str().unwrap().to_owned(),
                String::new(),
            )),
            "content_block_delta" => match d["delta"]["type"].as_str().unwrap() {
                "text_delta" => text.push_str(d["delta"]["text"].as_str().unwrap()),
                "input_json_delta" => tools
                    .last_mut()
                    .unwrap()
                    .1
                    .push_str(d["delta"]["partial_json"].as_str().unwrap()),
                _ => {}
            },
            "message_delta" => {
                stop = d["delta"]["stop_reason"].clone();
                for (k, v) in d["usage"].as_object().unwrap() {
                    usage[k] = v.clone();
                }
            }
            _ => {}
        }
    }
    let tools = tools
        .into_iter()
        .map(|(n, j)| (n, serde_json::from_str(&j).unwrap_or(Value::Null)))
        .collect();
    (text, tools, usage, stop)
}

#[test]
fn issue_2318_a_chat_stream_comes_back_in_anthropics_grammar() {
    for name in [
        "openai-tool-call-split-args-usage",
        "llamacpp-two-tool-calls",
    ] {
        let core = chat_stream_events(name);
        let mut acc = StreamAccumulator::default();
        for e in &core {
            acc.push(e.clone());
        }
        let folded = acc.finish();
        let mut enc = MessagesStreamEncoder::new("msg_gw", "qwen");
        let mut out = Vec::new();
        for e in core {
            enc.event(e, &mut out);
        }
        enc.finish(&mut out);
        let events = parse_sse(&out).unwrap();
        check_messages(&events).unwrap_or_else(|e| panic!("{name}: {e}"));
        insta::assert_snapshot!(
            format!("{name}.chat-messages-stream"),
            common::render(&events)
        );
        let (_, tools, usage, stop) = fold_messages(&events);
        assert_eq!(stop, "tool_use", "{name}");
        let want: Vec<(String, Value)> = folded
            .message
            .tool_calls
            .iter()
            .map(|c| {
                (
                    c.function.name.clone(),
                    serde_json::from_str(&c.function.arguments).unwrap(),
                )
            })
            .collect();
        assert_eq!(tools, want, "{name}");
        if let Some(u) = folded.usage {
            assert_eq!(
                usage["input_tokens"],
                json!(u.prompt_tokens - u.cached_prompt_tokens)
            );
            assert_eq!(usage["output_tokens"], json!(u.completion_tokens));
        }
    }
}

#[test]
fn issue_1089_a_final_delta_without_input_tokens_keeps_both_counts() {
    // anthropic-sdk-python's basic stream: message_start says input 11, the final
    // message_delta carries only `output_tokens: 6`.
    let recorded = parse_recorded_sse(&fixture(A, "stream-basic.sse"));
    assert!(
        recorded
            .iter()
            .any(|e| e.event == "message_delta" && e.data["usage"].get("input_tokens").is_none())
    );
    let core = anthropic_events(&recorded, "claude-3-opus");
    let mut acc = StreamAccumulator::default();
    for e in &core {
        acc.push(e.clone());
    }
    let usage = acc.usage().unwrap();
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.total_tokens
        ),
        (11, 6, 17),
        "the usage the metering layer records"
    );

    // A Messages client folds the same counts…
    let mut enc = MessagesStreamEncoder::new("msg_gw", "claude");
    let mut out = Vec::new();
    for e in core.clone() {
        enc.event(e, &mut out);
    }
    enc.finish(&mut out);
    let (text, _, u, _) = fold_messages(&parse_sse(&out).unwrap());
    assert_eq!(text, "Hello there!");
    assert_eq!(
        (&u["input_tokens"], &u["output_tokens"]),
        (&json!(11), &json!(6))
    );

    // …and so does a Responses client.
    let req = responses::parse(br#"{"model":"claude","stream":true}"#).unwrap();
    let mut enc = ResponsesStreamEncoder::new(&req, "gw", 1);
    let mut out = Vec::new();
    for e in core {
        enc.event(e, &mut out);
    }
    enc.finish(&mut out);
    let events = parse_sse(&out).unwrap();
    check_responses(&events).unwrap();
    let usage = &events.last().unwrap().data["response"]["usage"];
    assert_eq!(
        (
            &usage["input_tokens"],
            &usage["output_tokens"],
            &usage["total_tokens"]
        ),
        (&json!(11), &json!(6), &json!(17))
    );

    // A final delta that does carry input_tokens replaces the start's (43 → 61).
    let recorded = common::parse_chunks(&fixture(A, "stream-delta-input-tokens.chunks.jsonl"));
    let mut acc = StreamAccumulator::default();
    for e in anthropic_events(&recorded, "claude") {
        acc.push(e);
    }
    assert_eq!(acc.usage().unwrap().prompt_tokens, 61);
}

/// Every `cache_control` object of a JSON body, with its path.
fn cache_marks(v: &Value, path: &str, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let p = format!("{path}/{k}");
                if k == "cache_control" {
                    out.push((path.to_owned(), v.clone()));
                } else {
                    cache_marks(v, &p, out);
                }
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                cache_marks(v, &format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn issue_3479_every_cache_breakpoint_survives_into_core() {
    for name in ["claude-code", "prompt-cache"] {
        let original = fixture_json(A, &format!("{name}.request.json"));
        let mut marks = Vec::new();
        cache_marks(&original, "", &mut marks);
        let core = messages_core(name);
        let carried: Vec<Value> = core
            .element_extras
            .iter()
            .filter_map(|e| e.cache_control.as_ref())
            .map(|m| serde_json::to_value(m).unwrap())
            .collect();
        assert_eq!(
            carried,
            marks.iter().map(|(_, m)| m.clone()).collect::<Vec<_>>(),
            "{name}: every breakpoint, in order, ttl included"
        );
        assert!(!marks.is_empty());
    }
    // The Claude Code breakpoints sit on text content (system blocks and the last user text
    // block), where #3516 had to add them.
    let core = messages_core("claude-code");
    let at: Vec<ElementRef> = core.element_extras.iter().map(|e| e.at).collect();
    assert_eq!(
        at,
        [
            ElementRef::Part {
                message: 0,
                part: 0
            },
            ElementRef::Part {
                message: 0,
                part: 1
            },
            ElementRef::Part {
                message: 1,
                part: 1
            },
        ]
    );
    // A Responses client's breakpoint on `input_text` (LiteLLM's convention, BerriAI/litellm
    // #27950) is carried the same way, ttl included.
    let body = fixture("openai_responses", "cache-control-input-text.request.json");
    let core = responses::to_core(&responses::parse(&body).unwrap())
        .unwrap()
        .request;
    let e = core
        .element_extra(ElementRef::Part {
            message: 0,
            part: 0,
        })
        .unwrap();
    assert_eq!(
        serde_json::to_value(e.cache_control.as_ref().unwrap()).unwrap(),
        json!({"type": "ephemeral", "ttl": "1h"})
    );
    // …and never reaches a chat upstream's body.
    let chat =
        serde_json::to_value(chat_request(&core, "m", false, RequestOptions::default())).unwrap();
    let mut leaked = Vec::new();
    cache_marks(&chat, "", &mut leaked);
    assert!(leaked.is_empty(), "{leaked:?}");
}
