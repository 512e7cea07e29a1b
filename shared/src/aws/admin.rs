//! Reads behind the admin page: devices by enrollment status (GSI `by-status`,
//! never a Scan), searchable by serial prefix or owner email, blocked
//! admission attempts (GSI `by-time`) and import history (GSI `by-created`).
//! Pages continue from an opaque cursor (DynamoDB's LastEvaluatedKey).

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use serde::Serialize;

use super::dynamo::{sdk_error, DynamoLedger};
use super::items::{device_record, get_n, get_s, import_state, s, Item};
use crate::ports::{ImportLedger, ImportState, PortError};
use crate::records::{DeviceRecord, DeviceStatus};

/// An opaque page cursor: the hex of the JSON of a key made of string attributes.
pub fn encode_cursor(key: &Item) -> String {
    let plain: HashMap<&str, &str> = key
        .iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|v| (k.as_str(), v.as_str())))
        .collect();
    hex::encode(serde_json::to_vec(&plain).unwrap_or_default())
}

/// None when the cursor is not one [`encode_cursor`] made.
pub fn decode_cursor(cursor: &str) -> Option<Item> {
    let bytes = hex::decode(cursor).ok()?;
    let plain: HashMap<String, String> = serde_json::from_slice(&bytes).ok()?;
    (!plain.is_empty()).then(|| plain.into_iter().map(|(k, v)| (k, s(v))).collect())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSearch {
    All,
    /// Serials that start with this text (case-sensitive, like the serials).
    SerialPrefix(String),
    /// Devices of this owner (email, case-insensitive).
    Email(String),
}

impl DeviceSearch {
    pub fn parse(q: Option<&str>) -> Self {
        match q.map(str::trim).filter(|q| !q.is_empty()) {
            None => Self::All,
            Some(q) if q.contains('@') => Self::Email(q.to_lowercase()),
            Some(q) => Self::SerialPrefix(q.to_owned()),
        }
    }
}

pub struct Page<T> {
    pub items: Vec<T>,
    pub cursor: Option<String>,
}

pub struct AdminReads<'a> {
    pub client: &'a Client,
    pub devices: &'a str,
    pub users: &'a str,
    pub imports: &'a str,
    pub denials: &'a str,
}

