//! The provider over HTTP (wiremock / fault server on 127.0.0.1): every recorded exchange
//! replayed, headers, streaming, errors, model listing, and the registry factory.
#![allow(
    clippy::result_large_err,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod common;

use std::time::Duration;

use common::{DIR, anthropic_to_core, provider};
use futures::StreamExt;
use provider_anthropic::wire::{RequestOptions, messages_request};
use provider_anthropic::{AnthropicSettings, FACTORY};
use runtime_core::registry::validate_with;
use runtime_core::{
    BuildContext, ChatRequest, CompletionRequest, EmbeddingRequest, Error, FinishReason, Message,
    Provider, ProviderRegistry, RequestContext, Secret, StreamEvent,
};
use runtime_testkit::fault::{Action, FaultServer};
use runtime_testkit::fixtures;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk-ant-test-key";
const T: Duration = Duration::from_secs(10);

fn ctx() -> RequestContext {
    RequestContext::new()
}

/// Every recorded Messages exchange (`*.meta.json` with a request): the recorded request (read
/// back into core) is sent, the recorded status, content type and body are answered; the
/// outcome and the request on the wire are checked. (The model list has no request body; its
/// conformance case replays it.)
#[tokio::test]
async fn every_recorded_exchange_replays() {
    let metas: Vec<String> = fixtures::list(DIR)
        .into_iter()
        .filter(|n| n.ends_with(".meta.json") && n != "models-list.meta.json")
        .collect();
    assert_eq!(metas.len(), 10);
    for meta_name in metas {
        let meta = fixtures::json(DIR, &meta_name);
        let stem = meta_name.trim_end_matches(".meta.json");
        let status = meta["status"].as_u64().unwrap() as u16;
        let body_file = meta["response_body_file"].as_str().unwrap();
        let content_type = meta["response_headers"]["content-type"].as_str().unwrap();
        let recorded_req = fixtures::json(DIR, &format!("{stem}.request.json"));
        let core = anthropic_to_core(&recorded_req);
        let stream = recorded_req["stream"].as_bool().unwrap_or(false);

        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/messages"))
            .respond_with(
                ResponseTemplate::new(status)
                    .set_body_raw(fixtures::bytes(DIR, body_file), content_type)
                    .insert_header("request-id", "req_replay"),
            )
            .expect(1)
            .mount(&server)
            .await;
        let p = provider(&server.uri(), KEY, T);
        let result = if stream {
            match p.chat_stream(&core, &ctx()).await {
                Ok(s) => {
                    assert_eq!(s.meta().upstream_request_id.as_deref(), Some("req_replay"));
                    s.collect_response().await
                }
                Err(e) => Err(e),
            }
        } else {
            p.chat(&core, &ctx()).await
        };
        match (status, &result) {
            (200, Ok(r)) => {
                assert!(!r.id.is_empty(), "{stem}");
                assert!(r.usage.is_some(), "{stem}");
                assert_eq!(r.meta.provider.as_deref(), Some("anthropic"));
                if !stream {
                    assert_eq!(r.meta.upstream_request_id.as_deref(), Some("req_replay"));
                }
            }
            (400, Err(Error::InvalidRequest { .. }))
            | (401, Err(Error::Authentication { status: 401, .. }))
            | (404, Err(Error::ModelNotFound { .. })) => {
                assert!(!result.as_ref().unwrap_err().is_retryable(), "{stem}");
            }
            (s, other) => panic!("{stem}: status {s} gave {other:?}"),
        }

        let reqs = server.received_requests().await.unwrap();
        let sent = &reqs[0];
        let recorded_path = meta
            .get("url")
            .and_then(Value::as_str)
            .map(|u| {
                u.trim_start_matches("https://api.anthropic.com")
                    .split('?')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .or_else(|| meta["path"].as_str().map(str::to_owned))
            .unwrap();
        assert_eq!(sent.url.path(), recorded_path, "{stem}");
        assert_eq!(sent.headers.get("x-api-key").unwrap(), KEY);
        let version = meta["request_headers"]["anthropic-version"]
            .as_str()
            .unwrap_or("2023-06-01");
        assert_eq!(sent.headers.get("anthropic-version").unwrap(), version);
        assert_eq!(
            sent.headers.get("content-type").unwrap(),
            "application/json"
        );
        assert!(sent.headers.get("authorization").is_none());
        let body: Value = serde_json::from_slice(&sent.body).unwrap();
        assert_eq!(
            body,
            serde_json::to_value(
                messages_request(
                    &core,
                    &core.model,
                    "anthropic",
                    RequestOptions::default(),
                    stream
                )
                .unwrap()
            )
            .unwrap(),
            "{stem}"
        );
        assert_eq!(body["model"], recorded_req["model"]);
        assert_eq!(
            body["messages"].as_array().unwrap().len(),
            recorded_req["messages"].as_array().unwrap().len()
        );
    }
}

#[tokio::test]
async fn headers_key_override_beta_and_version() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixtures::bytes(DIR, "messages-basic-system.response.json"),
            "application/json",
        ))
        .mount(&server)
        .await;
    let mut s = AnthropicSettings::new("claude", Secret::new(KEY));
    s.base_url = format!("{}/v1/", server.uri());
    s.beta = vec![
        "prompt-caching-2024-07-31".into(),
        "context-1m-2025-08-07".into(),
    ];
    s.anthropic_version = "2024-01-01".into();
    let p = s.build(common::http());
    let mut c = ctx();
    c.api_key = Some(Secret::new("sk-ant-rotated"));
    let r = p
        .chat(
            &ChatRequest::new("claude-3-opus-latest", vec![Message::user("hi")]),
            &c,
        )
        .await
        .unwrap();
    assert_eq!(r.meta.provider.as_deref(), Some("claude"));
    let reqs = server.received_requests().await.unwrap();
    let h = &reqs[0].headers;
    assert_eq!(h.get("x-api-key").unwrap(), "sk-ant-rotated");
    assert_eq!(
        h.get("anthropic-beta").unwrap(),
        "prompt-caching-2024-07-31,context-1m-2025-08-07"
    );
    assert_eq!(h.get("anthropic-version").unwrap(), "2024-01-01");
    assert_eq!(reqs[0].url.path(), "/v1/messages");
    assert!(!reqs[0].url.as_str().contains("sk-ant"));
    // The spec marks the key sensitive, so Debug never shows it.
    let spec = p
        .messages_spec(
            &ChatRequest::new("m", vec![Message::user("x")]),
            "m",
            true,
            &ctx(),
        )
        .unwrap();
    assert!(!format!("{spec:?}").contains(KEY));
    assert!(spec.headers.get("x-api-key").unwrap().is_sensitive());
    assert_eq!(spec.headers.get("accept").unwrap(), "text/event-stream");
}

