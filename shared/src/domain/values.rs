//! Values that validate when built. Every field rule of the seeds lives here:
//! fields are case-sensitive, ownership and platform take fixed values, and the
//! serial number is kept byte-for-byte.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What kind of problem a cell (or a row, or an invite) has: reports count
/// issues per kind, so that a file wrong on every row is summed up in a line.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    /// A required cell is empty.
    Missing,
    /// Longer than the column allows.
    TooLong,
    /// Not in the column's form (an email, a phone number, a serial a device can report).
    Malformed,
    /// Not one of the column's allowed values (they are case-sensitive).
    NotAllowed,
    /// A platform that cannot be pre-approved (Windows).
    Unsupported,
    /// Repeats an earlier row (a serial number listed twice).
    Duplicate,
    /// The file or the upload's options as a whole, not one row.
    File,
    /// Warnings: surrounding spaces removed, a short password, leading zeros probably lost.
    Trimmed,
    WeakPassword,
    LeadingZeros,
    /// An invite the provider refused, or one that may or may not have left.
    InviteRefused,
    InviteUnconfirmed,
    /// A report written before kinds existed.
    #[default]
    #[serde(other)]
    Other,
}

/// Why a value was refused, phrased for the admin who has to fix the cell.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValueError {
    pub kind: IssueKind,
    pub message: String,
}

impl ValueError {
    pub fn new(kind: IssueKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// A cell as quoted in a message: long enough to recognise, never the whole of a runaway cell.
fn clip(raw: &str) -> std::borrow::Cow<'_, str> {
    clip_to(raw, 64)
}

/// `raw` cut to at most `max` characters, with an ellipsis when cut.
pub fn clip_to(raw: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match raw.char_indices().nth(max) {
        None => raw.into(),
        Some((at, _)) => format!("{}…", &raw[..at]).into(),
    }
}

fn err<T>(kind: IssueKind, msg: impl Into<String>) -> Result<T, ValueError> {
    Err(ValueError::new(kind, msg))
}

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
fn looks_like_scientific_notation(s: &str) -> bool {
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

/// An email address. `key()` is the identity used to find the user again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        Self::check(raw)?;
        Ok(Self(raw.to_owned()))
    }

    /// The rules of [`parse`](Self::parse) without keeping the value (the validation pass).
    pub fn check(raw: &str) -> Result<(), ValueError> {
        if raw.is_empty() {
            return err(
                IssueKind::Missing,
                "the email address is empty; every row needs the user's email",
            );
        }
        if raw.len() > Self::MAX_LEN {
            return err(
                IssueKind::TooLong,
                "the email address is longer than 254 characters",
            );
        }
        if is_plain_ascii_address(raw) {
            return Ok(());
        }
        let valid = email_address::EmailAddress::parse_with_options(
            raw,
            email_address::Options::default()
                .without_display_text()
                .without_domain_literal(),
        );
        match valid {
            Ok(_) if raw.rsplit_once('@').is_some_and(|(_, d)| d.contains('.')) => Ok(()),
            _ => err(
                IssueKind::Malformed,
                format!("'{raw}' is not a valid email address (expected name@example.com)"),
            ),
        }
    }

