//! When a pre-approval lapses: an `Expires` cell, or a number of days from an
//! upload's metadata, the settings or a renewal. Enrolled devices never expire.

use serde::{Deserialize, Serialize};

use super::issue::{clip_to, IssueKind, ValueError};
use crate::clock::rfc3339;

const DAY: u64 = 86_400;
/// The longest a pre-approval may be given (ten years).
pub const MAX_DAYS: u32 = 3650;

/// The first second at which a pre-approval no longer holds (epoch seconds);
/// in JSON, an RFC 3339 UTC time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Expiry(u64);

impl Serialize for Expiry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.rfc3339())
    }
}

impl<'de> Deserialize<'de> for Expiry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        parse_moment(&text)
            .map(Self)
            .map_err(|e| serde::de::Error::custom(e.message))
    }
}

impl Expiry {
    /// A stored expiry, as written by [`Expiry::parse`] or [`Expiry::in_days`].
    pub fn from_epoch(secs: u64) -> Self {
        Self(secs)
    }

    pub fn epoch(self) -> u64 {
        self.0
    }

    /// Whether the pre-approval has lapsed at `now`.
    pub fn has_passed(self, now: u64) -> bool {
        now >= self.0
    }

    pub fn rfc3339(self) -> String {
        rfc3339(self.0)
    }

    /// `days` (1 to [`MAX_DAYS`]) from `now`.
    pub fn in_days(days: u32, now: u64) -> Result<Self, ValueError> {
        check_days(days)?;
        Ok(Self(now + u64::from(days) * DAY))
    }

    /// An `Expires` cell: `YYYY-MM-DD` (the end of that day, UTC) or an ISO
    /// 8601 date-time with an offset; it must lie after `now`. Spreadsheets'
    /// own forms get a message that says how to write them instead.
    pub fn parse(cell: &str, now: u64) -> Result<Self, ValueError> {
        let at = parse_moment(cell)?;
        let e = Self(at);
        if e.has_passed(now) {
            return Err(ValueError::new(
                IssueKind::NotAllowed,
                format!(
                    "'{}' is in the past (it is {} now); give a later date, or leave the cell \
                     empty for a pre-approval that does not expire",
                    clip_to(cell, 40),
                    &rfc3339(now)[..10]
                ),
            ));
        }
        Ok(e)
    }
}

/// An RFC 3339 date-time with its offset (`2027-03-31T17:00:00Z`,
/// `2027-03-31T19:00:00+02:00`) as epoch seconds; `None` for anything else,
/// a bare date included. For stamps other systems write, such as an ADE
/// token's expiry.
pub fn parse_date_time(text: &str) -> Option<u64> {
    if text.len() <= 10 {
        return None;
    }
    parse_moment(text).ok()
}

/// A number of days an admin typed (settings, an upload, a renewal).
pub fn check_days(days: u32) -> Result<(), ValueError> {
    if (1..=MAX_DAYS).contains(&days) {
        Ok(())
    } else {
        Err(ValueError::new(
            IssueKind::NotAllowed,
            format!("must be a whole number of days from 1 to {MAX_DAYS}"),
        ))
    }
}

const FORMS: &str = "write it as YYYY-MM-DD (2027-03-31, the end of that day in UTC) or as an \
    ISO 8601 date-time with its offset (2027-03-31T17:00:00+02:00)";

fn malformed(cell: &str, hint: &str) -> ValueError {
    ValueError::new(
        IssueKind::Malformed,
        format!("'{}' is not a date {hint}; {FORMS}", clip_to(cell, 40)),
    )
}

fn parse_moment(cell: &str) -> Result<u64, ValueError> {
    let b = cell.as_bytes();
    if !b.is_empty() && b.iter().all(|c| c.is_ascii_digit() || *c == b'.') {
        // Excel stores dates as days since 1899-12-30 and a CSV export of a
        // column formatted as "General" writes that number.
        let hint = cell
            .split('.')
            .next()
            .and_then(|d| d.parse::<u64>().ok())
            .filter(|d| (1..=2_958_465).contains(d))
            .map(|d| {
                let date = rfc3339((d * DAY).saturating_sub(25_569 * DAY));
                format!(
                    "but a spreadsheet's date serial number ({} if it is one): format the column \
                     as a date in the form yyyy-mm-dd before exporting",
                    &date[..10]
                )
            })
            .unwrap_or_else(|| "but a number".to_owned());
        return Err(malformed(cell, &hint));
    }
    if b.len() >= 8 && b.len() <= 10 && cell.contains(['/', '.']) {
        return Err(malformed(
            cell,
            "in a form this import reads: day and month could be either way round",
        ));
    }
    let date = b
        .get(..10)
        .and_then(date)
        .ok_or_else(|| malformed(cell, "in a form this import reads"))?;
    let rest = &cell[10..];
    if rest.is_empty() {
        return Ok(date + DAY);
    }
    let rest = rest
        .strip_prefix(['T', 't', ' '])
        .ok_or_else(|| malformed(cell, "in a form this import reads"))?;
    let (time, offset) = split_offset(rest).ok_or_else(|| {
        malformed(
            cell,
            "with a time zone: add Z (UTC) or the offset, such as +02:00, after the time",
        )
    })?;
    let secs = time_of_day(time).ok_or_else(|| malformed(cell, "with a valid time of day"))?;
    let local = date + secs;
    let utc = i64::try_from(local).unwrap_or(i64::MAX) - offset;
    u64::try_from(utc).map_err(|_| malformed(cell, "after 1970"))
}

