//! The provider over HTTP (wiremock on 127.0.0.1): SigV4 and bearer credentials, the
//! credential chain from the environment and the shared files, model ids in paths, listing
//! with inference profiles, embedding batching, in-band stream exceptions and cut streams.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::result_large_err
)]

use std::sync::Arc;

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message as EsMessage};
use futures::StreamExt;
use provider_bedrock::{Auth, AwsCredentials, BedrockSettings, build_with_env};
use runtime_core::http::HttpClient;
use runtime_core::registry::validate_with;
use runtime_core::{
    BuildContext, ChatRequest, EmbeddingRequest, Error, Message, ModelKind, Provider,
    RequestContext, Secret, StreamEvent,
};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn fixture(name: &str) -> Vec<u8> {
    runtime_testkit::fixtures::bytes("bedrock", name)
}

fn creds(token: Option<&str>) -> AwsCredentials {
    AwsCredentials {
        access_key_id: "AKIDTEST".into(),
        secret_access_key: Secret::new("secret-access-key-never-shown"),
        session_token: token.map(Secret::new),
    }
}

fn provider(server: &MockServer, auth: Auth) -> Arc<dyn Provider> {
    let mut s = BedrockSettings::new("bedrock", "us-west-2", auth);
    s.runtime_url = Some(server.uri());
    s.control_url = Some(format!("{}/control", server.uri()));
    Arc::new(s.build(HttpClient::new(&Default::default()).unwrap()))
}

fn es(kind: &str, type_header: &'static str, name: &str, payload: &str) -> Vec<u8> {
    let m = EsMessage::new(payload.as_bytes().to_vec())
        .add_header(Header::new(
            ":message-type",
            HeaderValue::String(kind.to_owned().into()),
        ))
        .add_header(Header::new(
            type_header,
            HeaderValue::String(name.to_owned().into()),
        ));
    let mut out = Vec::new();
    write_message_to(&m, &mut out).unwrap();
    out
}

fn event(name: &str, payload: &str) -> Vec<u8> {
    es("event", ":event-type", name, payload)
}

#[tokio::test]
async fn sigv4_signs_every_call_with_the_region_and_session_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(
            "/model/us.anthropic.claude-3-haiku-20240307-v1%3A0/converse",
        ))
        .and(header("x-amz-security-token", "session-token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("converse-basic.response.json"), "application/json")
                .insert_header("x-amzn-RequestId", "req-123"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let p = provider(&server, Auth::SigV4(creds(Some("session-token"))));
    let req = ChatRequest::new(
        "us.anthropic.claude-3-haiku-20240307-v1:0",
        vec![Message::user("Hello!")],
    );
    let r = p.chat(&req, &RequestContext::new()).await.unwrap();
    assert_eq!(r.meta.upstream_request_id.as_deref(), Some("req-123"));
    let got = &server.received_requests().await.unwrap()[0];
    let auth = got.headers.get("authorization").unwrap().to_str().unwrap();
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDTEST/")
            && auth.contains("/us-west-2/bedrock/aws4_request")
            && auth.contains("SignedHeaders=")
            && auth.contains("x-amz-security-token"),
        "{auth}"
    );
    assert!(got.headers.get("x-amz-date").is_some());
}

#[tokio::test]
async fn a_per_request_key_is_a_bearer_api_key_even_over_sigv4() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("authorization", "Bearer ABSK-rotated"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("converse-basic.response.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let p = provider(&server, Auth::SigV4(creds(None)));
    let mut ctx = RequestContext::new();
    ctx.api_key = Some(Secret::new("ABSK-rotated"));
    let req = ChatRequest::new("amazon.nova-micro-v1:0", vec![Message::user("Hello!")]);
    p.chat(&req, &ctx).await.unwrap();
}

#[tokio::test]
async fn an_arn_model_id_is_one_encoded_path_segment() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/model/arn%3Aaws%3Abedrock%3Aus-west-2%3A123456789012%3Aapplication-inference-profile%2Fa1b2c3/converse"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("converse-basic.response.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let p = provider(&server, Auth::Bearer(Secret::new("k")));
    let req = ChatRequest::new(
        "arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/a1b2c3",
        vec![Message::user("Hello!")],
    );
    p.chat(&req, &RequestContext::new()).await.unwrap();
}

#[tokio::test]
async fn listing_merges_foundation_models_and_paged_inference_profiles() {
    let server = MockServer::start().await;
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/");
    let models = std::fs::read(format!("{data}foundation-models.synthetic.json")).unwrap();
    Mock::given(method("GET"))
        .and(path("/control/foundation-models"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(models, "application/json"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/control/inference-profiles"))
        .and(query_param("nextToken", "page/2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "inferenceProfileSummaries": [
                {"inferenceProfileId": "eu.amazon.nova-micro-v1:0", "status": "ACTIVE"}
            ]
        })))
        .mount(&server)
        .await;
    let page1 = std::fs::read(format!("{data}inference-profiles.synthetic.json")).unwrap();
    let mut page1: Value = serde_json::from_slice(&page1).unwrap();
    page1["nextToken"] = json!("page/2");
    Mock::given(method("GET"))
        .and(path("/control/inference-profiles"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page1))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let p = provider(&server, Auth::SigV4(creds(None)));
    let list = p.list_models(&RequestContext::new()).await.unwrap();
    let ids: Vec<&str> = list.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "amazon.nova-micro-v1:0",
            "amazon.titan-embed-text-v2:0",
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "eu.amazon.nova-micro-v1:0",
        ]
    );
    let profile = &list[2];
    assert_eq!(profile.kind, ModelKind::Chat);
    assert_eq!(
        profile.context_window,
        Some(200_000),
        "limits from the catalog"
    );
    assert_eq!(profile.owned_by.as_deref(), Some("anthropic"));
    assert_eq!(list[1].kind, ModelKind::Embedding);
    // Signed GETs to the control plane.
    for r in server.received_requests().await.unwrap() {
        let auth = r.headers.get("authorization").unwrap().to_str().unwrap();
        assert!(auth.starts_with("AWS4-HMAC-SHA256 "), "{auth}");
    }
}

