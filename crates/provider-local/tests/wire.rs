//! Pure mapping tests over every `openai-compatible` and `ollama` fixture: request snapshots,
//! response parsing, error mapping, stream decoding at every byte split.
#![allow(clippy::unwrap_used, clippy::panic, clippy::result_large_err)]

use http::HeaderMap;
use provider_local::ollama::{self, OllamaStreamDecoder};
use provider_local::openai::{self as local, LocalChunkDecoder};
use provider_openai::wire::{MaxTokensField, RequestOptions};
use runtime_core::FrameDecoder;
use runtime_core::http::{ErrorContext, NdjsonDecoder};
use runtime_core::{
    ChatRequest, ChatResponse, EmbeddingRequest, Error, FinishReason, ModelKind, StreamEvent,
};
use runtime_testkit::fixtures;
use serde_json::{Value, json};

const COMPAT: &str = "openai-compatible";
const OLLAMA: &str = "ollama";

/// Every fixture file and the test that uses it.
const REFERENCED: &[(&str, &str, &str)] = &[
    (
        COMPAT,
        "llamacpp-error-400-context-overflow-streaming.meta.json",
        "llamacpp_errors",
    ),
    (
        COMPAT,
        "llamacpp-error-400-context-overflow-streaming.request.json",
        "compat_request_snapshots",
    ),
    (
        COMPAT,
        "llamacpp-error-400-context-overflow-streaming.response.json",
        "llamacpp_errors",
    ),
    (
        COMPAT,
        "llamacpp-error-400-context-overflow.meta.json",
        "llamacpp_errors",
    ),
    (
        COMPAT,
        "llamacpp-error-400-context-overflow.request.json",
        "compat_request_snapshots",
    ),
    (
        COMPAT,
        "llamacpp-error-400-context-overflow.response.json",
        "llamacpp_errors",
    ),
    (
        COMPAT,
        "llamacpp-error-401-missing-key.meta.json",
        "llamacpp_errors",
    ),
    (
        COMPAT,
        "llamacpp-error-401-missing-key.request.json",
        "compat_request_snapshots",
    ),
    (
        COMPAT,
        "llamacpp-error-401-missing-key.response.json",
        "llamacpp_errors",
    ),
    (
        COMPAT,
        "llamacpp-error-500-tools-without-jinja.meta.json",
        "llamacpp_errors",
    ),
    (
        COMPAT,
        "llamacpp-error-500-tools-without-jinja.request.json",
        "compat_request_snapshots",
    ),
    (
        COMPAT,
        "llamacpp-error-500-tools-without-jinja.response.json",
        "llamacpp_errors",
    ),
    (
        COMPAT,
        "llamacpp-error-501-embeddings-disabled.meta.json",
        "llamacpp_errors",
    ),
    (
        COMPAT,
        "llamacpp-error-501-embeddings-disabled.request.json",
        "compat_request_snapshots",
    ),
    (
        COMPAT,
        "llamacpp-error-501-embeddings-disabled.response.json",
        "llamacpp_errors",
    ),
    (
        COMPAT,
        "llamacpp-models.meta.json",
        "llamacpp_model_listing",
    ),
    (
        COMPAT,
        "llamacpp-models.response.json",
        "llamacpp_model_listing",
    ),
    (
        COMPAT,
        "llamacpp-stream-two-tool-calls.meta.json",
        "compat_streams_fold_the_same_at_every_split",
    ),
    (
        COMPAT,
        "llamacpp-stream-two-tool-calls.request.json",
        "compat_request_snapshots",
    ),
    (
        COMPAT,
        "llamacpp-stream-two-tool-calls.response.sse",
        "compat_streams_fold_the_same_at_every_split",
    ),
    (
        COMPAT,
        "llamacpp-stream-unicode-across-chunks.meta.json",
        "compat_streams_fold_the_same_at_every_split",
    ),
    (
        COMPAT,
        "llamacpp-stream-unicode-across-chunks.request.json",
        "compat_request_snapshots",
    ),
    (
        COMPAT,
        "llamacpp-stream-unicode-across-chunks.response.sse",
        "compat_streams_fold_the_same_at_every_split",
    ),
    (
        COMPAT,
        "vllm-responses-null-metadata.meta.json",
        "responses_api_is_rejected",
    ),
    (
        COMPAT,
        "vllm-responses-null-metadata.request.json",
        "responses_api_is_rejected",
    ),
    (
        COMPAT,
        "vllm-responses-null-metadata.response.json",
        "responses_api_is_rejected",
    ),
    (
        OLLAMA,
        "api-chat-nonstream-durations.meta.json",
        "ollama_nonstream_responses",
    ),
    (
        OLLAMA,
        "api-chat-nonstream-durations.request.json",
        "ollama_requests_translate_to_the_recorded_bodies",
    ),
    (
        OLLAMA,
        "api-chat-nonstream-durations.response.json",
        "ollama_nonstream_responses",
    ),
    (
        OLLAMA,
        "api-chat-stream-ndjson.meta.json",
        "ollama_streams_fold_the_same_at_every_split",
    ),
    (
        OLLAMA,
        "api-chat-stream-ndjson.request.json",
        "ollama_requests_translate_to_the_recorded_bodies",
    ),
    (
        OLLAMA,
        "api-chat-stream-ndjson.response.ndjson",
        "ollama_streams_fold_the_same_at_every_split",
    ),
    (
        OLLAMA,
        "api-chat-stream-parallel-tool-calls.meta.json",
        "ollama_streams_fold_the_same_at_every_split",
    ),
    (
        OLLAMA,
        "api-chat-stream-parallel-tool-calls.request.json",
        "ollama_requests_translate_to_the_recorded_bodies",
    ),
    (
        OLLAMA,
        "api-chat-stream-parallel-tool-calls.response.ndjson",
        "ollama_streams_fold_the_same_at_every_split",
    ),
    (
        OLLAMA,
        "api-chat-stream-thinking-tool-call.meta.json",
        "ollama_streams_fold_the_same_at_every_split",
    ),
    (
        OLLAMA,
        "api-chat-stream-thinking-tool-call.request.json",
        "ollama_requests_translate_to_the_recorded_bodies",
    ),
    (
        OLLAMA,
        "api-chat-stream-thinking-tool-call.response.ndjson",
        "ollama_streams_fold_the_same_at_every_split",
    ),
    (
        OLLAMA,
        "api-chat-tool-calls.meta.json",
        "ollama_nonstream_responses",
    ),
    (
        OLLAMA,
        "api-chat-tool-calls.request.json",
        "ollama_requests_translate_to_the_recorded_bodies",
    ),
    (
        OLLAMA,
        "api-chat-tool-calls.response.json",
        "ollama_nonstream_responses",
    ),
    (OLLAMA, "api-embed.request.json", "ollama_embed"),
    (OLLAMA, "api-embed.response.json", "ollama_embed"),
    (OLLAMA, "api-tags.meta.json", "ollama_tags"),
    (OLLAMA, "api-tags.response.json", "ollama_tags"),
    (
        OLLAMA,
        "v1-chat-completions-json-schema.meta.json",
        "ollama_v1_json_schema",
    ),
    (
        OLLAMA,
        "v1-chat-completions-json-schema.request.json",
        "compat_request_snapshots",
    ),
    (
        OLLAMA,
        "v1-chat-completions-json-schema.response.json",
        "ollama_v1_json_schema",
    ),
];

