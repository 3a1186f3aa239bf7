//! Credentials: a Bedrock API key (bearer), static AWS keys (settings or environment), or a
//! profile of the shared config/credentials files; SigV4 signing with `aws-sigv4`.

mod credentials;
pub mod profile;
pub mod sign;

use runtime_core::Secret;

pub use credentials::AwsCredentials;
pub use sign::{SERVICE, sign_spec};

/// How requests are authorized.
#[derive(Debug, Clone)]
pub enum Auth {
    /// A Bedrock API key (`AWS_BEARER_TOKEN_BEDROCK`), sent as `Authorization: Bearer`.
    Bearer(Secret),
    /// SigV4 with these credentials.
    SigV4(AwsCredentials),
}

impl Auth {
    /// The secret to redact from errors.
    pub fn secret(&self) -> Secret {
        match self {
            Auth::Bearer(k) => k.clone(),
            Auth::SigV4(c) => c.secret_access_key.clone(),
        }
    }

    /// Where the credentials came from, for logs and `modelrt providers` (never the secret).
    pub fn describe(&self) -> &'static str {
        match self {
            Auth::Bearer(_) => "bearer (Bedrock API key)",
            Auth::SigV4(_) => "SigV4",
        }
    }
}

/// What the credential chain reads (settings first, then files), all optional.
#[derive(Debug, Clone, Default)]
pub struct CredentialInputs {
    /// Bedrock API key.
    pub api_key: Option<Secret>,
    /// Access key id.
    pub access_key_id: Option<String>,
    /// Secret access key.
    pub secret_access_key: Option<Secret>,
    /// Session token.
    pub session_token: Option<Secret>,
    /// Profile name (default `default`).
    pub profile: Option<String>,
    /// Text of the shared config file, when it exists.
    pub config_file: Option<String>,
    /// Text of the shared credentials file, when it exists.
    pub credentials_file: Option<String>,
}

/// The credentials and the profile's region, or why there are none.
pub fn resolve(inputs: &CredentialInputs) -> Result<(Auth, Option<String>), (String, String)> {
    let profile_name = inputs.profile.clone().unwrap_or_else(|| "default".into());
    let profile = profile::profile(
        inputs.config_file.as_deref(),
        inputs.credentials_file.as_deref(),
        &profile_name,
    );
    let region = profile.as_ref().and_then(|p| p.get("region").cloned());
    if let Some(k) = inputs.api_key.clone().filter(|k| !k.is_empty()) {
        return Ok((Auth::Bearer(k), region));
    }
    match (&inputs.access_key_id, &inputs.secret_access_key) {
        (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => {
            return Ok((
                Auth::SigV4(AwsCredentials {
                    access_key_id: id.clone(),
                    secret_access_key: secret.clone(),
                    session_token: inputs.session_token.clone().filter(|t| !t.is_empty()),
                }),
                region,
            ));
        }
        (Some(_), None) => {
            return Err((
                "secret_access_key".into(),
                "is required with access_key_id (env AWS_SECRET_ACCESS_KEY)".into(),
            ));
        }
        (None, Some(_)) => {
            return Err((
                "access_key_id".into(),
                "is required with secret_access_key (env AWS_ACCESS_KEY_ID)".into(),
            ));
        }
        _ => {}
    }
    let Some(p) = profile else {
        let why = if inputs.profile.is_some() {
            format!(
                "profile `{profile_name}` is in neither the shared config nor the credentials file"
            )
        } else {
            "no credentials: set `api_key` (AWS_BEARER_TOKEN_BEDROCK), `access_key_id` and \
             `secret_access_key` (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), or a profile in \
             ~/.aws/credentials (AWS_PROFILE)"
                .to_owned()
        };
        return Err(("profile".into(), why));
    };
    match (p.get("aws_access_key_id"), p.get("aws_secret_access_key")) {
        (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => Ok((
            Auth::SigV4(AwsCredentials {
                access_key_id: id.clone(),
                secret_access_key: Secret::new(secret),
                session_token: p
                    .get("aws_session_token")
                    .filter(|t| !t.is_empty())
                    .map(Secret::new),
            }),
            region,
        )),
        _ => {
            let source = profile::UNSUPPORTED_SOURCES
                .iter()
                .find(|k| p.contains_key(**k));
            let why = match source {
                Some(k) => format!(
                    "profile `{profile_name}` gets its credentials through `{k}`, which this \
                     provider does not run: export static keys (e.g. `aws configure \
                     export-credentials --format env`) or use a Bedrock API key"
                ),
                None => format!(
                    "profile `{profile_name}` has no aws_access_key_id / aws_secret_access_key"
                ),
            };
            Err(("profile".into(), why))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREDS: &str = "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s1\n\n[dev]\naws_access_key_id = AKIDDEV\naws_secret_access_key = s2\naws_session_token = t2\n";
    const CONFIG: &str = "[profile dev]\nregion = eu-west-1\n[profile sso]\nsso_session = corp\nregion = us-east-2\n";

    fn inputs() -> CredentialInputs {
        CredentialInputs {
            config_file: Some(CONFIG.into()),
            credentials_file: Some(CREDS.into()),
            ..CredentialInputs::default()
        }
    }

    #[test]
    fn order_bearer_then_keys_then_profile() {
        let mut i = inputs();
        i.api_key = Some(Secret::new("ABSK-key"));
        i.access_key_id = Some("AKIDENV".into());
        i.secret_access_key = Some(Secret::new("senv"));
        assert!(matches!(resolve(&i).unwrap().0, Auth::Bearer(_)));
        i.api_key = None;
        let Auth::SigV4(c) = resolve(&i).unwrap().0 else {
            panic!()
        };
        assert_eq!(c.access_key_id, "AKIDENV");
        i.access_key_id = None;
        i.secret_access_key = None;
        let Auth::SigV4(c) = resolve(&i).unwrap().0 else {
            panic!()
        };
        assert_eq!(c.access_key_id, "AKIDDEFAULT");
        i.profile = Some("dev".into());
        let (Auth::SigV4(c), region) = resolve(&i).unwrap() else {
            panic!()
        };
        assert_eq!(c.access_key_id, "AKIDDEV");
        assert_eq!(c.session_token.unwrap().expose(), "t2");
        assert_eq!(region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn missing_or_unsupported_credentials_are_named() {
        let mut i = inputs();
        i.profile = Some("sso".into());
        let (field, why) = resolve(&i).unwrap_err();
        assert_eq!(field, "profile");
        assert!(why.contains("sso_session"), "{why}");
        i.profile = Some("ghost".into());
        assert!(resolve(&i).unwrap_err().1.contains("ghost"));
        let (field, why) = resolve(&CredentialInputs::default()).unwrap_err();
        assert_eq!(field, "profile");
        assert!(why.contains("AWS_BEARER_TOKEN_BEDROCK"), "{why}");
        let half = CredentialInputs {
            access_key_id: Some("AKID".into()),
            ..CredentialInputs::default()
        };
        assert_eq!(resolve(&half).unwrap_err().0, "secret_access_key");
    }

    #[test]
    fn debug_never_shows_secrets() {
        let c = AwsCredentials {
            access_key_id: "AKID".into(),
            secret_access_key: Secret::new("topsecret"),
            session_token: Some(Secret::new("tok")),
        };
        let d = format!("{c:?}");
        assert!(!d.contains("topsecret") && !d.contains("tok\""), "{d}");
    }
}
