//! HTTP behaviour against a mock Azure endpoint: URLs, api-version, credentials, deployment
//! mapping, stream metadata, health probe, and config validation through the registry.
#![allow(clippy::unwrap_used, clippy::panic, clippy::result_large_err)]

use std::time::Duration;

use provider_azure_openai::{AzureCredential, AzureOpenAiProvider, AzureOpenAiSettings, FACTORY};
use runtime_core::http::HttpClient;
use runtime_core::registry::validate_with;
use runtime_core::{
    BuildContext, ChatRequest, EmbeddingRequest, Error, Message, ModelKind, Provider,
    ProviderRegistry, RequestContext, Secret, Service,
};
use runtime_testkit::fixtures;
use serde_json::{Map, Value, json};
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn provider(base: &str, cred: AzureCredential) -> AzureOpenAiProvider {
    let mut s = AzureOpenAiSettings::new("azure", base, cred)
        .deployment("gpt-4o", "prod-gpt4o")
        .deployment("text-embedding-3-small", "emb");
    s.timeout = Duration::from_secs(5);
    s.build(HttpClient::new(&Default::default()).unwrap())
        .unwrap()
}

fn chat_body() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_raw(
            fixtures::bytes("azure-openai", "chat-content-filter-results.response.json"),
            "application/json",
        )
        .insert_header("apim-request-id", "1d93fae1-cb8e-4789-8fb6-d26577a3cb77")
}

#[tokio::test]
async fn deployment_url_api_version_and_api_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/openai/deployments/prod-gpt4o/chat/completions"))
        .and(query_param("api-version", "2024-10-21"))
        .and(header("api-key", "k-123456"))
        .and(body_partial_json(json!({"model": "gpt-4o"})))
        .respond_with(chat_body())
        .expect(1)
        .mount(&server)
        .await;
    let p = provider(&server.uri(), AzureCredential::ApiKey("k-123456".into()));
    let r = p
        .chat(
            &ChatRequest::new("gpt-4o", vec![Message::user("hi")]),
            &RequestContext::new(),
        )
        .await
        .unwrap();
    assert_eq!(
        r.meta.upstream_request_id.as_deref(),
        Some("1d93fae1-cb8e-4789-8fb6-d26577a3cb77")
    );
    let reqs = server.received_requests().await.unwrap();
    assert!(reqs[0].headers.get("authorization").is_none());
}

#[tokio::test]
async fn ad_token_is_a_bearer_and_unmapped_model_is_its_own_deployment() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/openai/deployments/gpt-4o-mini/chat/completions"))
        .and(header("authorization", "Bearer entra-token"))
        .respond_with(chat_body())
        .expect(1)
        .mount(&server)
        .await;
    let p = provider(
        &server.uri(),
        AzureCredential::AdToken("entra-token".into()),
    );
    p.chat(
        &ChatRequest::new("gpt-4o-mini", vec![Message::user("hi")]),
        &RequestContext::new(),
    )
    .await
    .unwrap();
    let reqs = server.received_requests().await.unwrap();
    assert!(reqs[0].headers.get("api-key").is_none());
}

#[tokio::test]
async fn per_request_key_replaces_the_configured_one() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("api-key", "rotated-key"))
        .respond_with(chat_body())
        .expect(1)
        .mount(&server)
        .await;
    let p = provider(&server.uri(), AzureCredential::ApiKey("k-123456".into()));
    let mut ctx = RequestContext::new();
    ctx.api_key = Some(Secret::new("rotated-key"));
    p.chat(&ChatRequest::new("gpt-4o", vec![Message::user("hi")]), &ctx)
        .await
        .unwrap();
}

