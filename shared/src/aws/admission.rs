//! DynamoDB adapter of [`AdmissionStore`]: the device and the restriction
//! setting in one BatchGetItem, deny records with a TTL, and the conditional
//! update that completes an enrollment.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_dynamodb::Client;

use super::items::{get_n_opt, get_numbers, get_s, get_strings, n, s, Item, EXPIRY_SHARD};
use super::sdk::{sdk_error, written};
use super::settings::{PRE_APPROVED_ONLY, SETTINGS_PK, SETTINGS_SK};
use crate::admission::{
    AdmissionStore, Denial, Enrolled, Enrollment, Expect, Lookup, StoredDevice,
};
use crate::clock::rfc3339;
use crate::domain::{Expiry, Platform};
use crate::env::{required, EnvError};
use crate::port_error::PortError;
use crate::records::DeviceStatus;

/// The tables admission reads and writes.
#[derive(Debug, Clone)]
pub struct AdmissionTables {
    pub devices: String,
    pub settings: String,
    pub denials: String,
}

impl AdmissionTables {
    pub fn from_env() -> Result<Self, EnvError> {
        Ok(Self {
            devices: required("DEVICES_TABLE")?,
            settings: required("SETTINGS_TABLE")?,
            denials: required("DENIALS_TABLE")?,
        })
    }
}

pub struct DynamoAdmission {
    client: Client,
    tables: AdmissionTables,
}

/// Retries of keys DynamoDB left unprocessed (throttling); never on the normal path.
const UNPROCESSED_RETRIES: u32 = 3;

impl DynamoAdmission {
    pub fn new(client: Client, tables: AdmissionTables) -> Self {
        Self { client, tables }
    }

    fn request(&self, serial: &str) -> Result<HashMap<String, KeysAndAttributes>, PortError> {
        let build = |e| PortError::new("read device", e);
        // Strongly consistent: a completed enrollment or a flipped setting
        // holds from the next request on.
        let device = KeysAndAttributes::builder()
            .keys(HashMap::from([("serial".to_owned(), s(serial))]))
            .projection_expression(
                "#st, platform, #groups, password_hash, failures, enroll_nonce, expires_at",
            )
            .expression_attribute_names("#st", "status")
            .expression_attribute_names("#groups", "groups")
            .consistent_read(true)
            .build()
            .map_err(build)?;
        let settings = KeysAndAttributes::builder()
            .keys(HashMap::from([
                ("pk".to_owned(), s(SETTINGS_PK)),
                ("sk".to_owned(), s(SETTINGS_SK)),
            ]))
            .projection_expression(PRE_APPROVED_ONLY)
            .consistent_read(true)
            .build()
            .map_err(build)?;
        Ok(HashMap::from([
            (self.tables.devices.clone(), device),
            (self.tables.settings.clone(), settings),
        ]))
    }
}

fn stored_device(item: &Item) -> Result<StoredDevice, PortError> {
    let bad = |what: &str| PortError::new("decode device", format!("{what} is missing or invalid"));
    Ok(StoredDevice {
        status: get_s(item, "status")
            .and_then(DeviceStatus::parse)
            .ok_or_else(|| bad("status"))?,
        platform: get_s(item, "platform")
            .and_then(|p| Platform::parse(p).ok())
            .ok_or_else(|| bad("platform"))?,
        groups: get_strings(item, "groups"),
        password_hash: get_s(item, "password_hash").map(str::to_owned),
        failures: get_numbers(item, "failures"),
        enroll_nonce: get_s(item, "enroll_nonce").map(str::to_owned),
        expires: get_n_opt(item, "expires_at").map(Expiry::from_epoch),
    })
}

impl AdmissionStore for DynamoAdmission {
    async fn lookup(&self, serial: &str) -> Result<Lookup, PortError> {
        let mut pending = self.request(serial)?;
        let mut lookup = Lookup::default();
        for attempt in 0..=UNPROCESSED_RETRIES {
            let out = self
                .client
                .batch_get_item()
                .set_request_items(Some(pending))
                .send()
                .await
                .map_err(|e| sdk_error("read device and settings", e))?;
            for (table, items) in out.responses.unwrap_or_default() {
                let Some(item) = items.into_iter().next() else {
                    continue;
                };
                if table == self.tables.devices {
                    lookup.device = Some(stored_device(&item)?);
                } else if table == self.tables.settings {
                    lookup.pre_approved_only = matches!(
                        item.get(PRE_APPROVED_ONLY),
                        Some(AttributeValue::Bool(true))
                    );
                }
            }
            pending = out.unprocessed_keys.unwrap_or_default();
            if pending.is_empty() {
                return Ok(lookup);
            }
            tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
        }
        Err(PortError::new(
            "read device and settings",
            "DynamoDB left keys unprocessed (throttled)",
        ))
    }

    async fn record_denial(&self, d: &Denial) -> Result<(), PortError> {
        let mut sets = vec![
            // The by-time index lists all denials under one partition, by their last attempt.
            ("kind", s("denial")),
            ("at", s(rfc3339(d.at))),
            ("expires_at", n(d.at + Denial::RETENTION_SECS)),
            ("serial", s(&d.serial)),
            ("platform", s(d.platform)),
            ("reason", s(d.reason.as_str())),
            ("endpoint", s(d.endpoint)),
        ];
        for (attr, value) in [
            ("enrollment_method", &d.method),
            ("os_version", &d.os_version),
            ("source_ip", &d.source_ip),
        ] {
            if let Some(v) = value {
                sets.push((attr, s(v)));
            }
        }
        let mut req = self
            .client
            .update_item()
            .table_name(&self.tables.denials)
            .key("denial_id", s(d.record_id()))
            .expression_attribute_names("#first", "first_at")
            .expression_attribute_names("#attempts", "attempts")
            .expression_attribute_values(":first", s(rfc3339(d.at)))
            .expression_attribute_values(":one", n(1));
        let mut expr = Vec::new();
        for (i, (attr, value)) in sets.into_iter().enumerate() {
            expr.push(format!("#a{i} = :v{i}"));
            req = req
                .expression_attribute_names(format!("#a{i}"), attr)
                .expression_attribute_values(format!(":v{i}"), value);
        }
        // One record per serial, reason and hour: a flood leaves one item with a count.
        let update = format!(
            "SET {}, #first = if_not_exists(#first, :first) ADD #attempts :one",
            expr.join(", ")
        );
        req.update_expression(update)
            .send()
            .await
            .map_err(|e| sdk_error("record denial", e))?;
        Ok(())
    }