#[tokio::test]
async fn stream_over_http_with_error_event_mid_stream() {
    let body = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"claude-sonnet-4-5\",\"content\":[],\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\n",
        "event: content_block_start\n",
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
        "event: content_block_delta\n",
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Par\"}}\n\n",
        "event: error\n",
        "data: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"},\"request_id\":\"req_x\"}\n\n",
    );
    let server = FaultServer::start(vec![
        Action::head(200, "text/event-stream"),
        Action::body(body),
        Action::Close,
    ])
    .await;
    let p = provider(&server.url(), KEY, T);
    let mut s = p
        .chat_stream(
            &ChatRequest::new("claude-sonnet-4-5", vec![Message::user("hi")]),
            &ctx(),
        )
        .await
        .unwrap();
    let mut events = Vec::new();
    let mut error = None;
    while let Some(ev) = s.next().await {
        match ev {
            Ok(e) => events.push(e),
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    assert!(events.contains(&StreamEvent::TextDelta { text: "Par".into() }));
    let e = error.unwrap();
    assert!(
        matches!(&e, Error::Stream { error_type: Some(t), transient: true, content_sent: true, .. } if t == "overloaded_error"),
        "{e:?}"
    );
    assert!(s.next().await.is_none());
}

#[tokio::test]
async fn stream_cut_inside_an_event_is_transient() {
    let whole = fixtures::bytes(DIR, "stream-basic.sse");
    let text = String::from_utf8_lossy(&whole).into_owned();
    let cut = text.find("\" there\"").unwrap();
    let server = FaultServer::start(vec![
        Action::head(200, "text/event-stream"),
        Action::body(&whole[..cut]),
        Action::Close,
    ])
    .await;
    let p = provider(&server.url(), KEY, T);
    let s = p
        .chat_stream(
            &ChatRequest::new("claude-3-opus-latest", vec![Message::user("hi")]),
            &ctx(),
        )
        .await
        .unwrap();
    let e = s.collect_response().await.unwrap_err();
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
}

#[tokio::test]
async fn stream_rejected_up_front_is_a_plain_json_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(400).set_body_raw(
                json!({"type": "error", "error": {"type": "invalid_request_error", "message": "prompt is too long: 250000 tokens > 200000 maximum"}}).to_string(),
                "application/json",
            ),
        )
        .mount(&server)
        .await;
    let p = provider(&server.uri(), KEY, T);
    let e = p
        .chat_stream(
            &ChatRequest::new("claude-sonnet-4-5", vec![Message::user("hi")]),
            &ctx(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::ContextLengthExceeded { .. }), "{e:?}");
}

