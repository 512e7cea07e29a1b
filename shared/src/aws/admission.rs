//! DynamoDB adapter of [`AdmissionStore`]: the device and the restriction
//! setting in one BatchGetItem, the attempt limit's conditional claims on the
//! device item, deny records with a TTL (bounded per address: `denials`), and the transaction that completes
//! an enrollment and records its token as used.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, Put, ReturnValue, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;

use super::denials::DenialWrites;
use super::items::{
    get_n_opt, get_s, get_strings, n, password_checks, s, Item, CHECKS, CHECKS_CLEARED,
    EXPIRY_SHARD, LAST_CHECK_AT,
};
use super::sdk::{sdk_error, written};
use super::settings::{PRE_APPROVED_ONLY, SETTINGS_PK, SETTINGS_SK};
use super::transact::cancellation_reasons;
use crate::admission::lockout::Claim;
use crate::admission::{
    AdmissionStore, Denial, Enrolled, Enrollment, Expect, Lookup, Recorded, StoredDevice,
};
use crate::clock::{epoch_now, rfc3339};
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
    /// The nonces of the enrollment tokens that completed an enrollment, until they expire.
    pub used_tokens: String,
}

impl AdmissionTables {
    pub fn from_env() -> Result<Self, EnvError> {
        Ok(Self {
            devices: required("DEVICES_TABLE")?,
            settings: required("SETTINGS_TABLE")?,
            denials: required("DENIALS_TABLE")?,
            used_tokens: required("USED_TOKENS_TABLE")?,
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

    /// The keys one lookup reads: the device, the setting and (completing an
    /// enrollment) the token's use.
    fn request(
        &self,
        serial: &str,
        nonce: Option<&str>,
    ) -> Result<HashMap<String, KeysAndAttributes>, PortError> {
        let build = |e| PortError::new("read device", e);
        // Strongly consistent: a completed enrollment or a flipped setting
        // holds from the next request on.
        let device = KeysAndAttributes::builder()
            .keys(HashMap::from([("serial".to_owned(), s(serial))]))
            .projection_expression(format!(
                "#st, platform, #groups, password_hash, {CHECKS}, {CHECKS_CLEARED}, \
                 {LAST_CHECK_AT}, expires_at"
            ))
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
        let mut request = HashMap::from([
            (self.tables.devices.clone(), device),
            (self.tables.settings.clone(), settings),
        ]);
        if let Some(nonce) = nonce {
            let used = KeysAndAttributes::builder()
                .keys(HashMap::from([("nonce".to_owned(), s(nonce))]))
                .projection_expression("nonce")
                .consistent_read(true)
                .build()
                .map_err(build)?;
            request.insert(self.tables.used_tokens.clone(), used);
        }
        Ok(request)
    }

    /// One BatchGetItem (and its retries of throttled keys): the lookup, and
    /// whether the token with `nonce` was used.
    async fn read(&self, serial: &str, nonce: Option<&str>) -> Result<(Lookup, bool), PortError> {
        let mut pending = self.request(serial, nonce)?;
        let mut lookup = Lookup::default();
        let mut used = false;
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
                } else if table == self.tables.used_tokens {
                    used = true;
                }
            }
            pending = out.unprocessed_keys.unwrap_or_default();
            if pending.is_empty() {
                return Ok((lookup, used));
            }
            tokio::time::sleep(Duration::from_millis(20 << attempt)).await;
        }
        Err(PortError::new(
            "read device and settings",
            "DynamoDB left keys unprocessed (throttled)",
        ))
    }

    /// The device's enrolled state, written only while it is the record the
    /// completion judged.
    fn enrolled(&self, e: &Enrollment) -> Result<Update, PortError> {
        let mut req = Update::builder()
            .table_name(&self.tables.devices)
            .key("serial", s(&e.serial))
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":enrolled", s(DeviceStatus::Enrolled.as_str()))
            .expression_attribute_values(":at", s(rfc3339(e.at)))
            .expression_attribute_values(":platform", s(e.platform))
            .expression_attribute_values(":applied", AttributeValue::Bool(e.pre_approved));
        let mut set = String::from(
            "SET #st = :enrolled, enrolled_at = :at, updated_at = :at, platform = :platform, \
             pre_approval_applied = :applied",
        );
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
                // The password checks and the expiry go with the pre-approved
                // state: enrolled devices never expire.
                let password = if e.pre_approved {
                    "password_hash, "
                } else {
                    ""
                };
                set.push_str(&format!(
                    " REMOVE {password}{CHECKS}, {CHECKS_CLEARED}, {LAST_CHECK_AT}, expires_at, \
                     {EXPIRY_SHARD}"
                ));
                req = req.expression_attribute_values(":pre", s(status.as_str()));
                // Only the record admission just judged: still pre-approved, same password hash,
                // and (when its pre-approval applies) the same platform.
                let mut c = String::from("#st = :pre");
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
        req.update_expression(set)
            .condition_expression(condition)
            .build()
            .map_err(|e| PortError::new("complete enrollment", e))
    }

    /// The token's use, kept until it expires: apart from the device item,
    /// which a reset, a re-import or an undo rewrites.
    fn token_used(&self, e: &Enrollment) -> Result<Put, PortError> {
        Put::builder()
            .table_name(&self.tables.used_tokens)
            .item("nonce", s(&e.nonce))
            .item("serial", s(&e.serial))
            .item("expires_at", n(e.token_expires))
            .condition_expression("attribute_not_exists(nonce)")
            .build()
            .map_err(|e| PortError::new("complete enrollment", e))
    }

    /// After a refused completion: one more read of the status tells a
    /// concurrent completion from a re-import. (ReturnValuesOnConditionCheckFailure
    /// would return every attribute, outside the function's attribute-scoped IAM policy.)
    async fn refused(&self, serial: &str) -> Result<Enrolled, PortError> {
        let now = self
            .client
            .get_item()
            .table_name(&self.tables.devices)
            .key("serial", s(serial))
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
        checks: password_checks(item),
        expires: get_n_opt(item, "expires_at").map(Expiry::from_epoch),
    })
}

