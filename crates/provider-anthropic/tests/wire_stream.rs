//! The stream decoder against the recorded fixtures, at every byte boundary.
#![allow(
    clippy::result_large_err,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod common;

use std::collections::HashMap;

use common::{STREAM_FIXTURES, build, fold_chunks, fold_chunks_with, fold_fixture};
use provider_anthropic::wire::{EventDecoder, MessagesResponse, parse_response};
use runtime_core::{ChatRequest, Error, FinishReason, Message, StreamEvent, Usage};
use runtime_testkit::fixtures;
use serde_json::{Value, json};

#[test]
fn every_stream_fixture_folds_the_same_at_every_byte_boundary() {
    std::thread::scope(|scope| {
        for half in STREAM_FIXTURES.chunks(STREAM_FIXTURES.len().div_ceil(2)) {
            scope.spawn(move || {
                for name in half {
                    let bytes = common::sse_bytes(name);
                    let (whole, whole_err) = fold_fixture(name);
                    let whole_err = whole_err.map(|e| e.to_string());
                    let mut parsed = HashMap::new();
                    for pieces in fixtures::rechunkings(&bytes, 20) {
                        let (got, err) = fold_chunks_with(&pieces, &mut parsed);
                        assert_eq!(got, whole, "{name}");
                        assert_eq!(err.map(|e| e.to_string()), whole_err, "{name}");
                    }
                }
            });
        }
    });
}

#[test]
fn stream_basic_and_ping_padding() {
    let (r, e) = fold_fixture("stream-basic.sse");
    assert!(e.is_none());
    assert_eq!(r.message.text().as_deref(), Some("Hello there!"));
    assert_eq!(r.id, "msg_4QpJur2dWWDjF6C758FbBw5vm12BaVipnK");
    assert_eq!(r.model, "claude-3-opus-latest");
    assert_eq!(r.usage, Some(Usage::new(11, 6)));
    assert_eq!(r.finish_reason, FinishReason::Stop);

    let (r, e) = fold_fixture("stream-text-ping-padding.response.sse");
    assert!(e.is_none());
    assert_eq!(r.message.text().as_deref(), Some("2"));
    assert_eq!(r.usage, Some(Usage::new(20, 5)));
    assert_eq!(r.model, "claude-sonnet-4-5-20250929");
}

#[test]
fn stream_tool_use_and_no_args() {
    let (r, e) = fold_fixture("stream-tool-use.sse");
    assert!(e.is_none());
    assert_eq!(
        r.message.text().as_deref(),
        Some("I'll check the current weather in Paris for you.")
    );
    let c = &r.message.tool_calls[0];
    assert_eq!(
        (c.id.as_str(), c.function.name.as_str()),
        ("toolu_01NRLabsLyVHZPKxbKvkfSMn", "get_weather")
    );
    assert_eq!(c.function.arguments, r#"{"location": "Paris"}"#);
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    assert_eq!(r.usage, Some(Usage::new(377, 65)));

    let (r, e) = fold_fixture("stream-tool-no-args.chunks.jsonl");
    assert!(e.is_none());
    let c = &r.message.tool_calls[0];
    assert_eq!(c.function.name, "updateIssueList");
    assert_eq!(c.function.arguments, "{}");
    assert_eq!(
        r.message.text().as_deref(),
        Some("I'll update the issue list for you.")
    );

    let (r, e) = fold_fixture("stream-json-tool-ping-between-deltas.chunks.jsonl");
    assert!(e.is_none());
    let args: Value = serde_json::from_str(&r.message.tool_calls[0].function.arguments).unwrap();
    assert_eq!(args["elements"][0]["temperature"], json!(58));
    assert_eq!(r.usage, Some(Usage::new(849, 47)));
}

#[test]
fn stream_incomplete_tool_input_is_kept_with_finish_length() {
    let (r, e) = fold_fixture("stream-incomplete-partial-json.sse");
    assert!(e.is_none());
    assert_eq!(r.finish_reason, FinishReason::Length);
    let c = &r.message.tool_calls[0];
    assert_eq!(c.function.name, "make_file");
    assert!(
        c.function
            .arguments
            .starts_with(r#"{"filename": "taxes.txt""#)
    );
    assert!(c.function.arguments.ends_with("\n\"Filing taxes"));
    assert!(serde_json::from_str::<Value>(&c.function.arguments).is_err());
}

#[test]
fn stream_thinking_signature_and_usage() {
    let (r, e) = fold_fixture("stream-thinking.response.sse");
    assert!(e.is_none());
    assert_eq!(r.message.reasoning.len(), 1);
    let b = &r.message.reasoning[0];
    assert!(
        b.text
            .as_deref()
            .unwrap()
            .starts_with("This is a straightforward")
    );
    assert!(
        b.signature
            .as_deref()
            .unwrap()
            .starts_with("EvMCCkYICxgCKkCHP2cS")
    );
    assert!(
        r.message
            .text()
            .unwrap()
            .ends_with("when crossing streets.")
    );
    assert_eq!(r.usage, Some(Usage::new(43, 282)));
    // The thinking block goes back signed in the next turn.
    let next = ChatRequest::new(
        "claude-sonnet-4-0",
        vec![Message::user("q"), Message::Assistant(r.message.clone())],
    );
    let body = build(&next).unwrap();
    assert_eq!(body["messages"][1]["content"][0]["type"], json!("thinking"));
    assert_eq!(
        body["messages"][1]["content"][0]["signature"].as_str(),
        b.signature.as_deref()
    );
}

#[test]
fn stream_refusal_and_message_delta_usage_overwrite() {
    let (r, e) = fold_fixture("stream-refusal.chunks.jsonl");
    assert!(e.is_none());
    assert_eq!(r.finish_reason, FinishReason::ContentFilter);
    assert!(
        r.message
            .refusal
            .as_deref()
            .unwrap()
            .contains("Usage Policy")
    );
    assert_eq!(r.message.content, None);
    assert_eq!(r.usage, Some(Usage::new(18, 5)));

    let (r, e) = fold_fixture("stream-message-delta-input-tokens.chunks.jsonl");
    assert!(e.is_none());
    assert_eq!(r.message.text().as_deref(), Some("pong"));
    // message_delta's input_tokens (61) replaces message_start's (43); nothing is added.
    assert_eq!(r.usage, Some(Usage::new(61, 2)));
}

#[test]
fn error_event_mid_stream_is_a_typed_stream_error() {
    let mut d = EventDecoder::new("anthropic", "m");
    let mut out = Vec::new();
    d.decode(
        r#"{"type":"message_start","message":{"id":"msg_1","model":"m","usage":{"input_tokens":5,"output_tokens":1}}}"#,
        &mut out,
    )
    .unwrap();
    let e = d
        .decode(
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_9"}"#,
            &mut out,
        )
        .unwrap_err();
    assert!(
        matches!(&e, Error::Stream { transient: true, content_sent: false, error_type: Some(t), .. } if t == "overloaded_error"),
        "{e:?}"
    );
    assert!(e.is_retryable());

    let mut d = EventDecoder::new("anthropic", "m");
    let mut out = Vec::new();
    for data in [
        r#"{"type":"message_start","message":{"id":"msg_1","model":"m"}}"#,
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}"#,
    ] {
        d.decode(data, &mut out).unwrap();
    }
    let e = d
        .decode(
            r#"{"type":"error","error":{"type":"api_error","message":"Internal"}}"#,
            &mut out,
        )
        .unwrap_err();
    assert!(matches!(
        e,
        Error::Stream {
            transient: true,
            content_sent: true,
            ..
        }
    ));
    assert!(!e.is_retryable(), "content already reached the caller");
    let e = EventDecoder::new("anthropic", "m")
        .decode(
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}"#,
            &mut out,
        )
        .unwrap_err();
    assert!(matches!(
        e,
        Error::Stream {
            transient: false,
            ..
        }
    ));
}

