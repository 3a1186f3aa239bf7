//! Rerank against wiremock with a recorded Jina answer (`fixtures/jina/rerank.*`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use provider_jina::JinaSettings;
use runtime_core::http::HttpClient;
use runtime_core::{Provider, RequestContext, RerankDocument, RerankRequest, Secret};
use runtime_testkit::fixtures;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn provider(server: &MockServer) -> std::sync::Arc<dyn Provider> {
    let mut s = JinaSettings::new("jina", Secret::new("jina-key"));
    s.base_url = format!("{}/v1", server.uri());
    std::sync::Arc::new(s.build(HttpClient::shared().unwrap()))
}

#[tokio::test]
async fn rerank_sends_the_cohere_style_body_and_maps_ranks_and_tokens() {
    let server = MockServer::start().await;
    let recorded: Value = fixtures::json("jina", "rerank.request.json");
    // What is sent: the recorded body, plus `return_documents: false` (documents asked for
    // are served from the request) and `top_n` when given.
    let mut sent = recorded.clone();
    sent["return_documents"] = json!(false);
    Mock::given(method("POST"))
        .and(path("/v1/rerank"))
        .and(header("authorization", "Bearer jina-key"))
        .and(body_json(&sent))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixtures::bytes("jina", "rerank.response.json"),
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let p = provider(&server);
    assert!(p.capabilities().rerank);
    let mut req: RerankRequest = serde_json::from_value(recorded).unwrap();
    req.return_documents = Some(true);
    let r = p.rerank(&req, &RequestContext::new()).await.unwrap();
    let got: Vec<(usize, f64)> = r
        .results
        .iter()
        .map(|x| (x.index, x.relevance_score))
        .collect();
    assert_eq!(
        got,
        vec![
            (0, 0.23231014609336853),
            (2, 0.16026602685451508),
            (1, 0.09401018172502518),
            (3, 0.08509904146194458)
        ]
    );
    assert_eq!(
        r.results[1].document,
        Some(RerankDocument::Text(
            "Computer vision applies machine learning to images".into()
        ))
    );
    let usage = r.usage.unwrap();
    assert_eq!(usage.search_units, 0);
    assert_eq!(usage.tokens.unwrap().prompt_tokens, 50);
    assert_eq!(r.model, "jina-reranker-v2-base-multilingual");
    assert_eq!(r.meta.provider.as_deref(), Some("jina"));
}

#[tokio::test]
async fn refusals_name_the_field_and_errors_keep_the_key_hidden() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/rerank"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({"detail": "slow down"})))
        .mount(&server)
        .await;
    let p = provider(&server);
    let mut req = RerankRequest::new("jina-reranker-v3", "q", vec!["a".into()]);
    req.max_tokens_per_doc = Some(100);
    let e = p.rerank(&req, &RequestContext::new()).await.unwrap_err();
    assert!(e.to_string().contains("max_tokens_per_doc"), "{e}");
    req.max_tokens_per_doc = None;
    req.extra.insert("rank_fields".into(), json!(["title"]));
    let e = p.rerank(&req, &RequestContext::new()).await.unwrap_err();
    assert!(e.to_string().contains("rank_fields"), "{e}");
    req.extra.clear();
    let e = p.rerank(&req, &RequestContext::new()).await.unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    assert!(!e.to_string().contains("jina-key"), "{e}");
    // Object documents are sent as their text.
    let mut obj = RerankRequest::new("jina-reranker-v3", "q", vec![]);
    obj.documents = vec![RerankDocument::Object(
        json!({"text": "doc", "id": 1})
            .as_object()
            .cloned()
            .unwrap(),
    )];
    let body = provider_jina::wire::rerank::rerank_request(&obj, &obj.model, "jina").unwrap();
    assert_eq!(body.documents, vec!["doc".to_owned()]);
}

#[tokio::test]
async fn a_retargeted_rerank_sends_the_calls_model_and_leaves_the_body_alone() {
    let server = MockServer::start().await;
    let recorded: Value = fixtures::json("jina", "rerank.request.json");
    let mut sent = recorded.clone();
    sent["return_documents"] = json!(false);
    sent["model"] = json!("other-model");
    Mock::given(method("POST"))
        .and(path("/v1/rerank"))
        .and(body_json(&sent))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            fixtures::bytes("jina", "rerank.response.json"),
            "application/json",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let p = provider(&server);
    let req: RerankRequest = serde_json::from_value(recorded.clone()).unwrap();
    let call = runtime_core::Call::rerank(&req).with_model("other-model");
    let r = runtime_core::call::serve(&*p, call, &RequestContext::new())
        .await
        .unwrap()
        .into_rerank()
        .unwrap();
    assert_eq!(r.results.len(), 4);
    assert_eq!(req.model, recorded["model"].as_str().unwrap());
}
