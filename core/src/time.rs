//! Clocks and the ISO 8601 timestamps Alibaba's API returns.

use alloc::format;
use alloc::string::String;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::env::Clock;

/// The system clock (needs `std`).
#[cfg(feature = "std")]
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

#[cfg(feature = "std")]
impl Clock for SystemClock {
    fn now_millis(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to: for tests that cross rotation and deletion
/// windows, and for reproducible vectors.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock standing at `millis` since the epoch.
    #[must_use]
    pub fn new(millis: u64) -> Self {
        ManualClock(AtomicU64::new(millis))
    }
    /// Moves the clock forward.
    pub fn advance(&self, millis: u64) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
    /// Sets the clock.
    pub fn set(&self, millis: u64) {
        self.0.store(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_millis(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Formats milliseconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (UTC), the form
/// Alibaba KMS uses for CreationDate and friends.
#[must_use]
pub fn iso8601(millis: u64) -> String {
    let secs = millis / 1000;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// [`iso8601_ms`] appended to `out` (no allocation).
pub(crate) fn write_iso8601_ms(out: &mut String, millis: u64) {
    use core::fmt::Write as _;
    let secs = millis / 1000;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(secs / 86_400);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        millis % 1000
    );
}

/// As [`iso8601`], with milliseconds (`YYYY-MM-DDTHH:MM:SS.mmmZ`): audit event times.
#[must_use]
pub fn iso8601_ms(millis: u64) -> String {
    let s = iso8601(millis);
    format!("{}.{:03}Z", &s[..s.len() - 1], millis % 1000)
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`, for non-negative day counts).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// ISO 8601 (policies' Date conditions, audit event times, the gateway's signed
/// timestamps) in UTC (`2026-12-02`, `2026-12-02T10:00:00Z`, with optional fraction, or
/// a `±hh:mm` offset) → seconds since the epoch.
#[must_use]
pub fn parse_iso8601(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let n = |r: core::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())
            .flatten()
    };
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    if b.len() < 10 || at(4) != b'-' || at(7) != b'-' {
        return None;
    }
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut secs = days_from_civil(y, m, d) * 86_400;
    if b.len() == 10 {
        return Some(secs);
    }
    if at(10) != b'T' || b.len() < 19 || at(13) != b':' || at(16) != b':' {
        return None;
    }
    let (hh, mm, ss) = (n(11..13)?, n(14..16)?, n(17..19)?);
    if hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    secs += hh * 3600 + mm * 60 + ss;
    let mut rest = s.get(19..)?;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = frac.get(digits..)?;
    }
    match rest {
        "Z" | "" => Some(secs),
        off if off.len() == 6 && (off.starts_with('+') || off.starts_with('-')) => {
            let oh: i64 = off.get(1..3)?.parse().ok()?;
            let om: i64 = off.get(4..6)?.parse().ok()?;
            let delta = oh * 3600 + om * 60;
            Some(if off.starts_with('+') {
                secs - delta
            } else {
                secs + delta
            })
        }
        _ => None,
    }
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_795_392_000_000), "2026-11-23T00:00:00Z");
        assert_eq!(iso8601(4_102_444_799_000), "2099-12-31T23:59:59Z");
    }
}
