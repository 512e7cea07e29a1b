//! The admission function's configuration, read once at start.

use shared::aws::admission::AdmissionTables;
use shared::env::{required, EnvError};

#[derive(Debug, Clone)]
pub struct Config {
    pub tables: AdmissionTables,
    pub password_key_secret: String,
}

impl Config {
    pub fn from_env() -> Result<Self, EnvError> {
        Ok(Self {
            tables: AdmissionTables::from_env()?,
            password_key_secret: required("PASSWORD_KEY_SECRET")?,
        })
    }
}