#[tokio::test]
async fn invalid_deployment_name_is_rejected_before_sending() {
    let server = MockServer::start().await;
    let p = provider(&server.uri(), AzureCredential::ApiKey("k-123456".into()));
    let e = p
        .chat(
            &ChatRequest::new("org/model", vec![Message::user("hi")]),
            &RequestContext::new(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.param(), Some("model"), "{e:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn embeddings_use_the_mapped_deployment() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/openai/deployments/emb/embeddings"))
        .and(query_param("api-version", "2024-10-21"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixtures::bytes("openai", "embeddings-float.response.json"),
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let p = provider(&server.uri(), AzureCredential::ApiKey("k-123456".into()));
    let r = p
        .embed(
            &EmbeddingRequest::new("text-embedding-3-small", vec!["a".into(), "b".into()]),
            &RequestContext::new(),
        )
        .await
        .unwrap();
    assert_eq!(r.data.len(), 2);
}

#[tokio::test]
async fn stream_meta_carries_prompt_filter_results_and_request_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/openai/deployments/prod-gpt4o/chat/completions"))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(
                    fixtures::bytes("azure-openai", "stream-async-filter-trailing-chunks.sse"),
                    "text/event-stream",
                )
                .insert_header("apim-request-id", "req-1"),
        )
        .mount(&server)
        .await;
    let p = provider(&server.uri(), AzureCredential::ApiKey("k-123456".into()));
    let s = p
        .chat_stream(
            &ChatRequest::new("gpt-4o", vec![Message::user("hi")]),
            &RequestContext::new(),
        )
        .await
        .unwrap();
    let meta = s.meta().clone();
    assert_eq!(meta.upstream_request_id.as_deref(), Some("req-1"));
    assert_eq!(
        meta.annotations["prompt_filter_results"][0]["prompt_index"],
        json!(0)
    );
    let r = s.collect_response().await.unwrap();
    assert_eq!(r.message.text().as_deref(), Some("Kindness"));
}

#[tokio::test]
async fn responses_body_over_http_is_a_clear_decode_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixtures::bytes("azure-openai", "responses-text.response.json"),
            "application/json",
        ))
        .mount(&server)
        .await;
    let p = provider(&server.uri(), AzureCredential::ApiKey("k-123456".into()));
    let e = p
        .chat(
            &ChatRequest::new("gpt-4o", vec![Message::user("hi")]),
            &RequestContext::new(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Decode { message, .. } if message.contains("Responses API")),
        "{e:?}"
    );
}

#[tokio::test]
async fn health_probes_the_models_endpoint_and_list_is_the_deployments() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/openai/models"))
        .and(query_param("api-version", "2024-10-21"))
        .and(header("api-key", "k-123456"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"id": "gpt-4o", "object": "model"}, {"id": "dall-e-3", "object": "model"}],
            "object": "list"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let p = provider(&server.uri(), AzureCredential::ApiKey("k-123456".into()));
    let h = p.health(&RequestContext::new()).await.unwrap();
    assert!(h.healthy && h.detail.contains('2'), "{h:?}");
    let models = p.list_models(&RequestContext::new()).await.unwrap();
    let ids: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["gpt-4o", "text-embedding-3-small"]);
    assert_eq!(models[0].context_window, Some(128_000));
    assert_eq!(models[1].kind, ModelKind::Embedding);
}

fn table(v: Value) -> Map<String, Value> {
    v.as_object().unwrap().clone()
}

fn build_ctx() -> BuildContext {
    BuildContext::new(HttpClient::new(&Default::default()).unwrap())
}

#[test]
fn config_needs_exactly_one_credential() {
    let none = validate_with(
        &FACTORY,
        "az",
        &table(json!({"endpoint": "https://r.openai.azure.com"})),
        &|_| None,
    )
    .unwrap();
    let e = (FACTORY.build)(none, &build_ctx()).err().unwrap();
    let s = e.to_string();
    assert!(s.contains("api_key") && s.contains("ad_token"), "{s}");

    let both = validate_with(
        &FACTORY,
        "az",
        &table(json!({"endpoint": "https://r.openai.azure.com", "api_key": "k"})),
        &|v| (v == "AZURE_OPENAI_AD_TOKEN").then(|| "t".to_owned()),
    )
    .unwrap();
    let e = (FACTORY.build)(both, &build_ctx()).err().unwrap();
    assert!(matches!(e, Error::InvalidConfig { ref field, .. } if field == "api_key, ad_token"));
}