/// Answers Titan calls with a vector made from the text's length, so order is checkable.
struct TitanEcho;

impl Respond for TitanEcho {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        let n = body["inputText"].as_str().unwrap().len() as f32;
        ResponseTemplate::new(200)
            .set_body_json(json!({"embedding": [n, 0.5], "inputTextTokenCount": 2}))
    }
}

#[tokio::test]
async fn titan_embeds_one_text_per_call_and_keeps_the_order() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/model/amazon.titan-embed-text-v2%3A0/invoke"))
        .respond_with(TitanEcho)
        .expect(3)
        .mount(&server)
        .await;
    let p = provider(&server, Auth::Bearer(Secret::new("k")));
    let req = EmbeddingRequest::new(
        "amazon.titan-embed-text-v2:0",
        vec!["a".into(), "bbb".into(), "cc".into()],
    );
    let r = p.embed(&req, &RequestContext::new()).await.unwrap();
    let firsts: Vec<f32> = r.data.iter().map(|d| d.embedding[0]).collect();
    assert_eq!(firsts, [1.0, 3.0, 2.0]);
    assert_eq!(r.usage.unwrap().prompt_tokens, 6);
}

/// Answers Cohere calls with one vector per text.
struct CohereEcho;

impl Respond for CohereEcho {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        let n = body["texts"].as_array().unwrap().len();
        let v: Vec<Vec<f32>> = (0..n).map(|i| vec![i as f32]).collect();
        ResponseTemplate::new(200)
            .set_body_json(json!({"embeddings": v, "response_type": "embeddings_floats"}))
            .insert_header("x-amzn-bedrock-input-token-count", n.to_string().as_str())
    }
}

#[tokio::test]
async fn cohere_embeds_in_batches_of_96() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/model/cohere.embed-english-v3/invoke"))
        .respond_with(CohereEcho)
        .expect(2)
        .mount(&server)
        .await;
    let p = provider(&server, Auth::Bearer(Secret::new("k")));
    let texts: Vec<String> = (0..100).map(|i| format!("t{i}")).collect();
    let req = EmbeddingRequest::new("cohere.embed-english-v3", texts);
    let r = p.embed(&req, &RequestContext::new()).await.unwrap();
    assert_eq!(r.data.len(), 100);
    assert_eq!(r.data[96].index, 96);
    assert_eq!(r.data[96].embedding, [0.0]);
    assert_eq!(r.usage.unwrap().prompt_tokens, 100);
    let bodies = server.received_requests().await.unwrap();
    let first: Value = serde_json::from_slice(&bodies[0].body).unwrap();
    assert_eq!(first["input_type"], "search_document");
    assert_eq!(first["texts"].as_array().unwrap().len(), 96);
}

#[tokio::test]
async fn an_unknown_embedding_model_is_refused_by_name() {
    let server = MockServer::start().await;
    let p = provider(&server, Auth::Bearer(Secret::new("k")));
    let req = EmbeddingRequest::new("anthropic.claude-3-haiku-20240307-v1:0", vec!["x".into()]);
    let e = p.embed(&req, &RequestContext::new()).await.unwrap_err();
    assert!(
        matches!(&e, Error::InvalidRequest { param: Some(p), .. } if p == "model"),
        "{e:?}"
    );
}

