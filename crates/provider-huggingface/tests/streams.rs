//! Every stream transcript, re-chunked at every byte boundary (and byte by byte, and at random),
//! decoded through the real SSE decoder and this crate's event decoders, folds to the same
//! response as delivering it whole.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{Folded, assert_rechunk_invariant, fold, generate_stream_from_details, tgi_sse};
use futures::StreamExt;
use provider_huggingface::wire::{GenerateStreamDecoder, MessagesChunkDecoder};
use runtime_core::http::SseStream;
use runtime_core::{FinishReason, StreamEvent, Usage};

const MODEL: &str = "meta-llama/Llama-3.1-8B-Instruct";

fn messages(bytes: &[u8]) -> Folded {
    assert_rechunk_invariant(bytes, || MessagesChunkDecoder::new("huggingface", MODEL))
}

#[test]
fn chat_stream_tool_call_recorded() {
    // TGI 3.1: every fragment repeats id "0" and type, name null after the first, and the
    // stream ends with [DONE] without any finish_reason.
    let f = messages(&tgi_sse("chat-stream-tool-call.chunks.json", true));
    assert_eq!(f.error, None);
    let r = &f.response;
    assert_eq!(r.id, "");
    assert_eq!(r.model, MODEL);
    assert_eq!(r.created, 1741688515);
    assert_eq!(r.message.content, None);
    assert_eq!(r.message.tool_calls.len(), 1);
    let c = &r.message.tool_calls[0];
    assert_eq!(c.id, "0");
    assert_eq!(c.function.name, "get_current_weather");
    let args: serde_json::Value = serde_json::from_str(&c.function.arguments).unwrap();
    assert_eq!(
        args,
        serde_json::json!({"location": "Brooklyn, NY", "format": "fahrenheit"})
    );
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    let starts = f
        .events
        .iter()
        .filter(|e| matches!(e, StreamEvent::ToolCallStart { .. }))
        .count();
    assert_eq!(starts, 1, "one call, not one per repeated id");
    assert!(f.events.contains(&StreamEvent::ToolCallEnd { index: 0 }));
}

#[test]
fn chat_stream_tool_call_cut_before_done_is_an_error() {
    let f = messages(&tgi_sse("chat-stream-tool-call.chunks.json", false));
    let err = f.error.expect("an error");
    assert!(
        err.contains("Stream") && err.contains("content_sent: true"),
        "{err}"
    );
    assert_eq!(f.response.message.tool_calls.len(), 1);
}

#[test]
fn chat_tool_insufficient_info_stream_recorded() {
    let f = messages(&tgi_sse(
        "chat-tool-insufficient-info-stream.chunks.json",
        true,
    ));
    assert_eq!(f.error, None);
    assert_eq!(
        f.response.message.text().as_deref(),
        Some(
            "I'm an artificial intelligence model known as a large language model (LLM) or conversational AI"
        )
    );
    assert_eq!(f.response.finish_reason, FinishReason::Length);
    assert!(f.response.message.tool_calls.is_empty());
    assert_eq!(f.response.usage, None);
}

#[test]
fn completion_stream_usage_recorded() {
    let f = messages(&tgi_sse("completion-stream-usage.chunks.json", true));
    assert_eq!(f.error, None);
    assert_eq!(
        f.response.message.text().as_deref(),
        Some("**Deep Learning: An Overview**\n=====================================\n\n")
    );
    assert_eq!(f.response.finish_reason, FinishReason::Length);
    assert_eq!(f.response.usage, Some(Usage::new(40, 10)));
}

#[test]
fn messages_stream_tgi_error_mid_stream() {
    // Synthetic: the recorded text stream cut after three chunks by TGI's error object.
    let whole = tgi_sse("chat-tool-insufficient-info-stream.chunks.json", false);
    let text = String::from_utf8(whole).unwrap();
    let mut body: String = text.split_inclusive("\n\n").take(3).collect();
    body.push_str("data:{\"error\":\"Request failed during generation: Server error: CUDA out of memory\",\"error_type\":\"generation\"}\n\n");
    let f = messages(body.as_bytes());
    let err = f.error.expect("error");
    assert!(
        err.contains("Stream")
            && err.contains("generation")
            && err.contains("content_sent: true")
            && err.contains("transient: false"),
        "{err}"
    );
    assert_eq!(f.response.message.text().as_deref(), Some("I'm an"));
}

