//! The admission function's configuration, read once at start.

use shared::aws::admission::AdmissionTables;
use shared::env::{required, EnvError};

#[derive(Debug, Clone)]
pub struct Config {
    pub tables: AdmissionTables,
    pub password_key_secret: String,
    /// Where decisions are published (`EVENT_BUS_NAME`).
    pub event_bus: String,
}

impl Config {
    pub fn from_env() -> Result<Self, EnvError> {
        Ok(Self {
            tables: AdmissionTables::from_env()?,
            password_key_secret: required("PASSWORD_KEY_SECRET")?,
            event_bus: required("EVENT_BUS_NAME")?,
        })
    }
}
