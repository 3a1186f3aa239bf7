//! Per-request cache control: what a mode allows, and the gateway's `Cache-Control` mapping.

use std::time::Duration;

use runtime_core::{CacheControl, CacheMode, ResponseMeta};

/// Whether a request in this mode may be answered from the cache.
pub fn reads(mode: CacheMode) -> bool {
    matches!(mode, CacheMode::On | CacheMode::ReadOnly)
}

/// Whether a request in this mode may store its answer.
pub fn writes(mode: CacheMode) -> bool {
    matches!(mode, CacheMode::On | CacheMode::WriteOnly)
}

/// Maps the values of HTTP `Cache-Control` request headers to a [`CacheControl`].
///
/// Directives are comma separated, case-insensitive, and may come in several header values;
/// values may be quoted (`max-age="60"`). The mapping:
///
/// | directive            | effect                                                             |
/// |----------------------|--------------------------------------------------------------------|
/// | `no-cache`           | do not read (the answer is fetched fresh and still stored): `WriteOnly` |
/// | `no-store`           | do not write (a cached answer may still be served): `ReadOnly`     |
/// | both                 | `Off`                                                              |
/// | `max-age=N`          | `max_age = N` seconds: older entries are misses                    |
/// | `max-age=0`          | same as `no-cache`                                                 |
/// | `ttl=N`              | extension: store this answer for `N` seconds (`ttl`)               |
/// | `force-cache`        | extension: cache even with temperature ≠ 0 (`force`)               |
///
/// Unknown directives (`max-stale`, `only-if-cached`, `no-transform`, …) and malformed
/// values are ignored; a directive given twice keeps the smallest `max-age`/`ttl`.
pub fn parse_cache_control<'a, I>(values: I) -> CacheControl
where
    I: IntoIterator<Item = &'a str>,
{
    let mut no_cache = false;
    let mut no_store = false;
    let mut cc = CacheControl::default();
    for value in values {
        for directive in value.split(',') {
            let directive = directive.trim();
            if directive.is_empty() {
                continue;
            }
            let (name, arg) = match directive.split_once('=') {
                Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                None => (directive, None),
            };
            let secs = || {
                arg.and_then(|a| a.parse::<u64>().ok())
                    .map(Duration::from_secs)
            };
            let min = |old: Option<Duration>, new: Duration| Some(old.map_or(new, |o| o.min(new)));
            match name.to_ascii_lowercase().as_str() {
                "no-cache" => no_cache = true,
                "no-store" => no_store = true,
                "max-age" => {
                    if let Some(d) = secs() {
                        cc.max_age = min(cc.max_age, d);
                    }
                }
                "ttl" => {
                    if let Some(d) = secs() {
                        cc.ttl = min(cc.ttl, d);
                    }
                }
                "force-cache" => cc.force = true,
                _ => {}
            }
        }
    }
    if cc.max_age == Some(Duration::ZERO) {
        no_cache = true;
        cc.max_age = None;
    }
    cc.mode = match (no_cache, no_store) {
        (true, true) => CacheMode::Off,
        (true, false) => CacheMode::WriteOnly,
        (false, true) => CacheMode::ReadOnly,
        (false, false) => CacheMode::On,
    };
    cc
}

/// [`parse_cache_control`] over every `Cache-Control` header of a request (values that are
/// not valid text are skipped).
pub fn cache_control_from_headers(headers: &http::HeaderMap) -> CacheControl {
    parse_cache_control(
        headers
            .get_all(http::header::CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    )
}

/// The value of the `x-cache` response header the gateway may send: `HIT`, `MISS`, or none
/// when the cache did not apply.
pub fn cache_status(meta: &ResponseMeta) -> Option<&'static str> {
    meta.cache_hit.map(|hit| if hit { "HIT" } else { "MISS" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> CacheControl {
        parse_cache_control([s])
    }

    #[test]
    fn modes() {
        assert_eq!(p(""), CacheControl::default());
        assert_eq!(p("no-cache").mode, CacheMode::WriteOnly);
        assert_eq!(p("no-store").mode, CacheMode::ReadOnly);
        assert_eq!(p("no-cache, no-store").mode, CacheMode::Off);
        assert_eq!(
            parse_cache_control(["No-Store", "NO-CACHE"]).mode,
            CacheMode::Off
        );
        assert_eq!(p("max-age=0").mode, CacheMode::WriteOnly);
        assert_eq!(p("max-age=0").max_age, None);
    }

    #[test]
    fn values() {
        let c = p("max-age=60, ttl=\"300\", force-cache");
        assert_eq!(c.mode, CacheMode::On);
        assert_eq!(c.max_age, Some(Duration::from_secs(60)));
        assert_eq!(c.ttl, Some(Duration::from_secs(300)));
        assert!(c.force);
        assert_eq!(
            p("max-age=60, max-age=30").max_age,
            Some(Duration::from_secs(30))
        );
        assert_eq!(p("max-age=soon").max_age, None);
        assert_eq!(p("max-age=-5").max_age, None);
        assert_eq!(
            p("max-stale=10, only-if-cached, no-transform"),
            CacheControl::default()
        );
        assert_eq!(
            p("no-store, max-age = 5").max_age,
            Some(Duration::from_secs(5))
        );
    }

    #[test]
    fn from_header_map() {
        let mut h = http::HeaderMap::new();
        h.append(http::header::CACHE_CONTROL, "no-cache".parse().unwrap());
        h.append(http::header::CACHE_CONTROL, "ttl=10".parse().unwrap());
        let c = cache_control_from_headers(&h);
        assert_eq!(c.mode, CacheMode::WriteOnly);
        assert_eq!(c.ttl, Some(Duration::from_secs(10)));
        assert_eq!(
            cache_control_from_headers(&http::HeaderMap::new()),
            CacheControl::default()
        );
    }

    #[test]
    fn status_header() {
        let mut m = ResponseMeta::default();
        assert_eq!(cache_status(&m), None);
        m.cache_hit = Some(true);
        assert_eq!(cache_status(&m), Some("HIT"));
        m.cache_hit = Some(false);
        assert_eq!(cache_status(&m), Some("MISS"));
    }

    #[test]
    fn mode_predicates() {
        assert!(reads(CacheMode::On) && writes(CacheMode::On));
        assert!(reads(CacheMode::ReadOnly) && !writes(CacheMode::ReadOnly));
        assert!(!reads(CacheMode::WriteOnly) && writes(CacheMode::WriteOnly));
        assert!(!reads(CacheMode::Off) && !writes(CacheMode::Off));
    }
}