#[test]
fn every_fixture_is_referenced() {
    for dir in [COMPAT, OLLAMA] {
        for f in fixtures::list(dir) {
            assert!(
                REFERENCED
                    .iter()
                    .any(|(d, name, _)| *d == dir && *name == f),
                "fixture {dir}/{f} is not exercised by any test; add it to REFERENCED"
            );
        }
    }
    for (d, f, _) in REFERENCED {
        assert!(fixtures::path(d, f).exists(), "{d}/{f} listed but missing");
    }
}

fn opts() -> RequestOptions {
    RequestOptions {
        max_tokens_field: MaxTokensField::MaxTokens,
        stream_usage: true,
        reasoning_content: false,
    }
}

fn meta_status(dir: &str, name: &str) -> u16 {
    let m = fixtures::json(dir, &name.replace(".response.json", ".meta.json"));
    u16::try_from(m["status"].as_u64().unwrap()).unwrap()
}

#[test]
fn compat_request_snapshots() {
    for (dir, name) in [
        (
            COMPAT,
            "llamacpp-error-400-context-overflow-streaming.request.json",
        ),
        (COMPAT, "llamacpp-error-400-context-overflow.request.json"),
        (COMPAT, "llamacpp-error-401-missing-key.request.json"),
        (
            COMPAT,
            "llamacpp-error-500-tools-without-jinja.request.json",
        ),
        (COMPAT, "llamacpp-stream-two-tool-calls.request.json"),
        (COMPAT, "llamacpp-stream-unicode-across-chunks.request.json"),
        (OLLAMA, "v1-chat-completions-json-schema.request.json"),
    ] {
        let recorded = fixtures::json(dir, name);
        let req: ChatRequest = serde_json::from_value(recorded.clone()).unwrap();
        let stream = req.stream.unwrap_or(false);
        let body =
            serde_json::to_value(local::chat_body(&req, stream, opts(), "local").unwrap()).unwrap();
        // Recorded clients sent the same body our mapping produces (they ask for usage too).
        let mut want = recorded.clone();
        if !stream {
            want.as_object_mut().unwrap().remove("stream");
        }
        assert_eq!(body, want, "{dir}/{name}");
        insta::assert_json_snapshot!(format!("{dir}__{name}"), body);
    }
    let recorded = fixtures::json(
        COMPAT,
        "llamacpp-error-501-embeddings-disabled.request.json",
    );
    let req: EmbeddingRequest = serde_json::from_value(recorded).unwrap();
    let body = serde_json::to_value(provider_openai::wire::embedding_request(
        &req, &req.model, false,
    ))
    .unwrap();
    insta::assert_json_snapshot!(
        "openai-compatible__llamacpp-error-501-embeddings-disabled.request.json",
        body
    );
}