fn digits(b: &[u8]) -> Option<u64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// `YYYY-MM-DD` as the epoch seconds of its midnight, UTC.
fn date(b: &[u8]) -> Option<u64> {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(&b[..4])?, digits(&b[5..7])?, digits(&b[8..])?);
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if y < 1970 || !(1..=12).contains(&m) || d == 0 || d > month_days[(m - 1) as usize] {
        return None;
    }
    Some(days_from_civil(y as i64, m as i64, d as i64) as u64 * DAY)
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm, the inverse of [`rfc3339`]'s).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `HH:MM[:SS[.fff]]` and `Z`, `±HH:MM` or `±HHMM`: the time and the offset in seconds.
fn split_offset(rest: &str) -> Option<(&str, i64)> {
    if let Some(time) = rest.strip_suffix(['Z', 'z']) {
        return Some((time, 0));
    }
    let at = rest.rfind(['+', '-'])?;
    let (time, off) = rest.split_at(at);
    let sign = if off.starts_with('-') { -1 } else { 1 };
    let off = off[1..].replace(':', "");
    let b = off.as_bytes();
    if b.len() != 4 {
        return None;
    }
    let (h, m) = (digits(&b[..2])?, digits(&b[2..])?);
    if h > 14 || m > 59 {
        return None;
    }
    Some((time, sign * (h * 3600 + m * 60) as i64))
}

fn time_of_day(time: &str) -> Option<u64> {
    let mut parts = time.splitn(3, ':');
    let h = digits(parts.next()?.as_bytes())?;
    let m = digits(parts.next()?.as_bytes())?;
    let s = match parts.next() {
        None => 0,
        Some(s) => {
            let whole = s.split(['.', ',']).next()?;
            if whole.len() != 2 {
                return None;
            }
            digits(whole.as_bytes())?
        }
    };
    (h < 24 && m < 60 && s < 60).then_some(h * 3600 + m * 60 + s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-22T10:00:00Z
    const NOW: u64 = 1_795_341_600;

    fn at(cell: &str) -> Result<String, String> {
        Expiry::parse(cell, NOW)
            .map(Expiry::rfc3339)
            .map_err(|e| e.message)
    }

    #[test]
    fn date_times_from_other_systems() {
        assert_eq!(parse_date_time("2026-11-22T10:00:00Z"), Some(NOW));
        assert_eq!(parse_date_time("2026-11-22T12:00:00+02:00"), Some(NOW));
        assert_eq!(parse_date_time("2026-11-22"), None, "a bare date");
        assert_eq!(parse_date_time("2026-11-22T10:00:00"), None, "no offset");
        assert_eq!(parse_date_time("tomorrow"), None);
        assert_eq!(parse_date_time(""), None);
    }

    #[test]
    fn a_date_is_the_end_of_that_day_in_utc() {
        assert_eq!(rfc3339(NOW), "2026-11-22T10:00:00Z");
        assert_eq!(at("2027-03-31").unwrap(), "2027-04-01T00:00:00Z");
        assert_eq!(at("2028-02-29").unwrap(), "2028-03-01T00:00:00Z");
        assert_eq!(
            at("2026-11-22").unwrap(),
            "2026-11-23T00:00:00Z",
            "today holds until midnight"
        );
    }

    #[test]
    fn a_date_time_needs_its_offset() {
        assert_eq!(
            at("2027-03-31T17:00:00+02:00").unwrap(),
            "2027-03-31T15:00:00Z"
        );
        assert_eq!(at("2027-03-31T17:00Z").unwrap(), "2027-03-31T17:00:00Z");
        assert_eq!(
            at("2027-03-31 17:00:00.250-0530").unwrap(),
            "2027-03-31T22:30:00Z"
        );
        let e = at("2027-03-31T17:00:00").unwrap_err();
        assert!(e.contains("add Z (UTC) or the offset"), "{e}");
        assert!(at("2027-03-31T25:00:00Z").is_err());
    }

    #[test]
    fn spreadsheet_forms_are_errors_with_a_hint() {
        let e = at("31/03/2027").unwrap_err();
        assert!(
            e.contains("day and month could be either way round") && e.contains("YYYY-MM-DD"),
            "{e}"
        );
        assert!(at("03.31.2027").is_err());
        let e = at("46477").unwrap_err();
        assert!(e.contains("date serial number (2027-03-31"), "{e}");
        assert!(at("2027-02-29").is_err(), "not a leap year");
        assert!(at("2027-13-01").is_err());
        assert!(at("next week").unwrap_err().contains("YYYY-MM-DD"));
        assert!(at("2027-03-31Tfoo").is_err());
        assert!(at("٢٠٢٧-03-31").is_err(), "non-ASCII digits do not panic");
    }

    #[test]
    fn a_date_in_the_past_is_an_error() {
        let e = at("2026-11-21").unwrap_err();
        assert!(e.contains("in the past") && e.contains("2026-11-22"), "{e}");
        assert!(at("2026-11-22T09:59:59Z").is_err());
        assert!(at("1969-12-31").is_err());
    }

    #[test]
    fn json_is_rfc3339_both_ways() {
        let e = Expiry::from_epoch(NOW);
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, "\"2026-11-22T10:00:00Z\"");
        assert_eq!(serde_json::from_str::<Expiry>(&json).unwrap(), e);
    }

    #[test]
    fn days_are_bounded() {
        assert_eq!(Expiry::in_days(30, NOW).unwrap().epoch(), NOW + 30 * DAY);
        assert!(Expiry::in_days(0, NOW).is_err());
        assert!(Expiry::in_days(MAX_DAYS + 1, NOW).is_err());
        assert!(Expiry::from_epoch(NOW).has_passed(NOW));
        assert!(!Expiry::from_epoch(NOW + 1).has_passed(NOW));
    }
}
