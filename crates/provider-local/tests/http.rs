//! HTTP behaviour against mock local servers, and config through the registry.
#![allow(clippy::unwrap_used, clippy::panic, clippy::result_large_err)]

use std::time::Duration;

use provider_local::{FACTORY, LocalApi, LocalSettings, base_url_from_ollama_host};
use provider_openai::wire::MaxTokensField;
use runtime_core::http::HttpClient;
use runtime_core::registry::validate_with;
use runtime_core::{
    BuildContext, ChatRequest, Error, Message, ModelKind, ProviderRegistry, RequestContext, Secret,
};
use runtime_testkit::fixtures;
use serde_json::{Map, Value, json};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn settings(base: &str, api: LocalApi) -> LocalSettings {
    let mut s = LocalSettings::new("local", base);
    s.api = api;
    s.timeout = Duration::from_secs(5);
    s
}

fn json_reply(dir: &str, name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(fixtures::bytes(dir, name), "application/json")
}

#[tokio::test]
async fn no_key_no_auth_header_and_request_options() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixtures::bytes(
                "openai-compatible",
                "llamacpp-stream-unicode-across-chunks.response.sse",
            ),
            "text/event-stream",
        ))
        .mount(&server)
        .await;
    let mut s = settings(&format!("{}/v1/", server.uri()), LocalApi::OpenAi);
    s.stream_usage = false;
    s.max_tokens_field = MaxTokensField::MaxCompletionTokens;
    let p = s
        .build(HttpClient::new(&Default::default()).unwrap())
        .unwrap();
    let mut req = ChatRequest::new("m", vec![Message::user("hi")]);
    req.max_tokens = Some(9);
    let r = p
        .chat_stream(&req, &RequestContext::new())
        .await
        .unwrap()
        .collect_response()
        .await
        .unwrap();
    assert!(r.message.text().unwrap().ends_with('🌸'));
    let reqs = server.received_requests().await.unwrap();
    assert!(reqs[0].headers.get("authorization").is_none());
    let body: Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert!(body.get("stream_options").is_none(), "{body}");
    assert_eq!(body["max_completion_tokens"], 9);
}

#[tokio::test]
async fn per_request_key_is_a_bearer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(json_reply(
            "ollama",
            "api-chat-nonstream-durations.response.json",
        ))
        .mount(&server)
        .await;
    let p = settings(&server.uri(), LocalApi::Ollama)
        .build(HttpClient::new(&Default::default()).unwrap())
        .unwrap();
    let mut ctx = RequestContext::new();
    ctx.api_key = Some(Secret::new("proxy-key"));
    p.chat(
        &ChatRequest::new("qwen3:4b", vec![Message::user("x")]),
        &ctx,
    )
    .await
    .unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs[0].headers["authorization"], "Bearer proxy-key");
}

#[tokio::test]
async fn llamacpp_live_model_list() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(json_reply(
            "openai-compatible",
            "llamacpp-models.response.json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let mut s = settings(&format!("{}/v1", server.uri()), LocalApi::OpenAi);
    s.models = vec!["qwen3".into()];
    let p = s
        .build(HttpClient::new(&Default::default()).unwrap())
        .unwrap();
    assert_eq!(p.models()[0].id, "qwen3");
    let live = p.list_models(&RequestContext::new()).await.unwrap();
    assert_eq!(live[0].context_window, Some(4096));
    assert_eq!(live[0].provider, "local");
}

#[tokio::test]
async fn ollama_native_paths_strip_v1_and_list_tags() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/tags"))
        .respond_with(json_reply("ollama", "api-tags.response.json"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixtures::bytes(
                "ollama",
                "api-chat-stream-thinking-tool-call.response.ndjson",
            ),
            "application/x-ndjson",
        ))
        .mount(&server)
        .await;
    // A configured OpenAI-style base URL works for the native API too.
    let p = settings(&format!("{}/v1", server.uri()), LocalApi::Ollama)
        .build(HttpClient::new(&Default::default()).unwrap())
        .unwrap();
    let models = p.list_models(&RequestContext::new()).await.unwrap();
    assert_eq!(models.len(), 5);
    assert_eq!(models[0].kind, ModelKind::Embedding);
    let h = p.health(&RequestContext::new()).await.unwrap();
    assert!(h.healthy);
    let r = p
        .chat_stream(
            &ChatRequest::new("qwen3:4b", vec![Message::user("x")]),
            &RequestContext::new(),
        )
        .await
        .unwrap()
        .collect_response()
        .await
        .unwrap();
    assert_eq!(r.message.tool_calls[0].function.name, "lookup_harbor_label");
    assert_eq!(r.meta.provider.as_deref(), Some("local"));
}

#[test]
fn ollama_host_forms() {
    assert_eq!(
        base_url_from_ollama_host("0.0.0.0:11434"),
        "http://127.0.0.1:11434/v1"
    );
    assert_eq!(
        base_url_from_ollama_host("gpu-box"),
        "http://gpu-box:11434/v1"
    );
    assert_eq!(
        base_url_from_ollama_host("https://ollama.example.com:443/"),
        "https://ollama.example.com:443/v1"
    );
}

