//! An enrollment password as read from the file: never shown, never logged.

use std::fmt;

use super::issue::{err, IssueKind, ValueError};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_never_shows_in_debug() {
        let p = Password::parse("hunter2").unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }
}
