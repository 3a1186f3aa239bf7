//! Pure mapping tests over every Azure fixture: request snapshots, response parsing, the
//! content-filter error, stream decoding at every byte split, and the Responses API payloads
//! this provider rejects.
#![allow(clippy::unwrap_used, clippy::panic, clippy::result_large_err)]

use http::HeaderMap;
use provider_azure_openai::wire::{self, AzureChunkDecoder};
use provider_openai::wire::{MaxTokensField, RequestOptions};
use runtime_core::http::ErrorContext;
use runtime_core::{
    ChatRequest, ChatResponse, CompletionRequest, Error, FinishReason, FrameDecoder, StreamEvent,
};
use runtime_testkit::fixtures;
use serde_json::{Value, json};

const DIR: &str = "azure-openai";

/// Every fixture file and the test that uses it.
const REFERENCED: &[(&str, &str)] = &[
    (
        "chat-content-filter-results.meta.json",
        "meta_url_is_a_deployment_url",
    ),
    (
        "chat-content-filter-results.request.json",
        "request_snapshots",
    ),
    (
        "chat-content-filter-results.response.json",
        "non_stream_keeps_filter_annotations",
    ),
    (
        "chat-stream-prompt-filter-first.chunks.jsonl",
        "streams_fold_the_same_at_every_split",
    ),
    (
        "error-400-content-filter.response.json",
        "prompt_filter_error_is_content_filtered",
    ),
    (
        "responses-text.chunks.jsonl",
        "responses_api_payloads_are_rejected",
    ),
    (
        "responses-text.response.json",
        "responses_api_payloads_are_rejected",
    ),
    (
        "responses-tool-call.chunks.jsonl",
        "responses_api_payloads_are_rejected",
    ),
    (
        "responses-tool-call.response.json",
        "responses_api_payloads_are_rejected",
    ),
    ("spec-chat-completions.request.json", "request_snapshots"),
    ("spec-completions.request.json", "request_snapshots"),
    (
        "spec-completions.response.json",
        "completion_response_without_object_or_model",
    ),
    (
        "stream-async-filter-trailing-chunks.sse",
        "streams_fold_the_same_at_every_split",
    ),
];

#[test]
fn every_fixture_is_referenced() {
    for f in fixtures::list(DIR) {
        assert!(
            REFERENCED.iter().any(|(name, _)| *name == f),
            "fixture {DIR}/{f} is not exercised by any test; add it to REFERENCED"
        );
    }
    for (f, _) in REFERENCED {
        assert!(fixtures::path(DIR, f).exists(), "{f} listed but missing");
    }
}

fn chat_req(name: &str) -> ChatRequest {
    let mut v = fixtures::json(DIR, name);
    // The spec example has no `model` (the deployment selects it).
    if v.get("model").is_none() {
        v["model"] = json!("gpt-4o");
    }
    serde_json::from_value(v).unwrap()
}

fn opts() -> RequestOptions {
    RequestOptions {
        max_tokens_field: MaxTokensField::MaxTokens,
        stream_usage: true,
        reasoning_content: false,
    }
}

#[test]
fn request_snapshots() {
    for name in [
        "chat-content-filter-results.request.json",
        "spec-chat-completions.request.json",
    ] {
        let req = chat_req(name);
        let stream = req.stream.unwrap_or(false);
        let body = serde_json::to_value(wire::chat_body(&req, &req.model, stream, opts())).unwrap();
        insta::assert_json_snapshot!(name, body);
        let streamed =
            serde_json::to_value(wire::chat_body(&req, &req.model, true, opts())).unwrap();
        assert_eq!(streamed["stream_options"], json!({"include_usage": true}));
    }
    // The spec sends `prompt` as a one-element list; the core request has one prompt string.
    let mut v = fixtures::json(DIR, "spec-completions.request.json");
    let prompt = v["prompt"][0].clone();
    v["prompt"] = prompt;
    v["model"] = json!("gpt-35-turbo-instruct");
    let creq: CompletionRequest = serde_json::from_value(v).unwrap();
    let body = serde_json::to_value(provider_openai::wire::completion_request(
        &creq,
        &creq.model,
        false,
        opts(),
    ))
    .unwrap();
    insta::assert_json_snapshot!("spec-completions.request.json", body);
}

#[test]
fn meta_url_is_a_deployment_url() {
    let meta = fixtures::json(DIR, "chat-content-filter-results.meta.json");
    let url = meta["url"].as_str().unwrap();
    let built = wire::operation_url(
        "https://pydanticai7521574644.openai.azure.com",
        "2024-12-01-preview",
        wire::Operation::Chat,
        "gpt-4o",
    )
    .unwrap();
    assert_eq!(built, url);
}

