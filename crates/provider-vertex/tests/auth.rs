//! The token flow against a mock OAuth token endpoint: the service account's JWT (signature
//! verified with the test key's public half, claims checked), the refresh-token grant, caching,
//! refresh before expiry, one refresh shared by concurrent requests, and token endpoint
//! failures as upstream authentication errors.
//!
//! `tests/data/service-account.test.json` holds an RSA key generated for these tests
//! (`openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`); it grants nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use provider_vertex::auth::{Credentials, Signer, TokenSource};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use runtime_core::http::HttpClient;
use runtime_core::taxonomy::Condition;
use runtime_core::{Error, RequestContext};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY_FILE: &str = include_str!("data/service-account.test.json");

fn key_json(token_uri: &str) -> String {
    KEY_FILE.replace("{token_uri}", token_uri)
}

fn form(req: &Request) -> Vec<(String, String)> {
    let body = String::from_utf8_lossy(&req.body).into_owned();
    body.split('&')
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(if b[i] == b'+' { b' ' } else { b[i] });
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn field<'a>(form: &'a [(String, String)], k: &str) -> &'a str {
    form.iter()
        .find(|(key, _)| key == k)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no `{k}` in {form:?}"))
}

/// A clock at a fixed Unix time that the test moves forward.
fn test_clock() -> (Arc<AtomicU64>, provider_vertex::auth::Clock) {
    let secs = Arc::new(AtomicU64::new(1_800_000_000));
    let s = secs.clone();
    let clock: provider_vertex::auth::Clock =
        Arc::new(move || UNIX_EPOCH + Duration::from_secs(s.load(Ordering::SeqCst)));
    (secs, clock)
}

fn token_answer(token: &str, expires_in: u64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(
        json!({"access_token": token, "expires_in": expires_in, "token_type": "Bearer"}),
    )
}

fn source(server: &MockServer) -> TokenSource {
    let creds = Credentials::from_json(&key_json(&format!("{}/token", server.uri()))).unwrap();
    TokenSource::new(
        "vertex",
        creds,
        HttpClient::new(&Default::default()).unwrap(),
        Duration::from_secs(10),
    )
    .unwrap()
}

#[tokio::test]
async fn service_account_jwt_is_signed_rs256_with_the_right_claims_and_cached() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(token_answer("ya29.first", 3599))
        .expect(1)
        .mount(&server)
        .await;
    let (secs, clock) = test_clock();
    let tokens = source(&server).with_clock(clock);
    let ctx = RequestContext::default();
    assert_eq!(tokens.token(&ctx).await.unwrap().expose(), "ya29.first");
    // Cached: no second request.
    assert_eq!(tokens.token(&ctx).await.unwrap().expose(), "ya29.first");

    let requests = server.received_requests().await.unwrap();
    let f = form(&requests[0]);
    assert_eq!(
        field(&f, "grant_type"),
        "urn:ietf:params:oauth:grant-type:jwt-bearer"
    );
    let jwt = field(&f, "assertion");
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "{jwt}");
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(
        header,
        json!({"alg": "RS256", "typ": "JWT", "kid": "test-key-id-1"})
    );
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let now = secs.load(Ordering::SeqCst);
    assert_eq!(
        claims,
        json!({
            "iss": "modelrt-test@modelrt-test-project.iam.gserviceaccount.com",
            "scope": "https://www.googleapis.com/auth/cloud-platform",
            "aud": format!("{}/token", server.uri()),
            "iat": now,
            "exp": now + 3600,
        })
    );
    // The signature verifies with the key's public half…
    let pem: Value = serde_json::from_str(KEY_FILE).unwrap();
    let signer = Signer::from_pem(pem["private_key"].as_str().unwrap()).unwrap();
    let public = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, signer.public_key_der());
    let signed = format!("{}.{}", parts[0], parts[1]);
    let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    public.verify(signed.as_bytes(), &sig).unwrap();
    // …and not over anything else.
    assert!(public.verify(b"tampered.claims", &sig).is_err());
}

