//! SigV4 signing of a request spec with `aws-sigv4`.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http::{HeaderName, HeaderValue};
use runtime_core::http::HttpRequestSpec;

use super::credentials::AwsCredentials;

/// The signing name of Bedrock (runtime and control plane alike).
pub const SERVICE: &str = "bedrock";

/// Signs `spec` in place: adds `x-amz-date`, `x-amz-security-token` (with a session token)
/// and `authorization` (marked sensitive). The body is hashed as sent.
pub fn sign_spec(
    spec: &mut HttpRequestSpec,
    creds: &AwsCredentials,
    region: &str,
    service: &str,
    time: SystemTime,
) -> Result<(), String> {
    let identity: Identity = Credentials::new(
        creds.access_key_id.clone(),
        creds.secret_access_key.expose().to_owned(),
        creds.session_token.as_ref().map(|t| t.expose().to_owned()),
        None,
        "model-runtime",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("SigV4 parameters: {e}"))?
        .into();
    let mut headers = Vec::with_capacity(spec.headers.len());
    for (k, v) in &spec.headers {
        let v = v
            .to_str()
            .map_err(|_| format!("header `{k}` is not visible ASCII"))?;
        headers.push((k.as_str(), v));
    }
    let body = match &spec.body {
        Some(b) => SignableBody::Bytes(b),
        None => SignableBody::Bytes(&[]),
    };
    let signable = SignableRequest::new(spec.method.as_str(), &spec.url, headers.into_iter(), body)
        .map_err(|e| format!("SigV4 request: {e}"))?;
    let (instructions, _signature) = sign(signable, &params)
        .map_err(|e| format!("SigV4 signing: {e}"))?
        .into_parts();
    let (new_headers, _params) = instructions.into_parts();
    for h in new_headers {
        let name = HeaderName::from_static(h.name());
        let mut value = HeaderValue::from_str(h.value())
            .map_err(|_| format!("signed header `{}`", h.name()))?;
        if h.sensitive() || name == http::header::AUTHORIZATION {
            value.set_sensitive(true);
        }
        spec.headers.insert(name, value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use runtime_core::Secret;
    use std::time::Duration;

    /// 2015-08-30T12:36:00Z, the time of AWS's SigV4 test suite.
    fn suite_time() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_440_938_160)
    }

    fn suite_creds(token: Option<&str>) -> AwsCredentials {
        AwsCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: Secret::new("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
            session_token: token.map(Secret::new),
        }
    }

    fn header(spec: &HttpRequestSpec, name: &str) -> String {
        spec.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    // AWS's SigV4 test suite (aws-signing-test-suite/v4/post-vanilla, as shipped in the
    // aws-sigv4 crate): `POST /` to example.amazonaws.com, no body.
    #[test]
    fn post_vanilla_test_vector() {
        let mut spec = HttpRequestSpec::get("https://example.amazonaws.com/");
        spec.method = http::Method::POST;
        sign_spec(
            &mut spec,
            &suite_creds(None),
            "us-east-1",
            "service",
            suite_time(),
        )
        .unwrap();
        assert_eq!(header(&spec, "x-amz-date"), "20150830T123600Z");
        assert_eq!(
            header(&spec, "authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date, \
             Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"
        );
        assert!(
            spec.headers
                .get("authorization")
                .is_some_and(|v| v.is_sensitive())
        );
    }

    // aws-signing-test-suite/v4/get-vanilla-with-session-token.
    #[test]
    fn session_token_test_vector() {
        let mut spec = HttpRequestSpec::get("https://example.amazonaws.com/");
        let token = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267";
        sign_spec(
            &mut spec,
            &suite_creds(Some(token)),
            "us-east-1",
            "service",
            suite_time(),
        )
        .unwrap();
        assert_eq!(header(&spec, "x-amz-security-token"), token);
        assert_eq!(
            header(&spec, "authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=host;x-amz-date;x-amz-security-token, \
             Signature=07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"
        );
    }

    #[test]
    fn a_converse_call_signs_its_body_and_encoded_path() {
        let body = serde_json::json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]});
        let url = "https://bedrock-runtime.us-east-1.amazonaws.com/model/us.anthropic.claude-3-haiku-20240307-v1%3A0/converse";
        let mut a = HttpRequestSpec::post_json(url, &body);
        sign_spec(
            &mut a,
            &suite_creds(None),
            "us-east-1",
            SERVICE,
            suite_time(),
        )
        .unwrap();
        let auth = header(&a, "authorization");
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature="),
            "{auth}"
        );
        // Another body, another signature.
        let mut b = HttpRequestSpec::post_json(url, &serde_json::json!({"messages": []}));
        sign_spec(
            &mut b,
            &suite_creds(None),
            "us-east-1",
            SERVICE,
            suite_time(),
        )
        .unwrap();
        assert_ne!(auth, header(&b, "authorization"));
    }
}
