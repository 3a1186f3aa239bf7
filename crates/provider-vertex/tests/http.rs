//! The provider end to end against mock servers: URL layout per publisher and location, the
//! bearer token from the service-account flow, Claude's platform body, a 401 that drops the
//! cached token, embedding batches, settings and the registry.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use provider_vertex::{Credentials, VertexProvider, VertexSettings};
use runtime_core::http::HttpClient;
use runtime_core::registry::validate_with;
use runtime_core::{
    BuildContext, ChatRequest, EmbeddingRequest, Error, Message, Provider, RequestContext, Secret,
    Service,
};
use serde_json::{Map, Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY_FILE: &str = include_str!("data/service-account.test.json");
const GEMINI_ANSWER: &str =
    include_str!("../../runtime-testkit/fixtures/vertex/gemini-generate-global.response.json");
const CLAUDE_ANSWER: &str =
    include_str!("../../runtime-testkit/fixtures/vertex/claude-json-output.response.json");

fn provider(server: &MockServer, location: &str, creds: Credentials) -> VertexProvider {
    let mut s = VertexSettings::new("vertex", "my-proj", creds);
    s.location = location.into();
    s.base_url = Some(server.uri());
    s.timeout = Duration::from_secs(10);
    s.build(HttpClient::new(&Default::default()).unwrap())
        .unwrap()
}

fn token(t: &str) -> Credentials {
    Credentials::AccessToken(Secret::new(t))
}

fn hello(model: &str) -> ChatRequest {
    ChatRequest::new(model, vec![Message::user("hi")])
}

#[tokio::test]
async fn gemini_goes_to_generate_content_with_the_service_account_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "ya29.sa", "expires_in": 3599})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(
            "/v1/projects/my-proj/locations/europe-west4/publishers/google/models/gemini-2.0-flash-001:generateContent",
        ))
        .and(header("authorization", "Bearer ya29.sa"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(GEMINI_ANSWER, "application/json"))
        .expect(2)
        .mount(&server)
        .await;
    let creds = Credentials::from_json(
        &KEY_FILE.replace("{token_uri}", &format!("{}/token", server.uri())),
    )
    .unwrap();
    let p = provider(&server, "europe-west4", creds);
    let ctx = RequestContext::default();
    for _ in 0..2 {
        let r = p.chat(&hello("gemini-2.0-flash-001"), &ctx).await.unwrap();
        assert_eq!(r.usage.as_ref().map(|u| u.total_tokens), Some(53));
    }
    let health = p.health(&ctx).await.unwrap();
    assert!(health.healthy, "{health:?}");
}