impl AdmissionStore for DynamoAdmission {
    async fn lookup(&self, serial: &str) -> Result<Lookup, PortError> {
        Ok(self.read(serial, None).await?.0)
    }

    async fn lookup_completion(
        &self,
        serial: &str,
        nonce: &str,
    ) -> Result<(Lookup, bool), PortError> {
        self.read(serial, Some(nonce)).await
    }

    async fn record_denial(&self, d: &Denial) -> Result<Recorded, PortError> {
        DenialWrites {
            client: &self.client,
            table: &self.tables.denials,
        }
        .record(d)
        .await
    }

    async fn claim_check(&self, serial: &str, claim: &Claim) -> Result<Option<u64>, PortError> {
        // The window as it was read: last cleared at `cleared` (0 may be
        // absent), and not yet at `below` (0 may be absent too).
        let cleared = if claim.cleared == 0 {
            format!("(attribute_not_exists({CHECKS_CLEARED}) OR {CHECKS_CLEARED} = :cleared)")
        } else {
            format!("{CHECKS_CLEARED} = :cleared")
        };
        let window = if claim.from == 0 {
            format!("(attribute_not_exists({CHECKS}) OR {CHECKS} < :below)")
        } else {
            format!("{CHECKS} >= :from AND {CHECKS} < :below")
        };
        let mut req = self
            .client
            .update_item()
            .table_name(&self.tables.devices)
            .key("serial", s(serial))
            .update_expression(format!("SET {LAST_CHECK_AT} = :now ADD {CHECKS} :one"))
            .condition_expression(format!("#st = :pre AND {cleared} AND {window}"))
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":pre", s(DeviceStatus::PreApproved.as_str()))
            .expression_attribute_values(":now", n(claim.at))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":cleared", n(claim.cleared))
            .expression_attribute_values(":below", n(claim.below))
            // The count after this claim, for a right password's clearing.
            .return_values(ReturnValue::UpdatedNew);
        if claim.from != 0 {
            req = req.expression_attribute_values(":from", n(claim.from));
        }
        match req.send().await {
            Ok(out) => {
                let claimed = out
                    .attributes
                    .as_ref()
                    .and_then(|a| get_n_opt(a, CHECKS))
                    .ok_or_else(|| PortError::new("claim a password check", "no count returned"))?;
                Ok(Some(claimed))
            }
            // The window filled (or the device changed) since the read.
            Err(e)
                if e.as_service_error()
                    .is_some_and(UpdateItemError::is_conditional_check_failed_exception) =>
            {
                Ok(None)
            }
            Err(e) => Err(sdk_error("claim a password check", e)),
        }
    }

    async fn claim_nothing(&self, serial: &str) -> Result<(), PortError> {
        // A claim's request whose condition no item meets: DynamoDB reads the
        // item, refuses, writes nothing, and answers in a claim's time.
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.devices)
            .key("serial", s(serial))
            .update_expression(format!("SET {LAST_CHECK_AT} = :now"))
            .condition_expression("attribute_exists(serial) AND attribute_not_exists(serial)")
            .expression_attribute_values(":now", n(epoch_now()))
            .send()
            .await;
        written(result, "stand in for a password check", |se| {
            se.is_conditional_check_failed_exception()
        })
        .map(|_| ())
    }

    async fn clear_checks(&self, serial: &str, claimed: u64) -> Result<(), PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.devices)
            .key("serial", s(serial))
            .update_expression(format!("SET {CHECKS_CLEARED} = :claimed"))
            .condition_expression(format!("{CHECKS} = :claimed"))
            .expression_attribute_values(":claimed", n(claimed))
            .send()
            .await;
        // Checks claimed since this one are kept: they are someone's guesses.
        written(result, "clear password checks", |se| {
            se.is_conditional_check_failed_exception()
        })
        .map(|_| ())
    }

    async fn enroll(&self, e: &Enrollment) -> Result<Enrolled, PortError> {
        let result = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .update(self.enrolled(e)?)
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .put(self.token_used(e)?)
                    .build(),
            )
            .send()
            .await;
        let Err(err) = result else {
            return Ok(Enrolled::Done);
        };
        let refused: Vec<bool> = match cancellation_reasons(&err) {
            Some(reasons) => reasons
                .iter()
                .map(|r| r.code() == Some("ConditionalCheckFailed"))
                .collect(),
            None => return Err(sdk_error("complete enrollment", err)),
        };
        match refused[..] {
            [_, true] => Ok(Enrolled::TokenUsed),
            [true, false] => self.refused(&e.serial).await,
            // Cancelled for another reason (a conflicting write, throttling): try again.
            _ => Err(sdk_error("complete enrollment", err)),
        }
    }
}
