//! An email address, and the key that finds its user again.

use serde::{Deserialize, Serialize};

use super::issue::{err, IssueKind, ValueError};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
