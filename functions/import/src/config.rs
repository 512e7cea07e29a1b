//! The import function's configuration, read once at start from its environment.

use shared::aws::tables::Tables;
use shared::env::{parsed_or, required, EnvError};

#[derive(Debug, Clone)]
pub struct Config {
    pub tables: Tables,
    /// Where a paused import sends its continuation (the queue it was triggered from).
    pub queue_url: String,
    /// The invite outbox's queue (the sender function reads it).
    pub invite_queue_url: String,
    pub password_key_secret: String,
    pub chunk_rows: usize,
    /// Days invite records are kept.
    pub retention_days: u64,
    /// The queue's maxReceiveCount: on that delivery a failing import is recorded as failed.
    pub max_receives: u64,
    /// How long an import's lease lasts unrenewed: after a crash, the retry waits at most this.
    pub lease_seconds: u64,
    /// Where `Import Finished` is published.
    pub event_bus: String,
}

impl Config {
    pub fn from_env() -> Result<Self, EnvError> {
        Ok(Self {
            tables: Tables::from_env()?,
            queue_url: required("IMPORT_QUEUE_URL")?,
            event_bus: required("EVENT_BUS_NAME")?,
            invite_queue_url: required("INVITE_QUEUE_URL")?,
            password_key_secret: required("PASSWORD_KEY_SECRET")?,
            chunk_rows: parsed_or("IMPORT_CHUNK_ROWS", 100)?,
            retention_days: parsed_or("RETENTION_DAYS", 90)?,
            max_receives: parsed_or("IMPORT_MAX_RECEIVES", 5)?,
            lease_seconds: parsed_or("IMPORT_LEASE_SECONDS", 60)?,
        })
    }
}
