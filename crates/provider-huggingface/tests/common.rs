//! Shared by this crate's integration tests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use provider_huggingface::{Api, HuggingFaceProvider, HuggingFaceSettings, Pooling};
use runtime_core::FrameDecoder as EventDecoder;
use runtime_core::http::HttpClient;
use runtime_core::{ChatResponse, Provider, Secret, StreamEvent};
use runtime_testkit::fixtures;
use serde_json::{Value, json};

/// The fixture directory.
pub const DIR: &str = "tgi";

/// A provider against a mock server at `base` (the server root).
pub fn provider(base: &str, key: Option<&str>, api: Api, timeout: Duration) -> HuggingFaceProvider {
    let mut s = HuggingFaceSettings::new(match api {
        Api::Messages => "huggingface",
        Api::Generate => "huggingface-generate",
    });
    s.api_key = key.map(Secret::new);
    s.base_url = format!("{base}/v1");
    s.api = api;
    s.embeddings_url = format!("{base}/hf-inference/models/{{model}}/pipeline/feature-extraction");
    s.pooling = Pooling::Mean;
    s.timeout = timeout;
    s.stream_idle_timeout = timeout;
    s.build(HttpClient::new(&Default::default()).unwrap())
        .unwrap()
}

/// A Messages API provider for the conformance suite.
pub fn dyn_messages(
    base: &str,
    key: &Secret,
    timeout: Duration,
) -> runtime_core::Result<Arc<dyn Provider>> {
    Ok(Arc::new(provider(
        base,
        Some(key.expose()),
        Api::Messages,
        timeout,
    )))
}

/// A `/generate` API provider for the conformance suite.
pub fn dyn_generate(
    base: &str,
    key: &Secret,
    timeout: Duration,
) -> runtime_core::Result<Arc<dyn Provider>> {
    Ok(Arc::new(provider(
        base,
        Some(key.expose()),
        Api::Generate,
        timeout,
    )))
}

/// A recorded `.chunks.json` (an array of parsed chunks) as TGI sends it: `data:` without a
/// space (axum), then `data:[DONE]` (TGI's Messages API ends every stream with it). The chunks
/// are the recording; the framing is TGI's.
pub fn tgi_sse(name: &str, done: bool) -> Vec<u8> {
    let chunks: Vec<Value> = serde_json::from_value(fixtures::json(DIR, name)).unwrap();
    let mut out = String::new();
    for c in chunks {
        out.push_str("data:");
        out.push_str(&c.to_string());
        out.push_str("\n\n");
    }
    if done {
        out.push_str("data:[DONE]\n\n");
    }
    out.into_bytes()
}

/// A `/generate_stream` transcript (synthetic framing) built from the tokens of the recorded
/// `generate-details.response.json`: one event per token, the last one with `generated_text`
/// and `details` (`input_length` is synthetic: the recording has no prompt count).
pub fn generate_stream_from_details(input_length: u64) -> Vec<u8> {
    let rec = fixtures::json(DIR, "generate-details.response.json");
    let tokens = rec["details"]["tokens"].as_array().unwrap().clone();
    let n = tokens.len();
    let mut out = String::new();
    for (i, t) in tokens.into_iter().enumerate() {
        let last = i + 1 == n;
        let ev = json!({
            "index": i + 1,
            "token": t,
            "top_tokens": null,
            "generated_text": if last { rec["generated_text"].clone() } else { Value::Null },
            "details": if last {
                json!({
                    "finish_reason": rec["details"]["finish_reason"],
                    "generated_tokens": rec["details"]["generated_tokens"],
                    "seed": null,
                    "input_length": input_length
                })
            } else { Value::Null },
        });
        out.push_str("data:");
        out.push_str(&ev.to_string());
        out.push_str("\n\n");
    }
    out.into_bytes()
}

/// What a transcript folds to: the response and the error that ended it, if any.
#[derive(Debug, PartialEq)]
pub struct Folded {
    /// The fold of the events.
    pub response: ChatResponse,
    /// The events.
    pub events: Vec<StreamEvent>,
    /// The error that ended the stream (its `Debug`).
    pub error: Option<String>,
}

/// Feeds `chunks` through the real SSE decoder and `dec`, exactly as the provider's stream does
/// (stop at the first error or once the decoder is done), and folds the events.
pub fn fold<D: EventDecoder>(chunks: &[Vec<u8>], mut dec: D) -> Folded {
    let d = runtime_testkit::stream::decode_sse(chunks, &mut dec);
    Folded {
        response: d.response(),
        error: d.error.as_ref().map(|e| format!("{e:?}")),
        events: d.events,
    }
}

/// Asserts that every re-chunking of `bytes` folds like delivering it whole.
pub fn assert_rechunk_invariant<D: EventDecoder>(bytes: &[u8], make: impl Fn() -> D) -> Folded {
    let whole = fold(&[bytes.to_vec()], make());
    for (i, pieces) in fixtures::rechunkings(bytes, 8).iter().enumerate() {
        let got = fold(pieces, make());
        assert_eq!(got, whole, "re-chunking #{i} ({} pieces)", pieces.len());
    }
    whole
}