#[test]
fn llamacpp_errors() {
    let ctx = ErrorContext {
        provider: "local",
        model: "m",
        secret: None,
    };
    let map = |name: &str| {
        let status = meta_status(COMPAT, name);
        local::map_error(
            &ctx,
            status,
            &HeaderMap::new(),
            &fixtures::bytes(COMPAT, name),
        )
    };
    for name in [
        "llamacpp-error-400-context-overflow.response.json",
        "llamacpp-error-400-context-overflow-streaming.response.json",
    ] {
        let e = map(name);
        assert!(matches!(e, Error::ContextLengthExceeded { .. }), "{e:?}");
        assert!(!e.is_retryable());
    }
    let e = map("llamacpp-error-401-missing-key.response.json");
    assert!(
        matches!(e, Error::Authentication { status: 401, .. }),
        "{e:?}"
    );
    let e = map("llamacpp-error-500-tools-without-jinja.response.json");
    assert!(
        matches!(&e, Error::Unsupported { capability, .. } if capability.contains("--jinja")),
        "{e:?}"
    );
    let e = map("llamacpp-error-501-embeddings-disabled.response.json");
    assert!(
        matches!(&e, Error::Unsupported { capability, .. } if capability.contains("--embeddings")),
        "{e:?}"
    );
    assert_eq!(e.retryability(), runtime_core::Retryability::Failover);
}

#[test]
fn llamacpp_model_listing() {
    let meta = fixtures::json(COMPAT, "llamacpp-models.meta.json");
    assert_eq!(meta["path"], "/v1/models");
    let models = local::parse_model_list(
        &fixtures::bytes(COMPAT, "llamacpp-models.response.json"),
        "local",
        &[],
    )
    .unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(models[0].id, "/REDACTED_PATH/Qwen3-1.7B-Q4_K_M.gguf");
    assert_eq!(models[0].context_window, Some(4096));
    assert_eq!(models[0].created, None);
    assert_eq!(models[0].owned_by.as_deref(), Some("llamacpp"));
    // An Ollama-style `models[]` alone is read too.
    let only = json!({"models": [{"name": "a:1"}, {"model": "b"}]}).to_string();
    let ids: Vec<String> = local::parse_model_list(only.as_bytes(), "local", &[])
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(ids, ["a:1", "b"]);
}

fn fold(events: &[StreamEvent]) -> ChatResponse {
    runtime_testkit::stream::fold(events)
}

fn decode_sse(pieces: &[Vec<u8>]) -> Result<Vec<StreamEvent>, Error> {
    runtime_testkit::stream::decode_sse(pieces, &mut LocalChunkDecoder::new("local", "m"))
        .into_result()
}

fn decode_ndjson(pieces: &[Vec<u8>]) -> Result<Vec<StreamEvent>, Error> {
    runtime_testkit::stream::decode_ndjson(pieces, &mut OllamaStreamDecoder::new("local", "m"))
        .into_result()
}

