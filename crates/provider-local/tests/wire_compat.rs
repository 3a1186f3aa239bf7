//! Pure mapping tests over the `openai-compatible` fixtures (llama.cpp, vLLM): request
//! snapshots, response parsing, error mapping, stream decoding at every byte split.
#![allow(clippy::unwrap_used, clippy::panic, clippy::result_large_err)]

mod common;

use common::{COMPAT, OLLAMA, decode_sse, fold, meta_status, opts};
use http::HeaderMap;
use provider_local::openai::{self as local};
use runtime_core::http::ErrorContext;
use runtime_core::{ChatRequest, EmbeddingRequest, Error, FinishReason};
use runtime_testkit::fixtures;
use serde_json::json;

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
        let body = serde_json::to_value(
            local::chat_body(&req, &req.model, stream, opts(), "local").unwrap(),
        )
        .unwrap();
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
fn compat_reasoning_history_goes_back_as_reasoning_content() {
    use runtime_core::{AssistantMessage, Message, ReasoningBlock};
    let mut req = ChatRequest::new("m", vec![Message::user("hi")]);
    req.messages.push(Message::Assistant(AssistantMessage {
        content: Some("hello".into()),
        reasoning: vec![ReasoningBlock::text("greet back")],
        ..AssistantMessage::default()
    }));
    let body =
        serde_json::to_value(local::chat_body(&req, &req.model, false, opts(), "local").unwrap())
            .unwrap();
    assert_eq!(body["messages"][1]["reasoning_content"], "greet back");
    req.messages.push(Message::Assistant(AssistantMessage {
        reasoning: vec![ReasoningBlock {
            signature: Some("sig".into()),
            ..ReasoningBlock::text("x")
        }],
        ..AssistantMessage::default()
    }));
    let e = local::chat_body(&req, &req.model, false, opts(), "local").unwrap_err();
    assert_eq!(e.param(), Some("messages[2].thinking_blocks"));
}