#[test]
fn config_from_env_and_defaults() {
    let env = |v: &str| match v {
        "AZURE_OPENAI_ENDPOINT" => Some("https://r.openai.azure.com/".to_owned()),
        "AZURE_OPENAI_API_KEY" => Some("secret-key-1".to_owned()),
        _ => None,
    };
    let cfg = validate_with(
        &FACTORY,
        "az",
        &table(json!({"deployments": {"gpt-4o": "prod"}, "timeout": "30s"})),
        &env,
    )
    .unwrap();
    assert_eq!(
        cfg.string("api_version").unwrap().as_deref(),
        Some("2024-10-21")
    );
    let p = (FACTORY.build)(cfg, &build_ctx()).unwrap();
    assert_eq!(p.name(), "az");
    assert_eq!(p.models()[0].id, "gpt-4o");

    let missing = validate_with(&FACTORY, "az", &Map::new(), &|_| None).unwrap_err();
    assert!(missing.to_string().contains("AZURE_OPENAI_ENDPOINT"));

    for bad in [
        json!({"endpoint": "https://r", "api_key": "k", "max_tokens_field": "max"}),
        json!({"endpoint": "https://r", "api_key": "k", "deployments": {"m": "bad/name"}}),
        json!({"endpoint": "https://r", "api_key": "k", "api_version": "2024 10"}),
    ] {
        let cfg = validate_with(&FACTORY, "az", &table(bad.clone()), &|_| None).unwrap();
        let e = (FACTORY.build)(cfg, &build_ctx()).err().unwrap();
        assert!(matches!(e, Error::InvalidConfig { .. }), "{bad}: {e:?}");
    }
}

#[test]
fn registered_through_inventory() {
    let reg = ProviderRegistry::new(&[], HttpClient::new(&Default::default()).unwrap()).unwrap();
    assert!(reg.names().contains(&"azure-openai"), "{:?}", reg.names());
    let f = reg.factory("azure-openai").unwrap();
    let secrets: Vec<&str> = f
        .settings
        .iter()
        .filter(|s| s.is_secret())
        .map(|s| s.key)
        .collect();
    assert_eq!(secrets, ["api_key", "ad_token"]);
}

/// A re-targeted call (a router deployment's model, the dispatcher's `provider/model`) goes to
/// the call's model's deployment — mapped when configured, else the model itself — and sends
/// that model; the caller's body keeps its own.
#[tokio::test]
async fn a_retargeted_call_goes_to_the_calls_models_deployment() {
    let server = MockServer::start().await;
    for (deployment, model) in [("other-model", "other-model"), ("prod-gpt4o", "gpt-4o")] {
        Mock::given(method("POST"))
            .and(path(format!(
                "/openai/deployments/{deployment}/chat/completions"
            )))
            .and(body_partial_json(json!({ "model": model })))
            .respond_with(chat_body())
            .expect(1)
            .mount(&server)
            .await;
    }
    let p = std::sync::Arc::new(provider(&server.uri(), AzureCredential::ApiKey("k".into())));
    let service = runtime_core::ProviderService::new(p);
    let req = ChatRequest::new("gpt-4o", vec![Message::user("hi")]);
    let other = ChatRequest::new("other-model", vec![Message::user("hi")]);
    for (req, aimed) in [(&req, "other-model"), (&other, "gpt-4o")] {
        let call = runtime_core::Call::chat(req).with_model(aimed);
        let reply = service.call(call, &RequestContext::new()).await.unwrap();
        assert!(matches!(reply, runtime_core::Reply::Chat(_)), "{reply:?}");
    }
    assert_eq!(
        (req.model.as_str(), other.model.as_str()),
        ("gpt-4o", "other-model")
    );
}
