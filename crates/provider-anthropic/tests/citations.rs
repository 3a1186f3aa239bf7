//! An answer's citations come back into core (issue 15): the text blocks' `citations` of a
//! whole answer and the `citations_delta` events of a stream become
//! `meta.annotations["citations"]` (`[{"start", "end", "citations"}]`, byte spans of the joined
//! answer text), which the gateway's `/v1/messages` writes back on the cited text blocks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use provider_anthropic::wire::{MessagesResponse, parse_response};
use runtime_core::annotation;
use serde_json::{Value, json};

/// The `citations` answer of `runtime-dialects`' Messages fixtures (Anthropic's API
/// reference example; see that directory's SOURCES.md).
const CITED_ANSWER: &str = include_str!(
    "../../runtime-dialects/tests/fixtures/anthropic_messages/citations.response.json"
);

#[test]
fn a_whole_answers_citations_are_kept_with_their_text_span() {
    let raw: Value = serde_json::from_str(CITED_ANSWER).unwrap();
    let body: MessagesResponse = serde_json::from_value(raw.clone()).unwrap();
    let r = parse_response(body, "anthropic", "m", None);
    assert_eq!(r.message.text().as_deref(), Some("Hi! My name is Claude."));
    assert_eq!(
        r.meta.annotations[annotation::CITATIONS],
        json!([{"start": 0, "end": 22, "citations": raw["content"][0]["citations"]}])
    );
}

#[test]
fn text_without_citations_has_no_annotation() {
    let body: MessagesResponse = serde_json::from_value(json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
        "content": [{"type": "text", "text": "plain", "citations": null}],
        "stop_reason": "end_turn", "usage": {"input_tokens": 1, "output_tokens": 1}
    }))
    .unwrap();
    let r = parse_response(body, "anthropic", "m", None);
    assert!(!r.meta.annotations.contains_key(annotation::CITATIONS));
}

/// The event sequence of the Anthropic C# SDK's streaming-aggregation test
/// (anthropics/anthropic-sdk-csharp, src/Anthropic.Tests,
/// `CreateStreamingAggregation_TextBlockAccumulatesCitationDeltasInOrder`: a `char_location`
/// and a `web_search_result_location` citation around a text delta), after an uncited text
/// block so the span does not start at 0.
fn cited_stream() -> Vec<u8> {
    let events = [
        r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":10,"output_tokens":1}}}"#,
        r#"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Intro. "}}"#,
        r#"{"type":"content_block_stop","index":0}"#,
        r#"{"type":"content_block_start","index":1,"content_block":{"type":"text","text":"","citations":[]}}"#,
        r#"{"type":"content_block_delta","index":1,"delta":{"type":"citations_delta","citation":{"type":"char_location","cited_text":"The grass is green. ","document_index":0,"document_title":"Nature Facts","file_id":null,"start_char_index":0,"end_char_index":20}}}"#,
        r#"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Hello"}}"#,
        r#"{"type":"content_block_delta","index":1,"delta":{"type":"citations_delta","citation":{"type":"web_search_result_location","cited_text":"Mild summers.","encrypted_index":"Eo8B","title":"Paris climate","url":"https://example.com/paris"}}}"#,
        r#"{"type":"content_block_stop","index":1}"#,
        r#"{"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":5}}"#,
        r#"{"type":"message_stop"}"#,
    ];
    let mut out = String::new();
    for e in events {
        let v: Value = serde_json::from_str(e).unwrap();
        out.push_str(&format!(
            "event: {}\ndata: {e}\n\n",
            v["type"].as_str().unwrap()
        ));
    }
    out.into_bytes()
}

#[test]
fn a_streams_citations_deltas_become_the_same_annotation() {
    let (r, err) = common::fold_chunks(&[cited_stream()]);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(r.message.text().as_deref(), Some("Intro. Hello"));
    let spans = &r.meta.annotations[annotation::CITATIONS];
    assert_eq!(spans[0]["start"], 7);
    assert_eq!(spans[0]["end"], 12);
    let kinds: Vec<&str> = spans[0]["citations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["char_location", "web_search_result_location"]);
    assert_eq!(spans.as_array().unwrap().len(), 1);
}
