//! What a run of the import is given (its tuning and key) and what it ends
//! with: the types every step of the import shares, so that the steps depend
//! on them and not on each other.

use super::ImportStatus;
use crate::password::PasswordKey;
use crate::port_error::PortError;

/// How an import run is paced and keyed: the deployment's tuning and the password key.
#[derive(Clone)]
pub struct RunConfig {
    pub chunk_rows: usize,
    pub lease_seconds: u64,
    pub password_key: Option<PasswordKey>,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            chunk_rows: 100,
            lease_seconds: 60,
            password_key: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Finished(ImportStatus),
    /// Stopped at a checkpoint before the deadline; deliver the event again to continue.
    Paused {
        rows_done: u64,
    },
    /// Another invocation holds the import until then (epoch seconds): do not
    /// acknowledge the event, so that it comes back and takes over if the
    /// holder died.
    Busy {
        until: u64,
    },
    AlreadyFinished(ImportStatus),
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Port(#[from] PortError),
    #[error("the file changed between passes or could not be read again: {0}")]
    Reread(String),
    #[error("internal: {0}")]
    Internal(String),
}