#[tokio::test]
async fn claude_goes_to_raw_predict_with_the_platform_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(
            "/v1/projects/my-proj/locations/global/publishers/anthropic/models/claude-sonnet-4-5@20250929:rawPredict",
        ))
        .and(header("authorization", "Bearer given-token"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(CLAUDE_ANSWER, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let p = provider(&server, "global", token("given-token"));
    let r = p
        .chat(
            &hello("claude-sonnet-4-5@20250929"),
            &RequestContext::default(),
        )
        .await
        .unwrap();
    assert_eq!(r.id, "msg_vrtx_01ABcdEFghIJklMNopQRstUV");
    let body: Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(body["anthropic_version"], "vertex-2023-10-16");
    assert!(body.get("model").is_none(), "{body}");
    assert_eq!(body["max_tokens"], 4096);

    // A streamed Claude call goes to streamRawPredict.
    let spec = p
        .chat_spec(
            &hello("claude-haiku-4-5@20251001"),
            "claude-haiku-4-5@20251001",
            true,
        )
        .unwrap();
    assert!(
        spec.url
            .ends_with("/publishers/anthropic/models/claude-haiku-4-5@20251001:streamRawPredict"),
        "{}",
        spec.url
    );
    let spec = p
        .chat_spec(&hello("gemini-2.5-pro"), "gemini-2.5-pro", true)
        .unwrap();
    assert!(
        spec.url
            .ends_with("/publishers/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse"),
        "{}",
        spec.url
    );
    // The platform sets these; a request cannot.
    let mut req = hello("claude-haiku-4-5@20251001");
    req.extra
        .insert("anthropic_version".into(), json!("bedrock-2023-05-31"));
    let e = p.chat_spec(&req, &req.model, false).unwrap_err();
    assert_eq!(e.param(), Some("anthropic_version"), "{e:?}");
}

#[tokio::test]
async fn default_hosts_are_regional_or_global() {
    for (location, host) in [
        (
            "us-central1",
            "https://us-central1-aiplatform.googleapis.com/",
        ),
        ("global", "https://aiplatform.googleapis.com/"),
    ] {
        let mut s = VertexSettings::with_access_token("v", "p", Secret::new("t"));
        s.location = location.into();
        let p = s
            .build(HttpClient::new(&Default::default()).unwrap())
            .unwrap();
        let spec = p
            .chat_spec(&hello("gemini-2.5-flash"), "gemini-2.5-flash", false)
            .unwrap();
        assert_eq!(
            spec.url,
            format!(
                "{host}v1/projects/p/locations/{location}/publishers/google/models/gemini-2.5-flash:generateContent"
            )
        );
    }
}

#[tokio::test]
async fn a_401_drops_the_cached_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"access_token": "ya29.revoked", "expires_in": 3599})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(
            "/v1/projects/my-proj/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent",
        ))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"error": {
            "code": 401,
            "message": "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
            "status": "UNAUTHENTICATED"
        }})))
        .mount(&server)
        .await;
    let creds = Credentials::from_json(
        &KEY_FILE.replace("{token_uri}", &format!("{}/token", server.uri())),
    )
    .unwrap();
    let p = provider(&server, "us-central1", creds);
    let ctx = RequestContext::default();
    for _ in 0..2 {
        let e = p.chat(&hello("gemini-2.5-flash"), &ctx).await.unwrap_err();
        assert!(
            matches!(e, Error::Authentication { status: 401, .. }),
            "{e:?}"
        );
        assert!(!e.to_string().contains("ya29"), "{e}");
    }
    let token_calls = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/token")
        .count();
    assert_eq!(token_calls, 2, "each rejected token is fetched anew");
}

#[tokio::test]
async fn gemini_embedding_001_sends_one_instance_per_call() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(
            "/v1/projects/my-proj/locations/us-central1/publishers/google/models/gemini-embedding-001:predict",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"predictions": [
            {"embeddings": {"values": [0.5, 0.25], "statistics": {"token_count": 3, "truncated": false}}}
        ]})))
        .expect(3)
        .mount(&server)
        .await;
    let p = provider(&server, "us-central1", token("t"));
    let mut req = EmbeddingRequest::new(
        "gemini-embedding-001",
        vec!["a".into(), "b".into(), "c".into()],
    );
    req.extra.insert("auto_truncate".into(), json!(false));
    let r = p.embed(&req, &RequestContext::default()).await.unwrap();
    assert_eq!(r.data.len(), 3);
    assert_eq!(r.data[2].index, 2);
    assert_eq!(r.usage.map(|u| u.prompt_tokens), Some(9));
    let bodies: Vec<Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    assert_eq!(
        bodies[1],
        json!({"instances": [{"content": "b"}], "parameters": {"autoTruncate": false}})
    );
    let mut bad = EmbeddingRequest::new("text-embedding-005", vec!["x".into()]);
    bad.extra.insert("pooling".into(), json!("mean"));
    let e = p.embed(&bad, &RequestContext::default()).await.unwrap_err();
    assert_eq!(e.param(), Some("pooling"));
}

fn table(fields: Value) -> Map<String, Value> {
    fields.as_object().cloned().unwrap()
}

/// Builds through the registry's validation, as a config file would (the provider dropped).
fn build(fields: Value, env: &dyn Fn(&str) -> Option<String>) -> runtime_core::Result<()> {
    let cfg = validate_with(&provider_vertex::FACTORY, "vertex", &table(fields), env)?;
    let ctx = BuildContext::new(HttpClient::new(&Default::default()).unwrap());
    provider_vertex::build_with_env(cfg, &ctx, env).map(drop)
}