#[tokio::test]
async fn overloaded_and_rate_limited_over_http() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(529).set_body_raw(
                json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}, "request_id": "req_1"}).to_string(),
                "application/json",
            ),
        )
        .mount(&server)
        .await;
    let p = provider(&server.uri(), KEY, T);
    let e = p
        .chat(&ChatRequest::new("m", vec![Message::user("hi")]), &ctx())
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Api { status: 529, .. }) && e.is_retryable(),
        "{e:?}"
    );

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_raw(
                    json!({"type": "error", "error": {"type": "rate_limit_error", "message": "Number of request tokens has exceeded your per-minute rate limit"}}).to_string(),
                    "application/json",
                )
                .insert_header("anthropic-ratelimit-tokens-remaining", "0")
                .insert_header("anthropic-ratelimit-tokens-reset", "2000-01-01T00:00:00Z"),
        )
        .mount(&server)
        .await;
    let p = provider(&server.uri(), KEY, T);
    let e = p
        .chat(&ChatRequest::new("m", vec![Message::user("hi")]), &ctx())
        .await
        .unwrap_err();
    // A reset in the past means: retry now.
    assert!(
        matches!(e, Error::RateLimited { retry_after: Some(d), .. } if d == Duration::ZERO),
        "{e:?}"
    );
}

#[tokio::test]
async fn completion_is_served_over_messages_and_embeddings_are_unsupported() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixtures::bytes(DIR, "messages-basic-system.response.json"),
            "application/json",
        ))
        .mount(&server)
        .await;
    let p = provider(&server.uri(), KEY, T);
    let req = CompletionRequest {
        model: "claude-3-opus-latest".into(),
        prompt: "The capital of France is".into(),
        max_tokens: Some(8),
        ..Default::default()
    };
    let c = p.complete(&req, &ctx()).await.unwrap();
    assert_eq!(c.text, "The capital of France is Paris.");
    assert_eq!(c.finish_reason, FinishReason::Stop);
    let reqs = server.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(body["max_tokens"], json!(8));
    assert_eq!(
        body["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "The capital of France is"}]}])
    );
    let mut fim = req.clone();
    fim.suffix = Some("x".into());
    assert!(matches!(
        p.complete(&fim, &ctx()).await,
        Err(Error::InvalidRequest { .. })
    ));
    let e = p
        .embed(&EmbeddingRequest::new("m", vec!["x".into()]), &ctx())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }));
    assert!(!p.capabilities().embeddings && p.capabilities().completion);
}

