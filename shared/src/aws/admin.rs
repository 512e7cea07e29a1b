//! The admin's DynamoDB adapter: devices by enrollment status (GSI
//! `by-status`, never a Scan of the table), searchable by serial prefix or
//! owner email, or by the ADE account that lists them (GSI `by-ade-account`),
//! blocked admission attempts (GSI `by-time`), import history (GSI
//! `by-created`), and the approval of a blocked attempt (one transaction).
//! Pages continue from DynamoDB's LastEvaluatedKey, as an opaque [`Cursor`].

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, KeysAndAttributes, Put, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;

use super::ade::{DynamoAdeAccounts, SecretsAdeSecrets, SqsSyncJobs, BY_ADE_ACCOUNT};
use super::batch::batch_get;
use super::counts::DynamoCounts;
use super::denials::{returned, GROUPED, SAMPLE_PREFIX, SERIALS};
use super::dynamo::{DynamoDirectory, DynamoImports};
use super::invite_queue::SqsInviteQueue;
use super::items::{
    device_item, device_record, expiry_shard, get_n, get_n_opt, get_s, import_state, n, s,
    source_condition, user_item, user_record, Item, CHECKS, CHECKS_CLEARED, EXPIRY_SHARD,
    LAST_CHECK_AT,
};
use super::outbox::{status_of, DynamoOutbox};
use super::queries::serials_of_owner;
use super::s3::S3Bucket;
use super::sdk::{sdk_error, written};
use super::settings::DynamoSettings;
use super::tables::Tables;
use crate::ade::ports::DepConnector;
use crate::admin::ade::AdePorts;
use crate::admin::devices::ListSearch;
use crate::admin::{
    Acted, AdminPorts, AdminReads, ApprovalWrite, Approvals, Count, Cursor, DenialView,
    DeviceAction, DeviceActions, DeviceAudit, Page,
};
use crate::counts::{as_counts, CountStore};
use crate::import::ports::{Directory, Existing, ImportRecords, ImportState};
use crate::outbox::{InviteRef, InviteStatus};
use crate::port_error::PortError;
use crate::records::{DeviceRecord, DeviceStatus, UserRecord};

fn to_key(cursor: Option<Cursor>) -> Option<Item> {
    cursor.map(|c| {
        c.attributes()
            .iter()
            .map(|(k, v)| (k.clone(), s(v)))
            .collect()
    })
}

/// The next page's cursor from a LastEvaluatedKey (its string attributes).
fn from_key(key: Option<&Item>) -> Option<String> {
    let plain: BTreeMap<String, String> = key?
        .iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|v| (k.clone(), v.clone())))
        .collect();
    Cursor::new(plain).map(|c| c.encode())
}

fn limit(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

pub struct DynamoAdmin {
    client: Client,
    tables: Tables,
    denials: String,
    directory: DynamoDirectory,
    imports: DynamoImports,
    /// Writes an approval's invite record in the approval's transaction.
    outbox: DynamoOutbox,
}

impl DynamoAdmin {
    pub fn new(
        client: Client,
        tables: Tables,
        denials_table: String,
        outbox: DynamoOutbox,
    ) -> Self {
        Self {
            outbox,
            directory: DynamoDirectory::new(client.clone(), tables.clone()),
            imports: DynamoImports {
                client: client.clone(),
                table: tables.imports.clone(),
            },
            client,
            tables,
            denials: denials_table,
        }
    }

    async fn get(
        &self,
        what: &'static str,
        table: &str,
        key: &str,
        value: &str,
    ) -> Result<Option<Item>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(table)
            .key(key, s(value))
            .send()
            .await
            .map_err(|e| sdk_error(what, e))?;
        Ok(out.item)
    }
}

