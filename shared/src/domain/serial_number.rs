//! A device serial number: kept byte for byte (the seeds: serial numbers are
//! case-sensitive), refused when a spreadsheet damaged it.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::issue::{err, IssueKind, ValueError};

/// What in a serial number can never match what a device reports: spaces at
/// either end, any other whitespace, control characters and Unicode format
/// characters (zero-width spaces, direction marks and overrides, soft
/// hyphens), which spreadsheets and copy-paste bring along unseen. None when
/// the serial has none; else which character and where (`U+200B ZERO WIDTH
/// SPACE inside it`). The one rule for imports, the validator and admission.
pub fn invisible_in_serial(raw: &str) -> Option<String> {
    // Nearly every serial is printable ASCII: one pass over the bytes decides.
    let bytes = raw.as_bytes();
    if bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ')
        && bytes.first() != Some(&b' ')
        && bytes.last() != Some(&b' ')
    {
        return None;
    }
    let last = raw.chars().count().saturating_sub(1);
    for (i, c) in raw.chars().enumerate() {
        let at_end = i == 0 || i == last;
        let bad = match c {
            ' ' => at_end,
            c => c.is_whitespace() || c.is_control() || is_format_char(c),
        };
        if bad {
            let place = if c.is_whitespace() && at_end {
                "at its start or end"
            } else {
                "inside it"
            };
            return Some(format!("{} {place}", describe_char(c)));
        }
    }
    None
}

/// Unicode's format characters (general category Cf).
fn is_format_char(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
        | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F)
}

/// `U+200B ZERO WIDTH SPACE`: the code point, and its name for the ones copy-paste brings.
pub fn describe_char(c: char) -> String {
    let name = match c as u32 {
        0x09 => "CHARACTER TABULATION",
        0x0A => "LINE FEED",
        0x0D => "CARRIAGE RETURN",
        0x20 => "SPACE",
        0xA0 => "NO-BREAK SPACE",
        0xAD => "SOFT HYPHEN",
        0x200B => "ZERO WIDTH SPACE",
        0x200C => "ZERO WIDTH NON-JOINER",
        0x200D => "ZERO WIDTH JOINER",
        0x200E => "LEFT-TO-RIGHT MARK",
        0x200F => "RIGHT-TO-LEFT MARK",
        0x202A => "LEFT-TO-RIGHT EMBEDDING",
        0x202B => "RIGHT-TO-LEFT EMBEDDING",
        0x202C => "POP DIRECTIONAL FORMATTING",
        0x202D => "LEFT-TO-RIGHT OVERRIDE",
        0x202E => "RIGHT-TO-LEFT OVERRIDE",
        0x2060 => "WORD JOINER",
        0x2066 => "LEFT-TO-RIGHT ISOLATE",
        0x2067 => "RIGHT-TO-LEFT ISOLATE",
        0x2068 => "FIRST STRONG ISOLATE",
        0x2069 => "POP DIRECTIONAL ISOLATE",
        0x3000 => "IDEOGRAPHIC SPACE",
        0xFEFF => "ZERO WIDTH NO-BREAK SPACE",
        _ if c.is_control() => "a control character",
        _ if c.is_whitespace() => "a space character",
        _ => "a format character",
    };
    format!("U+{:04X} {name}", c as u32)
}

/// A device serial number, compared byte-for-byte (case-sensitive, never normalised).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SerialNumber(String);

impl SerialNumber {
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        Self::check(raw)?;
        Ok(Self(raw.to_owned()))
    }

    /// The rules of [`parse`](Self::parse) without keeping the value (the validation pass).
    pub fn check(raw: &str) -> Result<(), ValueError> {
        if raw.is_empty() {
            return err(
                IssueKind::Missing,
                "the serial number is empty; every row needs the device's serial number",
            );
        }
        if raw.len() > Self::MAX_LEN {
            return err(
                IssueKind::TooLong,
                format!(
                    "the serial number is longer than {} characters",
                    Self::MAX_LEN
                ),
            );
        }
        if let Some(found) = invisible_in_serial(raw) {
            return err(
                IssueKind::Malformed,
                format!(
                    "the serial number has {found}, which no device reports; retype the serial \
                 (or clean the column) and export again"
                ),
            );
        }
        if looks_like_scientific_notation(raw) {
            return err(IssueKind::Malformed, format!(
                "'{raw}' looks like a number a spreadsheet rewrote in scientific notation, so the real serial \
                 number is lost; format the column as Text, re-enter the serials and export again"
            ));
        }
        Ok(())
    }

    /// For text that passed [`check`](Self::check).
    pub(crate) fn checked(raw: &str) -> Self {
        Self(raw.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SerialNumber {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, ValueError> {
        Self::parse(&s)
    }
}

impl From<SerialNumber> for String {
    fn from(s: SerialNumber) -> String {
        s.0
    }
}

impl fmt::Display for SerialNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `4.41E+11`, `1e9`, `3,5E+08`: what Excel shows for a long number in a General cell.
pub(super) fn looks_like_scientific_notation(s: &str) -> bool {
    let Some(e) = s.find(['e', 'E']) else {
        return false;
    };
    let (mantissa, exp) = (&s[..e], &s[e + 1..]);
    let exp = exp.strip_prefix(['+', '-']).unwrap_or(exp);
    let mut parts = mantissa.splitn(2, ['.', ',']);
    let int = parts.next().unwrap_or("");
    let frac = parts.next().unwrap_or("0");
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    digits(int) && digits(frac) && digits(exp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_is_kept_byte_for_byte() {
        let s = SerialNumber::parse("AbC-123").unwrap();
        assert_eq!(s.as_str(), "AbC-123");
        assert_ne!(
            SerialNumber::parse("ABC123").unwrap(),
            SerialNumber::parse("abc123").unwrap()
        );
    }

    #[test]
    fn serial_in_scientific_notation_is_damaged() {
        for bad in ["4.41E+11", "4,41E+11", "1e9", "3.5e-3"] {
            let e = SerialNumber::parse(bad).unwrap_err();
            assert!(e.message.contains("scientific notation"), "{bad}: {e}");
        }
        for ok in ["E12345", "12E", "C02XK1E3JG5H", "1E2F3"] {
            assert!(SerialNumber::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn serial_rejects_empty_and_control_characters() {
        assert!(SerialNumber::parse("").is_err());
        assert!(SerialNumber::parse("AB\nC").is_err());
        assert!(SerialNumber::parse(&"A".repeat(129)).is_err());
    }
}
