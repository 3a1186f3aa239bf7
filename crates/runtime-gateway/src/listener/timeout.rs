//! The error a request body read fails with when the client stops sending (`body_timeout`).

use std::time::Duration;

/// The error a request body read fails with when the client stops sending it for
/// `body_timeout`; the handlers answer it with `408`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyTimeout(pub Duration);

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the request body stopped arriving for {:?} (body_timeout) before its declared length",
            self.0
        )
    }
}

impl std::error::Error for BodyTimeout {}

impl BodyTimeout {
    /// The body timeout behind `err` (an error from reading a request body), if it is one.
    pub fn find<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a BodyTimeout> {
        let mut e = Some(err);
        while let Some(cur) = e {
            if let Some(t) = cur.downcast_ref::<BodyTimeout>() {
                return Some(t);
            }
            e = cur.source();
        }
        None
    }
}