#[test]
fn compat_streams_fold_the_same_at_every_split() {
    for name in [
        "llamacpp-stream-two-tool-calls.response.sse",
        "llamacpp-stream-unicode-across-chunks.response.sse",
    ] {
        let meta = fixtures::json(COMPAT, &name.replace(".response.sse", ".meta.json"));
        assert_eq!(meta["status"], 200);
        let body = fixtures::bytes(COMPAT, name);
        let whole = decode_sse(std::slice::from_ref(&body)).unwrap();
        for pieces in fixtures::rechunkings(&body, 20) {
            assert_eq!(decode_sse(&pieces).unwrap(), whole, "{name}");
        }
    }
    let r = fold(
        &decode_sse(&[fixtures::bytes(
            COMPAT,
            "llamacpp-stream-two-tool-calls.response.sse",
        )])
        .unwrap(),
    );
    let names: Vec<&str> = r
        .message
        .tool_calls
        .iter()
        .map(|c| c.function.name.as_str())
        .collect();
    assert_eq!(names, ["lookup_harbor_label", "lookup_orchard_label"]);
    assert_eq!(r.message.tool_calls[1].function.arguments, "{}");
    assert_eq!(r.message.tool_calls[1].id, "call_REDACTED_2");
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    assert_eq!(r.message.content, None);
    let u = r.usage.unwrap();
    assert_eq!(
        (u.prompt_tokens, u.completion_tokens, u.total_tokens),
        (286, 42, 328)
    );

    let r = fold(
        &decode_sse(&[fixtures::bytes(
            COMPAT,
            "llamacpp-stream-unicode-across-chunks.response.sse",
        )])
        .unwrap(),
    );
    assert_eq!(
        r.message.text().as_deref(),
        Some("🌍こんにちは世界🎉안녕하세요🚀Здравствуйте🌸")
    );
    assert_eq!(r.created, 0);
    assert_eq!(r.usage.unwrap().cached_prompt_tokens, 59);
    // llama.cpp's timings (last chunk) are kept, as a non-streamed answer keeps them.
    assert_eq!(r.meta.annotations["timings"]["predicted_n"], 20);
    assert_eq!(r.meta.annotations["timings"]["cache_n"], 59);
}

#[test]
fn vllm_top_level_error_chunk_is_a_stream_error() {
    // Synthetic: older vLLM sends errors as a top-level object (WIRE-FORMATS §7).
    let body = concat!(
        "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n",
        "data: {\"object\":\"error\",\"message\":\"CUDA out of memory\",\"type\":\"InternalServerError\",\"param\":null,\"code\":500}\n\n",
    );
    match decode_sse(&[body.as_bytes().to_vec()]) {
        Err(Error::Stream {
            message,
            transient,
            content_sent,
            ..
        }) => {
            assert!(message.contains("CUDA"));
            assert!(transient && content_sent);
        }
        other => panic!("{other:?}"),
    }
    let e = local::parse_chat_body(
        br#"{"object":"error","message":"model `x` does not exist","type":"NotFoundError","param":null,"code":404}"#,
        "local",
        "x",
    )
    .unwrap_err();
    assert!(matches!(e, Error::ModelNotFound { .. }), "{e:?}");
}

#[test]
fn responses_api_is_rejected() {
    let meta = fixtures::json(COMPAT, "vllm-responses-null-metadata.meta.json");
    assert!(meta.to_string().contains("responses"));
    // The recorded request is a Responses API request, not a chat request.
    let req = fixtures::json(COMPAT, "vllm-responses-null-metadata.request.json");
    assert!(serde_json::from_value::<ChatRequest>(req).is_err());
    let e = local::parse_chat_body(
        &fixtures::bytes(COMPAT, "vllm-responses-null-metadata.response.json"),
        "local",
        "Qwen/Qwen3-0.6B",
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::Decode { message, .. } if message.contains("Responses API")),
        "{e:?}"
    );
}

#[test]
fn ollama_v1_json_schema() {
    let meta = fixtures::json(OLLAMA, "v1-chat-completions-json-schema.meta.json");
    assert!(
        meta["url"]
            .as_str()
            .unwrap()
            .ends_with("/v1/chat/completions")
    );
    let r = local::parse_chat_body(
        &fixtures::bytes(OLLAMA, "v1-chat-completions-json-schema.response.json"),
        "local",
        "qwen3:0.6b",
    )
    .unwrap();
    let v: Value = serde_json::from_str(&r.message.text().unwrap()).unwrap();
    assert_eq!(v["city"], "Paris");
    assert!(
        r.message
            .reasoning_text()
            .unwrap()
            .starts_with("Okay, the user")
    );
    assert_eq!(r.usage.unwrap().total_tokens, 151);
    assert_eq!(r.id, "chatcmpl-150");
}