    /// For text that passed [`check`](Self::check).
    pub(crate) fn checked(raw: &str) -> Self {
        Self(raw.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The user's identity: mail systems treat addresses case-insensitively in
    /// practice, so `Jane@Example.com` and `jane@example.com` are one user.
    pub fn key(&self) -> String {
        email_key(&self.0)
    }
}

/// The users table's key for an address (see [`Email::key`]), also for text
/// that was never parsed (a search box, a preview cell): the one place that
/// decides how addresses fold.
pub fn email_key(address: &str) -> String {
    address.to_lowercase()
}

impl Email {
    pub const MAX_LEN: usize = 254;
}

/// The shape nearly every address in a directory export has: an ASCII dot-atom
/// before the `@`, a host name with a dot after it. `email_address` accepts all
/// of these too (a test checks), so it is asked only about the rest, which keeps
/// the common case cheap on a million-row file.
fn is_plain_ascii_address(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    if local.is_empty() || local.len() > 64 || domain.len() > 253 {
        return false;
    }
    // One pass per part: a dot may not start or end a part, nor follow another dot.
    let mut after_dot = true;
    for &b in local.as_bytes() {
        after_dot = match b {
            b'.' if after_dot => return false,
            b'.' => true,
            _ if b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&b) => false,
            _ => return false,
        };
    }
    if after_dot {
        return false;
    }
    // Labels: letters, digits and inner hyphens, at most 63 long; at least two of them.
    let (mut labels, mut len, mut prev) = (1, 0, b'.');
    for &b in domain.as_bytes() {
        match b {
            b'.' if len == 0 || prev == b'-' => return false,
            b'.' => {
                labels += 1;
                len = 0;
            }
            b'-' if len == 0 => return false,
            _ if b.is_ascii_alphanumeric() || b == b'-' => {
                len += 1;
                if len > 63 {
                    return false;
                }
            }
            _ => return false,
        }
        prev = b;
    }
    len > 0 && prev != b'-' && labels >= 2
}

impl TryFrom<String> for Email {
    type Error = ValueError;
    fn try_from(s: String) -> Result<Self, ValueError> {
        Self::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

/// Suggests the exact spelling when a value differs only in case or spacing.
fn near_miss<'a>(raw: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let folded: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '_')
        .collect();
    allowed
        .iter()
        .copied()
        .find(|a| a.eq_ignore_ascii_case(&folded))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ownership {
    Personal,
    Corporate,
}

impl Ownership {
    const ALLOWED: [&'static str; 2] = ["personal", "corporate"];

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        match raw {
            "personal" => Ok(Self::Personal),
            "corporate" => Ok(Self::Corporate),
            "" => err(IssueKind::Missing, "ownership is empty; use personal or corporate"),
            _ => match near_miss(raw, &Self::ALLOWED) {
                Some(s) => err(IssueKind::NotAllowed, format!(
                    "ownership '{}' is not allowed; values are case-sensitive: did you mean '{s}'?", clip(raw))),
                None => err(IssueKind::NotAllowed, format!("ownership '{}' is not allowed; use personal or corporate", clip(raw))),
            },
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Personal => "personal",
            Self::Corporate => "corporate",
        }
    }
}

/// The platforms a device can be pre-approved for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Platform {
    Android,
    Ios,
    Macos,
    Tvos,
    Linux,
}

impl Platform {
    pub const ALLOWED: [&'static str; 5] = ["android", "ios", "macos", "tvos", "linux"];

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        match raw {
            "android" => Ok(Self::Android),
            "ios" => Ok(Self::Ios),
            "macos" => Ok(Self::Macos),
            "tvos" => Ok(Self::Tvos),
            "linux" => Ok(Self::Linux),
            "" => err(IssueKind::Missing, "platform is empty; use one of android, ios, macos, tvos, linux"),
            _ if raw.to_ascii_lowercase().starts_with("windows") => err(IssueKind::Unsupported, format!(
                "platform '{}': Windows devices are not supported for pre-approved enrollment; \
                 remove this row and enroll the device another way", clip(raw))),
            _ => match near_miss(raw, &Self::ALLOWED).or_else(|| platform_alias(raw)) {
                Some(s) => err(IssueKind::NotAllowed, format!(
                    "platform '{}' is not allowed; values are case-sensitive: did you mean '{s}'?", clip(raw))),
                None => err(IssueKind::NotAllowed, format!(
                    "platform '{}' is not allowed; use one of android, ios, macos, tvos, linux", clip(raw))),
            },
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Android => "android",
            Self::Ios => "ios",
            Self::Macos => "macos",
            Self::Tvos => "tvos",
            Self::Linux => "linux",
        }
    }
}

fn platform_alias(raw: &str) -> Option<&'static str> {
    let folded: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    match folded.as_str() {
        "iphone" | "ipad" | "ipados" | "apple" => Some("ios"),
        "mac" | "osx" | "macosx" | "macbook" => Some("macos"),
        "appletv" => Some("tvos"),
        "ubuntu" | "debian" | "fedora" | "redhat" | "rhel" => Some("linux"),
        _ => None,
    }
}

/// A mobile number in E.164 form (`+14155550123`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mobile(String);

impl Mobile {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        if looks_like_scientific_notation(raw) {
            return err(IssueKind::Malformed, format!(
                "mobile '{}' was rewritten by a spreadsheet in scientific notation; format the column \
                 as Text and re-enter the number in international form (+14155550123)", clip(raw)));
        }
        let international: std::borrow::Cow<str> = match raw.strip_prefix("00") {
            Some(rest) => format!("+{rest}").into(),
            None => raw.into(),
        };
        if !international.starts_with('+') {
            return err(IssueKind::Malformed, format!(
                "mobile '{}' has no country code; write it in international form, e.g. +14155550123", clip(raw)));
        }
        if let Some(e164) = plain_international(&international) {
            return Ok(Self(e164));
        }
        match international.parse::<rlibphonenumber::PhoneNumber>() {
            Ok(n) if n.is_valid() => Ok(Self(
                n.format_as(rlibphonenumber::PhoneNumberFormat::E164).to_string(),
            )),
            _ => err(IssueKind::Malformed, format!(
                "mobile '{}' is not a valid phone number; write it in international form, e.g. +14155550123", clip(raw))),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The longest national significant number libphonenumber parses.
const MAX_NSN_DIGITS: usize = 17;

/// `+` then digits, grouped with spaces, dots, hyphens or brackets: how nearly
/// every directory holds a mobile. libphonenumber's parser is built for any
/// text a person might type and was a third of the time of validating a
/// million-row file; this reads the plain form directly and leaves validity to
/// the library. `None` sends the number through the library's parser instead:
/// any other character, or a national number starting with 0 (a trunk prefix
/// like `+44 (0)20…`, or Italian leading zeros), which the parser handles
/// specially. A test checks the two agree across every region's numbers.
fn plain_international(s: &str) -> Option<String> {
    let rest = s.strip_prefix('+')?;
    let mut digits = [0u8; MAX_NSN_DIGITS + 3];
    let mut n = 0;
    for b in rest.bytes() {
        match b {
            b'0'..=b'9' if n < digits.len() => {
                digits[n] = b - b'0';
                n += 1;
            }
            b' ' | b'-' | b'.' | b'(' | b')' => {}
            _ => return None,
        }
    }
    let digits = &digits[..n];
    let number = |ds: &[u8]| ds.iter().fold(0u64, |acc, d| acc * 10 + u64::from(*d));
    let util = &*rlibphonenumber::PHONE_NUMBER_UTIL;
    // Calling codes are prefix-free, so the first known one is the only one.
    let (code_len, code) = (1..=3).find_map(|len| {
        let code = i32::try_from(number(digits.get(..len)?)).ok()?;
        util.get_region_for_country_code(code).map(|_| (len, code))
    })?;
    let national = &digits[code_len..];
    if digits[0] == 0 || national.len() < 2 || national.len() > MAX_NSN_DIGITS || national[0] == 0 {
        return None;
    }
    let parsed = rlibphonenumber::PhoneNumber {
        country_code: code,
        national_number: number(national),
        ..Default::default()
    };
    parsed.is_valid().then(|| {
        parsed
            .format_as(rlibphonenumber::PhoneNumberFormat::E164)
            .into_owned()
    })
}

/// A plain-text enrollment password as read from the file. Never displayed or
/// logged; the only way out is hashing it for storage.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const MAX_LEN: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        if raw.len() > Self::MAX_LEN {
            return err(
                IssueKind::TooLong,
                format!("the password is longer than {} characters", Self::MAX_LEN),
            );
        }
        Ok(Self(raw.to_owned()))
    }