impl AdminReads<'_> {
    /// One page of devices with this status.
    pub async fn devices(
        &self,
        status: DeviceStatus,
        search: &DeviceSearch,
        cursor: Option<Item>,
        limit: i32,
    ) -> Result<Page<DeviceRecord>, PortError> {
        if let DeviceSearch::Email(email) = search {
            return self.devices_of(email, status).await;
        }
        let mut q = self
            .client
            .query()
            .table_name(self.devices)
            .index_name("by-status")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":st", s(status.as_str()))
            .set_exclusive_start_key(cursor)
            .limit(limit);
        q = match search {
            DeviceSearch::SerialPrefix(p) => q
                .key_condition_expression("#st = :st AND begins_with(serial, :p)")
                .expression_attribute_values(":p", s(p)),
            _ => q.key_condition_expression("#st = :st"),
        };
        let out = q.send().await.map_err(|e| sdk_error("list devices", e))?;
        Ok(Page {
            items: out.items().iter().filter_map(device_record).collect(),
            cursor: out.last_evaluated_key().map(encode_cursor),
        })
    }

    /// An owner's devices (GSI `by-email`, keys only), read in one BatchGetItem.
    async fn devices_of(
        &self,
        email: &str,
        status: DeviceStatus,
    ) -> Result<Page<DeviceRecord>, PortError> {
        let out = self
            .client
            .query()
            .table_name(self.devices)
            .index_name("by-email")
            .key_condition_expression("email = :e")
            .expression_attribute_values(":e", s(email))
            .limit(100)
            .send()
            .await
            .map_err(|e| sdk_error("find devices by email", e))?;
        let keys: Vec<Item> = out
            .items()
            .iter()
            .filter_map(|i| get_s(i, "serial"))
            .map(|serial| Item::from([("serial".to_owned(), s(serial))]))
            .collect();
        let mut items = Vec::new();
        if !keys.is_empty() {
            let ka = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .build()
                .map_err(|e| PortError::new("find devices by email", e))?;
            let got = self
                .client
                .batch_get_item()
                .request_items(self.devices, ka)
                .send()
                .await
                .map_err(|e| sdk_error("find devices by email", e))?;
            for rows in got.responses.unwrap_or_default().into_values() {
                items.extend(rows.iter().filter_map(device_record));
            }
        }
        items.retain(|d| d.status == status);
        items.sort_by(|a, b| a.serial.cmp(&b.serial));
        Ok(Page {
            items,
            cursor: None,
        })
    }

    pub async fn device(&self, serial: &str) -> Result<Option<DeviceRecord>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(self.devices)
            .key("serial", s(serial))
            .send()
            .await
            .map_err(|e| sdk_error("read device", e))?;
        Ok(out.item.as_ref().and_then(device_record))
    }

    /// The user's display name and address (for the device page).
    pub async fn user(&self, email_key: &str) -> Result<Option<UserView>, PortError> {
        if email_key.is_empty() {
            return Ok(None);
        }
        let out = self
            .client
            .get_item()
            .table_name(self.users)
            .key("email", s(email_key))
            .send()
            .await
            .map_err(|e| sdk_error("read user", e))?;
        Ok(out.item.map(|i| UserView {
            name: get_s(&i, "name").unwrap_or_default().to_owned(),
            email: get_s(&i, "address").unwrap_or(email_key).to_owned(),
            mobile: get_s(&i, "mobile").map(str::to_owned),
            sam_account_name: get_s(&i, "sam_account_name").map(str::to_owned),
            domain: get_s(&i, "domain").map(str::to_owned),
        }))
    }

    /// Blocked admission attempts, newest first.
    pub async fn denials(
        &self,
        cursor: Option<Item>,
        limit: i32,
    ) -> Result<Page<DenialView>, PortError> {
        let out = self
            .client
            .query()
            .table_name(self.denials)
            .index_name("by-time")
            .key_condition_expression("kind = :k")
            .expression_attribute_values(":k", s("denial"))
            .scan_index_forward(false)
            .set_exclusive_start_key(cursor)
            .limit(limit)
            .send()
            .await
            .map_err(|e| sdk_error("list denials", e))?;
        Ok(Page {
            items: out.items().iter().map(denial_view).collect(),
            cursor: out.last_evaluated_key().map(encode_cursor),
        })
    }

    pub async fn denial(&self, id: &str) -> Result<Option<DenialView>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(self.denials)
            .key("denial_id", s(id))
            .send()
            .await
            .map_err(|e| sdk_error("read denial", e))?;
        Ok(out.item.as_ref().map(denial_view))
    }

    /// Marks a denial as approved (kept for the history of blocked attempts).
    pub async fn mark_approved(&self, id: &str, by: &str, at: &str) -> Result<(), PortError> {
        self.client
            .update_item()
            .table_name(self.denials)
            .key("denial_id", s(id))
            .update_expression("SET approved_by = :by, approved_at = :at")
            .condition_expression("attribute_exists(denial_id)")
            .expression_attribute_values(":by", s(by))
            .expression_attribute_values(":at", s(at))
            .send()
            .await
            .map_err(|e| sdk_error("mark denial approved", e))?;
        Ok(())
    }

    /// Import history, newest first.
    pub async fn imports(
        &self,
        cursor: Option<Item>,
        limit: i32,
    ) -> Result<Page<ImportState>, PortError> {
        let out = self
            .client
            .query()
            .table_name(self.imports)
            .index_name("by-created")
            .key_condition_expression("kind = :k")
            .expression_attribute_values(":k", s("import"))
            .scan_index_forward(false)
            .set_exclusive_start_key(cursor)
            .limit(limit)
            .send()
            .await
            .map_err(|e| sdk_error("list imports", e))?;
        Ok(Page {
            items: out
                .items()
                .iter()
                .filter_map(|i| import_state(i).ok())
                .collect(),
            cursor: out.last_evaluated_key().map(encode_cursor),
        })
    }

    pub async fn import(&self, id: &str) -> Result<Option<ImportState>, PortError> {
        let ledger = DynamoLedger {
            client: self.client.clone(),
            table: self.imports.to_owned(),
        };
        ledger.load(id).await
    }

    /// Devices per status and platform, for the overview chart (projected GSI reads, no Scan).
    pub async fn counts(&self) -> Result<Vec<Count>, PortError> {
        let mut counts: HashMap<(DeviceStatus, String), u64> = HashMap::new();
        for status in [DeviceStatus::PreApproved, DeviceStatus::Enrolled] {
            let mut start = None;
            loop {
                let out = self
                    .client
                    .query()
                    .table_name(self.devices)
                    .index_name("by-status")
                    .key_condition_expression("#st = :st")
                    .expression_attribute_names("#st", "status")
                    .expression_attribute_values(":st", s(status.as_str()))
                    .projection_expression("platform")
                    .set_exclusive_start_key(start)
                    .send()
                    .await
                    .map_err(|e| sdk_error("count devices", e))?;
                for i in out.items() {
                    let platform = get_s(i, "platform").unwrap_or("unknown").to_owned();
                    *counts.entry((status, platform)).or_default() += 1;
                }
                start = out.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
        }
        let mut v: Vec<Count> = counts
            .into_iter()
            .map(|((status, platform), count)| Count {
                status,
                platform,
                count,
            })
            .collect();
        v.sort_by(|a, b| (a.status.as_str(), &a.platform).cmp(&(b.status.as_str(), &b.platform)));
        Ok(v)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct UserView {
    pub name: String,
    pub email: String,
    pub mobile: Option<String>,
    pub sam_account_name: Option<String>,
    pub domain: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DenialView {
    pub id: String,
    pub serial_number: String,
    pub platform: String,
    pub enrollment_method: Option<String>,
    pub os_version: Option<String>,
    pub reason: String,
    pub endpoint: String,
    pub at: String,
    pub expires_at: u64,
    pub approved_by: Option<String>,
    pub approved_at: Option<String>,
}

fn denial_view(i: &Item) -> DenialView {
    let text = |k: &str| get_s(i, k).map(str::to_owned);
    DenialView {
        id: text("denial_id").unwrap_or_default(),
        serial_number: text("serial").unwrap_or_default(),
        platform: text("platform").unwrap_or_default(),
        enrollment_method: text("enrollment_method"),
        os_version: text("os_version"),
        reason: text("reason").unwrap_or_default(),
        endpoint: text("endpoint").unwrap_or_default(),
        at: text("at").unwrap_or_default(),
        expires_at: get_n(i, "expires_at"),
        approved_by: text("approved_by"),
        approved_at: text("approved_at"),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Count {
    pub status: DeviceStatus,
    pub platform: String,
    pub count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let key = Item::from([
            ("serial".to_owned(), s("A1")),
            ("status".to_owned(), s("enrolled")),
        ]);
        assert_eq!(decode_cursor(&encode_cursor(&key)), Some(key));
        assert_eq!(decode_cursor("zz"), None);
        assert_eq!(decode_cursor(&hex::encode("[1]")), None);
        assert_eq!(decode_cursor(&hex::encode("{}")), None);
    }

    #[test]
    fn searches() {
        assert_eq!(DeviceSearch::parse(None), DeviceSearch::All);
        assert_eq!(DeviceSearch::parse(Some("  ")), DeviceSearch::All);
        assert_eq!(
            DeviceSearch::parse(Some("C02")),
            DeviceSearch::SerialPrefix("C02".into())
        );
        assert_eq!(
            DeviceSearch::parse(Some("Ann@X.com")),
            DeviceSearch::Email("ann@x.com".into())
        );
    }
}