#[tokio::test]
async fn a_token_is_refreshed_before_it_expires() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(token_answer("ya29.first", 3600))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(token_answer("ya29.second", 3600))
        .with_priority(2)
        .mount(&server)
        .await;
    let (secs, clock) = test_clock();
    let tokens = source(&server).with_clock(clock);
    let ctx = RequestContext::default();
    assert_eq!(tokens.token(&ctx).await.unwrap().expose(), "ya29.first");
    // 55 minutes on: still more than five minutes left.
    secs.fetch_add(55 * 60 - 1, Ordering::SeqCst);
    assert_eq!(tokens.token(&ctx).await.unwrap().expose(), "ya29.first");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    // Inside the last five minutes: refreshed before the old one expires.
    secs.fetch_add(2, Ordering::SeqCst);
    assert_eq!(tokens.token(&ctx).await.unwrap().expose(), "ya29.second");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
    // A token the API rejected is dropped.
    tokens.invalidate(&runtime_core::Secret::new("ya29.second"));
    assert_eq!(tokens.token(&ctx).await.unwrap().expose(), "ya29.second");
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn concurrent_requests_share_one_refresh() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(token_answer("ya29.shared", 3600).set_delay(Duration::from_millis(300)))
        .expect(1)
        .mount(&server)
        .await;
    let tokens = Arc::new(source(&server));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let t = tokens.clone();
            tokio::spawn(async move { t.token(&RequestContext::default()).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().expose(), "ya29.shared");
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn authorized_user_files_use_the_refresh_token_grant() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(token_answer("ya29.user", 3599))
        .expect(1)
        .mount(&server)
        .await;
    let file = json!({
        "type": "authorized_user",
        "client_id": "764086051850-example.apps.googleusercontent.com",
        "client_secret": "d-FL95Q19q7MQmFpd7hHD0Ty",
        "refresh_token": "1//0refresh/token+value",
        "token_uri": format!("{}/token", server.uri()),
    });
    let creds = Credentials::from_json(&file.to_string()).unwrap();
    let tokens = TokenSource::new(
        "vertex",
        creds,
        HttpClient::new(&Default::default()).unwrap(),
        Duration::from_secs(10),
    )
    .unwrap();
    let ctx = RequestContext::default();
    assert_eq!(tokens.token(&ctx).await.unwrap().expose(), "ya29.user");
    let f = form(&server.received_requests().await.unwrap()[0]);
    assert_eq!(field(&f, "grant_type"), "refresh_token");
    assert_eq!(field(&f, "refresh_token"), "1//0refresh/token+value");
    assert_eq!(
        field(&f, "client_id"),
        "764086051850-example.apps.googleusercontent.com"
    );
    assert_eq!(field(&f, "client_secret"), "d-FL95Q19q7MQmFpd7hHD0Ty");
}

#[tokio::test]
async fn a_rejected_grant_is_an_upstream_authentication_error() {
    let server = MockServer::start().await;
    // Google's answer to a JWT signed with a revoked key.
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}),
        ))
        .mount(&server)
        .await;
    let e = source(&server)
        .token(&RequestContext::default())
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Authentication { status: 401, .. }),
        "{e:?}"
    );
    assert_eq!(e.condition(), Condition::UpstreamAuthentication);
    assert!(!e.is_retryable());
    assert!(e.to_string().contains("Invalid JWT Signature."), "{e}");
}

#[test]
fn an_unusable_private_key_fails_at_build_naming_the_field() {
    let bad = json!({"type": "service_account", "client_email": "a@b", "private_key": "nope"});
    let creds = Credentials::from_json(&bad.to_string()).unwrap();
    let e = TokenSource::new(
        "vertex",
        creds,
        HttpClient::new(&Default::default()).unwrap(),
        Duration::from_secs(1),
    )
    .unwrap_err();
    assert!(e.contains("private_key") && !e.contains("nope"), "{e}");
}