    /// For text that passed [`parse`](Self::parse).
    pub(crate) fn checked(raw: &str) -> Self {
        Self(raw.to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Password {
    /// Shorter passwords are accepted with a warning (the attempt limit slows guessing, no more).
    pub const RECOMMENDED_LEN: usize = 8;
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

fn group_names(raw: &str) -> impl Iterator<Item = &str> {
    raw.split(';').map(str::trim).filter(|g| !g.is_empty())
}

/// The device-group cell as a whole: keeps every device item far below
/// DynamoDB's 400 KB whatever else the row holds.
pub const MAX_GROUPS_CELL: usize = 4096;

/// The rules of [`parse_groups`] without building the list (the validation pass).
pub fn check_groups(raw: &str) -> Result<(), ValueError> {
    if raw.len() > MAX_GROUPS_CELL {
        return err(
            IssueKind::TooLong,
            format!(
                "the device groups are longer than {MAX_GROUPS_CELL} characters in all; \
                 put the device in fewer groups (separate them with ';')"
            ),
        );
    }
    match group_names(raw).find(|g| g.len() > 128) {
        Some(g) => err(
            IssueKind::TooLong,
            format!("device group '{g}' is longer than 128 characters"),
        ),
        None => Ok(()),
    }
}

/// Device groups from a `;`-separated cell, trimmed, empty names dropped, first spelling kept.
pub fn parse_groups(raw: &str) -> Result<Vec<String>, ValueError> {
    check_groups(raw)?;
    Ok(checked_groups(raw))
}

/// [`parse_groups`] for a cell that passed [`check_groups`].
pub(crate) fn checked_groups(raw: &str) -> Vec<String> {
    let mut groups: Vec<String> = Vec::new();
    for g in group_names(raw) {
        if !groups.iter().any(|x| x == g) {
            groups.push(g.to_owned());
        }
    }
    groups
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

    #[test]
    fn ownership_is_case_sensitive_with_a_suggestion() {
        assert_eq!(Ownership::parse("corporate").unwrap(), Ownership::Corporate);
        assert_eq!(Ownership::parse("personal").unwrap(), Ownership::Personal);
        let e = Ownership::parse("Corporate").unwrap_err();
        assert!(e.message.contains("did you mean 'corporate'"), "{e}");
        let e = Ownership::parse("company").unwrap_err();
        assert!(e.message.contains("use personal or corporate"), "{e}");
    }

    #[test]
    fn platform_values_are_exact() {
        for p in Platform::ALLOWED {
            assert_eq!(Platform::parse(p).unwrap().as_str(), p);
        }
        let e = Platform::parse("iOS").unwrap_err();
        assert!(e.message.contains("did you mean 'ios'"), "{e}");
        let e = Platform::parse("macOS").unwrap_err();
        assert!(e.message.contains("did you mean 'macos'"), "{e}");
        let e = Platform::parse("iPhone").unwrap_err();
        assert!(e.message.contains("did you mean 'ios'"), "{e}");
        let e = Platform::parse("blackberry").unwrap_err();
        assert!(
            e.message
                .contains("use one of android, ios, macos, tvos, linux"),
            "{e}"
        );
    }

    #[test]
    fn windows_is_not_supported() {
        for w in ["windows", "Windows", "windows10"] {
            let e = Platform::parse(w).unwrap_err();
            assert!(
                e.message.contains("Windows devices are not supported"),
                "{e}"
            );
        }
    }

    #[test]
    fn email_validation_and_identity() {
        let e = Email::parse("Jane.Doe@Example.com").unwrap();
        assert_eq!(e.as_str(), "Jane.Doe@Example.com");
        assert_eq!(e.key(), "jane.doe@example.com");
        for bad in [
            "",
            "jane",
            "jane@",
            "@example.com",
            "jane@localhost",
            "Jane <jane@example.com>",
            "a b@x.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    /// The fast path must never accept what the library refuses.
    #[test]
    fn plain_ascii_addresses_are_a_subset_of_valid_ones() {
        struct Rng(u64);
        impl Rng {
            fn below(&mut self, n: usize) -> usize {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                (self.0 % n as u64) as usize
            }
            /// Mostly characters valid in a plain address, sometimes any from the grammar.
            fn word(&mut self, max: usize) -> String {
                let alphabet: Vec<char> = "ab9-.ab9-_+!\"<>[]@ é".chars().collect();
                let len = 1 + self.below(max);
                (0..len)
                    .map(|_| {
                        let pool = if self.below(10) == 0 {
                            alphabet.len()
                        } else {
                            5
                        };
                        alphabet[self.below(pool)]
                    })
                    .collect()
            }
        }
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut fast = 0;
        for _ in 0..200_000 {
            let local = rng.word(5);
            let labels: Vec<String> = (0..1 + rng.below(3)).map(|_| rng.word(4)).collect();
            let s = format!("{local}@{}", labels.join("."));
            if is_plain_ascii_address(&s) {
                fast += 1;
                let library = email_address::EmailAddress::parse_with_options(
                    &s,
                    email_address::Options::default()
                        .without_display_text()
                        .without_domain_literal(),
                );
                assert!(library.is_ok(), "{s:?}");
                assert!(s.rsplit_once('@').unwrap().1.contains('.'), "{s:?}");
            }
        }
        assert!(
            fast > 5_000,
            "the generator barely reached the fast path: {fast}"
        );
        for long in [
            format!("{}@x.com", "a".repeat(65)),
            format!("a@{}.com", "b".repeat(64)),
        ] {
            assert!(!is_plain_ascii_address(&long));
            assert!(Email::parse(&long).is_err());
        }
    }

    #[test]
    fn mobile_is_normalised_to_e164() {
        assert_eq!(
            Mobile::parse("+1 415 555 2671").unwrap().as_str(),
            "+14155552671"
        );
        assert_eq!(
            Mobile::parse("0044 20 7946 0958").unwrap().as_str(),
            "+442079460958"
        );
        assert!(Mobile::parse("415 555 2671")
            .unwrap_err()
            .message
            .contains("no country code"));
        assert!(Mobile::parse("+1 123").is_err());
        assert!(Mobile::parse("4.41E+11")
            .unwrap_err()
            .message
            .contains("scientific notation"));
    }

    /// The library's parser on its own, for comparison with the fast path.
    fn library_e164(s: &str) -> Option<String> {
        let n = s.parse::<rlibphonenumber::PhoneNumber>().ok()?;
        n.is_valid().then(|| {
            n.format_as(rlibphonenumber::PhoneNumberFormat::E164)
                .into_owned()
        })
    }

    /// Every number the fast path accepts, the library's parser reads the same
    /// way: the example numbers of every region and type, each with many
    /// random endings, in several groupings.
    #[test]
    fn plain_international_agrees_with_the_library() {
        use rlibphonenumber::{PhoneNumberFormat, PhoneNumberType, PHONE_NUMBER_UTIL};
        let util = &*PHONE_NUMBER_UTIL;
        let types = [
            PhoneNumberType::FixedLine,
            PhoneNumberType::Mobile,
            PhoneNumberType::TollFree,
            PhoneNumberType::PremiumRate,
            PhoneNumberType::SharedCost,
            PhoneNumberType::VoIP,
            PhoneNumberType::PersonalNumber,
            PhoneNumberType::Pager,
            PhoneNumberType::UAN,
            PhoneNumberType::VoiceMail,
        ];
        let mut examples: Vec<String> = Vec::new();
        for region in util.get_supported_regions() {
            for t in types {
                if let Ok(n) = util.get_example_number_for_type_and_region(region, t) {
                    examples.push(n.format_as(PhoneNumberFormat::E164).into_owned());
                }
            }
        }
        for code in util.get_supported_global_network_calling_codes() {
            if let Ok(n) = util.get_example_number_for_non_geo_entity(code) {
                examples.push(n.format_as(PhoneNumberFormat::E164).into_owned());
            }
        }
        assert!(examples.len() > 1000, "{}", examples.len());
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let (mut fast, mut checked) = (0, 0);
        for example in &examples {
            for variant in 0..60 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // Keep the leading digits (they pick region and type), vary up to six at the end,
                // sometimes shorten or lengthen by one.
                let mut digits: Vec<u8> = example[1..].bytes().collect();
                let vary = 1 + (state % 6) as usize;
                let at = digits.len().saturating_sub(vary).max(1);
                for (i, d) in digits[at..].iter_mut().enumerate() {
                    *d = b'0' + ((state >> (8 + 4 * i)) % 10) as u8;
                }
                match state >> 60 {
                    0 => {
                        digits.pop();
                    }
                    1 => digits.push(b'0' + (state % 7) as u8),
                    _ => {}
                }
                let plain = String::from_utf8(digits).unwrap();
                let written = match variant % 3 {
                    0 => format!("+{plain}"),
                    1 => format!(
                        "+{} {}-{}",
                        &plain[..1],
                        &plain[1..plain.len() / 2],
                        &plain[plain.len() / 2..]
                    ),
                    _ => format!(
                        "+{}({}) {}",
                        &plain[..1],
                        &plain[1..3.min(plain.len())],
                        &plain[3.min(plain.len())..]
                    ),
                };
                checked += 1;
                if let Some(quick) = plain_international(&written) {
                    fast += 1;
                    assert_eq!(Some(quick), library_e164(&written), "{written}");
                }
            }
        }
        assert!(
            fast * 4 > checked,
            "fast path taken {fast} of {checked} times"
        );
    }

    #[test]
    fn numbers_the_fast_path_leaves_to_the_library() {
        for s in [
            "+44 (0)20 7946 0958",
            "+39 06 6982 0000",
            "+1 415 555 2671 ext 12",
            "+1-415-555-2671#",
        ] {
            assert_eq!(plain_international(s), None, "{s}");
        }
        assert_eq!(
            Mobile::parse("+44 (0)20 7946 0958").unwrap().as_str(),
            "+442079460958"
        );
        assert_eq!(
            Mobile::parse("+39 06 6982 0000").map(|m| m.0),
            Ok("+390669820000".into())
        );
    }

    #[test]
    fn password_never_shows_in_debug() {
        let p = Password::parse("hunter2").unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn groups_are_split_trimmed_and_deduplicated() {
        assert_eq!(
            parse_groups(" Sales ; ;Field;Sales").unwrap(),
            vec!["Sales", "Field"]
        );
        assert!(parse_groups("").unwrap().is_empty());
    }
}
