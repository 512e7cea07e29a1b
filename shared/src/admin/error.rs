//! What an admin use case can answer instead of its result.

use crate::port_error::PortError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The request itself is wrong; `field` names what to fix.
    #[error("{message}")]
    BadRequest {
        field: Option<&'static str>,
        message: String,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// Allowed again after `retry_after` seconds (a resend within the minute).
    #[error("{message}")]
    TooSoon { retry_after: u64, message: String },
    /// The file cannot be read as an import (e.g. mandatory columns missing):
    /// `headers` are the file's column titles, to map by hand from what
    /// `mapping` (field key -> title) recognised by itself, and
    /// `platform_sources` those Platform can be proposed from.
    #[error("{message}")]
    Unprocessable {
        message: String,
        headers: Vec<String>,
        mapping: std::collections::BTreeMap<String, String>,
        platform_sources: Vec<String>,
    },
    /// A service outside AWS (Apple) did not answer or was not understood;
    /// the message says what was (not) done and when to try again.
    #[error("{0}")]
    Upstream(String),
    /// A dependency failed; the cause is logged, never shown.
    #[error(transparent)]
    Unavailable(#[from] PortError),
}

impl AdminError {
    pub fn bad(field: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            field: Some(field),
            message: message.into(),
        }
    }

    pub(crate) fn bad_cursor() -> Self {
        Self::bad("cursor", "use the cursor of the previous page as given")
    }
}