/// The recorded Ollama bodies parse as core requests (their extra keys `options`, `think`
/// land in `extra`) and translate back to the same body (an empty `options` is omitted).
#[test]
fn ollama_requests_translate_to_the_recorded_bodies() {
    for name in [
        "api-chat-nonstream-durations.request.json",
        "api-chat-stream-ndjson.request.json",
        "api-chat-stream-parallel-tool-calls.request.json",
        "api-chat-stream-thinking-tool-call.request.json",
        "api-chat-tool-calls.request.json",
    ] {
        let recorded = fixtures::json(OLLAMA, name);
        let req: ChatRequest = serde_json::from_value(recorded.clone()).unwrap();
        let body = ollama::chat_request(&req, req.stream.unwrap_or(true), "local").unwrap();
        let body = serde_json::to_value(body).unwrap();
        let mut want = recorded.clone();
        if want["options"] == json!({}) {
            want.as_object_mut().unwrap().remove("options");
        }
        assert_eq!(body, want, "{name}");
        insta::assert_json_snapshot!(format!("ollama__{name}"), body);
    }
}

#[test]
fn ollama_nonstream_responses() {
    for name in [
        "api-chat-nonstream-durations.meta.json",
        "api-chat-tool-calls.meta.json",
    ] {
        assert_eq!(fixtures::json(OLLAMA, name)["path"], "/api/chat");
    }
    let r: ollama::OllamaChatResponse = serde_json::from_value(fixtures::json(
        OLLAMA,
        "api-chat-nonstream-durations.response.json",
    ))
    .unwrap();
    let r = ollama::parse_chat(r, "local", "qwen3:4b").unwrap();
    assert_eq!(r.finish_reason, FinishReason::Length);
    assert_eq!(r.usage.unwrap(), runtime_core::Usage::new(18, 64));
    assert_eq!(r.created, 0);
    assert!(r.message.text().unwrap().starts_with("Hmm, the user"));
    assert_eq!(r.meta.annotations["ollama"]["eval_duration"], 711_061_713);

    let r: ollama::OllamaChatResponse =
        serde_json::from_value(fixtures::json(OLLAMA, "api-chat-tool-calls.response.json"))
            .unwrap();
    let r = ollama::parse_chat(r, "local", "qwen3:4b").unwrap();
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    assert_eq!(r.message.tool_calls.len(), 8);
    let c = &r.message.tool_calls[1];
    assert_eq!(
        (c.id.as_str(), c.function.name.as_str()),
        ("call_REDACTED_2", "multiply")
    );
    let args: Value = serde_json::from_str(&c.function.arguments).unwrap();
    assert_eq!(args, json!({"a": 10, "b": 2}));
    assert_eq!(r.usage.unwrap().prompt_tokens, 233);
}

/// Cuttings of a large NDJSON body: byte-at-a-time (every boundary at once), two pieces cut
/// just before every line end, and pseudo-random cuttings.
fn ndjson_cuttings(body: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let mut out = vec![body.chunks(1).map(<[u8]>::to_vec).collect::<Vec<_>>()];
    for (p, _) in body.iter().enumerate().filter(|(_, b)| **b == b'\n') {
        // Just before the newline: the first piece ends with a whole payload but no `\n`.
        out.push(vec![body[..p].to_vec(), body[p..].to_vec()]);
    }
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..10 {
        let mut pieces = Vec::new();
        let mut rest = body;
        while !rest.is_empty() {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let take = usize::try_from(1 + seed % 300).unwrap().min(rest.len());
            pieces.push(rest[..take].to_vec());
            rest = &rest[take..];
        }
        out.push(pieces);
    }
    out
}

