//! Timestamps on the wire, read through one maintained crate (`jiff`) rather than a parser per
//! provider.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An RFC 3339 timestamp (`2024-09-26T19:05:00Z`, `2024-09-26T21:05:00.5+02:00`, nanosecond
/// fractions) as a point in time; its UTC offset is applied. `None` when the text is not one.
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    let ts: jiff::Timestamp = s.trim().parse().ok()?;
    Some(SystemTime::from(ts))
}

/// Whole seconds since the Unix epoch (negative before it), as `created` fields count them.
pub fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            if d.subsec_nanos() > 0 {
                -secs - 1
            } else {
                -secs
            }
        }
    }
}

/// [`parse_rfc3339`] as whole Unix seconds.
pub fn rfc3339_unix_seconds(s: &str) -> Option<i64> {
    parse_rfc3339(s).map(unix_seconds)
}

/// How long from `now` until `then` (zero when `then` has passed).
pub fn until(then: SystemTime, now: SystemTime) -> Duration {
    then.duration_since(now).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_fractions_are_applied() {
        assert_eq!(rfc3339_unix_seconds("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            rfc3339_unix_seconds("2024-09-26T19:05:00Z"),
            Some(1_727_377_500)
        );
        // The same instant written with a +02:00 offset (a parser that ignores the offset
        // would read it two hours late).
        let t = parse_rfc3339("2024-09-26T21:05:00.5+02:00").unwrap();
        assert_eq!(
            t.duration_since(UNIX_EPOCH).unwrap(),
            Duration::from_millis(1_727_377_500_500)
        );
        assert_eq!(
            rfc3339_unix_seconds("2024-09-26T12:05:00.123456789-07:00"),
            Some(1_727_377_500)
        );
        assert_eq!(rfc3339_unix_seconds("1969-12-31T23:59:59.5Z"), Some(-1));
        for bad in [
            "",
            "2024-09-26",
            "2024-13-01T00:00:00Z",
            "yesterday",
            "2024-09-26T19:05:00",
        ] {
            assert_eq!(parse_rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn until_saturates() {
        let now = UNIX_EPOCH + Duration::from_secs(10);
        assert_eq!(
            until(UNIX_EPOCH + Duration::from_secs(12), now),
            Duration::from_secs(2)
        );
        assert_eq!(until(UNIX_EPOCH, now), Duration::ZERO);
    }
}
