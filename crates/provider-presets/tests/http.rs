//! HTTP behaviour against a mock upstream (wiremock on 127.0.0.1): authentication, extra
//! headers, settings read from the environment, attempt counts, status → error →
//! retryability.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use runtime_core::http::HttpClient;
use runtime_core::registry::validate_with;
use runtime_core::{
    BuildContext, ChatRequest, Error, Message, Provider, RequestContext, Secret, Service,
};
use serde_json::{Map, Value, json};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn answer(model: &str) -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1770000000, "model": model,
           "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                        "finish_reason": "stop"}],
           "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}})
}

/// Builds `provider_type` through its registry entry; `env` answers environment lookups.
fn build(
    provider_type: &str,
    table: Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> runtime_core::Result<Arc<dyn Provider>> {
    let factory = provider_presets::factories()
        .into_iter()
        .find(|f| f.name == provider_type)
        .unwrap();
    let Value::Object(table) = table else {
        panic!("a table")
    };
    let cfg = validate_with(factory, provider_type, &table, env)?;
    let http = HttpClient::new(&Default::default()).unwrap();
    (factory.build)(cfg, &BuildContext::new(http))
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn hi(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user("hi")])
}

#[tokio::test]
async fn openrouter_sends_bearer_attribution_headers_and_routing_preferences() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/chat/completions"))
        .and(header("authorization", "Bearer sk-or-test"))
        .and(header("http-referer", "https://example.com"))
        .and(header("x-title", "Example App"))
        .and(body_partial_json(json!({
            "provider": {"order": ["Anthropic"], "allow_fallbacks": false}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer("openai/gpt-4o")))
        .expect(1)
        .mount(&server)
        .await;
    let p = build(
        "openrouter",
        json!({
            "base_url": format!("{}/api/v1", server.uri()),
            "provider_order": ["Anthropic"],
            "allow_fallbacks": false,
        }),
        &|var| match var {
            "OPENROUTER_API_KEY" => Some("sk-or-test".into()),
            "OPENROUTER_HTTP_REFERER" => Some("https://example.com".into()),
            "OPENROUTER_X_TITLE" => Some("Example App".into()),
            _ => None,
        },
    )
    .unwrap();
    let r = p
        .chat(&hi("openai/gpt-4o"), &RequestContext::new())
        .await
        .unwrap();
    assert_eq!(r.message.text().as_deref(), Some("ok"));
}

#[tokio::test]
async fn the_key_comes_from_the_presets_variable_and_a_request_key_replaces_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .and(header("authorization", "Bearer from-env"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer("deepseek-chat")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/chat/completions"))
        .and(header("authorization", "Bearer rotated"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer("deepseek-chat")))
        .expect(1)
        .mount(&server)
        .await;
    let p = build("deepseek", json!({"base_url": server.uri()}), &|var| {
        (var == "DEEPSEEK_API_KEY").then(|| "from-env".to_owned())
    })
    .unwrap();
    p.chat(&hi("deepseek-chat"), &RequestContext::new())
        .await
        .unwrap();
    let mut ctx = RequestContext::new();
    ctx.api_key = Some(Secret::new("rotated"));
    p.chat(&hi("deepseek-chat"), &ctx).await.unwrap();
}

#[test]
fn a_missing_key_names_the_setting_and_its_variable() {
    let Err(e) = build("xai", json!({}), &no_env) else {
        panic!("no key must not build");
    };
    let text = e.to_string();
    assert!(
        text.contains("api_key") && text.contains("XAI_API_KEY"),
        "{text}"
    );
}

#[tokio::test]
async fn statuses_map_to_typed_errors_once_each() {
    let cases = [
        (
            429,
            json!({"error": {"message": "Rate limit reached", "type": "tokens", "code": "rate_limit_exceeded"}}),
            true,
        ),
        (
            401,
            json!({"error": {"message": "Invalid API Key", "type": "invalid_request_error", "code": "invalid_api_key"}}),
            false,
        ),
        (
            503,
            json!({"error": {"message": "Service Unavailable", "type": "internal_server_error"}}),
            true,
        ),
    ];
    for (status, body, retryable) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/openai/v1/chat/completions"))
            .respond_with(
                ResponseTemplate::new(status)
                    .insert_header("retry-after", "3")
                    .set_body_json(body),
            )
            .expect(1)
            .mount(&server)
            .await;
        let p = build(
            "groq",
            json!({"api_key": "gsk-test", "base_url": format!("{}/openai/v1", server.uri())}),
            &no_env,
        )
        .unwrap();
        let e = p
            .chat(&hi("llama-3.1-8b-instant"), &RequestContext::new())
            .await
            .unwrap_err();
        assert_eq!(e.is_retryable(), retryable, "{status}: {e:?}");
        match status {
            429 => assert!(matches!(e, Error::RateLimited { .. }), "{e:?}"),
            401 => assert!(matches!(e, Error::Authentication { .. }), "{e:?}"),
            _ => {}
        }
        assert!(!format!("{e:?}").contains("gsk-test"));
    }
}

#[tokio::test]
async fn refused_fields_never_reach_the_upstream() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer("x")))
        .expect(0)
        .mount(&server)
        .await;
    let p = build(
        "cerebras",
        json!({"api_key": "csk", "base_url": server.uri()}),
        &no_env,
    )
    .unwrap();
    let mut r = hi("gpt-oss-120b");
    r.frequency_penalty = Some(0.3);
    let e = p.chat(&r, &RequestContext::new()).await.unwrap_err();
    assert!(
        matches!(&e, Error::InvalidRequest { param: Some(f), .. } if f == "frequency_penalty"),
        "{e:?}"
    );
    assert!(!e.is_retryable());
}

