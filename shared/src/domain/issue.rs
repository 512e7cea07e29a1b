//! Why a value was refused, and what kind of problem it is: reports count issues
//! per kind, so that a file wrong on every row is summed up in a line.

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
pub(super) fn clip(raw: &str) -> std::borrow::Cow<'_, str> {
    clip_to(raw, 64)
}

/// `raw` cut to at most `max` characters, with an ellipsis when cut.
pub fn clip_to(raw: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match raw.char_indices().nth(max) {
        None => raw.into(),
        Some((at, _)) => format!("{}…", &raw[..at]).into(),
    }
}

pub(super) fn err<T>(kind: IssueKind, msg: impl Into<String>) -> Result<T, ValueError> {
    Err(ValueError::new(kind, msg))
}

/// Suggests the exact spelling when a value differs only in case or spacing.
pub(super) fn near_miss<'a>(raw: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let folded: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '_')
        .collect();
    allowed
        .iter()
        .copied()
        .find(|a| a.eq_ignore_ascii_case(&folded))
}