#[test]
fn generate_stream_from_recorded_tokens() {
    let bytes = generate_stream_from_details(7);
    let f = assert_rechunk_invariant(&bytes, || GenerateStreamDecoder::new("hf", "tgi"));
    assert_eq!(f.error, None);
    assert_eq!(
        f.response.message.text().as_deref(),
        Some(" for /api/v1/projects/1")
    );
    assert_eq!(f.response.finish_reason, FinishReason::Length);
    assert_eq!(f.response.usage, Some(Usage::new(7, 10)));
}

#[test]
fn generate_stream_overloaded_and_truncated() {
    // Synthetic: TGI answers an overloaded queue with its error object as the first event.
    let body = b"data:{\"error\":\"Model is overloaded\",\"error_type\":\"overloaded\"}\n\n";
    let f = assert_rechunk_invariant(body, || GenerateStreamDecoder::new("hf", "tgi"));
    let err = f.error.expect("error");
    assert!(
        err.contains("transient: true") && err.contains("content_sent: false"),
        "{err}"
    );
    // A stream cut before its last event.
    let bytes = generate_stream_from_details(7);
    let text = String::from_utf8(bytes).unwrap();
    let cut: String = text.split_inclusive("\n\n").take(4).collect();
    let cut = cut.into_bytes();
    let f = fold(&[cut.to_vec()], GenerateStreamDecoder::new("hf", "tgi"));
    assert!(f.error.unwrap().contains("before its last event"));
}

#[tokio::test]
async fn decode_sse_delivers_events_then_the_error() {
    let whole = tgi_sse("completion-stream-usage.chunks.json", true);
    let chunks: Vec<Result<bytes::Bytes, runtime_core::Error>> = whole
        .chunks(7)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    let sse = SseStream::new(futures::stream::iter(chunks));
    let resp =
        runtime_core::ChatStream::decode_sse(sse, MessagesChunkDecoder::new("huggingface", MODEL))
            .collect_response()
            .await
            .unwrap();
    assert_eq!(
        resp,
        fold(
            std::slice::from_ref(&whole),
            MessagesChunkDecoder::new("huggingface", MODEL)
        )
        .response
    );

    let body = b"data:{\"index\":1,\"token\":{\"id\":1,\"text\":\"hi\",\"logprob\":0.0,\"special\":false},\"generated_text\":null,\"details\":null}\n\ndata:{\"error\":\"Incomplete generation\",\"error_type\":\"incomplete_generation\"}\n\n";
    let sse = SseStream::new(futures::stream::iter(vec![Ok::<_, runtime_core::Error>(
        bytes::Bytes::from_static(body),
    )]));
    let mut s = runtime_core::ChatStream::decode_sse(sse, GenerateStreamDecoder::new("hf", "tgi"));
    let mut got = Vec::new();
    while let Some(ev) = s.next().await {
        got.push(ev.map_err(|e| e.to_string()));
    }
    assert!(matches!(got[0], Ok(StreamEvent::Start { .. })));
    assert_eq!(got[1], Ok(StreamEvent::TextDelta { text: "hi".into() }));
    assert!(matches!(&got[2], Err(m) if m.contains("Incomplete generation")));
    assert_eq!(got.len(), 3);
}

#[test]
fn tool_call_stream_with_stop_finish_reports_tool_calls_once() {
    // Recorded fragments plus a synthetic last chunk as TGI versions that do send a finish
    // reason write it: `finish_reason: "stop"` for a tool call.
    let recorded = String::from_utf8(tgi_sse("chat-stream-tool-call.chunks.json", false)).unwrap();
    let last = serde_json::json!({
        "choices": [{"delta": {"content": null, "role": "assistant", "tool_calls": [
            {"function": {"arguments": "", "name": null}, "id": "0", "index": 0, "type": "function"}
        ]}, "finish_reason": "stop", "index": 0, "logprobs": null}],
        "created": 1741688515, "id": "", "model": MODEL, "object": "chat.completion.chunk",
        "system_fingerprint": "3.1.2-dev0-native", "usage": null
    });
    let body = format!("{recorded}data:{last}\n\ndata:[DONE]\n\n");
    let f = messages(body.as_bytes());
    assert_eq!(f.error, None);
    assert_eq!(f.response.finish_reason, FinishReason::ToolCalls);
    let finishes = f
        .events
        .iter()
        .filter(|e| matches!(e, StreamEvent::Finish { .. }))
        .count();
    assert_eq!(finishes, 1);
    assert_eq!(f.response.message.tool_calls.len(), 1);
}
