//! Text Embeddings Inference `/rerank` against wiremock with TEI's own recorded exchange.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use provider_huggingface::HuggingFaceSettings;
use runtime_core::http::HttpClient;
use runtime_core::{Error, Provider, RequestContext, RerankRequest};
use runtime_testkit::fixtures;
use serde_json::json;
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn tei_rerank_maps_ranks_and_applies_top_n() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rerank"))
        .and(body_json(
            json!({"query": "test", "texts": ["test", "other", "test"], "return_text": false}),
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_bytes(fixtures::bytes("tei", "rerank-ranks.response.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mut s = HuggingFaceSettings::new("tei");
    s.rerank_url = Some(format!("{}/rerank", server.uri()));
    let p = s
        .build(HttpClient::new(&Default::default()).unwrap())
        .unwrap();
    assert!(p.capabilities().rerank);
    let mut req = RerankRequest::new(
        "BAAI/bge-reranker-base",
        "test",
        vec!["test".into(), "other".into(), "test".into()],
    );
    req.top_n = Some(2);
    req.return_documents = Some(true);
    let resp = p.rerank(&req, &RequestContext::new()).await.unwrap();
    let got: Vec<usize> = resp.results.iter().map(|r| r.index).collect();
    assert_eq!(got, vec![2, 0]);
    assert!((resp.results[1].relevance_score - 0.9997739).abs() < 1e-9);
    assert_eq!(resp.results[0].document, Some(req.documents[2].clone()));
    assert_eq!(resp.id, "");
    assert!(resp.usage.is_none());
}

#[tokio::test]
async fn without_rerank_url_rerank_is_unsupported() {
    let p = HuggingFaceSettings::new("hf")
        .build(HttpClient::new(&Default::default()).unwrap())
        .unwrap();
    assert!(!p.capabilities().rerank);
    let req = RerankRequest::new("m", "q", vec!["a".into()]);
    let e = p.rerank(&req, &RequestContext::new()).await.unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e:?}");
}