impl AdminReads for DynamoAdmin {
    async fn devices(
        &self,
        status: DeviceStatus,
        search: &ListSearch,
        cursor: Option<Cursor>,
        page: usize,
    ) -> Result<Page<DeviceRecord>, PortError> {
        if let ListSearch::Invite(state) = search {
            // The sparse `by-invite` index holds only devices that got an invite.
            let out = self
                .client
                .query()
                .table_name(&self.tables.devices)
                .index_name("by-invite")
                .key_condition_expression("invite_state = :i")
                .filter_expression("#st = :st")
                .expression_attribute_names("#st", "status")
                .expression_attribute_values(":i", s(state.as_str()))
                .expression_attribute_values(":st", s(status.as_str()))
                .set_exclusive_start_key(to_key(cursor))
                .limit(limit(page))
                .send()
                .await
                .map_err(|e| sdk_error("list devices by invite", e))?;
            return Ok(Page {
                items: out.items().iter().filter_map(device_record).collect(),
                cursor: from_key(out.last_evaluated_key()),
            });
        }
        let mut q = self
            .client
            .query()
            .table_name(&self.tables.devices)
            .index_name("by-status")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":st", s(status.as_str()))
            .set_exclusive_start_key(to_key(cursor))
            .limit(limit(page));
        q = match search {
            ListSearch::SerialPrefix(p) => q
                .key_condition_expression("#st = :st AND begins_with(serial, :p)")
                .expression_attribute_values(":p", s(p)),
            _ => q.key_condition_expression("#st = :st"),
        };
        if let ListSearch::Source(source) = search {
            // Filtered after the read: a page may come back short, never wrong.
            let (condition, values) = source_condition(*source);
            q = q.filter_expression(condition);
            for (k, v) in values {
                q = q.expression_attribute_values(k, v);
            }
        }
        let out = q.send().await.map_err(|e| sdk_error("list devices", e))?;
        Ok(Page {
            items: out.items().iter().filter_map(device_record).collect(),
            cursor: from_key(out.last_evaluated_key()),
        })
    }

    async fn device(&self, serial: &str) -> Result<Option<DeviceRecord>, PortError> {
        let item = self
            .get("read device", &self.tables.devices, "serial", serial)
            .await?;
        Ok(item.as_ref().and_then(device_record))
    }

    /// The sparse GSI `by-ade-account` holds only devices an account lists
    /// (keys and the sync's mark): a Query of one account's, or a Scan of
    /// every account's (each item it reads is one of them), then one
    /// BatchGetItem of the page.
    async fn ade_devices(
        &self,
        account: Option<&str>,
        cursor: Option<Cursor>,
        page: usize,
    ) -> Result<Page<DeviceRecord>, PortError> {
        const WHAT: &str = "list ade devices";
        let (keys, last) = match account {
            Some(a) => {
                let out = self
                    .client
                    .query()
                    .table_name(&self.tables.devices)
                    .index_name(BY_ADE_ACCOUNT)
                    .key_condition_expression("ade_account = :a")
                    .expression_attribute_values(":a", s(a))
                    .set_exclusive_start_key(to_key(cursor))
                    .limit(limit(page))
                    .send()
                    .await
                    .map_err(|e| sdk_error(WHAT, e))?;
                (out.items.unwrap_or_default(), out.last_evaluated_key)
            }
            None => {
                let out = self
                    .client
                    .scan()
                    .table_name(&self.tables.devices)
                    .index_name(BY_ADE_ACCOUNT)
                    .set_exclusive_start_key(to_key(cursor))
                    .limit(limit(page))
                    .send()
                    .await
                    .map_err(|e| sdk_error(WHAT, e))?;
                (out.items.unwrap_or_default(), out.last_evaluated_key)
            }
        };
        let serials: Vec<String> = keys
            .iter()
            .filter_map(|i| get_s(i, "serial").map(str::to_owned))
            .collect();
        let wanted = serials
            .iter()
            .map(|serial| Item::from([("serial".to_owned(), s(serial))]))
            .collect();
        let found = batch_get(&self.client, &self.tables.devices, wanted, 1, WHAT).await?;
        let mut by_serial: HashMap<String, DeviceRecord> = found
            .iter()
            .filter_map(device_record)
            .map(|d| (d.serial.clone(), d))
            .collect();
        Ok(Page {
            // The index's order; a device removed since the index was read is left out.
            items: serials.iter().filter_map(|s| by_serial.remove(s)).collect(),
            cursor: from_key(last.as_ref()),
        })
    }

    /// GSI `by-email` (keys only), then one BatchGetItem.
    async fn owner_devices(&self, email: &str) -> Result<Vec<DeviceRecord>, PortError> {
        let what = "find devices by email";
        let serials =
            serials_of_owner(&self.client, &self.tables.devices, email, Some(100), what).await?;
        let keys: Vec<Item> = serials
            .into_iter()
            .map(|serial| Item::from([("serial".to_owned(), s(serial))]))
            .collect();
        // Keys DynamoDB leaves unprocessed (throttling) are asked again, never dropped.
        let found = batch_get(
            &self.client,
            &self.tables.devices,
            keys,
            1,
            "find devices by email",
        );
        let mut items: Vec<DeviceRecord> = found.await?.iter().filter_map(device_record).collect();
        items.sort_by(|a, b| a.serial.cmp(&b.serial));
        Ok(items)
    }

    async fn user_and_invite(
        &self,
        email_key: Option<&str>,
        invite: Option<&InviteRef>,
    ) -> Result<(Option<UserRecord>, Option<InviteStatus>), PortError> {
        let build = |e| PortError::new("read user and invite", e);
        let mut wanted: HashMap<String, KeysAndAttributes> = HashMap::new();
        if let Some(email) = email_key {
            let key = Item::from([("email".to_owned(), s(email))]);
            wanted.insert(
                self.tables.users.clone(),
                KeysAndAttributes::builder()
                    .keys(key)
                    .build()
                    .map_err(build)?,
            );
        }
        if let Some(r) = invite {
            let (pk, sk) = self.outbox.record_key(r);
            let key = Item::from([("import_id".to_owned(), pk), ("sk".to_owned(), sk)]);
            let ka = KeysAndAttributes::builder()
                .keys(key)
                .consistent_read(true)
                .build()
                .map_err(build)?;
            wanted.insert(self.tables.imports.clone(), ka);
        }
        let (mut user, mut status) = (None, None);
        // Keys left unprocessed (throttling) are asked again, a bounded number of times.
        for _ in 0..5 {
            if wanted.is_empty() {
                return Ok((user, status));
            }
            let out = self
                .client
                .batch_get_item()
                .set_request_items(Some(std::mem::take(&mut wanted)))
                .send()
                .await
                .map_err(|e| sdk_error("read user and invite", e))?;
            for (table, items) in out.responses.unwrap_or_default() {
                for item in items {
                    if table == self.tables.users {
                        user = user_record(&item);
                    } else {
                        status = Some(status_of(&item));
                    }
                }
            }
            wanted = out.unprocessed_keys.unwrap_or_default();
        }
        Err(PortError::new(
            "read user and invite",
            "DynamoDB kept the keys unprocessed (throttled); try again",
        ))
    }

    async fn existing(
        &self,
        serials: &[String],
        user_keys: &[String],
    ) -> Result<Existing, PortError> {
        self.directory.existing(serials, user_keys).await
    }

    async fn denials(
        &self,
        cursor: Option<Cursor>,
        page: usize,
    ) -> Result<Page<DenialView>, PortError> {
        let out = self
            .client
            .query()
            .table_name(&self.denials)
            .index_name("by-time")
            .key_condition_expression("kind = :k")
            .expression_attribute_values(":k", s("denial"))
            .scan_index_forward(false)
            .set_exclusive_start_key(to_key(cursor))
            .limit(limit(page))
            .send()
            .await
            .map_err(|e| sdk_error("list denials", e))?;
        Ok(Page {
            items: out.items().iter().map(denial_view).collect(),
            cursor: from_key(out.last_evaluated_key()),
        })
    }

    async fn denial(&self, id: &str) -> Result<Option<DenialView>, PortError> {
        let item = self
            .get("read denial", &self.denials, "denial_id", id)
            .await?;
        Ok(item.as_ref().map(denial_view))
    }

    async fn imports(
        &self,
        cursor: Option<Cursor>,
        page: usize,
    ) -> Result<Page<ImportState>, PortError> {
        let out = self
            .client
            .query()
            .table_name(&self.tables.imports)
            .index_name("by-created")
            .key_condition_expression("kind = :k")
            .expression_attribute_values(":k", s("import"))
            .scan_index_forward(false)
            .set_exclusive_start_key(to_key(cursor))
            .limit(limit(page))
            .send()
            .await
            .map_err(|e| sdk_error("list imports", e))?;
        Ok(Page {
            items: out
                .items()
                .iter()
                .filter_map(|i| import_state(i).ok())
                .collect(),
            cursor: from_key(out.last_evaluated_key()),
        })
    }

    async fn import(&self, id: &str) -> Result<Option<ImportState>, PortError> {
        self.imports.load(id).await
    }

    /// One GetItem of the totals the change stream keeps (`super::counts`).
    async fn counts(&self) -> Result<Vec<Count>, PortError> {
        let store = DynamoCounts {
            client: self.client.clone(),
            table: self.tables.settings.clone(),
        };
        Ok(as_counts(&store.totals().await?))
    }
}