#[test]
fn ollama_streams_fold_the_same_at_every_split() {
    for name in [
        "api-chat-stream-ndjson.response.ndjson",
        "api-chat-stream-parallel-tool-calls.response.ndjson",
        "api-chat-stream-thinking-tool-call.response.ndjson",
    ] {
        let meta = fixtures::json(OLLAMA, &name.replace(".response.ndjson", ".meta.json"));
        assert_eq!(meta["path"], "/api/chat");
        let body = fixtures::bytes(OLLAMA, name);
        let whole = decode_ndjson(std::slice::from_ref(&body)).unwrap();
        for pieces in ndjson_cuttings(&body) {
            assert_eq!(decode_ndjson(&pieces).unwrap(), whole, "{name}");
        }
        // Every byte boundary as the only cut, checked where a cut can matter: NDJSON framing
        // is line-local, so a cut inside line L changes nothing outside L. For each line, a
        // fresh framer fed the line split at every byte yields exactly that line.
        let mut start = 0;
        let mut framed = Vec::new();
        while start < body.len() {
            let end = body[start..]
                .iter()
                .position(|b| *b == b'\n')
                .map_or(body.len(), |p| start + p + 1);
            let line = &body[start..end];
            let mut want = Vec::new();
            let mut nd = NdjsonDecoder::new();
            nd.push(line, &mut want);
            nd.finish(&mut want);
            for i in 0..=line.len() {
                let mut nd = NdjsonDecoder::new();
                let mut got = Vec::new();
                nd.push(&line[..i], &mut got);
                nd.push(&line[i..], &mut got);
                nd.finish(&mut got);
                assert_eq!(got, want, "{name}: cut at byte {}", start + i);
            }
            framed.extend(want);
            start = end;
        }
        // ...and those lines decode to the same events as the whole body.
        let mut dec = OllamaStreamDecoder::new("local", "m");
        let mut events = Vec::new();
        for l in &framed {
            dec.decode(l, &mut events).unwrap();
        }
        dec.end(&mut events).unwrap();
        assert_eq!(events, whole, "{name}");
    }
    let r = fold(
        &decode_ndjson(&[fixtures::bytes(
            OLLAMA,
            "api-chat-stream-ndjson.response.ndjson",
        )])
        .unwrap(),
    );
    assert!(
        r.message
            .text()
            .unwrap()
            .starts_with("Hmm, the user wants a concise")
    );
    assert_eq!(r.finish_reason, FinishReason::Stop);
    assert_eq!(r.usage.unwrap(), runtime_core::Usage::new(39, 289));
    assert_eq!(r.model, "qwen3:4b");
    // The last line's durations, kept as a non-streamed answer keeps them.
    assert_eq!(
        r.meta.annotations["ollama"]["total_duration"],
        4_852_334_875_u64
    );
    assert_eq!(
        r.meta.annotations["ollama"]["eval_duration"],
        4_388_903_630_u64
    );

    let r = fold(
        &decode_ndjson(&[fixtures::bytes(
            OLLAMA,
            "api-chat-stream-parallel-tool-calls.response.ndjson",
        )])
        .unwrap(),
    );
    let names: Vec<&str> = r
        .message
        .tool_calls
        .iter()
        .map(|c| c.function.name.as_str())
        .collect();
    assert_eq!(names, ["lookup_harbor_label", "lookup_orchard_label"]);
    assert_eq!(r.message.tool_calls[0].function.arguments, "{}");
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);

    let r = fold(
        &decode_ndjson(&[fixtures::bytes(
            OLLAMA,
            "api-chat-stream-thinking-tool-call.response.ndjson",
        )])
        .unwrap(),
    );
    assert!(r.message.reasoning_text().unwrap().starts_with("Okay"));
    assert_eq!(r.message.reasoning.len(), 1);
    assert_eq!(r.message.tool_calls[0].function.name, "lookup_harbor_label");
    assert_eq!(r.finish_reason, FinishReason::ToolCalls);
    assert_eq!(r.usage.unwrap().completion_tokens, 575);
}

#[test]
fn ollama_mid_stream_error_and_truncation() {
    let body = b"{\"model\":\"m\",\"created_at\":\"2026-01-01T00:00:00Z\",\"message\":{\"role\":\"assistant\",\"content\":\"hi\"},\"done\":false}\n{\"error\":\"an error was encountered while running the model: unexpected EOF\"}\n";
    match decode_ndjson(&[body.to_vec()]) {
        Err(Error::Stream {
            message,
            content_sent,
            ..
        }) => assert!(message.contains("unexpected EOF") && content_sent),
        other => panic!("{other:?}"),
    }
    let cut = b"{\"model\":\"m\",\"message\":{\"content\":\"hi\"},\"done\":false}\n";
    assert!(matches!(
        decode_ndjson(&[cut.to_vec()]),
        Err(Error::Stream {
            transient: true,
            ..
        })
    ));
}

#[test]
fn ollama_embed() {
    let req: EmbeddingRequest =
        serde_json::from_value(fixtures::json(OLLAMA, "api-embed.request.json")).unwrap();
    let body = serde_json::to_value(ollama::embed_request(&req, "local").unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"model": "all-minilm", "input": ["Why is the sky blue?"]})
    );
    insta::assert_json_snapshot!("ollama__api-embed.request.json", body);
    let r: ollama::OllamaEmbedResponse =
        serde_json::from_value(fixtures::json(OLLAMA, "api-embed.response.json")).unwrap();
    let e = ollama::parse_embed(r.clone(), 1, "local", "all-minilm").unwrap();
    assert_eq!(e.data[0].embedding.len(), 10);
    assert!((e.data[0].embedding[0] - 0.010_071_029).abs() < 1e-9);
    assert_eq!(e.usage.unwrap().prompt_tokens, 8);
    assert!(ollama::parse_embed(r, 2, "local", "all-minilm").is_err());
}

