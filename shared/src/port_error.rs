//! The one error every port returns: what was being done, and the outside
//! world's answer. A leaf: it imports nothing from this crate.

/// An infrastructure failure, with what was being done. Never carries row data.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {message}")]
pub struct PortError {
    pub what: &'static str,
    pub message: String,
}

impl PortError {
    pub fn new(what: &'static str, e: impl std::fmt::Display) -> Self {
        Self {
            what,
            message: e.to_string(),
        }
    }
}
