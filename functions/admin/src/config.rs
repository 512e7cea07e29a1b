//! The admin function's configuration, read once at start.

use shared::aws::tables::Tables;
use shared::env::{parsed_or, required, EnvError};

#[derive(Debug, Clone)]
pub struct Config {
    pub tables: Tables,
    pub denials_table: String,
    pub bucket: String,
    /// The user pool's issuer (`https://cognito-idp.<region>.amazonaws.com/<pool id>`).
    pub issuer: String,
    pub client_id: String,
    /// Where the pool's keys are served; defaults to `<issuer>/.well-known/jwks.json`.
    pub jwks_url: String,
    /// Origins the page is served from (CORS), comma-separated.
    pub allowed_origins: Vec<String>,
    /// The invite outbox's queue (approvals and resends).
    pub invite_queue_url: String,
    /// The export function's queue.
    pub export_queue_url: String,
    pub undo_queue_url: String,
    pub password_key_secret: String,
    /// Days invite records are kept.
    pub retention_days: u64,
    pub ade_accounts_table: String,
    /// The `ade-sync` function's queue ("Sync now", a token upload, a deletion's purge).
    pub ade_sync_queue_url: String,
    /// Each ADE account's secret is `<prefix><id>`.
    pub ade_secret_prefix: String,
}

impl Config {
    pub fn from_env() -> Result<Self, EnvError> {
        let issuer = required("COGNITO_ISSUER")?.trim_end_matches('/').to_owned();
        let jwks_url = std::env::var("COGNITO_JWKS_URL")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| format!("{issuer}/.well-known/jwks.json"));
        Ok(Self {
            tables: Tables::from_env()?,
            denials_table: required("DENIALS_TABLE")?,
            bucket: required("IMPORT_BUCKET")?,
            issuer,
            client_id: required("COGNITO_CLIENT_ID")?,
            jwks_url,
            allowed_origins: required("ADMIN_ORIGIN")?
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
            invite_queue_url: required("INVITE_QUEUE_URL")?,
            export_queue_url: required("EXPORT_QUEUE_URL")?,
            undo_queue_url: required("UNDO_QUEUE_URL")?,
            password_key_secret: required("PASSWORD_KEY_SECRET")?,
            retention_days: parsed_or("RETENTION_DAYS", 90)?,
            ade_accounts_table: required("ADE_ACCOUNTS_TABLE")?,
            ade_sync_queue_url: required("ADE_SYNC_QUEUE_URL")?,
            ade_secret_prefix: required("ADE_SECRET_PREFIX")?,
        })
    }
}
