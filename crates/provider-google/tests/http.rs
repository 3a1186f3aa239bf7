//! The provider over HTTP (wiremock on 127.0.0.1): model-list paging, embedding batching,
//! credentials, URLs, registration.
#![allow(clippy::unwrap_used, clippy::panic, clippy::result_large_err)]

mod common;

use std::time::Duration;

use common::{DIR, provider};
use runtime_core::{
    ChatRequest, EmbeddingRequest, Error, Message, Provider, ProviderRegistry, RequestContext,
    Secret, Service, http::HttpClient, registry::validate_with,
};
use runtime_testkit::fixtures;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, path_regex, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const T: Duration = Duration::from_secs(10);

#[tokio::test]
async fn list_models_follows_every_page() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/models"))
        .and(query_param_is_missing("pageToken"))
        .and(header("x-goog-api-key", "k-123"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "models": [{"name": "models/text-embedding-004", "inputTokenLimit": 2048, "outputTokenLimit": 1,
                        "supportedGenerationMethods": ["embedContent"]}],
            "nextPageToken": "page/2=="
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/models"))
        .and(query_param("pageToken", "page/2=="))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixtures::bytes(DIR, "models-list.response.json"),
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let p = provider(&server.uri(), "k-123", T);
    let models = p.list_models(&RequestContext::new()).await.unwrap();
    let listed = fixtures::json(DIR, "models-list.response.json")["models"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(models.len(), 1 + listed);
    assert_eq!(models[0].id, "text-embedding-004");
    assert_eq!(models[0].kind, runtime_core::ModelKind::Embedding);
    assert!(models.iter().any(|m| m.id == "gemini-2.5-pro"));
    for r in server.received_requests().await.unwrap() {
        assert!(!r.url.as_str().contains("k-123"), "key in URL {}", r.url);
    }
}

#[tokio::test]
async fn list_models_error_is_typed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(400).set_body_raw(
            fixtures::bytes(DIR, "error-400-invalid-api-key.response.json"),
            "application/json",
        ))
        .mount(&server)
        .await;
    let p = provider(&server.uri(), "bad-key", T);
    let e = p.list_models(&RequestContext::new()).await.unwrap_err();
    assert!(matches!(e, Error::Authentication { .. }), "{e:?}");
    let h = p.health(&RequestContext::new()).await;
    assert!(h.is_err());
}

#[tokio::test]
async fn many_texts_are_split_into_batches_of_100() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path_regex(":batchEmbedContents$"))
        .respond_with(|req: &Request| {
            let body: Value = serde_json::from_slice(&req.body).unwrap();
            let reqs = body["requests"].as_array().unwrap();
            let embeddings: Vec<Value> = reqs
                .iter()
                .map(|r| {
                    let t: f32 = r["content"]["parts"][0]["text"]
                        .as_str()
                        .unwrap()
                        .parse()
                        .unwrap();
                    json!({"values": [t, r["outputDimensionality"]]})
                })
                .collect();
            ResponseTemplate::new(200).set_body_json(json!({"embeddings": embeddings}))
        })
        .mount(&server)
        .await;
    let p = provider(&server.uri(), "k", T);
    assert_eq!(p.capabilities().max_embedding_inputs, Some(100));
    let mut req = EmbeddingRequest::new(
        "models/gemini-embedding-001",
        (0..250).map(|i| i.to_string()).collect(),
    );
    req.dimensions = Some(768);
    let r = p.embed(&req, &RequestContext::new()).await.unwrap();
    assert_eq!(r.data.len(), 250);
    for (i, e) in r.data.iter().enumerate() {
        assert_eq!(e.index, i);
        assert_eq!(e.embedding, vec![i as f32, 768.0]);
    }
    let sizes: Vec<usize> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let b: Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(b["requests"][0]["model"], "models/gemini-embedding-001");
            assert!(
                r.url
                    .path()
                    .ends_with("/models/gemini-embedding-001:batchEmbedContents")
            );
            b["requests"].as_array().unwrap().len()
        })
        .collect();
    assert_eq!(sizes, vec![100, 100, 50]);
}

