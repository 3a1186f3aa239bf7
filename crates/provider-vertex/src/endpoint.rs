//! Vertex AI URLs: `{host}/v1/projects/{project}/locations/{location}/publishers/{publisher}/
//! models/{model}:{method}`, the host regional (`https://{location}-aiplatform.googleapis.com`)
//! or global (`https://aiplatform.googleapis.com` for `location = "global"`).

/// The location used when none is configured.
pub const DEFAULT_LOCATION: &str = "us-central1";

/// The host serving `location`.
pub fn host_for(location: &str) -> String {
    if location == "global" {
        "https://aiplatform.googleapis.com".to_owned()
    } else {
        format!("https://{location}-aiplatform.googleapis.com")
    }
}

/// Who publishes a model on Vertex AI, and so which wire it speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publisher {
    /// `publishers/google`: Gemini (`generateContent`) and text embeddings (`predict`).
    Google,
    /// `publishers/anthropic`: Claude (`rawPredict`, Anthropic's Messages body).
    Anthropic,
}

impl Publisher {
    /// The publisher of a model id: `claude-*` is Anthropic's, everything else Google's.
    pub fn of(model: &str) -> Self {
        if model.starts_with("claude-") {
            Self::Anthropic
        } else {
            Self::Google
        }
    }

    fn path(self) -> &'static str {
        match self {
            Self::Google => "google",
            Self::Anthropic => "anthropic",
        }
    }
}

/// A project and location on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Scheme and host (no trailing slash), e.g. `https://us-central1-aiplatform.googleapis.com`.
    pub host: String,
    /// The Google Cloud project id.
    pub project: String,
    /// `us-central1`, `europe-west4`, `global`…
    pub location: String,
}

/// True for a location name (`us-central1`, `global`).
pub fn valid_location(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// True for a project id (also the domain-scoped `example.com:project`).
pub fn valid_project(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b':' | b'_'))
}

/// True for a model id that can stand in a URL path segment (`gemini-2.5-flash`,
/// `claude-sonnet-4-5@20250929`).
pub fn valid_model(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'@'))
}

impl Endpoint {
    /// An endpoint on `host` (default: the location's host).
    pub fn new(project: &str, location: &str, host: Option<&str>) -> Self {
        Self {
            host: host
                .map(|h| h.trim_end_matches('/').to_owned())
                .unwrap_or_else(|| host_for(location)),
            project: project.to_owned(),
            location: location.to_owned(),
        }
    }

    /// The URL of `method` on `model`; `None` when the id cannot be a path segment.
    pub fn model_url(&self, publisher: Publisher, model: &str, method: &str) -> Option<String> {
        valid_model(model).then(|| {
            format!(
                "{}/v1/projects/{}/locations/{}/publishers/{}/models/{model}:{method}",
                self.host,
                self.project,
                self.location,
                publisher.path()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regional_and_global_urls() {
        let e = Endpoint::new("my-proj", "europe-west4", None);
        assert_eq!(
            e.model_url(Publisher::Google, "gemini-2.5-flash", "generateContent")
                .unwrap(),
            "https://europe-west4-aiplatform.googleapis.com/v1/projects/my-proj/locations/\
             europe-west4/publishers/google/models/gemini-2.5-flash:generateContent"
        );
        let g = Endpoint::new("my-proj", "global", None);
        assert_eq!(
            g.model_url(
                Publisher::Anthropic,
                "claude-sonnet-4-5@20250929",
                "rawPredict"
            )
            .unwrap(),
            "https://aiplatform.googleapis.com/v1/projects/my-proj/locations/global/publishers/\
             anthropic/models/claude-sonnet-4-5@20250929:rawPredict"
        );
        assert_eq!(g.model_url(Publisher::Google, "a/../b", "x"), None);
        assert_eq!(g.model_url(Publisher::Google, "a?b", "x"), None);
        assert_eq!(
            Publisher::of("claude-haiku-4-5@20251001"),
            Publisher::Anthropic
        );
        assert_eq!(Publisher::of("gemini-2.5-pro"), Publisher::Google);
        assert!(valid_location("us-central1") && !valid_location("us central"));
        assert!(valid_project("example.com:proj") && !valid_project("a/b"));
    }
}
