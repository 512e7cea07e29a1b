//! The admin's settings item (settings table, pk=settings, sk=current).

use aws_sdk_dynamodb::Client;

use super::items::{get_s, s};
use crate::domain::{ExistingPolicy, ImportDefaults, InviteChannel, OnError};
use crate::ports::PortError;

pub const SETTINGS_PK: &str = "settings";
pub const SETTINGS_SK: &str = "current";
/// The seeds' "Pre-approved Devices Only" enrollment restriction (a BOOL; absent = off).
pub const PRE_APPROVED_ONLY: &str = "pre_approved_only";

/// Import defaults plus the invite sender and enrollment URL, if the admin set them.
#[derive(Debug, Clone, Default)]
pub struct StoredSettings {
    pub defaults: ImportDefaults,
    pub invite_sender: Option<String>,
    pub enrollment_url: Option<String>,
}

pub async fn load(client: &Client, table: &str) -> Result<StoredSettings, PortError> {
    let out = client
        .get_item()
        .table_name(table)
        .key("pk", s(SETTINGS_PK))
        .key("sk", s(SETTINGS_SK))
        .send()
        .await
        .map_err(|e| {
            PortError::new(
                "read settings",
                aws_sdk_dynamodb::error::DisplayErrorContext(e),
            )
        })?;
    let Some(item) = out.item else {
        return Ok(StoredSettings::default());
    };
    let text = |k: &str| get_s(&item, k).filter(|v| !v.is_empty()).map(str::to_owned);
    Ok(StoredSettings {
        defaults: ImportDefaults {
            invite: text("default_invite").and_then(|v| v.parse::<InviteChannel>().ok()),
            existing: text("default_existing_users").and_then(|v| v.parse::<ExistingPolicy>().ok()),
            on_error: text("default_on_error").and_then(|v| v.parse::<OnError>().ok()),
        },
        invite_sender: text("invite_sender"),
        enrollment_url: text("enrollment_url"),
    })
}
