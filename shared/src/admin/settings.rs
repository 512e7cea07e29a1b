//! Read and change the admin's settings (the "Pre-approved Devices Only"
//! restriction and the upload defaults), with their audit trail.

use super::{AdminError, Items};
use crate::settings::{AuditEntry, Settings, SettingsPatch, SettingsStore};

/// Changes of the settings listed, newest first.
pub const HISTORY_LIMIT: usize = 50;

/// Saves that lose an optimistic race are re-read and re-applied this often.
const SAVE_ATTEMPTS: usize = 3;

pub async fn get(store: &impl SettingsStore) -> Result<Settings, AdminError> {
    Ok(store.load().await?.settings)
}

/// Applies `patch` (validated whole) and records who changed what.
pub async fn put(
    store: &impl SettingsStore,
    patch: &SettingsPatch,
    by: &str,
) -> Result<Settings, AdminError> {
    for _ in 0..SAVE_ATTEMPTS {
        let current = store.load().await?;
        let (next, changes) = current
            .settings
            .apply(patch)
            .map_err(|e| AdminError::bad(e.field, e.message))?;
        if changes.is_empty() {
            return Ok(next);
        }
        if store.save(&next, current.version, &changes, by).await? {
            tracing::info!(by = %by, fields = changes.len(), "settings changed");
            return Ok(next);
        }
    }
    Err(AdminError::Conflict(
        "the settings are being changed by someone else; reload and try again".into(),
    ))
}

pub async fn history(store: &impl SettingsStore) -> Result<Items<AuditEntry>, AdminError> {
    Ok(Items {
        items: store.history(HISTORY_LIMIT).await?,
    })
}