async fn stream_of(body: Vec<u8>) -> Vec<runtime_core::Result<StreamEvent>> {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/model/amazon.nova-micro-v1%3A0/converse-stream"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(body, "application/vnd.amazon.eventstream"),
        )
        .mount(&server)
        .await;
    let p = provider(&server, Auth::Bearer(Secret::new("k")));
    let req = ChatRequest::new("amazon.nova-micro-v1:0", vec![Message::user("hi")]);
    let s = p.chat_stream(&req, &RequestContext::new()).await.unwrap();
    s.collect().await
}

#[tokio::test]
async fn an_exception_frame_mid_stream_ends_it_with_the_typed_error() {
    let mut body = event("messageStart", r#"{"role":"assistant"}"#);
    body.extend(event(
        "contentBlockDelta",
        r#"{"contentBlockIndex":0,"delta":{"text":"Par"}}"#,
    ));
    body.extend(es(
        "exception",
        ":exception-type",
        "throttlingException",
        r#"{"message":"Too many tokens, please wait before trying again."}"#,
    ));
    body.extend(event(
        "contentBlockDelta",
        r#"{"contentBlockIndex":0,"delta":{"text":"never"}}"#,
    ));
    let events = stream_of(body).await;
    assert!(matches!(
        &events[1],
        Ok(StreamEvent::TextDelta { text }) if text == "Par"
    ));
    let last = events.last().unwrap();
    assert!(matches!(last, Err(Error::RateLimited { .. })), "{last:?}");
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Ok(StreamEvent::TextDelta { text }) if text == "never"))
    );

    let mut body = event("messageStart", r#"{"role":"assistant"}"#);
    body.extend(es(
        "exception",
        ":exception-type",
        "modelStreamErrorException",
        r#"{"message":"Model stream error","originalStatusCode":500,"originalMessage":"upstream failed"}"#,
    ));
    let events = stream_of(body).await;
    let last = events.last().unwrap();
    assert!(
        matches!(last, Err(Error::Stream { transient: true, message, .. }) if message == "upstream failed"),
        "{last:?}"
    );
}

#[tokio::test]
async fn a_stream_cut_before_message_stop_is_an_error() {
    let mut body = event("messageStart", r#"{"role":"assistant"}"#);
    body.extend(event(
        "contentBlockDelta",
        r#"{"contentBlockIndex":0,"delta":{"text":"Par"}}"#,
    ));
    let events = stream_of(body.clone()).await;
    assert!(events.last().unwrap().is_err(), "{events:?}");
    // Cut inside a message: the framing error.
    body.truncate(body.len() - 5);
    let events = stream_of(body).await;
    assert!(events.last().unwrap().is_err(), "{events:?}");
}

fn build(
    table: Value,
    env: &[(&str, &str)],
    files: &[(&str, &str)],
) -> runtime_core::Result<Arc<dyn Provider>> {
    let env_fn = |k: &str| {
        env.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| (*v).to_owned())
    };
    let cfg = validate_with(
        &provider_bedrock::FACTORY,
        "bedrock",
        table.as_object().unwrap(),
        &env_fn,
    )?;
    let ctx = BuildContext::new(HttpClient::new(&Default::default()).unwrap());
    let read = |p: &str| {
        files
            .iter()
            .find(|(n, _)| *n == p)
            .map(|(_, v)| (*v).to_owned())
    };
    build_with_env(cfg, &ctx, &env_fn, &read)
}