#[test]
fn truncated_stream_is_an_error_and_events_are_typed() {
    let bytes = common::sse_bytes("stream-basic.sse");
    let cut = String::from_utf8_lossy(&bytes).find("\" there\"").unwrap();
    let (r, e) = fold_chunks(&[bytes[..cut].to_vec()]);
    assert_eq!(r.message.text().as_deref(), Some("Hello"));
    assert!(
        matches!(
            e,
            Some(Error::Stream {
                transient: true,
                content_sent: true,
                ..
            })
        ),
        "{e:?}"
    );
    assert_eq!(r.finish_reason, FinishReason::Other("incomplete".into()));

    let mut d = EventDecoder::new("anthropic", "m");
    let mut out = Vec::new();
    d.decode(
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"redacted_thinking","data":"ENC"}}"#,
        &mut out,
    )
    .unwrap();
    d.decode(
        r#"{"type":"content_block_start","index":1,"content_block":{"type":"thinking","thinking":"","signature":""}}"#,
        &mut out,
    )
    .unwrap();
    d.decode(
        r#"{"type":"content_block_delta","index":1,"delta":{"type":"citations_delta","citation":{}}}"#,
        &mut out,
    )
    .unwrap();
    d.decode(r#"{"type":"some_future_event"}"#, &mut out)
        .unwrap();
    d.decode(
        r#"{"type":"content_block_start","index":2,"content_block":{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}}"#,
        &mut out,
    )
    .unwrap();
    d.decode(
        r#"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"query\": \"x\"}"}}"#,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        out,
        vec![StreamEvent::RedactedReasoning { data: "ENC".into() }]
    );
    assert!(matches!(
        d.decode("{\"type\":", &mut out),
        Err(Error::Decode { .. })
    ));
    assert!(matches!(
        d.decode(
            r#"{"type":"content_block_delta","index":7,"delta":{"type":"input_json_delta","partial_json":"{"}}"#,
            &mut out
        ),
        Err(Error::Decode { .. })
    ));
}

#[test]
fn a_matched_stop_sequence_is_kept_in_streams_as_in_whole_answers() {
    let events = [
        json!({"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
            "model": "claude-test", "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 5, "output_tokens": 1}}}),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "one two"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "message_delta", "delta": {"stop_reason": "stop_sequence", "stop_sequence": "three"},
            "usage": {"output_tokens": 3}}),
        json!({"type": "message_stop"}),
    ];
    let sse: String = events
        .iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
        .collect();
    let (streamed, err) = fold_chunks(&[sse.into_bytes()]);
    assert!(err.is_none(), "{err:?}");
    let whole: MessagesResponse = serde_json::from_value(json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test",
        "content": [{"type": "text", "text": "one two"}],
        "stop_reason": "stop_sequence", "stop_sequence": "three",
        "usage": {"input_tokens": 5, "output_tokens": 3}
    }))
    .unwrap();
    let whole = parse_response(whole, "anthropic", "m", None);
    assert_eq!(streamed.meta.annotations["stop_sequence"], "three");
    assert_eq!(streamed.meta.annotations, whole.meta.annotations);
    assert_eq!(streamed.finish_reason, whole.finish_reason);
}