#[tokio::test]
async fn list_models_reads_the_listing_where_the_api_has_one() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/models"))
        .and(header("authorization", "Bearer sk-or"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(runtime_testkit::fixtures::text(
                "openrouter",
                "models-list.response.json",
            )),
        )
        .expect(1)
        .mount(&server)
        .await;
    let p = build(
        "openrouter",
        json!({"api_key": "sk-or", "base_url": format!("{}/api/v1", server.uri())}),
        &no_env,
    )
    .unwrap();
    let models = p.list_models(&RequestContext::new()).await.unwrap();
    assert_eq!(models.len(), 1);
    assert_eq!(models[0].id, "openai/gpt-4");
    assert_eq!(models[0].context_window, Some(8192));
    assert_eq!(models[0].provider, "openrouter");
    // Perplexity has no listing: the static catalog, no request.
    let perplexity = build(
        "perplexity",
        json!({"api_key": "pplx", "base_url": server.uri()}),
        &no_env,
    )
    .unwrap();
    let sonar = perplexity
        .list_models(&RequestContext::new())
        .await
        .unwrap();
    assert!(sonar.iter().any(|m| m.id == "sonar" && !m.supports_tools));
}

#[tokio::test]
async fn fireworks_streams_usage_without_stream_options() {
    let server = MockServer::start().await;
    let sse = runtime_conformance::chunks_as_sse(&runtime_testkit::fixtures::text(
        "fireworks",
        "stream-basic.chunks.jsonl",
    ));
    Mock::given(method("POST"))
        .and(path("/inference/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/event-stream")
                .set_body_bytes(sse),
        )
        .expect(1)
        .mount(&server)
        .await;
    let p = build(
        "fireworks",
        json!({"api_key": "fw", "base_url": format!("{}/inference/v1", server.uri())}),
        &no_env,
    )
    .unwrap();
    let mut r = hi("llama-v3p1-8b-instruct");
    r.stream = Some(true);
    let answer = p
        .chat_stream(&r, &RequestContext::new())
        .await
        .unwrap()
        .collect_response()
        .await
        .unwrap();
    assert_eq!(
        answer.message.text().as_deref(),
        Some("The name of the US capital is Washington, D.C. (short for District of Columbia).")
    );
    assert_eq!(answer.usage.unwrap().total_tokens, 40);
    let sent: Vec<Request> = server.received_requests().await.unwrap();
    let body: Map<String, Value> = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(
        body["model"],
        "accounts/fireworks/models/llama-v3p1-8b-instruct"
    );
    assert!(!body.contains_key("stream_options"));
}

#[tokio::test]
async fn a_retargeted_call_sends_the_calls_model_prefixed_and_leaves_the_body_alone() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/inference/v1/chat/completions"))
        .and(body_partial_json(
            json!({"model": "accounts/fireworks/models/other-model"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer("other-model")))
        .expect(1)
        .mount(&server)
        .await;
    let p = build(
        "fireworks",
        json!({"api_key": "fw", "base_url": format!("{}/inference/v1", server.uri())}),
        &no_env,
    )
    .unwrap();
    let req = hi("llama-v3p1-8b-instruct");
    let call = runtime_core::Call::chat(&req).with_model("other-model");
    runtime_core::ProviderService::new(p)
        .call(call, &RequestContext::new())
        .await
        .unwrap();
    assert_eq!(req.model, "llama-v3p1-8b-instruct");
}
