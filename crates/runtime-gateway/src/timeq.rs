//! Time-range parsing for `/v1/usage` and `modelrt usage`: `since=24h`, `from`/`to` as unix
//! seconds or RFC 3339 UTC timestamps.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses a look-back such as `90s`, `30m`, `24h`, `7d`, `2w` (a bare number is seconds).
pub fn parse_since(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, unit) = match t.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let mult = match unit.trim() {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        "d" => 86_400.0,
        "w" => 604_800.0,
        _ => return Err(format!("`{s}` is not a duration (use e.g. 30m, 24h, 7d)")),
    };
    num.parse::<f64>()
        .ok()
        .and_then(|n| Duration::try_from_secs_f64(n * mult).ok())
        .ok_or_else(|| format!("`{s}` is not a duration (use e.g. 30m, 24h, 7d)"))
}

/// Parses a point in time: unix seconds, or `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ` (UTC; a
/// `+HH:MM`/`-HH:MM` offset is applied; a time without an offset is UTC). Read with `jiff`.
pub fn parse_time(s: &str) -> Result<SystemTime, String> {
    let bad =
        || format!("`{s}` is not a time (unix seconds or RFC 3339, e.g. 2026-01-31T12:00:00Z)");
    let t = s.trim();
    if let Ok(secs) = t.parse::<u64>() {
        return UNIX_EPOCH
            .checked_add(Duration::from_secs(secs))
            .ok_or_else(bad);
    }
    let utc = jiff::tz::TimeZone::UTC;
    let ts = if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        ts
    } else if let Ok(dt) = t.parse::<jiff::civil::DateTime>() {
        dt.to_zoned(utc).map_err(|_| bad())?.timestamp()
    } else {
        let date: jiff::civil::Date = t.parse().map_err(|_| bad())?;
        date.to_zoned(utc).map_err(|_| bad())?.timestamp()
    };
    let at = SystemTime::from(ts);
    if at < UNIX_EPOCH {
        return Err(bad());
    }
    Ok(at)
}

/// The `[from, to)` range of a query: `from`/`to` when given, else `since` (default 24h) back
/// from now.
pub fn range(
    since: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(SystemTime, SystemTime), String> {
    let now = SystemTime::now();
    let to = match to {
        Some(t) => parse_time(t)?,
        None => now,
    };
    let from = match (from, since) {
        (Some(f), _) => parse_time(f)?,
        (None, Some(s)) => to.checked_sub(parse_since(s)?).unwrap_or(UNIX_EPOCH),
        (None, None) => to
            .checked_sub(Duration::from_secs(86_400))
            .unwrap_or(UNIX_EPOCH),
    };
    if from > to {
        return Err("`from` is after `to`".into());
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(t: SystemTime) -> u64 {
        t.duration_since(UNIX_EPOCH).unwrap().as_secs()
    }

    #[test]
    fn since() {
        assert_eq!(parse_since("24h").unwrap(), Duration::from_secs(86_400));
        assert_eq!(parse_since("7d").unwrap(), Duration::from_secs(7 * 86_400));
        assert_eq!(parse_since("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_since("30m").unwrap(), Duration::from_secs(1800));
        for bad in ["", "h", "1y", "1e999h", "99999999999999999999999w", "-1h"] {
            assert!(parse_since(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times() {
        assert_eq!(unix(parse_time("1700000000").unwrap()), 1_700_000_000);
        assert_eq!(unix(parse_time("1970-01-02").unwrap()), 86_400);
        assert_eq!(
            unix(parse_time("2023-11-14T22:13:20Z").unwrap()),
            1_700_000_000
        );
        assert_eq!(
            unix(parse_time("2023-11-15T00:13:20+02:00").unwrap()),
            1_700_000_000
        );
        assert_eq!(
            unix(parse_time("2023-11-14T22:13:20.123Z").unwrap()),
            1_700_000_000
        );
        for bad in [
            "yesterday",
            "2023-13-01",
            "2023-01-01T25:00:00Z",
            "1969-12-31",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges() {
        let (f, t) = range(None, Some("1000"), Some("2000")).unwrap();
        assert_eq!((unix(f), unix(t)), (1000, 2000));
        let (f, t) = range(Some("1h"), None, Some("7200")).unwrap();
        assert_eq!((unix(f), unix(t)), (3600, 7200));
        assert!(range(None, Some("2000"), Some("1000")).is_err());
    }
}
