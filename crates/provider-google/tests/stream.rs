//! Every recorded Gemini stream, decoded through the shared SSE decoder and the Gemini decoder:
//! re-chunked at every byte boundary it folds to the same answer as delivered whole, and that
//! answer is the one the equivalent non-streamed body gives.
#![allow(clippy::unwrap_used, clippy::panic, clippy::result_large_err)]

mod common;

use common::{DIR, fold_pieces, jsonl_as_gemini_sse};
use provider_google::wire;
use runtime_core::{ChatRequest, ChatResponse, Error, FinishReason, Message, Usage};
use runtime_testkit::fixtures;
use serde_json::{Value, json};

/// The stream bodies: (fixture, model, body bytes).
fn streams() -> Vec<(&'static str, &'static str, Vec<u8>)> {
    vec![
        (
            "stream-sse-crlf.response.sse",
            "gemini-2.0-flash-exp",
            fixtures::bytes(DIR, "stream-sse-crlf.response.sse"),
        ),
        (
            "stream-function-call-thought-signature.response.sse",
            "gemini-3-pro-preview",
            fixtures::bytes(DIR, "stream-function-call-thought-signature.response.sse"),
        ),
        (
            "stream-tool-call.chunks.jsonl",
            "gemini-3-pro-preview",
            jsonl_as_gemini_sse("stream-tool-call.chunks.jsonl"),
        ),
        (
            "stream-tool-call-array-args-missing-terminal.chunks.jsonl",
            "gemini-3-flash-preview",
            jsonl_as_gemini_sse("stream-tool-call-array-args-missing-terminal.chunks.jsonl"),
        ),
    ]
}

#[test]
fn rechunked_streams_fold_like_whole_ones() {
    for (name, model, body) in streams() {
        let whole = fold_pieces(std::slice::from_ref(&body), model).unwrap();
        let stem = name.split('.').next().unwrap();
        insta::assert_json_snapshot!(format!("stream__{stem}"), whole);
        for pieces in fixtures::rechunkings(&body, 64) {
            let got = fold_pieces(&pieces, model).unwrap();
            assert_eq!(
                got,
                whole,
                "{name}: cut as {:?}",
                pieces.iter().map(Vec::len).collect::<Vec<_>>()
            );
        }
        // LF framing (as the jsonl fixtures were stored) decodes the same.
        let lf = String::from_utf8(body).unwrap().replace("\r\n", "\n");
        assert_eq!(
            fold_pieces(&[lf.into_bytes()], model).unwrap(),
            whole,
            "{name} (LF)"
        );
    }
}

fn equivalent(name: &str, model: &str) -> ChatResponse {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let body: wire::GenerateContentResponse =
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut r = wire::parse_generate(body, "google", model).unwrap();
    r.meta = Default::default();
    r
}

#[test]
fn streams_equal_their_whole_answers() {
    let s = fold_pieces(
        &[fixtures::bytes(DIR, "stream-sse-crlf.response.sse")],
        "gemini-2.0-flash-exp",
    )
    .unwrap();
    assert_eq!(
        s,
        equivalent("stream-sse-crlf.equivalent.json", "gemini-2.0-flash-exp")
    );
    let s = fold_pieces(
        &[fixtures::bytes(
            DIR,
            "stream-function-call-thought-signature.response.sse",
        )],
        "gemini-3-pro-preview",
    )
    .unwrap();
    assert_eq!(
        s,
        equivalent(
            "stream-function-call-thought-signature.equivalent.json",
            "gemini-3-pro-preview"
        )
    );
}

#[test]
fn crlf_text_stream() {
    let r = fold_pieces(&[fixtures::bytes(DIR, "stream-sse-crlf.response.sse")], "m").unwrap();
    assert_eq!(
        r.message.text().as_deref(),
        Some("The capital of France is Paris.\n")
    );
    assert_eq!(r.finish_reason, FinishReason::Stop);
    assert_eq!(
        (r.id.as_str(), r.model.as_str()),
        ("w1peaMz6INOvnvgPgYfPiQY", "gemini-2.0-flash-exp")
    );
    // usageMetadata is cumulative: the last one counts.
    assert_eq!(r.usage, Some(Usage::new(13, 8)));
}

