//! Values that validate when built. Every field rule of the seeds lives here:
//! fields are case-sensitive, ownership and platform take fixed values, and the
//! serial number is kept byte-for-byte.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a value was refused, phrased for the admin who has to fix the cell.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, ValueError> {
    Err(ValueError(msg.into()))
}

/// A device serial number, compared byte-for-byte (case-sensitive, never normalised).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SerialNumber(String);

impl SerialNumber {
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        if raw.is_empty() {
            return err("the serial number is empty; every row needs the device's serial number");
        }
        if raw.len() > Self::MAX_LEN {
            return err(format!(
                "the serial number is longer than {} characters",
                Self::MAX_LEN
            ));
        }
        if raw.chars().any(char::is_control) {
            return err("the serial number contains control characters (a line break or tab inside the cell?)");
        }
        if looks_like_scientific_notation(raw) {
            return err(format!(
                "'{raw}' looks like a number a spreadsheet rewrote in scientific notation, so the real serial \
                 number is lost; format the column as Text, re-enter the serials and export again"
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for serials made only of ASCII digits: the ones a spreadsheet can strip leading zeros from.
    pub fn is_all_digits(&self) -> bool {
        self.0.bytes().all(|b| b.is_ascii_digit())
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
        if raw.is_empty() {
            return err("the email address is empty; every row needs the user's email");
        }
        if raw.len() > 254 {
            return err("the email address is longer than 254 characters");
        }
        let valid = email_address::EmailAddress::parse_with_options(
            raw,
            email_address::Options::default()
                .without_display_text()
                .without_domain_literal(),
        );
        match valid {
            Ok(_) if raw.rsplit_once('@').is_some_and(|(_, d)| d.contains('.')) => {
                Ok(Self(raw.to_owned()))
            }
            _ => err(format!(
                "'{raw}' is not a valid email address (expected name@example.com)"
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The user's identity: mail systems treat addresses case-insensitively in
    /// practice, so `Jane@Example.com` and `jane@example.com` are one user.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
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
            "" => err("ownership is empty; use personal or corporate"),
            _ => match near_miss(raw, &Self::ALLOWED) {
                Some(s) => err(format!(
                    "ownership '{raw}' is not allowed; values are case-sensitive: did you mean '{s}'?"
                )),
                None => err(format!("ownership '{raw}' is not allowed; use personal or corporate")),
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
            "" => err("platform is empty; use one of android, ios, macos, tvos, linux"),
            _ if raw.to_ascii_lowercase().starts_with("windows") => err(format!(
                "platform '{raw}': Windows devices are not supported for pre-approved enrollment; \
                 remove this row and enroll the device another way"
            )),
            _ => match near_miss(raw, &Self::ALLOWED).or_else(|| platform_alias(raw)) {
                Some(s) => err(format!(
                    "platform '{raw}' is not allowed; values are case-sensitive: did you mean '{s}'?"
                )),
                None => err(format!(
                    "platform '{raw}' is not allowed; use one of android, ios, macos, tvos, linux"
                )),
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
            return err(format!(
                "mobile '{raw}' was rewritten by a spreadsheet in scientific notation; format the column \
                 as Text and re-enter the number in international form (+14155550123)"
            ));
        }
        let international = match raw.strip_prefix("00") {
            Some(rest) => format!("+{rest}"),
            None => raw.to_owned(),
        };
        if !international.starts_with('+') {
            return err(format!(
                "mobile '{raw}' has no country code; write it in international form, e.g. +14155550123"
            ));
        }
        match international.parse::<rlibphonenumber::PhoneNumber>() {
            Ok(n) if n.is_valid() => Ok(Self(
                n.format_as(rlibphonenumber::PhoneNumberFormat::E164).to_string(),
            )),
            _ => err(format!(
                "mobile '{raw}' is not a valid phone number; write it in international form, e.g. +14155550123"
            )),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A plain-text enrollment password as read from the file. Never displayed or
/// logged; the only way out is hashing it for storage.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const MAX_LEN: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        if raw.len() > Self::MAX_LEN {
            return err(format!(
                "the password is longer than {} characters",
                Self::MAX_LEN
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Device groups from a `;`-separated cell, trimmed, empty names dropped, first spelling kept.
pub fn parse_groups(raw: &str) -> Result<Vec<String>, ValueError> {
    let mut groups: Vec<String> = Vec::new();
    for g in raw.split(';').map(str::trim).filter(|g| !g.is_empty()) {
        if g.len() > 128 {
            return err(format!("device group '{g}' is longer than 128 characters"));
        }
        if !groups.iter().any(|x| x == g) {
            groups.push(g.to_owned());
        }
    }
    Ok(groups)
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
            assert!(e.0.contains("scientific notation"), "{bad}: {e}");
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
        assert!(e.0.contains("did you mean 'corporate'"), "{e}");
        let e = Ownership::parse("company").unwrap_err();
        assert!(e.0.contains("use personal or corporate"), "{e}");
    }

    #[test]
    fn platform_values_are_exact() {
        for p in Platform::ALLOWED {
            assert_eq!(Platform::parse(p).unwrap().as_str(), p);
        }
        let e = Platform::parse("iOS").unwrap_err();
        assert!(e.0.contains("did you mean 'ios'"), "{e}");
        let e = Platform::parse("macOS").unwrap_err();
        assert!(e.0.contains("did you mean 'macos'"), "{e}");
        let e = Platform::parse("iPhone").unwrap_err();
        assert!(e.0.contains("did you mean 'ios'"), "{e}");
        let e = Platform::parse("blackberry").unwrap_err();
        assert!(
            e.0.contains("use one of android, ios, macos, tvos, linux"),
            "{e}"
        );
    }

    #[test]
    fn windows_is_not_supported() {
        for w in ["windows", "Windows", "windows10"] {
            let e = Platform::parse(w).unwrap_err();
            assert!(e.0.contains("Windows devices are not supported"), "{e}");
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
            .0
            .contains("no country code"));
        assert!(Mobile::parse("+1 123").is_err());
        assert!(Mobile::parse("4.41E+11")
            .unwrap_err()
            .0
            .contains("scientific notation"));
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