    async fn record_failure(&self, serial: &str, at: u64) -> Result<(), PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.devices)
            .key("serial", s(serial))
            .update_expression("SET failures = list_append(if_not_exists(failures, :none), :now)")
            .condition_expression("#st = :pre")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":pre", s(DeviceStatus::PreApproved.as_str()))
            .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":now", AttributeValue::L(vec![n(at)]))
            .send()
            .await;
        // A device removed or enrolled meanwhile has nothing left to guess.
        written(result, "record a wrong password", |se| {
            se.is_conditional_check_failed_exception()
        })
        .map(|_| ())
    }

    async fn reset_failures(&self, serial: &str, seen: usize) -> Result<(), PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.devices)
            .key("serial", s(serial))
            .update_expression("REMOVE failures")
            .condition_expression("size(failures) = :seen")
            .expression_attribute_values(":seen", n(seen as u64))
            .send()
            .await;
        // Guesses that arrived since the read are kept.
        written(result, "reset wrong passwords", |se| {
            se.is_conditional_check_failed_exception()
        })
        .map(|_| ())
    }

    async fn enroll(&self, e: &Enrollment) -> Result<Enrolled, PortError> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.tables.devices)
            .key("serial", s(&e.serial))
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":enrolled", s(DeviceStatus::Enrolled.as_str()))
            .expression_attribute_values(":at", s(rfc3339(e.at)))
            .expression_attribute_values(":platform", s(e.platform))
            .expression_attribute_values(":applied", AttributeValue::Bool(e.pre_approved));
        let mut set = String::from(
            "SET #st = :enrolled, enrolled_at = :at, updated_at = :at, platform = :platform, \
             pre_approval_applied = :applied, enroll_nonce = :nonce",
        );
        req = req.expression_attribute_values(":nonce", s(&e.nonce));
        for (attr, value) in [
            ("enrollment_method", &e.method),
            ("os_version", &e.os_version),
        ] {
            if let Some(v) = value {
                set.push_str(&format!(", {attr} = :{attr}"));
                req = req.expression_attribute_values(format!(":{attr}"), s(v));
            }
        }
        let condition = match &e.expect {
            Expect::Absent => "attribute_not_exists(serial)".to_owned(),
            Expect::Unenrolled {
                status,
                password_hash,
            } => {
                // The one-time password is used up when its pre-approval
                // applies; an open enrollment leaves it unused, so that an
                // administrator's reset gives the pre-approval back with it.
                // The failed guesses and the expiry go with the pre-approved
                // state: enrolled devices never expire.
                let password = if e.pre_approved {
                    "password_hash, "
                } else {
                    ""
                };
                set.push_str(&format!(
                    " REMOVE {password}failures, expires_at, {EXPIRY_SHARD}"
                ));
                req = req.expression_attribute_values(":pre", s(status.as_str()));
                // Only the record admission just judged: still pre-approved, same password hash,
                // and (when its pre-approval applies) the same platform.
                // ... and never with a token that completed an enrollment before.
                let mut c = String::from(
                    "#st = :pre AND (attribute_not_exists(enroll_nonce) OR enroll_nonce <> :nonce)",
                );
                if e.pre_approved {
                    // ... and not lapsed since admission read it.
                    c.push_str(
                        " AND platform = :platform AND (attribute_not_exists(expires_at) \
                         OR expires_at > :now_secs)",
                    );
                    req = req.expression_attribute_values(":now_secs", n(e.at));
                }
                match password_hash {
                    Some(h) => {
                        c.push_str(" AND password_hash = :hash");
                        req = req.expression_attribute_values(":hash", s(h));
                    }
                    None => c.push_str(" AND attribute_not_exists(password_hash)"),
                }
                c
            }
        };
        let req = req.update_expression(set).condition_expression(condition);
        match req.send().await {
            Ok(_) => Ok(Enrolled::Done),
            Err(err) => match err.as_service_error() {
                // Rare (a race): one more read of the status tells a concurrent
                // completion from a re-import. ReturnValuesOnConditionCheckFailure
                // would return every attribute, outside the function's
                // attribute-scoped IAM policy.
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => {
                    let now = self
                        .client
                        .get_item()
                        .table_name(&self.tables.devices)
                        .key("serial", s(&e.serial))
                        .projection_expression("#st")
                        .expression_attribute_names("#st", "status")
                        .consistent_read(true)
                        .send()
                        .await
                        .map_err(|e| sdk_error("read device", e))?;
                    let status = now.item.as_ref().and_then(|i| get_s(i, "status"));
                    Ok(if status == Some(DeviceStatus::Enrolled.as_str()) {
                        Enrolled::AlreadyEnrolled
                    } else {
                        Enrolled::Changed
                    })
                }
                _ => Err(sdk_error("complete enrollment", err)),
            },
        }
    }
}