#[test]
fn non_stream_keeps_filter_annotations() {
    let body = fixtures::bytes(DIR, "chat-content-filter-results.response.json");
    let r = wire::parse_chat_body(&body, "azure", "gpt-4o").unwrap();
    assert_eq!(
        r.message.text().as_deref(),
        Some("The capital of France is **Paris**.")
    );
    assert_eq!(r.model, "gpt-4o-2024-11-20");
    assert_eq!(r.finish_reason, FinishReason::Stop);
    let u = r.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (14, 9, 23)
    );
    let a = &r.meta.annotations;
    assert_eq!(
        a["prompt_filter_results"][0]["content_filter_results"]["jailbreak"],
        json!({"detected": false, "filtered": false})
    );
    assert_eq!(
        a["content_filter_results"]["protected_material_code"]["filtered"],
        json!(false)
    );
}

#[test]
fn completion_response_without_object_or_model() {
    let body: provider_openai::wire::TextCompletion =
        serde_json::from_value(fixtures::json(DIR, "spec-completions.response.json")).unwrap();
    let c =
        provider_openai::wire::parse_completion(body, "azure", "gpt-35-turbo-instruct").unwrap();
    assert!(c.text.contains("The head mango."));
    assert_eq!(c.model, "gpt-35-turbo-instruct");
    assert_eq!(c.finish_reason, FinishReason::Stop);
    assert_eq!(c.usage.unwrap().total_tokens, 26);
}