impl Approvals for DynamoAdmin {
    async fn approve(&self, w: &ApprovalWrite) -> Result<bool, PortError> {
        let build = |e| PortError::new("approve", e);
        // Never over an existing device: its password and user would be lost.
        let put_device = Put::builder()
            .table_name(&self.tables.devices)
            .set_item(Some(device_item(&w.device)))
            .condition_expression("attribute_not_exists(serial)")
            .build()
            .map_err(build)?;
        let put_user = Put::builder()
            .table_name(&self.tables.users)
            .set_item(Some(user_item(&w.user)))
            .build()
            .map_err(build)?;
        let mark = Update::builder()
            .table_name(&self.denials)
            .key("denial_id", s(&w.denial_id))
            .update_expression("SET approved_by = :by, approved_at = :at")
            .condition_expression(
                "attribute_exists(denial_id) AND attribute_not_exists(approved_at)",
            )
            .expression_attribute_values(":by", s(&w.by))
            .expression_attribute_values(":at", s(&w.at))
            .build()
            .map_err(build)?;
        let mut tx = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put_device).build())
            .transact_items(TransactWriteItem::builder().put(put_user).build())
            .transact_items(TransactWriteItem::builder().update(mark).build());
        if let Some(invite) = &w.invite {
            tx = tx.transact_items(
                TransactWriteItem::builder()
                    .put(self.outbox.put_new(invite)?)
                    .build(),
            );
        }
        let result = tx.send().await;
        written(result, "approve", |se| {
            se.is_transaction_canceled_exception()
        })
    }
}

