//! Budget periods and the clock they are read on: daily, weekly (ISO weeks, from Monday) and
//! monthly budgets reset at UTC boundaries; a lifetime budget never resets.
//!
//! The calendar arithmetic is the civil-date conversion of H. Hinnant's `days_from_civil`
//! (proleptic Gregorian, exact for every day since 1970); it is a dozen lines and covered by
//! tests over month lengths and leap years, so no date crate is linked for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// When a budget's spend starts again from zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// Every day at 00:00 UTC.
    Daily,
    /// Every Monday at 00:00 UTC.
    Weekly,
    /// The first day of every month at 00:00 UTC.
    Monthly,
    /// Never.
    Lifetime,
}

impl Period {
    /// `daily`, `weekly`, `monthly`, `lifetime`.
    pub fn as_str(self) -> &'static str {
        match self {
            Period::Daily => "daily",
            Period::Weekly => "weekly",
            Period::Monthly => "monthly",
            Period::Lifetime => "lifetime",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "daily" => Period::Daily,
            "weekly" => Period::Weekly,
            "monthly" => Period::Monthly,
            "lifetime" => Period::Lifetime,
            _ => return None,
        })
    }

    /// The period holding `now_ms` (Unix ms): its start and, unless lifetime, its end (both
    /// Unix ms, UTC boundaries).
    pub fn window(self, now_ms: i64) -> (i64, Option<i64>) {
        const DAY: i64 = 86_400_000;
        let day = now_ms.div_euclid(DAY);
        match self {
            Period::Lifetime => (0, None),
            Period::Daily => (day * DAY, Some((day + 1) * DAY)),
            Period::Weekly => {
                // 1970-01-01 was a Thursday: Monday-based weekday = (day + 3) mod 7.
                let monday = day - (day + 3).rem_euclid(7);
                (monday * DAY, Some((monday + 7) * DAY))
            }
            Period::Monthly => {
                let (y, m, _) = civil_from_days(day);
                let start = days_from_civil(y, m, 1);
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                (start * DAY, Some(days_from_civil(ny, nm, 1) * DAY))
            }
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month, day) of a day number since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The time budgets and expiries are read on. Production uses the system clock; tests move
/// it by hand.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
    fixed: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self::default()
    }

    /// The system clock moved by `offset_ms` (a test-only setting of the gateway).
    pub fn offset(offset_ms: i64) -> Self {
        Self {
            offset_ms: Arc::new(AtomicI64::new(offset_ms)),
            fixed: None,
        }
    }

    /// A clock standing at `now_ms` until [`Clock::set`] or [`Clock::advance`].
    pub fn manual(now_ms: i64) -> Self {
        Self {
            offset_ms: Arc::default(),
            fixed: Some(Arc::new(AtomicI64::new(now_ms))),
        }
    }

    /// Now, Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        match &self.fixed {
            Some(t) => t.load(Ordering::Relaxed),
            None => {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64)
                    + self.offset_ms.load(Ordering::Relaxed)
            }
        }
    }

    /// Sets a manual clock (moves the offset of a system one).
    pub fn set(&self, now_ms: i64) {
        match &self.fixed {
            Some(t) => t.store(now_ms, Ordering::Relaxed),
            None => {
                let real = self.now_ms() - self.offset_ms.load(Ordering::Relaxed);
                self.offset_ms.store(now_ms - real, Ordering::Relaxed);
            }
        }
    }

    /// Moves the clock by `ms`.
    pub fn advance(&self, ms: i64) {
        self.set(self.now_ms() + ms);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(y: i64, m: u32, d: u32, h: i64) -> i64 {
        days_from_civil(y, m, d) * 86_400_000 + h * 3_600_000
    }

    #[test]
    fn civil_round_trips_every_day_of_four_centuries() {
        for z in -1_000..146_097 {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(
            days_from_civil(2000, 3, 1) - days_from_civil(2000, 2, 28),
            2
        );
        assert_eq!(
            days_from_civil(1900, 3, 1) - days_from_civil(1900, 2, 28),
            1
        );
    }

    #[test]
    fn daily_and_weekly_boundaries_are_utc_midnight_and_monday() {
        let t = ms(2026, 12, 5, 23) + 59 * 60_000; // Saturday 23:59 UTC
        assert_eq!(
            Period::Daily.window(t),
            (ms(2026, 12, 5, 0), Some(ms(2026, 12, 6, 0)))
        );
        assert_eq!(
            Period::Weekly.window(t),
            (ms(2026, 11, 30, 0), Some(ms(2026, 12, 7, 0)))
        );
        // A Monday at midnight starts a new week.
        assert_eq!(
            Period::Weekly.window(ms(2026, 12, 7, 0)).0,
            ms(2026, 12, 7, 0)
        );
        assert_eq!(Period::Lifetime.window(t), (0, None));
    }

    #[test]
    fn months_have_their_own_lengths() {
        for (y, m, next, days) in [
            (2026, 1, (2026, 2), 31),
            (2026, 2, (2026, 3), 28),
            (2028, 2, (2028, 3), 29),
            (2100, 2, (2100, 3), 28),
            (2000, 2, (2000, 3), 29),
            (2026, 4, (2026, 5), 30),
            (2026, 12, (2027, 1), 31),
        ] {
            let mid = ms(y, m, 15, 12);
            let (start, end) = Period::Monthly.window(mid);
            assert_eq!(start, ms(y, m, 1, 0), "{y}-{m}");
            assert_eq!(end, Some(ms(next.0, next.1, 1, 0)), "{y}-{m}");
            assert_eq!((end.unwrap() - start) / 86_400_000, days, "{y}-{m}");
            // The last millisecond of the month is still in it.
            assert_eq!(Period::Monthly.window(end.unwrap() - 1).0, start);
        }
    }

    #[test]
    fn manual_clock_moves() {
        let c = Clock::manual(1_000);
        c.advance(500);
        assert_eq!(c.now_ms(), 1_500);
        let s = Clock::offset(86_400_000);
        let real = Clock::system().now_ms();
        assert!((s.now_ms() - real - 86_400_000).abs() < 1_000);
    }
}