#[test]
fn settings_resolve_project_location_and_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("sa.json");
    std::fs::write(
        &key,
        KEY_FILE.replace("{token_uri}", "https://oauth2.googleapis.com/token"),
    )
    .unwrap();
    let key_path = key.to_string_lossy().into_owned();
    let no_env = |_: &str| None;

    // The key file names the project; GOOGLE_APPLICATION_CREDENTIALS points at it.
    let env = |k: &str| (k == "GOOGLE_APPLICATION_CREDENTIALS").then(|| key_path.clone());
    assert!(build(json!({}), &env).is_ok());
    // The JSON itself is accepted too.
    let inline = KEY_FILE.replace("{token_uri}", "https://oauth2.googleapis.com/token");
    assert!(
        build(
            json!({"credentials": inline, "location": "global"}),
            &no_env
        )
        .is_ok()
    );

    // A given token needs a project from somewhere.
    let e = build(json!({"access_token": "t"}), &no_env).unwrap_err();
    assert!(e.to_string().contains("project"), "{e}");
    let env = |k: &str| (k == "VERTEXAI_PROJECT").then(|| "p".to_owned());
    assert!(build(json!({"access_token": "t"}), &env).is_ok());

    // Both credentials at once, a bad location, a missing file: errors naming the field.
    let e = build(
        json!({"access_token": "t", "credentials": key_path, "project": "p"}),
        &no_env,
    )
    .unwrap_err();
    assert!(e.to_string().contains("access_token"), "{e}");
    let e = build(
        json!({"access_token": "t", "project": "p", "location": "us central"}),
        &no_env,
    )
    .unwrap_err();
    assert!(e.to_string().contains("location"), "{e}");
    let e = build(json!({"credentials": "/nonexistent/key.json"}), &no_env).unwrap_err();
    assert!(e.to_string().contains("credentials"), "{e}");
    // Nothing at all (no HOME, so no gcloud file either).
    let e = build(json!({"project": "p"}), &no_env).unwrap_err();
    assert!(
        e.to_string().contains("GOOGLE_APPLICATION_CREDENTIALS"),
        "{e}"
    );
    // A private key never shows in an error.
    let broken = json!({"type": "service_account", "client_email": "a@b",
                        "private_key": "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n",
                        "project_id": "p"});
    let e = build(json!({"credentials": broken.to_string()}), &no_env).unwrap_err();
    assert!(!e.to_string().contains("c2VjcmV0"), "{e}");
}

#[test]
fn the_factory_is_registered() {
    let names: Vec<&str> = runtime_core::registry::linked(&[])
        .iter()
        .map(|f| f.name)
        .collect();
    assert!(names.contains(&"vertex"), "{names:?}");
}

/// A re-targeted call (a router deployment's model, the dispatcher's `provider/model`) goes to
/// the call's model over the call's model's wire: a Gemini body aimed at a Claude model is a
/// `rawPredict` with Anthropic's body. The caller's body keeps its model.
#[tokio::test]
async fn a_retargeted_call_goes_to_the_calls_model_and_its_wire() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(
            "/v1/projects/my-proj/locations/global/publishers/anthropic/models/claude-other-model:rawPredict",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_raw(CLAUDE_ANSWER, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let p = std::sync::Arc::new(provider(&server, "global", token("t")));
    let req = hello("gemini-2.5-flash");
    let call = runtime_core::Call::chat(&req).with_model("claude-other-model");
    let reply = runtime_core::ProviderService::new(p)
        .call(call, &RequestContext::default())
        .await
        .unwrap();
    assert!(matches!(reply, runtime_core::Reply::Chat(_)), "{reply:?}");
    assert_eq!(req.model, "gemini-2.5-flash");
    let body: Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(body["anthropic_version"], "vertex-2023-10-16");
    assert!(!body.to_string().contains("gemini"), "{body}");
}
