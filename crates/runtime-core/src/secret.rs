//! A string that never prints itself.

use std::fmt;

/// An API key or other credential.
///
/// `Debug` and `Display` print `***`, so a `Secret` can sit inside any error, config or
/// log line without leaking. Read the value with [`Secret::expose`] only where it is sent.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The credential itself. Call this only to put it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// True when the credential is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// Replaces every occurrence of each secret in `text` with `***`.
///
/// Used on upstream error bodies before they are kept in an error, since some servers echo
/// the key they rejected.
pub fn redact(text: &str, secrets: &[&Secret]) -> String {
    let mut out = text.to_owned();
    for s in secrets {
        if s.0.len() >= 4 && out.contains(s.expose()) {
            out = out.replace(s.expose(), "***");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_hide_the_value() {
        let s = Secret::new("sk-live-123456");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.expose(), "sk-live-123456");
    }

    #[test]
    fn redact_replaces_every_occurrence() {
        let s = Secret::new("sk-abcdef");
        assert_eq!(
            redact("bad key sk-abcdef (sk-abcdef)", &[&s]),
            "bad key *** (***)"
        );
    }
}