#[tokio::test]
async fn list_models_follows_pages() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .and(query_param("after_id", "claude-opus-4-1-20250805"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"type": "model", "id": "claude-3-5-haiku-20241022", "display_name": "Claude Haiku 3.5", "created_at": "2024-10-22T00:00:00Z"}],
            "has_more": false, "first_id": "claude-3-5-haiku-20241022", "last_id": "claude-3-5-haiku-20241022"
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [
                {"type": "model", "id": "claude-sonnet-4-5-20250929", "display_name": "Claude Sonnet 4.5", "created_at": "2025-09-29T00:00:00Z"},
                {"type": "model", "id": "claude-opus-4-1-20250805", "display_name": "Claude Opus 4.1", "created_at": "2025-08-05T00:00:00Z"}
            ],
            "has_more": true, "first_id": "claude-sonnet-4-5-20250929", "last_id": "claude-opus-4-1-20250805"
        })))
        .with_priority(2)
        .mount(&server)
        .await;
    let p = provider(&server.uri(), KEY, T);
    let models = p.list_models(&ctx()).await.unwrap();
    let ids: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "claude-sonnet-4-5-20250929",
            "claude-opus-4-1-20250805",
            "claude-3-5-haiku-20241022"
        ]
    );
    assert_eq!(models[1].max_output_tokens, Some(32_000));
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs.len(), 2);
    assert!(
        reqs.iter()
            .all(|r| r.headers.get("x-api-key").unwrap() == KEY)
    );
    let h = p.health(&ctx()).await.unwrap();
    assert!(h.healthy);
    assert!(!p.models().is_empty());
}

#[tokio::test]
async fn factory_reads_every_setting() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixtures::bytes(DIR, "messages-basic-system.response.json"),
            "application/json",
        ))
        .mount(&server)
        .await;
    let table = json!({
        "type": "anthropic",
        "base_url": server.uri(),
        "anthropic_version": "2023-06-01",
        "default_max_tokens": 777,
        "beta": ["token-efficient-tools-2025-02-19"],
        "timeout": "30s",
        "stream_idle_timeout": "5s"
    });
    let env = |k: &str| (k == "ANTHROPIC_API_KEY").then(|| "sk-ant-from-env".to_owned());
    let cfg = validate_with(&FACTORY, "claude-prod", table.as_object().unwrap(), &env).unwrap();
    let bctx = BuildContext::new(common::http());
    let p = (FACTORY.build)(cfg, &bctx).unwrap();
    assert_eq!(p.name(), "claude-prod");
    p.chat(&ChatRequest::new("m", vec![Message::user("hi")]), &ctx())
        .await
        .unwrap();
    let reqs = server.received_requests().await.unwrap();
    let body: Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(body["max_tokens"], json!(777));
    assert_eq!(reqs[0].headers.get("x-api-key").unwrap(), "sk-ant-from-env");
    assert_eq!(
        reqs[0].headers.get("anthropic-beta").unwrap(),
        "token-efficient-tools-2025-02-19"
    );

    // Defaults and required fields.
    let no_env = |_: &str| None;
    let e = validate_with(&FACTORY, "a", &serde_json::Map::new(), &no_env).unwrap_err();
    assert!(
        matches!(e, Error::InvalidConfig { ref field, .. } if field == "api_key"),
        "{e:?}"
    );
    let e = validate_with(
        &FACTORY,
        "a",
        json!({"api_key": "k", "bogus": 1}).as_object().unwrap(),
        &no_env,
    )
    .unwrap_err();
    assert!(matches!(e, Error::InvalidConfig { ref field, .. } if field == "bogus"));
    let cfg = validate_with(
        &FACTORY,
        "a",
        json!({"api_key": "k"}).as_object().unwrap(),
        &no_env,
    )
    .unwrap();
    let p = (FACTORY.build)(cfg, &bctx).unwrap();
    assert_eq!(p.name(), "a");
    let cfg = validate_with(
        &FACTORY,
        "a",
        json!({"api_key": "k", "default_max_tokens": 0})
            .as_object()
            .unwrap(),
        &no_env,
    )
    .unwrap();
    assert!(matches!(
        (FACTORY.build)(cfg, &bctx),
        Err(Error::InvalidConfig { .. })
    ));
    let spec = FACTORY
        .settings
        .iter()
        .find(|s| s.key == "api_key")
        .unwrap();
    assert!(spec.required && spec.is_secret() && spec.env == Some("ANTHROPIC_API_KEY"));
    let get = |k: &str| {
        FACTORY
            .settings
            .iter()
            .find(|s| s.key == k)
            .unwrap()
            .default
    };
    assert_eq!(get("base_url"), Some("https://api.anthropic.com"));
    assert_eq!(get("anthropic_version"), Some("2023-06-01"));
    assert_eq!(get("default_max_tokens"), Some("4096"));
}

