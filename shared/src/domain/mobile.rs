//! A mobile number, stored in E.164 form.

use serde::{Deserialize, Serialize};

use super::issue::{clip, err, IssueKind, ValueError};
use super::serial_number::looks_like_scientific_notation;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