#[tokio::test]
async fn per_request_key_overrides_the_configured_one() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("x-goog-api-key", "rotated-key"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixtures::bytes(DIR, "generate-basic.response.json"),
            "application/json",
        ))
        .mount(&server)
        .await;
    let p = provider(&server.uri(), "configured-key", T);
    let mut ctx = RequestContext::new();
    ctx.api_key = Some(Secret::new("rotated-key"));
    let req = ChatRequest::new("gemini-2.5-flash", vec![Message::user("Hello!")]);
    let r = p.chat(&req, &ctx).await.unwrap();
    assert_eq!(r.meta.provider.as_deref(), Some("google"));
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(
        reqs[0].url.path(),
        "/models/gemini-2.5-flash:generateContent"
    );
    assert_eq!(reqs[0].url.query(), None);
}

#[tokio::test]
async fn stream_url_has_only_alt_sse() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/models/gemini-2.0-flash-exp:streamGenerateContent"))
        .and(query_param("alt", "sse"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixtures::bytes(DIR, "stream-sse-crlf.response.sse"),
            "text/event-stream",
        ))
        .mount(&server)
        .await;
    let p = provider(&server.uri(), "k-secret", T);
    let s = p
        .chat_stream(
            &common::core_request("stream-sse-crlf.request.json"),
            &RequestContext::new(),
        )
        .await
        .unwrap();
    assert_eq!(s.meta().provider.as_deref(), Some("google"));
    let r = s.collect_response().await.unwrap();
    assert_eq!(
        r.message.text().as_deref(),
        Some("The capital of France is Paris.\n")
    );
    let reqs = server.received_requests().await.unwrap();
    assert_eq!(reqs[0].url.query(), Some("alt=sse"));
}

#[tokio::test]
async fn invalid_requests_fail_before_any_http() {
    // Nothing listens on port 9: an HTTP attempt would be a connect error.
    let p = provider("http://127.0.0.1:9", "k", T);
    let ctx = RequestContext::new();
    let bad_model = ChatRequest::new("x?key=leak", vec![Message::user("hi")]);
    assert!(matches!(
        p.chat(&bad_model, &ctx).await,
        Err(Error::InvalidRequest { .. })
    ));
    let mut e = EmbeddingRequest::new("gemini-embedding-001", vec!["a".into()]);
    e.extra.insert("bogus".into(), json!(1));
    let err = p.embed(&e, &ctx).await.unwrap_err();
    assert_eq!(err.param(), Some("bogus"));
    let empty = EmbeddingRequest::new("gemini-embedding-001", vec![]);
    assert_eq!(
        p.embed(&empty, &ctx).await.unwrap_err().param(),
        Some("input")
    );
}

#[test]
fn registered_as_google_with_declared_settings() {
    let reg = ProviderRegistry::new(&[], HttpClient::new(&Default::default()).unwrap()).unwrap();
    let f = reg.factory("google").unwrap();
    assert_eq!(f.crate_name, "provider-google");
    let keys: Vec<&str> = f.settings.iter().map(|s| s.key).collect();
    assert_eq!(
        keys,
        ["api_key", "base_url", "timeout", "stream_idle_timeout"]
    );
    assert!(f.settings[0].is_secret());
    assert_eq!(f.settings[0].env, Some("GEMINI_API_KEY"));
}