/// A device's audit trail lives in the settings table, beside the settings' own.
fn device_audit_pk(serial: &str) -> String {
    format!("device#{serial}")
}

impl DeviceActions for DynamoAdmin {
    async fn act(
        &self,
        serial: &str,
        action: DeviceAction,
        audit: &DeviceAudit,
    ) -> Result<Acted, PortError> {
        let build = |e| PortError::new("change device", e);
        let pre = s(DeviceStatus::PreApproved.as_str());
        let change = match action {
            DeviceAction::Remove => TransactWriteItem::builder().delete(
                Delete::builder()
                    .table_name(&self.tables.devices)
                    .key("serial", s(serial))
                    .condition_expression("#st <> :enrolled")
                    .expression_attribute_names("#st", "status")
                    .expression_attribute_values(":enrolled", s(DeviceStatus::Enrolled.as_str()))
                    .build()
                    .map_err(build)?,
            ),
            DeviceAction::Renew => {
                let mut update = Update::builder()
                    .table_name(&self.tables.devices)
                    .key("serial", s(serial))
                    .condition_expression("attribute_exists(serial) AND #st <> :enrolled")
                    .expression_attribute_names("#st", "status")
                    .expression_attribute_values(":pre", pre)
                    .expression_attribute_values(":enrolled", s(DeviceStatus::Enrolled.as_str()))
                    .expression_attribute_values(":at", s(&audit.at));
                update = match audit.expires {
                    Some(e) => update
                        .update_expression(format!(
                            "SET #st = :pre, updated_at = :at, expires_at = :exp, \
                             {EXPIRY_SHARD} = :shard"
                        ))
                        .expression_attribute_values(":exp", n(e.epoch()))
                        .expression_attribute_values(":shard", s(expiry_shard(serial))),
                    None => update.update_expression(format!(
                        "SET #st = :pre, updated_at = :at REMOVE expires_at, {EXPIRY_SHARD}"
                    )),
                };
                TransactWriteItem::builder().update(update.build().map_err(build)?)
            }
            DeviceAction::Reset => TransactWriteItem::builder().update(
                Update::builder()
                    .table_name(&self.tables.devices)
                    .key("serial", s(serial))
                    // A fresh count of password checks for the new pre-approval.
                    .update_expression(format!(
                        "SET #st = :pre, updated_at = :at REMOVE enrolled_at, enrollment_method, \
                         os_version, pre_approval_applied, {CHECKS}, {CHECKS_CLEARED}, \
                         {LAST_CHECK_AT}"
                    ))
                    .condition_expression("#st = :enrolled")
                    .expression_attribute_names("#st", "status")
                    .expression_attribute_values(":pre", pre)
                    .expression_attribute_values(":enrolled", s(DeviceStatus::Enrolled.as_str()))
                    .expression_attribute_values(":at", s(&audit.at))
                    .build()
                    .map_err(build)?,
            ),
            DeviceAction::Unlock => TransactWriteItem::builder().update(
                Update::builder()
                    .table_name(&self.tables.devices)
                    .key("serial", s(serial))
                    // Cleared as a right password clears: up to the checks claimed,
                    // so a claim judged before the unlock cannot land after it.
                    .update_expression(format!(
                        "SET {CHECKS_CLEARED} = if_not_exists({CHECKS}, :zero)"
                    ))
                    .condition_expression("attribute_exists(serial)")
                    .expression_attribute_values(":zero", n(0))
                    .build()
                    .map_err(build)?,
            ),
        };
        let mut record = Put::builder()
            .table_name(&self.tables.settings)
            .item("pk", s(device_audit_pk(serial)))
            .item(
                "sk",
                s(format!("{}#{}", audit.at, uuid::Uuid::new_v4().simple())),
            )
            .item("at", s(&audit.at))
            .item("by", s(&audit.by))
            .item("action", s(crate::domain::options::wire_name(&action)));
        if let Some(e) = audit.expires {
            record = record.item("expires_at", n(e.epoch()));
        }
        let record = record.build().map_err(build)?;
        let result = self
            .client
            .transact_write_items()
            .transact_items(change.build())
            .transact_items(TransactWriteItem::builder().put(record).build())
            .send()
            .await;
        if written(result, "change device", |se| {
            se.is_transaction_canceled_exception()
        })? {
            return Ok(Acted::Done);
        }
        // Refused: one read tells a missing device from one in the other status.
        Ok(match self.device(serial).await? {
            None => Acted::Missing,
            Some(d) => Acted::WrongStatus(d.status),
        })
    }

