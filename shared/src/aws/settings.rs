//! The admin's settings item (settings table, pk=settings, sk=current) and its
//! audit trail (pk=audit, sk=<time>#<id>), written together in one transaction.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;

use super::dynamo::sdk_error;
use super::items::{get_n, get_s, n, s, Item};
use crate::domain::options::wire_name;
use crate::domain::ImportDefaults;
use crate::ports::PortError;
use crate::records::now_rfc3339;
use crate::settings::{Change, Settings};

pub const SETTINGS_PK: &str = "settings";
pub const SETTINGS_SK: &str = "current";
/// The seeds' "Pre-approved Devices Only" enrollment restriction (a BOOL; absent = off).
pub const PRE_APPROVED_ONLY: &str = "pre_approved_only";
const AUDIT_PK: &str = "audit";

/// Import defaults plus the invite sender and enrollment URL, if the admin set them.
#[derive(Debug, Clone, Default)]
pub struct StoredSettings {
    pub defaults: ImportDefaults,
    pub invite_sender: Option<String>,
    pub enrollment_url: Option<String>,
}

/// The settings and the version they were read at (for an optimistic write).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Versioned {
    pub settings: Settings,
    pub version: u64,
}

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
    item
}

async fn read_item(client: &Client, table: &str) -> Result<Option<Item>, PortError> {
    let out = client
        .get_item()
        .table_name(table)
        .key("pk", s(SETTINGS_PK))
        .key("sk", s(SETTINGS_SK))
        .consistent_read(true)
        .send()
        .await
        .map_err(|e| sdk_error("read settings", e))?;
    Ok(out.item)
}

pub async fn load_versioned(client: &Client, table: &str) -> Result<Versioned, PortError> {
    Ok(match read_item(client, table).await? {
        Some(item) => Versioned {
            settings: from_item(&item),
            version: get_n(&item, "version"),
        },
        None => Versioned::default(),
    })
}

/// What the import needs of the settings.
pub async fn load(client: &Client, table: &str) -> Result<StoredSettings, PortError> {
    let item = read_item(client, table).await?;
    // Fields never saved stay unset, so the import's own defaults apply.
    let Some(item) = item else {
        return Ok(StoredSettings::default());
    };
    let st = from_item(&item);
    let has = |k: &str| get_s(&item, k).is_some_and(|v| !v.is_empty());
    Ok(StoredSettings {
        defaults: ImportDefaults {
            invite: has("default_invite").then_some(st.default_invite),
            existing: has("default_existing_users").then_some(st.default_existing_users),
            on_error: has("default_on_error").then_some(st.default_on_error),
        },
        invite_sender: st.invite_sender,
        enrollment_url: st.enrollment_url,
    })
}

/// Ok(false) when someone else saved since `read_version` (reload and retry).
pub async fn save(
    client: &Client,
    table: &str,
    next: &Settings,
    read_version: u64,
    changes: &[Change],
    by: &str,
) -> Result<bool, PortError> {
    let at = now_rfc3339();
    let settings = Put::builder()
        .table_name(table)
        .set_item(Some(to_item(next, read_version + 1, by)))
        .condition_expression("attribute_not_exists(pk) OR version = :v")
        .expression_attribute_values(":v", n(read_version))
        .build()
        .map_err(|e| PortError::new("save settings", e))?;
    let audit = Put::builder()
        .table_name(table)
        .item("pk", s(AUDIT_PK))
        .item("sk", s(format!("{at}#{}", uuid::Uuid::new_v4().simple())))
        .item("at", s(&at))
        .item("by", s(by))
        .item(
            "changes",
            s(serde_json::to_string(changes).map_err(|e| PortError::new("save settings", e))?),
        )
        .build()
        .map_err(|e| PortError::new("save settings", e))?;
    let result = client
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().put(settings).build())
        .transact_items(TransactWriteItem::builder().put(audit).build())
        .send()
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_transaction_canceled_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(sdk_error("save settings", e)),
    }
}

/// One recorded change of the settings: who, when, old -> new.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct AuditEntry {
    pub at: String,
    pub by: String,
    pub changes: Vec<Change>,
}

/// The newest `limit` changes, newest first.
pub async fn history(
    client: &Client,
    table: &str,
    limit: i32,
) -> Result<Vec<AuditEntry>, PortError> {
    let out = client
        .query()
        .table_name(table)
        .key_condition_expression("pk = :a")
        .expression_attribute_values(":a", s(AUDIT_PK))
        .scan_index_forward(false)
        .limit(limit)
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
