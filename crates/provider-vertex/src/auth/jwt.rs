//! The signed JWT of the OAuth 2.0 JWT bearer grant (RFC 7523) that a Google service account
//! trades for an access token: RS256 over `base64url(header).base64url(claims)`.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde::Serialize;

/// The scope Vertex AI calls need.
pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// How long a signed assertion is valid (Google accepts at most one hour).
pub const ASSERTION_LIFETIME_SECS: u64 = 3600;

/// A service account's RSA key, parsed once.
pub struct Signer {
    key: RsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer(***)")
    }
}

/// Why a private key could not be used (never shows the key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(pub String);

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    typ: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    kid: Option<&'a str>,
}

/// The claims of the assertion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claims<'a> {
    /// The service account's e-mail.
    pub iss: &'a str,
    /// Space-separated scopes.
    pub scope: &'a str,
    /// The token endpoint.
    pub aud: &'a str,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Expires at (Unix seconds).
    pub exp: u64,
}

impl Signer {
    /// Parses a PEM private key: PKCS#8 (`BEGIN PRIVATE KEY`, what Google's key files hold)
    /// or PKCS#1 (`BEGIN RSA PRIVATE KEY`).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let (label, der) = pem_body(pem)?;
        let key = match label.as_str() {
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
            other => {
                return Err(KeyError(format!(
                    "a PEM `{other}` block is not an RSA private key"
                )));
            }
        }
        .map_err(|e| KeyError(format!("not a usable RSA private key ({e})")))?;
        Ok(Self {
            key,
            rng: SystemRandom::new(),
        })
    }

    /// The public key (PKCS#1 `RSAPublicKey` DER), for verifying what this signer signed.
    pub fn public_key_der(&self) -> &[u8] {
        use ring::signature::KeyPair as _;
        self.key.public_key().as_ref()
    }

    /// The compact JWS of `claims`, header `{"alg":"RS256","typ":"JWT","kid":key_id}`.
    pub fn assertion(&self, key_id: Option<&str>, claims: &Claims<'_>) -> Result<String, KeyError> {
        let header = Header {
            alg: "RS256",
            typ: "JWT",
            kid: key_id.filter(|k| !k.is_empty()),
        };
        let mut out = b64_json(&header)?;
        out.push('.');
        out.push_str(&b64_json(claims)?);
        let mut sig = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &self.rng, out.as_bytes(), &mut sig)
            .map_err(|_| KeyError("RS256 signing failed".into()))?;
        out.push('.');
        out.push_str(&URL_SAFE_NO_PAD.encode(&sig));
        Ok(out)
    }
}

/// `base64url(json(v))`, unpadded.
fn b64_json<T: Serialize>(v: &T) -> Result<String, KeyError> {
    let bytes = serde_json::to_vec(v).map_err(|e| KeyError(e.to_string()))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The label and DER bytes of the first PEM block.
fn pem_body(pem: &str) -> Result<(String, Vec<u8>), KeyError> {
    // Keys pasted into environment variables often carry literal `\n`.
    let pem = pem.replace("\\n", "\n");
    let begin = pem
        .find("-----BEGIN ")
        .ok_or_else(|| KeyError("no `-----BEGIN …-----` line: not a PEM private key".into()))?;
    let rest = &pem[begin + "-----BEGIN ".len()..];
    let label_end = rest
        .find("-----")
        .ok_or_else(|| KeyError("unterminated PEM BEGIN line".into()))?;
    let label = rest[..label_end].to_owned();
    let body = &rest[label_end + 5..];
    let end_marker = format!("-----END {label}-----");
    let end = body
        .find(&end_marker)
        .ok_or_else(|| KeyError(format!("no `{end_marker}` line")))?;
    let b64: String = body[..end]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = STANDARD
        .decode(b64.as_bytes())
        .map_err(|e| KeyError(format!("the PEM body is not base64 ({e})")))?;
    Ok((label, der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_keys_are_named_errors_without_the_key() {
        let e = Signer::from_pem("not a key").unwrap_err();
        assert!(e.0.contains("PEM"), "{e}");
        let e = Signer::from_pem("-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n")
            .unwrap_err();
        assert!(e.0.contains("base64"), "{e}");
        let e = Signer::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
            .unwrap_err();
        assert!(e.0.contains("RSA"), "{e}");
        let e = Signer::from_pem("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----")
            .unwrap_err();
        assert!(e.0.contains("CERTIFICATE"), "{e}");
    }
}