    async fn audit(&self, serial: &str, page: usize) -> Result<Vec<DeviceAudit>, PortError> {
        let out = self
            .client
            .query()
            .table_name(&self.tables.settings)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(device_audit_pk(serial)))
            .scan_index_forward(false)
            .limit(limit(page))
            .send()
            .await
            .map_err(|e| sdk_error("read device audit", e))?;
        Ok(out
            .items()
            .iter()
            .filter_map(|i| {
                Some(DeviceAudit {
                    at: get_s(i, "at")?.to_owned(),
                    by: get_s(i, "by")?.to_owned(),
                    action: serde_json::from_value(serde_json::Value::String(
                        get_s(i, "action")?.to_owned(),
                    ))
                    .ok()?,
                    expires: get_n_opt(i, "expires_at").map(crate::domain::Expiry::from_epoch),
                })
            })
            .collect())
    }
}

/// The ADE ports of the admin function; `C` is Apple's client, an adapter
/// of its own outside `aws`.
pub struct AwsAde<C> {
    pub accounts: DynamoAdeAccounts,
    pub secrets: SecretsAdeSecrets,
    pub jobs: SqsSyncJobs,
    pub apple: C,
}

impl<C: DepConnector> AdePorts for AwsAde<C> {
    type Accounts = DynamoAdeAccounts;
    type Secrets = SecretsAdeSecrets;
    type Jobs = SqsSyncJobs;
    type Apple = C;
    fn accounts(&self) -> &DynamoAdeAccounts {
        &self.accounts
    }
    fn secrets(&self) -> &SecretsAdeSecrets {
        &self.secrets
    }
    fn jobs(&self) -> &SqsSyncJobs {
        &self.jobs
    }
    fn apple(&self) -> &C {
        &self.apple
    }
}

