//! The import function's configuration, read once at start from its environment.

use shared::aws::dynamo::Tables;
use shared::env::{parsed_or, required, EnvError};

#[derive(Debug, Clone)]
pub struct Config {
    pub tables: Tables,
    /// Where a paused import sends its continuation (the queue it was triggered from).
    pub queue_url: String,
    pub invite_sender: String,
    pub enrollment_url: String,
    pub password_key_secret: String,
    pub email_rate: f64,
    pub sms_rate: f64,
    pub invite_concurrency: usize,
    pub chunk_rows: usize,
    /// The queue's maxReceiveCount: on that delivery a failing import is recorded as failed.
    pub max_receives: u64,
    /// How long an import's lease lasts unrenewed: after a crash, the retry waits at most this.
    pub lease_seconds: u64,
}

impl Config {
    pub fn from_env() -> Result<Self, EnvError> {
        Ok(Self {
            tables: Tables::from_env()?,
            queue_url: required("IMPORT_QUEUE_URL")?,
            invite_sender: required("INVITE_SENDER")?,
            enrollment_url: required("ENROLLMENT_URL")?,
            password_key_secret: required("PASSWORD_KEY_SECRET")?,
            email_rate: parsed_or("INVITE_EMAIL_RATE", 1.0)?,
            sms_rate: parsed_or("INVITE_SMS_RATE", 1.0)?,
            invite_concurrency: parsed_or("INVITE_CONCURRENCY", 4)?,
            chunk_rows: parsed_or("IMPORT_CHUNK_ROWS", 100)?,
            max_receives: parsed_or("IMPORT_MAX_RECEIVES", 5)?,
            lease_seconds: parsed_or("IMPORT_LEASE_SECONDS", 60)?,
        })
    }
}