#[test]
fn prompt_filter_error_is_content_filtered() {
    let body = fixtures::bytes(DIR, "error-400-content-filter.response.json");
    let ctx = ErrorContext {
        provider: "azure",
        model: "gpt-4o",
        secret: None,
    };
    let e = wire::map_error(&ctx, 400, &HeaderMap::new(), &body);
    match &e {
        Error::ContentFiltered { message, .. } => {
            assert!(message.contains("sexual (high)"), "{message}");
            assert!(
                message.contains("ResponsibleAIPolicyViolation"),
                "{message}"
            );
            assert!(!message.contains("hate"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(!e.is_retryable());
    assert_eq!(e.openai_code().as_deref(), Some("content_filter"));
}

/// An SSE body for a stream fixture.
fn sse_body(name: &str) -> Vec<u8> {
    if name.ends_with(".jsonl") {
        fixtures::jsonl_to_sse(&fixtures::text(DIR, name), true).into_bytes()
    } else {
        fixtures::bytes(DIR, name)
    }
}

struct Decoded {
    response: ChatResponse,
    events: Vec<StreamEvent>,
    annotations: serde_json::Map<String, Value>,
}

fn decode_pieces(pieces: &[Vec<u8>]) -> Result<Decoded, Error> {
    let mut dec = AzureChunkDecoder::new("azure", "gpt-4o");
    let events = runtime_testkit::stream::decode_sse(pieces, &mut dec).into_result()?;
    Ok(Decoded {
        response: runtime_testkit::stream::fold(&events),
        events,
        annotations: dec.annotations().clone(),
    })
}

#[test]
fn streams_fold_the_same_at_every_split() {
    for name in [
        "stream-async-filter-trailing-chunks.sse",
        "chat-stream-prompt-filter-first.chunks.jsonl",
    ] {
        let body = sse_body(name);
        let whole = decode_pieces(std::slice::from_ref(&body)).unwrap();
        for pieces in fixtures::rechunkings(&body, 20) {
            let got = decode_pieces(&pieces).unwrap();
            assert_eq!(got.response, whole.response, "{name}");
            assert_eq!(got.events, whole.events, "{name}");
            assert_eq!(got.annotations, whole.annotations, "{name}");
        }
        // The annotations reach the folded answer, as they do a non-streamed one's.
        assert!(!whole.annotations.is_empty(), "{name}");
        assert_eq!(whole.response.meta.annotations, whole.annotations, "{name}");
        // The empty-id prompt-filter chunk does not start the answer.
        match &whole.events[0] {
            StreamEvent::Start { id, .. } => assert!(id.starts_with("chatcmpl-"), "{id}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(whole.response.finish_reason, FinishReason::Stop, "{name}");
        assert!(
            whole.annotations["prompt_filter_results"][0]["content_filter_results"]["jailbreak"]
                .is_object(),
            "{name}"
        );
    }
    let trailing = decode_pieces(&[sse_body("stream-async-filter-trailing-chunks.sse")]).unwrap();
    assert_eq!(
        trailing.response.message.text().as_deref(),
        Some("Kindness")
    );
    assert_eq!(trailing.response.model, "gpt-4o-2024-05-13");
    assert_eq!(
        trailing.annotations["content_filter_offsets"]["end_offset"],
        json!(2318)
    );
    // Both trailing annotation chunks merged into one per-category map.
    let cfr = &trailing.annotations["content_filter_results"];
    assert!(cfr["hate"].is_object() && cfr["protected_material_text"].is_object());

    let first = decode_pieces(&[sse_body("chat-stream-prompt-filter-first.chunks.jsonl")]).unwrap();
    let r = &first.response;
    assert_eq!(r.message.text().as_deref(), Some("Capital of Denmark."));
    let u = r.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.reasoning_tokens),
        (15, 78, 64)
    );
}

#[test]
fn output_blocked_after_finish_becomes_content_filter() {
    // Synthetic: the asynchronous filter blocks text that was already streamed.
    let body = concat!(
        "data: {\"choices\":[{\"delta\":{\"content\":\"bad\"},\"finish_reason\":null,\"index\":0}],\"created\":1,\"id\":\"chatcmpl-1\",\"model\":\"gpt-4o\",\"object\":\"chat.completion.chunk\"}\n\n",
        "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\",\"index\":0}],\"created\":1,\"id\":\"chatcmpl-1\",\"model\":\"gpt-4o\",\"object\":\"chat.completion.chunk\"}\n\n",
        "data: {\"choices\":[{\"content_filter_offsets\":{\"check_offset\":0,\"start_offset\":0,\"end_offset\":3},\"content_filter_results\":{\"violence\":{\"filtered\":true,\"severity\":\"high\"}},\"finish_reason\":\"content_filter\",\"index\":0}],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\"}\n\n",
        "data: [DONE]\n\n"
    );
    let d = decode_pieces(&[body.as_bytes().to_vec()]).unwrap();
    assert_eq!(d.response.finish_reason, FinishReason::ContentFilter);
    assert_eq!(
        d.annotations["content_filter_results"]["violence"]["filtered"],
        json!(true)
    );
}

#[test]
fn a_leading_filter_only_chunk_does_not_start_the_answer() {
    // Synthetic: an annotation-only chunk (empty id, no delta) before the first real chunk.
    let body = concat!(
        "data: {\"choices\":[{\"content_filter_results\":{\"hate\":{\"filtered\":false,\"severity\":\"safe\"}},\"finish_reason\":null,\"index\":0}],\"created\":0,\"id\":\"\",\"model\":\"\",\"object\":\"\"}\n\n",
        "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\",\"index\":0}],\"created\":5,\"id\":\"chatcmpl-9\",\"model\":\"gpt-4o\",\"object\":\"chat.completion.chunk\"}\n\n",
        "data: [DONE]\n\n"
    );
    let d = decode_pieces(&[body.as_bytes().to_vec()]).unwrap();
    assert_eq!(d.response.id, "chatcmpl-9");
    assert_eq!(
        (d.response.model.as_str(), d.response.created),
        ("gpt-4o", 5)
    );
    assert_eq!(d.response.message.text().as_deref(), Some("hi"));
    assert!(d.annotations.contains_key("content_filter_results"));
}

#[test]
fn responses_api_payloads_are_rejected() {
    // This provider implements chat completions only; Responses API bodies and events are
    // recognized and rejected with a decode error that names the Responses API.
    for name in [
        "responses-text.response.json",
        "responses-tool-call.response.json",
    ] {
        let body = fixtures::bytes(DIR, name);
        match wire::parse_chat_body(&body, "azure", "gpt-5.1") {
            Err(Error::Decode { message, .. }) => {
                assert!(message.contains("Responses API"), "{message}")
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    for name in [
        "responses-text.chunks.jsonl",
        "responses-tool-call.chunks.jsonl",
    ] {
        let text = fixtures::text(DIR, name);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        assert!(lines.len() > 3, "{name}");
        for line in lines {
            let mut dec = AzureChunkDecoder::new("azure", "gpt-5.1");
            let mut out = Vec::new();
            match dec.decode(line, &mut out) {
                Err(Error::Decode { message, .. }) => {
                    assert!(message.contains("Responses API"), "{message}")
                }
                other => panic!("{name}: {other:?}"),
            }
            assert!(out.is_empty());
        }
    }
}

#[test]
fn reasoning_in_history_is_rejected_by_name() {
    let mut req = ChatRequest::new("gpt-4o", vec![runtime_core::Message::user("hi")]);
    req.messages.push(runtime_core::Message::Assistant(
        runtime_core::AssistantMessage {
            content: Some("x".into()),
            reasoning: vec![runtime_core::ReasoningBlock::text("thought")],
            ..Default::default()
        },
    ));
    let e = wire::check_chat_request(&req, &req.model, "azure").unwrap_err();
    assert_eq!(e.param(), Some("messages[1].thinking_blocks"));
}
