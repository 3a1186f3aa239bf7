//! Google credential files: a service-account key, an `authorized_user` file (what
//! `gcloud auth application-default login` writes), and where Application Default
//! Credentials look for them.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use runtime_core::Secret;

/// Google's OAuth 2.0 token endpoint (the default `token_uri`).
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// A service-account key (`"type": "service_account"`).
#[derive(Debug, Clone)]
pub struct ServiceAccountKey {
    /// `client_email`: the JWT's issuer.
    pub client_email: String,
    /// `private_key`: PEM.
    pub private_key: Secret,
    /// `private_key_id`: the JWT header's `kid`.
    pub private_key_id: Option<String>,
    /// `token_uri`.
    pub token_uri: String,
    /// `project_id`.
    pub project_id: Option<String>,
}

/// A user's refresh token (`"type": "authorized_user"`).
#[derive(Debug, Clone)]
pub struct AuthorizedUser {
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: Secret,
    /// The refresh token.
    pub refresh_token: Secret,
    /// `token_uri` (Google's endpoint when absent).
    pub token_uri: String,
    /// `quota_project_id`, a fallback project.
    pub quota_project_id: Option<String>,
}

/// Where access tokens come from.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// A service account: JWT bearer grant, signed RS256.
    ServiceAccount(ServiceAccountKey),
    /// A user's refresh token: refresh-token grant.
    AuthorizedUser(AuthorizedUser),
    /// A given access token, used as it is (never refreshed).
    AccessToken(Secret),
}

#[derive(Deserialize)]
struct RawFile {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    client_email: Option<String>,
    #[serde(default)]
    private_key: Option<String>,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
    #[serde(default)]
    project_id: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    client_secret: Option<String>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    quota_project_id: Option<String>,
}

fn required(v: Option<String>, field: &str, kind: &str) -> Result<String, String> {
    v.filter(|s| !s.is_empty())
        .ok_or_else(|| format!("the {kind} file has no `{field}`"))
}

impl Credentials {
    /// Parses a credential file's JSON. Errors name the missing field, never a value.
    pub fn from_json(text: &str) -> Result<Self, String> {
        // serde's message may quote a value: report only where it failed.
        let raw: RawFile = serde_json::from_str(text).map_err(|e| {
            format!(
                "not a Google credential JSON file (line {}, column {})",
                e.line(),
                e.column()
            )
        })?;
        let kind = raw.kind.as_deref().unwrap_or("");
        let token_uri = raw
            .token_uri
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| GOOGLE_TOKEN_URI.to_owned());
        match kind {
            "service_account" => Ok(Self::ServiceAccount(ServiceAccountKey {
                client_email: required(raw.client_email, "client_email", kind)?,
                private_key: Secret::new(required(raw.private_key, "private_key", kind)?),
                private_key_id: raw.private_key_id,
                token_uri,
                project_id: raw.project_id.filter(|p| !p.is_empty()),
            })),
            "authorized_user" => Ok(Self::AuthorizedUser(AuthorizedUser {
                client_id: required(raw.client_id, "client_id", kind)?,
                client_secret: Secret::new(required(raw.client_secret, "client_secret", kind)?),
                refresh_token: Secret::new(required(raw.refresh_token, "refresh_token", kind)?),
                token_uri,
                quota_project_id: raw.quota_project_id.filter(|p| !p.is_empty()),
            })),
            "" => Err("the credential file has no `type`".into()),
            other => Err(format!(
                "credential type `{other}` is not supported (use a `service_account` key, an \
                 `authorized_user` file from `gcloud auth application-default login`, or an \
                 access token)"
            )),
        }
    }

    /// Reads `value`: the JSON itself when it starts with `{`, else a file path.
    pub fn from_setting(value: &str) -> Result<Self, String> {
        let v = value.trim();
        if v.starts_with('{') {
            return Self::from_json(v);
        }
        Self::from_file(Path::new(v))
    }

    /// Reads a credential file.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
        Self::from_json(&text).map_err(|e| format!("`{}`: {e}", path.display()))
    }

    /// The project the file names (`project_id`, else `quota_project_id`).
    pub fn project_id(&self) -> Option<&str> {
        match self {
            Self::ServiceAccount(k) => k.project_id.as_deref(),
            Self::AuthorizedUser(u) => u.quota_project_id.as_deref(),
            Self::AccessToken(_) => None,
        }
    }

    /// The credential to redact from error bodies of the token endpoint.
    pub fn redaction(&self) -> Option<&Secret> {
        match self {
            Self::ServiceAccount(_) => None,
            Self::AuthorizedUser(u) => Some(&u.refresh_token),
            Self::AccessToken(t) => Some(t),
        }
    }
}

/// The file `gcloud auth application-default login` writes:
/// `$CLOUDSDK_CONFIG/application_default_credentials.json`, else
/// `~/.config/gcloud/…` (`%APPDATA%\gcloud\…` on Windows).
pub fn well_known_file(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    const NAME: &str = "application_default_credentials.json";
    let set = |k: &str| env(k).filter(|v| !v.is_empty());
    if let Some(dir) = set("CLOUDSDK_CONFIG") {
        return Some(Path::new(&dir).join(NAME));
    }
    if cfg!(windows) {
        return set("APPDATA").map(|d| Path::new(&d).join("gcloud").join(NAME));
    }
    set("HOME").map(|h| Path::new(&h).join(".config").join("gcloud").join(NAME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_file_types_and_names_missing_fields() {
        let sa = Credentials::from_json(
            r#"{"type":"service_account","project_id":"p1","private_key_id":"k1",
                "private_key":"-----BEGIN PRIVATE KEY-----\nX\n-----END PRIVATE KEY-----\n",
                "client_email":"sa@p1.iam.gserviceaccount.com"}"#,
        )
        .unwrap();
        let Credentials::ServiceAccount(k) = &sa else {
            panic!("{sa:?}")
        };
        assert_eq!(k.token_uri, GOOGLE_TOKEN_URI);
        assert_eq!(sa.project_id(), Some("p1"));

        let user = Credentials::from_json(
            r#"{"type":"authorized_user","client_id":"c","client_secret":"s",
                "refresh_token":"r","quota_project_id":"q"}"#,
        )
        .unwrap();
        assert_eq!(user.project_id(), Some("q"));

        let e =
            Credentials::from_json(r#"{"type":"service_account","client_email":"x"}"#).unwrap_err();
        assert!(e.contains("`private_key`"), "{e}");
        let e = Credentials::from_json(r#"{"type":"external_account"}"#).unwrap_err();
        assert!(e.contains("external_account"), "{e}");
        let e = Credentials::from_json(r#"{"private_key":"secret-value"}"#).unwrap_err();
        assert!(!e.contains("secret-value"), "{e}");
        let e = Credentials::from_json("{not json secret-value").unwrap_err();
        assert!(!e.contains("secret-value"), "{e}");
    }

    #[test]
    fn well_known_file_follows_gcloud() {
        let env = |k: &str| (k == "HOME").then(|| "/home/u".to_owned());
        if !cfg!(windows) {
            assert_eq!(
                well_known_file(&env),
                Some(PathBuf::from(
                    "/home/u/.config/gcloud/application_default_credentials.json"
                ))
            );
        }
        let env = |k: &str| (k == "CLOUDSDK_CONFIG").then(|| "/etc/g".to_owned());
        assert_eq!(
            well_known_file(&env),
            Some(PathBuf::from("/etc/g/application_default_credentials.json"))
        );
    }
}
