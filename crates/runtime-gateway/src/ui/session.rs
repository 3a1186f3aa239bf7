//! Sign-in sessions of the admin UI: an opaque random id in an `HttpOnly`, `SameSite=Strict`
//! cookie scoped to `/ui`, expiring; a per-session CSRF token that every change must echo in
//! the `x-csrf-token` header.
//!
//! Sessions live in this process's memory (a sign-in is per replica; a restart signs everyone
//! out). The key a person signed in with is kept with the session, never written anywhere,
//! and checked again on every call, so a revoked or expired admin key ends its sessions at
//! once.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, header};
use parking_lot::Mutex;
use rand::Rng;

/// The session cookie's name.
pub const COOKIE: &str = "modelrt_session";
/// How long a session lasts after sign-in.
pub const LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// The most sessions kept at once (oldest dropped first past it).
const MAX_SESSIONS: usize = 10_000;

/// One signed-in person.
#[derive(Clone)]
pub struct Session {
    /// The key they signed in with (memory only; re-checked on every call).
    pub key: String,
    /// The token every state-changing call must send in `x-csrf-token`.
    pub csrf: String,
    /// When the session ends.
    pub expires: Instant,
}

/// The sessions of this process.
#[derive(Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill(&mut b);
    hex::encode(b)
}

impl Sessions {
    /// Opens a session for `key`; returns its id and CSRF token.
    pub fn open(&self, key: String) -> (String, Session) {
        let id = random_token();
        let s = Session {
            key,
            csrf: random_token(),
            expires: Instant::now() + LIFETIME,
        };
        let mut map = self.map.lock();
        let now = Instant::now();
        map.retain(|_, v| v.expires > now);
        if map.len() >= MAX_SESSIONS
            && let Some(oldest) = map
                .iter()
                .min_by_key(|(_, v)| v.expires)
                .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
        map.insert(id.clone(), s.clone());
        (id, s)
    }

    /// The live session of a request's cookie.
    pub fn get(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let id = cookie(headers, COOKIE)?;
        let mut map = self.map.lock();
        match map.get(id) {
            Some(s) if s.expires > Instant::now() => Some((id.to_owned(), s.clone())),
            Some(_) => {
                map.remove(id);
                None
            }
            None => None,
        }
    }

    /// Ends a session.
    pub fn close(&self, id: &str) {
        self.map.lock().remove(id);
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The `Set-Cookie` value that stores session `id` (`None`: one that deletes it).
pub fn set_cookie(id: Option<&str>) -> HeaderValue {
    let v = match id {
        Some(id) => format!(
            "{COOKIE}={id}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}",
            LIFETIME.as_secs()
        ),
        None => format!("{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0"),
    };
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Whether a state-changing request may proceed: it echoes the session's CSRF token, and, when
/// the browser says where it comes from (`Origin`), that is this host.
pub fn csrf_ok(headers: &HeaderMap, session: &Session) -> bool {
    let token = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !constant_time_eq(token.as_bytes(), session.csrf.as_bytes()) {
        return false;
    }
    match (headers.get(header::ORIGIN), headers.get(header::HOST)) {
        (None, _) => true,
        (Some(o), Some(h)) => {
            let o = o.to_str().unwrap_or("");
            let host = h.to_str().unwrap_or("-");
            o.strip_prefix("http://")
                .or_else(|| o.strip_prefix("https://"))
                .is_some_and(|rest| rest == host)
        }
        (Some(_), None) => false,
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn a_session_is_found_by_its_cookie_and_closed() {
        let s = Sessions::default();
        let (id, sess) = s.open("sk-x".into());
        assert_eq!(id.len(), 64);
        let h = headers(&[("cookie", &format!("a=b; {COOKIE}={id}; c=d"))]);
        let (got, found) = s.get(&h).unwrap();
        assert_eq!(
            (got.as_str(), found.csrf.as_str()),
            (id.as_str(), sess.csrf.as_str())
        );
        assert!(
            s.get(&headers(&[("cookie", &format!("{COOKIE}=nope"))]))
                .is_none()
        );
        s.close(&id);
        assert!(s.get(&h).is_none());
    }

    #[test]
    fn the_cookie_is_httponly_strict_scoped_and_expiring() {
        let v = set_cookie(Some("abc"));
        let v = v.to_str().unwrap();
        for part in ["HttpOnly", "SameSite=Strict", "Path=/ui", "Max-Age=28800"] {
            assert!(v.contains(part), "{v}");
        }
        assert!(set_cookie(None).to_str().unwrap().contains("Max-Age=0"));
    }

    #[test]
    fn changes_need_the_token_and_a_same_origin() {
        let s = Sessions::default();
        let (_, sess) = s.open("k".into());
        let tok = sess.csrf.clone();
        assert!(!csrf_ok(&headers(&[]), &sess));
        assert!(!csrf_ok(&headers(&[("x-csrf-token", "wrong")]), &sess));
        assert!(csrf_ok(&headers(&[("x-csrf-token", &tok)]), &sess));
        let same = headers(&[
            ("x-csrf-token", &tok),
            ("origin", "http://127.0.0.1:4000"),
            ("host", "127.0.0.1:4000"),
        ]);
        assert!(csrf_ok(&same, &sess));
        let cross = headers(&[
            ("x-csrf-token", &tok),
            ("origin", "http://evil.example"),
            ("host", "127.0.0.1:4000"),
        ]);
        assert!(!csrf_ok(&cross, &sess));
    }
}