fn table(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn build_ctx() -> BuildContext {
    BuildContext::new(HttpClient::new(&Default::default()).unwrap())
}

#[test]
fn config_defaults_and_errors() {
    let cfg = validate_with(&FACTORY, "l", &Map::new(), &|_| None).unwrap();
    assert_eq!(
        cfg.string("base_url").unwrap().as_deref(),
        Some("http://localhost:11434/v1")
    );
    assert_eq!(cfg.string("api").unwrap().as_deref(), Some("openai"));
    assert_eq!(cfg.bool("stream_usage").unwrap(), Some(true));
    assert_eq!(
        cfg.duration("timeout").unwrap(),
        Some(Duration::from_secs(600))
    );
    let cfg = validate_with(
        &FACTORY,
        "l",
        &table(
            json!({"base_url": "http://10.0.0.2:8080/v1", "api": "ollama", "models": ["a", "b"]}),
        ),
        &|_| None,
    )
    .unwrap();
    let p = (FACTORY.build)(cfg, &build_ctx()).ok().unwrap();
    assert_eq!(p.models().len(), 2);
    assert!(p.capabilities().embeddings);
    let cfg = validate_with(
        &FACTORY,
        "l",
        &table(json!({"base_url": "http://x/v1", "api": "grpc"})),
        &|_| None,
    )
    .unwrap();
    let e = (FACTORY.build)(cfg, &build_ctx()).err().unwrap();
    assert!(
        matches!(e, Error::InvalidConfig { ref field, .. } if field == "api"),
        "{e:?}"
    );
    let e = validate_with(
        &FACTORY,
        "l",
        &table(json!({"base_url": "localhost:8080"})),
        &|_| None,
    )
    .unwrap_err();
    assert!(e.to_string().contains("base_url"));
    // The env variable fills base_url.
    let cfg = validate_with(&FACTORY, "l", &Map::new(), &|v| {
        (v == "LOCAL_BASE_URL").then(|| "http://127.0.0.1:1234/v1".to_owned())
    })
    .unwrap();
    assert_eq!(
        cfg.string("base_url").unwrap().as_deref(),
        Some("http://127.0.0.1:1234/v1")
    );
}

#[test]
fn registered_through_inventory() {
    let reg = ProviderRegistry::new(&[], HttpClient::new(&Default::default()).unwrap()).unwrap();
    assert!(reg.names().contains(&"local"), "{:?}", reg.names());
    let f = reg.factory("local").unwrap();
    let secrets: Vec<&str> = f
        .settings
        .iter()
        .filter(|s| s.is_secret())
        .map(|s| s.key)
        .collect();
    assert_eq!(secrets, ["api_key"]);
    assert!(f.settings.iter().all(|s| !s.required));
}

#[tokio::test]
async fn ollama_streamed_completion_over_generate() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/generate"))
        .and(body_partial_json(json!({"stream": true, "prompt": "Once"})))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            concat!(
                "{\"model\":\"m\",\"created_at\":\"2026-01-01T00:00:00Z\",\"response\":\" upon\",\"done\":false}\n",
                "{\"model\":\"m\",\"created_at\":\"2026-01-01T00:00:00Z\",\"response\":\"\",\"done\":true,\"done_reason\":\"stop\",\"prompt_eval_count\":2,\"eval_count\":1}\n",
            ),
            "application/x-ndjson",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let p = settings(&server.uri(), LocalApi::Ollama)
        .build(HttpClient::new(&Default::default()).unwrap())
        .unwrap();
    let req = runtime_core::CompletionRequest {
        model: "m".into(),
        prompt: "Once".into(),
        ..Default::default()
    };
    let r = p
        .complete_stream(&req, &RequestContext::new())
        .await
        .unwrap()
        .collect_response()
        .await
        .unwrap();
    assert_eq!(r.message.text().as_deref(), Some(" upon"));
    assert_eq!(r.usage.unwrap().total_tokens, 3);
}

#[tokio::test]
async fn ollama_model_not_found() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(ResponseTemplate::new(404).set_body_raw(
            r#"{"error":"model \"llama9\" not found, try pulling it first"}"#,
            "application/json",
        ))
        .mount(&server)
        .await;
    let p = settings(&server.uri(), LocalApi::Ollama)
        .build(HttpClient::new(&Default::default()).unwrap())
        .unwrap();
    let e = p
        .chat(
            &ChatRequest::new("llama9", vec![Message::user("x")]),
            &RequestContext::new(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, Error::ModelNotFound { .. }), "{e:?}");
}

#[tokio::test]
async fn a_retargeted_call_sends_the_calls_model_over_both_apis() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({"model": "other-model"})))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixtures::bytes(
                "openai-compatible",
                "llamacpp-stream-unicode-across-chunks.response.sse",
            ),
            "text/event-stream",
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .and(body_partial_json(json!({"model": "other-model"})))
        .respond_with(json_reply(
            "ollama",
            "api-chat-nonstream-durations.response.json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let http = HttpClient::new(&Default::default()).unwrap();
    let compat = settings(&format!("{}/v1", server.uri()), LocalApi::OpenAi)
        .build_openai(http.clone())
        .unwrap();
    let ollama = settings(&server.uri(), LocalApi::Ollama)
        .build_ollama(http)
        .unwrap();
    let req = ChatRequest::new("m", vec![Message::user("hi")]);
    let ctx = RequestContext::new();
    let call = runtime_core::Call::chat_stream(&req).with_model("other-model");
    let stream = runtime_core::call::serve(&compat, call, &ctx)
        .await
        .unwrap();
    stream
        .into_stream()
        .unwrap()
        .collect_response()
        .await
        .unwrap();
    let call = runtime_core::Call::chat(&req).with_model("other-model");
    runtime_core::call::serve(&ollama, call, &ctx)
        .await
        .unwrap();
    assert_eq!(req.model, "m");
}