#[test]
fn ollama_tags() {
    assert_eq!(
        fixtures::json(OLLAMA, "api-tags.meta.json")["path"],
        "/api/tags"
    );
    let t: ollama::OllamaTags =
        serde_json::from_value(fixtures::json(OLLAMA, "api-tags.response.json")).unwrap();
    let models = ollama::parse_tags(t, "local");
    let ids: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "all-minilm:latest",
            "qwen3:4b",
            "gemma3:4b",
            "llava:latest",
            "llama3.2:latest"
        ]
    );
    assert_eq!(models[0].kind, ModelKind::Embedding);
    assert_eq!(models[1].kind, ModelKind::Chat);
    assert!(models[3].supports_vision && !models[1].supports_vision);
    assert!(models[0].created.is_some());
}

/// Synthetic: every core field Ollama can express, mapped (no recording sends them all).
#[test]
fn ollama_core_fields_snapshot() {
    use runtime_core::{AssistantMessage, Content, ContentPart, Message, ReasoningBlock, ToolCall};
    let mut req = ChatRequest::new(
        "llava",
        vec![
            Message::system("be brief"),
            Message::User {
                content: Content::Parts(vec![
                    ContentPart::Text {
                        text: "what is this".into(),
                    },
                    ContentPart::image_base64("image/png", "iVBORw0KGgo="),
                ]),
                name: None,
            },
            Message::Assistant(AssistantMessage {
                content: None,
                reasoning: vec![ReasoningBlock::text("look it up")],
                tool_calls: vec![ToolCall::new("call_1", "lookup", "{\"q\":\"cat\"}")],
                ..AssistantMessage::default()
            }),
            Message::tool("call_1", "a cat"),
        ],
    );
    req.tools = vec![runtime_core::ToolDefinition::function(
        "lookup",
        "look up",
        json!({"type": "object", "properties": {"q": {"type": "string"}}}),
    )];
    req.max_tokens = Some(100);
    req.temperature = Some(0.2);
    req.top_p = Some(0.9);
    req.seed = Some(7);
    req.stop = vec!["END".into()];
    req.response_format = Some(runtime_core::ResponseFormat::JsonObject);
    req.extra.insert("num_ctx".into(), json!(8192));
    req.extra.insert("keep_alive".into(), json!("5m"));
    let body = serde_json::to_value(ollama::chat_request(&req, true, "local").unwrap()).unwrap();
    assert_eq!(body["messages"][1]["images"], json!(["iVBORw0KGgo="]));
    assert_eq!(
        body["messages"][2]["tool_calls"][0]["function"]["arguments"],
        json!({"q": "cat"})
    );
    assert_eq!(body["messages"][2]["thinking"], "look it up");
    assert_eq!(body["messages"][3]["tool_name"], "lookup");
    assert_eq!(body["options"]["num_predict"], 100);
    assert_eq!(body["format"], "json");
    assert_eq!(body["stream"], true);
    insta::assert_json_snapshot!("ollama__synthetic-core-fields", body);
}

#[test]
fn ollama_rejects_what_it_cannot_express_by_name() {
    use runtime_core::{Content, ContentPart, Message, ToolChoice};
    let base = ChatRequest::new("m", vec![Message::user("hi")]);
    let param = |req: &ChatRequest| {
        ollama::chat_request(req, false, "local")
            .unwrap_err()
            .param()
            .map(str::to_owned)
    };
    let mut r = base.clone();
    r.messages = vec![Message::User {
        content: Content::Parts(vec![ContentPart::image_url("https://x/cat.png")]),
        name: None,
    }];
    assert_eq!(
        param(&r).as_deref(),
        Some("messages[0].content[0].image_url.url")
    );
    let mut r = base.clone();
    r.tool_choice = Some(ToolChoice::Required);
    assert_eq!(param(&r).as_deref(), Some("tool_choice"));
    let mut r = base.clone();
    r.user = Some("u1".into());
    assert_eq!(param(&r).as_deref(), Some("user"));
    let mut r = base.clone();
    r.extra.insert("logprobs".into(), json!(true));
    assert_eq!(param(&r).as_deref(), Some("logprobs"));
    let mut r = base.clone();
    r.parallel_tool_calls = Some(false);
    assert_eq!(param(&r).as_deref(), Some("parallel_tool_calls"));
    let mut r = base.clone();
    r.temperature = Some(0.1);
    r.extra
        .insert("options".into(), json!({"temperature": 0.9}));
    assert_eq!(param(&r).as_deref(), Some("options.temperature"));
    // `tool_choice: none` is expressed by sending no tools.
    let mut r = base.clone();
    r.tools = vec![runtime_core::ToolDefinition::function("f", "d", json!({}))];
    r.tool_choice = Some(ToolChoice::None);
    let body = serde_json::to_value(ollama::chat_request(&r, false, "local").unwrap()).unwrap();
    assert!(body.get("tools").is_none());
}