#[tokio::test]
async fn build_reads_every_setting_and_falls_back_to_google_api_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("x-goog-api-key", "from-google-api-key"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixtures::bytes(DIR, "generate-basic.response.json"),
            "application/json",
        ))
        .mount(&server)
        .await;
    let table = json!({"base_url": format!("{}/", server.uri()), "timeout": "5s", "stream_idle_timeout": 7});
    let env = |k: &str| (k == "GOOGLE_API_KEY").then(|| "from-google-api-key".to_owned());
    let cfg = validate_with(
        &provider_google::FACTORY,
        "gem",
        table.as_object().unwrap(),
        &env,
    )
    .unwrap();
    let ctx = runtime_core::BuildContext::new(HttpClient::new(&Default::default()).unwrap());
    let p = provider_google::build_with_env(cfg, &ctx, &env).unwrap();
    assert_eq!(p.name(), "gem");
    let r = p
        .chat(
            &ChatRequest::new("gemini-2.5-flash", vec![Message::user("x")]),
            &RequestContext::new(),
        )
        .await
        .unwrap();
    assert_eq!(r.meta.provider.as_deref(), Some("gem"));

    // GEMINI_API_KEY wins over GOOGLE_API_KEY; neither is an error naming both.
    let env2 = |k: &str| match k {
        "GEMINI_API_KEY" => Some("gemini".to_owned()),
        "GOOGLE_API_KEY" => Some("google".to_owned()),
        _ => None,
    };
    let cfg = validate_with(&provider_google::FACTORY, "g2", &Default::default(), &env2).unwrap();
    assert_eq!(cfg.secret("api_key").unwrap().unwrap().expose(), "gemini");
    let cfg = validate_with(
        &provider_google::FACTORY,
        "g3",
        &Default::default(),
        &|_| None,
    )
    .unwrap();
    let Err(e) = provider_google::build_with_env(cfg, &ctx, &|_| None) else {
        panic!("built without a key");
    };
    let s = e.to_string();
    assert!(
        s.contains("api_key") && s.contains("GEMINI_API_KEY") && s.contains("GOOGLE_API_KEY"),
        "{s}"
    );

    // Timeouts are read from the config.
    use runtime_testkit::fault::{Action, FaultServer};
    let stall = FaultServer::start(vec![Action::Stall]).await;
    let table = json!({"api_key": "k", "base_url": stall.url(), "timeout": "250ms"});
    let cfg = validate_with(
        &provider_google::FACTORY,
        "g4",
        table.as_object().unwrap(),
        &|_| None,
    )
    .unwrap();
    let p = provider_google::build_with_env(cfg, &ctx, &|_| None).unwrap();
    let e = p
        .chat(
            &ChatRequest::new("gemini-2.5-flash", vec![Message::user("x")]),
            &RequestContext::new(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Timeout { after, .. } if after == Duration::from_millis(250)),
        "{e:?}"
    );
    let event =
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"hi\"}]}}]}\r\n\r\n";
    let idle = FaultServer::start(vec![
        Action::head(200, "text/event-stream"),
        Action::Write(event.as_bytes().to_vec()),
        Action::Stall,
    ])
    .await;
    let table = json!({"api_key": "k", "base_url": idle.url(), "timeout": "5s", "stream_idle_timeout": "300ms"});
    let cfg = validate_with(
        &provider_google::FACTORY,
        "g5",
        table.as_object().unwrap(),
        &|_| None,
    )
    .unwrap();
    let p = provider_google::build_with_env(cfg, &ctx, &|_| None).unwrap();
    let s = p
        .chat_stream(
            &ChatRequest::new("gemini-2.5-flash", vec![Message::user("x")]),
            &RequestContext::new(),
        )
        .await
        .unwrap();
    let e = s.collect_response().await.unwrap_err();
    assert!(
        matches!(e, Error::Timeout { after, .. } if after == Duration::from_millis(300)),
        "{e:?}"
    );
}

/// A re-targeted call (a router deployment's model, the dispatcher's `provider/model`) goes to
/// the call's model's URL, and the caller's body keeps its model.
#[tokio::test]
async fn a_retargeted_call_goes_to_the_calls_model() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/models/other-model:generateContent"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixtures::bytes(DIR, "generate-basic.response.json"),
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let p = std::sync::Arc::new(provider(&server.uri(), "k", T));
    let req = ChatRequest::new("gemini-2.5-flash", vec![Message::user("Hello!")]);
    let call = runtime_core::Call::chat(&req).with_model("other-model");
    let reply = runtime_core::ProviderService::new(p)
        .call(call, &RequestContext::new())
        .await
        .unwrap();
    assert!(matches!(reply, runtime_core::Reply::Chat(_)), "{reply:?}");
    assert_eq!(req.model, "gemini-2.5-flash");
}
