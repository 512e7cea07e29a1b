//! The admin's settings item (settings table, pk=settings, sk=current) and its
//! audit trail (pk=audit, sk=<time>#<id>), written together in one transaction.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;

use super::items::{get_n, get_s, n, s, Item};
use super::sdk::{sdk_error, written};
use crate::clock::now_rfc3339;
use crate::domain::options::wire_name;
use crate::port_error::PortError;
use crate::settings::{AuditEntry, Change, Settings, SettingsStore, Versioned};

pub const SETTINGS_PK: &str = "settings";
pub const SETTINGS_SK: &str = "current";
/// The seeds' "Pre-approved Devices Only" enrollment restriction (a BOOL; absent = off).
pub const PRE_APPROVED_ONLY: &str = "pre_approved_only";
const AUDIT_PK: &str = "audit";

fn parsed<T: std::str::FromStr + Default>(item: &Item, key: &str) -> T {
    get_s(item, key)
        .and_then(|v| v.parse().ok())
        .unwrap_or_default()
}

fn from_item(item: &Item) -> Settings {
    let text = |k: &str| get_s(item, k).filter(|v| !v.is_empty()).map(str::to_owned);
    Settings {
        pre_approved_only: matches!(
            item.get(PRE_APPROVED_ONLY),
            Some(AttributeValue::Bool(true))
        ),
        default_invite: parsed(item, "default_invite"),
        default_existing_users: parsed(item, "default_existing_users"),
        default_on_error: parsed(item, "default_on_error"),
        invite_sender: text("invite_sender"),
        enrollment_url: text("enrollment_url"),
        default_expiry_days: get_s(item, "default_expiry_days").and_then(|v| v.parse().ok()),
    }
}

fn to_item(st: &Settings, version: u64, by: &str) -> Item {
    let mut item = Item::from([
        ("pk".to_owned(), s(SETTINGS_PK)),
        ("sk".to_owned(), s(SETTINGS_SK)),
        (
            PRE_APPROVED_ONLY.to_owned(),
            AttributeValue::Bool(st.pre_approved_only),
        ),
        (
            "default_invite".to_owned(),
            s(wire_name(&st.default_invite)),
        ),
        (
            "default_existing_users".to_owned(),
            s(wire_name(&st.default_existing_users)),
        ),
        (
            "default_on_error".to_owned(),
            s(wire_name(&st.default_on_error)),
        ),
        ("version".to_owned(), n(version)),
        ("updated_at".to_owned(), s(now_rfc3339())),
        ("updated_by".to_owned(), s(by)),
    ]);
    for (k, v) in [
        ("invite_sender", &st.invite_sender),
        ("enrollment_url", &st.enrollment_url),
    ] {
        if let Some(v) = v {
            item.insert(k.to_owned(), s(v));
        }
    }
    if let Some(days) = st.default_expiry_days {
        item.insert("default_expiry_days".to_owned(), s(days.to_string()));
    }
    item
}

/// The settings item and its audit trail in the settings table.
#[derive(Debug, Clone)]
pub struct DynamoSettings {
    pub client: Client,
    pub table: String,
}

impl SettingsStore for DynamoSettings {
    async fn load(&self) -> Result<Versioned, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(SETTINGS_PK))
            .key("sk", s(SETTINGS_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("read settings", e))?;
        Ok(match out.item {
            Some(item) => Versioned {
                settings: from_item(&item),
                version: get_n(&item, "version"),
            },
            None => Versioned::default(),
        })
    }

    async fn save(
        &self,
        next: &Settings,
        read_version: u64,
        changes: &[Change],
        by: &str,
    ) -> Result<bool, PortError> {
        let at = now_rfc3339();
        let settings = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(next, read_version + 1, by)))
            .condition_expression("attribute_not_exists(pk) OR version = :v")
            .expression_attribute_values(":v", n(read_version))
            .build()
            .map_err(|e| PortError::new("save settings", e))?;
        let audit = Put::builder()
            .table_name(&self.table)
            .item("pk", s(AUDIT_PK))
            .item("sk", s(format!("{at}#{}", uuid::Uuid::new_v4().simple())))
            .item("at", s(&at))
            .item("by", s(by))
            .item(
                "changes",
                s(serde_json::to_string(changes)
                    .map_err(|e| PortError::new("save settings", e))?),
            )
            .build()
            .map_err(|e| PortError::new("save settings", e))?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(settings).build())
            .transact_items(TransactWriteItem::builder().put(audit).build())
            .send()
            .await;
        written(result, "save settings", |se| {
            se.is_transaction_canceled_exception()
        })
    }

    async fn history(&self, limit: usize) -> Result<Vec<AuditEntry>, PortError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :a")
            .expression_attribute_values(":a", s(AUDIT_PK))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| sdk_error("read settings history", e))?;
        Ok(out
            .items
            .unwrap_or_default()
            .iter()
            .map(|i| AuditEntry {
                at: get_s(i, "at").unwrap_or_default().to_owned(),
                by: get_s(i, "by").unwrap_or_default().to_owned(),
                changes: get_s(i, "changes")
                    .and_then(|c| serde_json::from_str(c).ok())
                    .unwrap_or_default(),
            })
            .collect())
    }
}
