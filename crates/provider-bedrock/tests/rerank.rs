//! Rerank over the Agent Runtime `Rerank` API against wiremock, with the request and answer
//! of the Vercel AI SDK's Bedrock reranking test (`fixtures/bedrock/rerank-text.*`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err
)]

use std::sync::Arc;

use provider_bedrock::{Auth, AwsCredentials, BedrockSettings};
use runtime_core::http::HttpClient;
use runtime_core::{Error, Provider, RequestContext, RerankDocument, RerankRequest, Secret};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn fixture(name: &str) -> Vec<u8> {
    runtime_testkit::fixtures::bytes("bedrock", name)
}

fn provider(server: &MockServer, auth: Auth) -> Arc<dyn Provider> {
    let mut s = BedrockSettings::new("bedrock", "us-west-2", auth);
    s.runtime_url = Some(format!("{}/runtime", server.uri()));
    s.agent_runtime_url = Some(server.uri());
    Arc::new(s.build(HttpClient::shared().unwrap()))
}

fn sigv4() -> Auth {
    Auth::SigV4(AwsCredentials {
        access_key_id: "AKIDTEST".into(),
        secret_access_key: Secret::new("secret-access-key-never-shown"),
        session_token: None,
    })
}

/// The core request the recorded body comes from.
fn recorded_request(docs: usize) -> RerankRequest {
    let mut texts = vec![
        "sunny day at the beach".to_owned(),
        "rainy day in the city".to_owned(),
    ];
    texts.extend((2..docs).map(|i| format!("document {i}")));
    let mut req = RerankRequest::new("cohere.rerank-v3-5:0", "rainy day", texts);
    req.top_n = Some(2);
    req.extra.insert("nextToken".into(), json!("test-token"));
    req.extra.insert(
        "additionalModelRequestFields".into(),
        json!({"test": "test-value"}),
    );
    req
}

#[tokio::test]
async fn sends_the_recorded_body_signed_for_bedrock_and_maps_ranks() {
    let server = MockServer::start().await;
    let recorded: Value = serde_json::from_slice(&fixture("rerank-text.request.json")).unwrap();
    Mock::given(method("POST"))
        .and(path("/rerank"))
        .and(body_json(&recorded))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("rerank-text.response.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let p = provider(&server, sigv4());
    assert!(p.capabilities().rerank);
    // The recorded answer ranks index 5 of a two-document request (the SDK test reuses one
    // mock answer): that is a decode error naming the index, never a panic.
    let e = p
        .rerank(&recorded_request(2), &RequestContext::new())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e:?}");
    assert!(e.to_string().contains("index 5"), "{e}");
    let got = &server.received_requests().await.unwrap()[0];
    let auth = got.headers.get("authorization").unwrap().to_str().unwrap();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDTEST/")
            && auth.contains("/us-west-2/bedrock/aws4_request"),
        "{auth}"
    );
}

#[tokio::test]
async fn ranks_documents_and_meters_one_search_unit_per_hundred() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rerank"))
        .and(header("authorization", "Bearer ABSK-key"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("rerank-text.response.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let p = provider(&server, Auth::Bearer(Secret::new("ABSK-key")));
    let mut req = recorded_request(6);
    req.return_documents = Some(true);
    let r = p.rerank(&req, &RequestContext::new()).await.unwrap();
    let got: Vec<(usize, f64)> = r
        .results
        .iter()
        .map(|x| (x.index, x.relevance_score))
        .collect();
    assert_eq!(got, vec![(0, 0.5110583305358887), (5, 0.30241215229034424)]);
    assert_eq!(
        r.results[1].document,
        Some(RerankDocument::Text("document 5".into()))
    );
    assert_eq!(r.usage.unwrap().search_units, 1);
    assert_eq!(r.meta.provider.as_deref(), Some("bedrock"));
    assert_eq!(r.id, "");
}

#[tokio::test]
async fn follows_next_token_pages_and_sends_object_documents_as_json() {
    let server = MockServer::start().await;
    // Second page: asked for with the first page's token.
    Mock::given(method("POST"))
        .and(path("/rerank"))
        .and(body_partial_json(json!({"nextToken": "page-2"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [{"index": 1, "relevanceScore": 0.25}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/rerank"))
        .and(body_partial_json(json!({
            "sources": [
                {"type": "INLINE", "inlineDocumentSource": {"type": "TEXT", "textDocument": {"text": "a"}}},
                {"type": "INLINE", "inlineDocumentSource": {"type": "JSON", "jsonDocument": {"title": "b"}}}
            ],
            "rerankingConfiguration": {"bedrockRerankingConfiguration": {"modelConfiguration": {
                "modelArn": "arn:aws:bedrock:us-west-2::foundation-model/amazon.rerank-v1:0"
            }}}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "results": [{"index": 0, "relevanceScore": 0.75}],
            "nextToken": "page-2"
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let p = provider(&server, sigv4());
    let mut req = RerankRequest::new("amazon.rerank-v1:0", "q", vec!["a".into()]);
    req.documents.push(RerankDocument::Object(
        json!({"title": "b"}).as_object().cloned().unwrap(),
    ));
    let r = p.rerank(&req, &RequestContext::new()).await.unwrap();
    let got: Vec<usize> = r.results.iter().map(|x| x.index).collect();
    assert_eq!(got, vec![0, 1]);
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn throttling_is_a_retryable_rate_limit() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/rerank"))
        .respond_with(ResponseTemplate::new(429).set_body_raw(
            fixture("error-429-throttling.response.json"),
            "application/json",
        ))
        .mount(&server)
        .await;
    let p = provider(&server, sigv4());
    let req = RerankRequest::new("amazon.rerank-v1:0", "q", vec!["a".into()]);
    let e = p.rerank(&req, &RequestContext::new()).await.unwrap_err();
    assert!(e.is_retryable(), "{e:?}");
    assert!(!e.to_string().contains("secret-access-key-never-shown"));
}
