//! Time as the rest of the crate reads it: epoch seconds, RFC 3339 stamps and
//! a Lambda deadline. A leaf: it imports nothing from this crate.

/// Seconds since the epoch as an RFC 3339 UTC timestamp (`2026-11-21T14:25:28Z`).
pub fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil-from-days (Howard Hinnant's algorithm), valid for the Gregorian calendar.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}Z")
}

/// Seconds since the epoch, now.
pub fn epoch_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether less than `reserve` is left before `deadline_ms` (epoch
/// milliseconds, as Lambda's invocation context gives it): when a long run
/// saves and stops.
pub fn out_of_time(deadline_ms: u64, reserve: std::time::Duration) -> impl Fn() -> bool + Copy {
    move || {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        std::time::Duration::from_millis(deadline_ms.saturating_sub(now)) < reserve
    }
}

/// Now, as RFC 3339.
pub fn now_rfc3339() -> String {
    rfc3339(epoch_now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_271_128), "2026-11-21T14:25:28Z");
    }
}