#[tokio::test]
async fn credentials_and_region_come_from_the_environment_and_the_shared_files() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("converse-basic.response.json"), "application/json"),
        )
        .mount(&server)
        .await;
    let base = json!({"base_url": server.uri()});
    let files = [
        (
            "/home/u/.aws/credentials",
            "[work]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = s\n",
        ),
        (
            "/home/u/.aws/config",
            "[profile work]\nregion = eu-central-1\n",
        ),
    ];
    // The profile of the shared files, its region.
    let p = build(
        base.clone(),
        &[("HOME", "/home/u"), ("AWS_PROFILE", "work")],
        &files,
    )
    .unwrap();
    let req = ChatRequest::new("amazon.nova-micro-v1:0", vec![Message::user("Hello!")]);
    p.chat(&req, &RequestContext::new()).await.unwrap();
    let auth = |i: usize| {
        let reqs = futures::executor::block_on(server.received_requests()).unwrap();
        reqs[i]
            .headers
            .get("authorization")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert!(auth(0).contains("AKIDPROFILE/") && auth(0).contains("/eu-central-1/bedrock/"));

    // Keys in the environment beat the profile; AWS_REGION beats AWS_DEFAULT_REGION.
    let p = build(
        base.clone(),
        &[
            ("HOME", "/home/u"),
            ("AWS_PROFILE", "work"),
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "s2"),
            ("AWS_REGION", "ap-south-1"),
            ("AWS_DEFAULT_REGION", "us-east-2"),
        ],
        &files,
    )
    .unwrap();
    p.chat(&req, &RequestContext::new()).await.unwrap();
    assert!(auth(1).contains("AKIDENV/") && auth(1).contains("/ap-south-1/bedrock/"));

    // A Bedrock API key beats both.
    let p = build(
        base.clone(),
        &[
            ("AWS_BEARER_TOKEN_BEDROCK", "ABSK-key"),
            ("AWS_ACCESS_KEY_ID", "AKIDENV"),
            ("AWS_SECRET_ACCESS_KEY", "s2"),
        ],
        &[],
    )
    .unwrap();
    p.chat(&req, &RequestContext::new()).await.unwrap();
    assert_eq!(auth(2), "Bearer ABSK-key");

    // SigV4 without any region is an error naming it; so are missing credentials.
    let Err(e) = build(
        base.clone(),
        &[("AWS_ACCESS_KEY_ID", "A"), ("AWS_SECRET_ACCESS_KEY", "s")],
        &[],
    ) else {
        panic!("built without a region")
    };
    assert!(e.to_string().contains("region"), "{e}");
    let Err(e) = build(base, &[("AWS_REGION", "us-east-1")], &[]) else {
        panic!("built without credentials")
    };
    assert!(e.to_string().contains("AWS_BEARER_TOKEN_BEDROCK"), "{e}");
}

#[tokio::test]
async fn the_default_endpoints_follow_the_region() {
    let p = build(
        json!({}),
        &[
            ("AWS_BEARER_TOKEN_BEDROCK", "k"),
            ("AWS_DEFAULT_REGION", "eu-west-3"),
        ],
        &[],
    )
    .unwrap();
    // The provider is opaque; its config is reachable through the concrete type.
    let s = BedrockSettings::new("b", "eu-west-3", Auth::Bearer(Secret::new("k")))
        .build(HttpClient::new(&Default::default()).unwrap());
    assert_eq!(
        s.config().runtime_url,
        "https://bedrock-runtime.eu-west-3.amazonaws.com"
    );
    assert_eq!(
        s.config().control_url,
        "https://bedrock.eu-west-3.amazonaws.com"
    );
    assert_eq!(p.name(), "bedrock");
    let Err(e) = build(
        json!({"region": "eu-west-3/../x"}),
        &[("AWS_BEARER_TOKEN_BEDROCK", "k")],
        &[],
    ) else {
        panic!("a bad region was accepted")
    };
    assert!(e.to_string().contains("region"), "{e}");
}

/// A re-targeted call (a router deployment's model, the dispatcher's `provider/model`) is sent,
/// and signed, to the call's model's path — Converse and ConverseStream alike — and the
/// caller's body keeps its model.
#[tokio::test]
async fn a_retargeted_call_goes_to_the_calls_model() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/model/other-model/converse"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("converse-basic.response.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/model/other-model/converse-stream"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(
            event("messageStart", r#"{"role":"assistant"}"#),
            "application/vnd.amazon.eventstream",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let p = provider(&server, Auth::SigV4(creds(None)));
    let req = ChatRequest::new("amazon.nova-micro-v1:0", vec![Message::user("Hello!")]);
    let ctx = RequestContext::new();
    let call = runtime_core::Call::chat(&req).with_model("other-model");
    let reply = runtime_core::call::serve(&*p, call, &ctx).await.unwrap();
    assert!(matches!(reply, runtime_core::Reply::Chat(_)), "{reply:?}");
    let call = runtime_core::Call::chat_stream(&req).with_model("other-model");
    let reply = runtime_core::call::serve(&*p, call, &ctx).await.unwrap();
    assert!(matches!(reply, runtime_core::Reply::Stream(_)), "{reply:?}");
    assert_eq!(req.model, "amazon.nova-micro-v1:0");
    for got in server.received_requests().await.unwrap() {
        let auth = got.headers.get("authorization").unwrap().to_str().unwrap();
        assert!(auth.starts_with("AWS4-HMAC-SHA256 "), "{auth}");
        assert!(
            !String::from_utf8_lossy(&got.body).contains("nova"),
            "{got:?}"
        );
    }
}
