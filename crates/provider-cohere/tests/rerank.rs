//! Rerank against wiremock with the Cohere API reference's recorded example.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use provider_cohere::CohereSettings;
use runtime_core::http::HttpClient;
use runtime_core::{Provider, RequestContext, RerankDocument, RerankRequest, Secret};
use runtime_testkit::fixtures;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn rerank_sends_v2_body_and_maps_results_and_search_units() {
    let server = MockServer::start().await;
    let recorded: Value = fixtures::json("cohere", "rerank-v2.request.json");
    Mock::given(method("POST"))
        .and(path("/v2/rerank"))
        .and(header("authorization", "Bearer co-key"))
        .and(body_json(&recorded))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_bytes(fixtures::bytes("cohere", "rerank-v2.response.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mut s = CohereSettings::new("cohere", Secret::new("co-key"));
    s.base_url = server.uri();
    let p = s.build(HttpClient::new(&Default::default()).unwrap());
    let mut req: RerankRequest = serde_json::from_value(recorded.clone()).unwrap();
    req.return_documents = Some(true);
    let resp = p.rerank(&req, &RequestContext::new()).await.unwrap();
    assert_eq!(resp.id, "07734bd2-2473-4f07-94e1-0d9f0e6843cf");
    let got: Vec<(usize, f64)> = resp
        .results
        .iter()
        .map(|r| (r.index, r.relevance_score))
        .collect();
    assert_eq!(got, vec![(3, 0.999071), (4, 0.7867867), (0, 0.32713068)]);
    assert_eq!(resp.usage.unwrap().search_units, 1);
    // v2 returns no documents: those asked for are the request's own.
    assert_eq!(resp.results[0].document, Some(req.documents[3].clone()));
    assert_eq!(resp.meta.provider.as_deref(), Some("cohere"));
}

#[tokio::test]
async fn object_documents_go_as_text_and_unknown_fields_are_refused() {
    let mut s = CohereSettings::new("cohere", Secret::new("k"));
    s.base_url = "http://127.0.0.1:9".into();
    let p = s.build(HttpClient::new(&Default::default()).unwrap());
    let mut req = RerankRequest::new("rerank-v3.5", "q", vec![]);
    req.documents = vec![RerankDocument::Object(
        json!({"text": "doc", "id": 1})
            .as_object()
            .cloned()
            .unwrap(),
    )];
    let body = provider_cohere::wire::rerank::rerank_request(&req, &req.model, "cohere").unwrap();
    assert_eq!(body.documents, vec!["doc".to_owned()]);
    req.extra.insert("rank_fields".into(), json!(["title"]));
    let e = p.rerank(&req, &RequestContext::new()).await.unwrap_err();
    assert!(e.to_string().contains("rank_fields"), "{e}");
}

#[tokio::test]
async fn a_retargeted_rerank_sends_the_calls_model_and_leaves_the_body_alone() {
    let server = MockServer::start().await;
    let recorded: Value = fixtures::json("cohere", "rerank-v2.request.json");
    let mut expected = recorded.clone();
    expected["model"] = json!("other-model");
    Mock::given(method("POST"))
        .and(path("/v2/rerank"))
        .and(body_json(&expected))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_bytes(fixtures::bytes("cohere", "rerank-v2.response.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mut s = CohereSettings::new("cohere", Secret::new("co-key"));
    s.base_url = server.uri();
    let p = s.build(HttpClient::new(&Default::default()).unwrap());
    let req: RerankRequest = serde_json::from_value(recorded.clone()).unwrap();
    let call = runtime_core::Call::rerank(&req).with_model("other-model");
    let resp = runtime_core::call::serve(&p, call, &RequestContext::new())
        .await
        .unwrap()
        .into_rerank()
        .unwrap();
    assert_eq!(resp.model, "other-model");
    assert_eq!(req.model, recorded["model"].as_str().unwrap());
}