fn first_signature(jsonl_or_sse: &str) -> String {
    let line = jsonl_or_sse
        .lines()
        .find(|l| l.contains("thoughtSignature"))
        .unwrap();
    let v: Value = serde_json::from_str(line.trim_start_matches("data:").trim()).unwrap();
    v["candidates"][0]["content"]["parts"][0]["thoughtSignature"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn function_call_streams_keep_signatures_and_ids() {
    let text = fixtures::text(DIR, "stream-function-call-thought-signature.response.sse");
    let r = fold_pieces(&[text.clone().into_bytes()], "m").unwrap();
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    let c = &r.message.tool_calls[0];
    assert_eq!(
        (
            c.id.as_str(),
            c.function.name.as_str(),
            c.function.arguments.as_str()
        ),
        ("call_0", "get_country", "{}")
    );
    assert_eq!(
        c.thought_signature.as_deref(),
        Some(first_signature(&text).as_str())
    );
    let u = r.usage.unwrap();
    assert_eq!(
        (
            u.prompt_tokens,
            u.completion_tokens,
            u.reasoning_tokens,
            u.total_tokens
        ),
        (29, 212, 202, 241)
    );
    assert!(r.message.content.is_none() && r.message.reasoning.is_empty());

    let text = fixtures::text(DIR, "stream-tool-call.chunks.jsonl");
    let r = fold_pieces(&[jsonl_as_gemini_sse("stream-tool-call.chunks.jsonl")], "m").unwrap();
    let c = &r.message.tool_calls[0];
    assert_eq!(c.function.name, "weather");
    assert_eq!(
        serde_json::from_str::<Value>(&c.function.arguments).unwrap(),
        json!({"location": "San Francisco"})
    );
    assert_eq!(
        c.thought_signature.as_deref(),
        Some(first_signature(&text).as_str())
    );
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
}

#[test]
fn streamed_arguments_are_assembled() {
    let name = "stream-tool-call-array-args-missing-terminal.chunks.jsonl";
    let r = fold_pieces(&[jsonl_as_gemini_sse(name)], "m").unwrap();
    assert_eq!(r.message.tool_calls.len(), 1);
    let c = &r.message.tool_calls[0];
    assert_eq!(c.function.name, "writeItems");
    assert_eq!(
        serde_json::from_str::<Value>(&c.function.arguments).unwrap(),
        json!({"operations": [
            {"action": "add", "description": "Fresh red apple", "itemid": "apple_001", "price": 0.5},
            {"action": "add", "description": "Ripe yellow banana", "itemid": "banana_001", "price": 0.3}
        ]})
    );
    assert_eq!(
        c.thought_signature.as_deref(),
        Some(first_signature(&fixtures::text(DIR, name)).as_str())
    );
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    let u = r.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (54, 195, 249)
    );
}

fn sse(chunks: &[Value]) -> Vec<u8> {
    chunks
        .iter()
        .map(|c| format!("data: {c}\r\n\r\n"))
        .collect::<String>()
        .into_bytes()
}

#[test]
fn stream_failures_are_typed() {
    // A blocked prompt.
    let body = sse(&[
        json!({"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 3}}),
    ]);
    assert!(matches!(
        fold_pieces(&[body], "m"),
        Err(Error::ContentFiltered { .. })
    ));
    // A malformed function call after some text: not retryable, content already sent.
    let body = sse(&[
        json!({"candidates": [{"content": {"parts": [{"text": "Let me"}], "role": "model"}}]}),
        json!({"candidates": [{"content": {}, "finishReason": "MALFORMED_FUNCTION_CALL"}]}),
    ]);
    let e = fold_pieces(&[body], "m").unwrap_err();
    assert!(
        matches!(
            e,
            Error::Stream {
                content_sent: true,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(!e.is_retryable());
    // An error event inside the stream.
    let body = sse(&[
        json!({"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}}),
    ]);
    let e = fold_pieces(&[body], "m").unwrap_err();
    assert!(
        matches!(&e, Error::Stream { error_type: Some(t), .. } if t == "UNAVAILABLE"),
        "{e:?}"
    );
    assert!(e.is_retryable());
    // A stream cut before the finish reason.
    let mut body = fixtures::bytes(DIR, "stream-sse-crlf.response.sse");
    body.truncate(body.len() / 2);
    let e = fold_pieces(&[body], "m").unwrap_err();
    assert!(
        matches!(
            e,
            Error::Stream {
                transient: true,
                content_sent: true,
                ..
            }
        ),
        "{e:?}"
    );
    // Image output cannot be carried.
    let body = sse(&[
        json!({"candidates": [{"content": {"parts": [{"inlineData": {"mimeType": "image/png", "data": "AA=="}}]}, "finishReason": "STOP"}]}),
    ]);
    assert!(matches!(
        fold_pieces(&[body], "m"),
        Err(Error::Unsupported { .. })
    ));
}

#[test]
fn thought_parts_stream_into_reasoning() {
    let body = sse(&[
        json!({"candidates": [{"content": {"parts": [{"text": "Think", "thought": true}], "role": "model"}}], "responseId": "r"}),
        json!({"candidates": [{"content": {"parts": [{"text": "ing.", "thought": true}], "role": "model"}}], "responseId": "r"}),
        json!({"candidates": [{"content": {"parts": [{"text": "Answer", "thoughtSignature": "c2ln"}], "role": "model"}, "finishReason": "STOP"}],
               "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 1, "thoughtsTokenCount": 3, "cachedContentTokenCount": 2, "totalTokenCount": 8},
               "responseId": "r"}),
    ]);
    let r = fold_pieces(&[body], "m").unwrap();
    assert_eq!(r.message.reasoning_text().as_deref(), Some("Thinking."));
    assert_eq!(r.message.reasoning[0].signature.as_deref(), Some("c2ln"));
    assert_eq!(r.message.text().as_deref(), Some("Answer"));
    let u = r.usage.unwrap();
    assert_eq!(
        (
            u.prompt_tokens,
            u.completion_tokens,
            u.cached_prompt_tokens,
            u.reasoning_tokens,
            u.total_tokens
        ),
        (4, 4, 2, 3, 8)
    );
}

#[test]
fn usage_after_the_finish_replaces_the_earlier_one() {
    let body = sse(&[
        json!({"candidates": [{"content": {"parts": [{"text": "hi"}], "role": "model"}, "finishReason": "STOP"}],
               "usageMetadata": {"promptTokenCount": 3, "totalTokenCount": 3}}),
        json!({"usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4}}),
    ]);
    let r = fold_pieces(&[body], "m").unwrap();
    assert_eq!(r.usage, Some(Usage::new(3, 1)));
    assert_eq!(r.finish_reason, FinishReason::Stop);
}

#[test]
fn signature_on_a_final_empty_part_matches_the_whole_answer() {
    // Gemini 2.5 streams may put the signature on an empty text part of the last chunk.
    let chunks = [
        json!({"candidates": [{"content": {"parts": [{"text": "plan", "thought": true}], "role": "model"}}], "responseId": "r", "modelVersion": "gemini-2.5-flash"}),
        json!({"candidates": [{"content": {"parts": [{"text": "Hello"}], "role": "model"}}], "responseId": "r", "modelVersion": "gemini-2.5-flash"}),
        json!({"candidates": [{"content": {"parts": [{"text": "", "thoughtSignature": "c2ln"}], "role": "model"}, "finishReason": "STOP"}],
               "usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 1, "thoughtsTokenCount": 4, "totalTokenCount": 7},
               "responseId": "r", "modelVersion": "gemini-2.5-flash"}),
    ];
    let streamed = fold_pieces(&[sse(&chunks)], "m").unwrap();
    let whole: wire::GenerateContentResponse = serde_json::from_value(json!({
        "candidates": [{"content": {"parts": [
            {"text": "plan", "thought": true}, {"text": "Hello"}, {"text": "", "thoughtSignature": "c2ln"}
        ], "role": "model"}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 1, "thoughtsTokenCount": 4, "totalTokenCount": 7},
        "responseId": "r", "modelVersion": "gemini-2.5-flash"
    }))
    .unwrap();
    let mut whole = wire::parse_generate(whole, "google", "m").unwrap();
    whole.meta = Default::default();
    assert_eq!(streamed, whole);
    assert_eq!(
        streamed.message.reasoning[0].signature.as_deref(),
        Some("c2ln")
    );
    // Sent back, the signature rides on the answer text.
    let mut next = ChatRequest::new("gemini-2.5-flash", vec![Message::user("q")]);
    next.messages.push(Message::Assistant(streamed.message));
    let b = common::body_of(&next);
    assert_eq!(
        b["contents"][1]["parts"],
        json!([{"text": "plan", "thought": true}, {"text": "Hello", "thoughtSignature": "c2ln"}])
    );
}

#[test]
fn a_stream_keeps_the_same_annotations_as_the_whole_answer() {
    let rating = |p: &str| json!([{"category": "HARM_CATEGORY_HARASSMENT", "probability": p}]);
    let chunks = [
        json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": "Par"}]},
                            "index": 0, "safetyRatings": rating("NEGLIGIBLE")}],
            "promptFeedback": {"safetyRatings": rating("NEGLIGIBLE")},
            "modelVersion": "gemini-2.0-flash", "responseId": "r1"
        }),
        json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": "is"}]},
                            "index": 0, "finishReason": "STOP", "safetyRatings": rating("LOW"),
                            "citationMetadata": {"citationSources": [{"uri": "https://example.org"}]}}],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5},
            "modelVersion": "gemini-2.0-flash", "responseId": "r1"
        }),
    ];
    let sse: String = chunks
        .iter()
        .map(|c| format!("data: {c}\r\n\r\n"))
        .collect();
    let streamed = fold_pieces(&[sse.into_bytes()], "gemini-2.0-flash").unwrap();
    // The whole answer: the text joined, the last chunk's ratings and citations.
    let whole = json!({
        "candidates": [{"content": {"role": "model", "parts": [{"text": "Paris"}]},
                        "index": 0, "finishReason": "STOP", "safetyRatings": rating("LOW"),
                        "citationMetadata": {"citationSources": [{"uri": "https://example.org"}]}}],
        "promptFeedback": {"safetyRatings": rating("NEGLIGIBLE")},
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5},
        "modelVersion": "gemini-2.0-flash", "responseId": "r1"
    });
    let whole =
        wire::parse_generate(serde_json::from_value(whole).unwrap(), "google", "m").unwrap();
    let a = &streamed.meta.annotations;
    assert_eq!(a["safety_ratings"][0]["probability"], "LOW");
    assert_eq!(a["prompt_safety_ratings"][0]["probability"], "NEGLIGIBLE");
    assert!(a["citation_metadata"]["citationSources"].is_array());
    assert_eq!(a, &whole.meta.annotations);
    assert_eq!(streamed.message.text().as_deref(), Some("Paris"));
}