#[test]
fn compat_reasoning_history_goes_back_as_reasoning_content() {
    use runtime_core::{AssistantMessage, Message, ReasoningBlock};
    let mut req = ChatRequest::new("m", vec![Message::user("hi")]);
    req.messages.push(Message::Assistant(AssistantMessage {
        content: Some("hello".into()),
        reasoning: vec![ReasoningBlock::text("greet back")],
        ..AssistantMessage::default()
    }));
    let body =
        serde_json::to_value(local::chat_body(&req, false, opts(), "local").unwrap()).unwrap();
    assert_eq!(body["messages"][1]["reasoning_content"], "greet back");
    req.messages.push(Message::Assistant(AssistantMessage {
        reasoning: vec![ReasoningBlock {
            signature: Some("sig".into()),
            ..ReasoningBlock::text("x")
        }],
        ..AssistantMessage::default()
    }));
    let e = local::chat_body(&req, false, opts(), "local").unwrap_err();
    assert_eq!(e.param(), Some("messages[2].thinking_blocks"));
}

/// Synthetic (no `/api/generate` recording exists): a fill-in-the-middle completion.
#[test]
fn ollama_generate_request_and_answers() {
    let mut req = runtime_core::CompletionRequest {
        model: "qwen2.5-coder:1.5b".into(),
        prompt: "def add(a, b):\n    ".into(),
        suffix: Some("\n\nprint(add(1, 2))".into()),
        max_tokens: Some(32),
        temperature: Some(0.0),
        stop: vec!["\n\n".into()],
        ..Default::default()
    };
    req.extra.insert("raw".into(), json!(true));
    let body =
        serde_json::to_value(ollama::generate_request(&req, false, "local").unwrap()).unwrap();
    assert_eq!(body["suffix"], "\n\nprint(add(1, 2))");
    assert_eq!(body["stream"], false);
    insta::assert_json_snapshot!("ollama__synthetic-generate", body);
    req.extra.insert("images".into(), json!([]));
    let e = ollama::generate_request(&req, false, "local").unwrap_err();
    assert_eq!(e.param(), Some("images"));

    let r: ollama::OllamaChatResponse = serde_json::from_value(json!({
        "model": "qwen2.5-coder:1.5b", "created_at": "2026-01-01T00:00:00Z",
        "response": "return a + b", "done": true, "done_reason": "stop",
        "context": [1, 2, 3], "prompt_eval_count": 12, "eval_count": 5
    }))
    .unwrap();
    let c = ollama::parse_generate(r, "local", "qwen2.5-coder:1.5b").unwrap();
    assert_eq!(c.text, "return a + b");
    assert_eq!(c.usage.unwrap(), runtime_core::Usage::new(12, 5));
    assert_eq!(c.created, 1_767_225_600);

    let stream = concat!(
        "{\"model\":\"m\",\"created_at\":\"2026-01-01T00:00:00Z\",\"response\":\"return\",\"done\":false}\n",
        "{\"model\":\"m\",\"created_at\":\"2026-01-01T00:00:00Z\",\"response\":\" a + b\",\"done\":false}\n",
        "{\"model\":\"m\",\"created_at\":\"2026-01-01T00:00:00Z\",\"response\":\"\",\"done\":true,\"done_reason\":\"length\",\"prompt_eval_count\":12,\"eval_count\":5}\n",
    );
    let whole = decode_ndjson(&[stream.as_bytes().to_vec()]).unwrap();
    for pieces in fixtures::rechunkings(stream.as_bytes(), 10) {
        assert_eq!(decode_ndjson(&pieces).unwrap(), whole);
    }
    let r = fold(&whole);
    assert_eq!(r.message.text().as_deref(), Some("return a + b"));
    assert_eq!(r.finish_reason, FinishReason::Length);
}
