//! Pure mapping tests over the `ollama` fixtures: native `/api/*` requests, responses, errors,
//! embeddings, model tags, and NDJSON stream decoding at every byte split.
#![allow(clippy::unwrap_used, clippy::panic, clippy::result_large_err)]

mod common;

use common::{OLLAMA, decode_ndjson, fold};
use provider_local::ollama::{self, OllamaStreamDecoder};
use provider_local::openai::{self as local};
use runtime_core::FrameDecoder;
use runtime_core::http::NdjsonDecoder;
use runtime_core::{ChatRequest, EmbeddingRequest, Error, FinishReason, ModelKind};
use runtime_testkit::fixtures;
use serde_json::{Value, json};

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
        let body =
            ollama::chat_request(&req, &req.model, req.stream.unwrap_or(true), "local").unwrap();
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
    let body =
        serde_json::to_value(ollama::embed_request(&req, &req.model, "local").unwrap()).unwrap();
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
    let body = serde_json::to_value(ollama::chat_request(&req, &req.model, true, "local").unwrap())
        .unwrap();
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
        ollama::chat_request(req, &req.model, false, "local")
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
    let body =
        serde_json::to_value(ollama::chat_request(&r, &r.model, false, "local").unwrap()).unwrap();
    assert!(body.get("tools").is_none());
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
        serde_json::to_value(ollama::generate_request(&req, &req.model, false, "local").unwrap())
            .unwrap();
    assert_eq!(body["suffix"], "\n\nprint(add(1, 2))");
    assert_eq!(body["stream"], false);
    insta::assert_json_snapshot!("ollama__synthetic-generate", body);
    req.extra.insert("images".into(), json!([]));
    let e = ollama::generate_request(&req, &req.model, false, "local").unwrap_err();
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