/// The admin function's adapters, built once at start; `A` the ADE ports
/// ([`AwsAde`] with Apple's client).
pub struct AwsAdminPorts<A> {
    pub settings: DynamoSettings,
    pub dynamo: DynamoAdmin,
    pub bucket: S3Bucket,
    pub outbox: DynamoOutbox,
    pub queue: SqsInviteQueue,
    pub exports: super::exports::AwsExports,
    pub undo: super::undo::DynamoUndo,
    pub ade: A,
}

impl<A: AdePorts> AdminPorts for AwsAdminPorts<A> {
    type Settings = DynamoSettings;
    type Reads = DynamoAdmin;
    type Approvals = DynamoAdmin;
    type Staging = S3Bucket;
    type Files = S3Bucket;
    type Outbox = DynamoOutbox;
    type Queue = SqsInviteQueue;
    type Devices = DynamoAdmin;
    type Exports = super::exports::AwsExports;
    type Undo = super::undo::DynamoUndo;
    type Ade = A;
    fn settings(&self) -> &DynamoSettings {
        &self.settings
    }
    fn reads(&self) -> &DynamoAdmin {
        &self.dynamo
    }
    fn approvals(&self) -> &DynamoAdmin {
        &self.dynamo
    }
    fn staging(&self) -> &S3Bucket {
        &self.bucket
    }
    fn files(&self) -> &S3Bucket {
        &self.bucket
    }
    fn outbox(&self) -> &DynamoOutbox {
        &self.outbox
    }
    fn queue(&self) -> &SqsInviteQueue {
        &self.queue
    }
    fn devices(&self) -> &DynamoAdmin {
        &self.dynamo
    }
    fn exports(&self) -> &super::exports::AwsExports {
        &self.exports
    }
    fn undo(&self) -> &super::undo::DynamoUndo {
        &self.undo
    }
    fn ade(&self) -> &A {
        &self.ade
    }
}

fn denial_view(i: &Item) -> DenialView {
    let text = |k: &str| get_s(i, k).map(str::to_owned);
    let grouped = matches!(i.get(GROUPED), Some(AttributeValue::Bool(true)));
    let mut sample: Vec<(&String, String)> = i
        .iter()
        .filter(|(k, _)| {
            grouped
                && k.strip_prefix(SAMPLE_PREFIX)
                    .is_some_and(|n| n.parse::<u8>().is_ok())
        })
        .filter_map(|(k, v)| Some((k, v.as_s().ok()?.clone())))
        .collect();
    sample.sort();
    DenialView {
        id: text("denial_id").unwrap_or_default(),
        serial_number: text("serial").unwrap_or_default(),
        platform: text("platform").unwrap_or_default(),
        enrollment_method: text("enrollment_method"),
        os_version: text("os_version"),
        reason: text("reason").unwrap_or_default(),
        endpoint: text("endpoint").unwrap_or_default(),
        at: text("at").unwrap_or_default(),
        first_at: text("first_at"),
        // Records from before the counter counted one attempt each.
        attempts: get_n(i, "attempts").max(1),
        source_ip: text("source_ip"),
        grouped,
        serials: if grouped { get_n(i, SERIALS) } else { 1 },
        sample: sample.into_iter().map(|(_, v)| v).collect(),
        returned: if grouped { returned(i) } else { Vec::new() },
        expires_at: get_n(i, "expires_at"),
        approved_by: text("approved_by"),
        approved_at: text("approved_at"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_carry_the_string_attributes_of_the_last_key() {
        let key = Item::from([
            ("serial".to_owned(), s("A1")),
            ("status".to_owned(), s("enrolled")),
        ]);
        let text = from_key(Some(&key)).unwrap();
        assert_eq!(to_key(Cursor::parse(&text)), Some(key));
        assert_eq!(from_key(Some(&Item::new())), None);
        assert_eq!(from_key(None), None);
    }
}