#[tokio::test]
async fn settings_defaults_and_timeouts_are_applied() {
    let s = AnthropicSettings::new("a", Secret::new("k"));
    assert_eq!(s.base_url, "https://api.anthropic.com");
    assert_eq!(s.default_max_tokens, 4096);
    // The idle timeout cuts a stalled stream.
    let server = FaultServer::start(vec![
        Action::head(200, "text/event-stream"),
        Action::body(concat!(
            "event: message_start\n",
            "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"model\":\"m\",\"content\":[]}}\n\n"
        )),
        Action::Stall,
    ])
    .await;
    let mut s = AnthropicSettings::new("a", Secret::new("k"));
    s.base_url = server.url();
    s.stream_idle_timeout = Duration::from_millis(200);
    let p = s.build(common::http());
    assert_eq!(p.settings().stream_idle_timeout, Duration::from_millis(200));
    let stream = p
        .chat_stream(&ChatRequest::new("m", vec![Message::user("hi")]), &ctx())
        .await
        .unwrap();
    let e = stream.collect_response().await.unwrap_err();
    assert!(matches!(e, Error::Timeout { .. }), "{e:?}");
}

#[test]
fn registered_through_inventory() {
    let reg = ProviderRegistry::new(&[], common::http()).unwrap();
    assert!(reg.names().contains(&"anthropic"));
    assert_eq!(
        reg.factory("anthropic").unwrap().crate_name,
        "provider-anthropic"
    );
}

/// A re-targeted call (a router deployment's model, the dispatcher's `provider/model`) sends
/// the call's model, for chat, token counting and completions alike, and leaves the caller's
/// body alone.
#[tokio::test]
async fn a_retargeted_call_sends_the_calls_model() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixtures::bytes(DIR, "messages-basic-system.response.json"),
            "application/json",
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/messages/count_tokens"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"input_tokens": 7})))
        .mount(&server)
        .await;
    let p = provider(&server.uri(), KEY, T);
    let req = ChatRequest::new("claude-3-opus-latest", vec![Message::user("hi")]);
    let call = runtime_core::Call::chat(&req).with_model("other-model");
    let reply = runtime_core::call::serve(&p, call, &ctx()).await.unwrap();
    assert!(matches!(reply, runtime_core::Reply::Chat(_)), "{reply:?}");
    let call = runtime_core::Call::count_tokens(&req).with_model("other-model");
    let reply = runtime_core::call::serve(&p, call, &ctx()).await.unwrap();
    assert!(matches!(reply, runtime_core::Reply::Tokens(7)), "{reply:?}");
    assert_eq!(req.model, "claude-3-opus-latest");
    // A completion is served over chat, re-targeted too.
    let completion = runtime_core::CompletionRequest {
        model: "claude-3-opus-latest".into(),
        prompt: "hi".into(),
        ..Default::default()
    };
    let call = runtime_core::Call::complete(&completion).with_model("other-model");
    let reply = runtime_core::call::serve(&p, call, &ctx()).await.unwrap();
    assert!(
        matches!(reply, runtime_core::Reply::Completion(_)),
        "{reply:?}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
    for sent in server.received_requests().await.unwrap() {
        let body: Value = serde_json::from_slice(&sent.body).unwrap();
        assert_eq!(body["model"], "other-model", "{}", sent.url);
    }
}
