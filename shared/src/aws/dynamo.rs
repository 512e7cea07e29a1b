//! DynamoDB adapters: the devices and users tables ([`Directory`]) and the
//! imports table, which holds both the import records ([`ImportRecords`],
//! `sk=META`); their invites are the outbox's (`super::outbox`).
//! Item layouts live in `items.rs`. Users and their before-images go 25 to a
//! BatchWriteItem; devices, each with its condition (not enrolled now) and
//! its before-image, a hundred items to a TransactWriteItems.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, Put, PutRequest, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use futures::stream::{self, StreamExt, TryStreamExt};

use super::batch::{send_in_batches, MAX_BATCH_GET, MAX_BATCH_WRITE};
use super::items::{self, n, s};
use super::sdk::{sdk_error, written};
use super::tables::Tables;
use super::transact;
use crate::clock::epoch_now;
use crate::import::ports::{DeviceWrite, Directory, Existing, ImportRecords, ImportState, Lease};
use crate::port_error::PortError;
use crate::records::{DeviceStatus, ExistingDevice, ExistingUser, UserRecord};

/// How many batch requests are in flight: per read, and in all for writes.
const IN_FLIGHT: usize = 4;

pub struct DynamoDirectory {
    client: Client,
    tables: Tables,
    /// Bounds write batches across the chunks being written at once.
    write_slots: tokio::sync::Semaphore,
}

impl DynamoDirectory {
    pub fn new(client: Client, tables: Tables) -> Self {
        Self {
            client,
            tables,
            write_slots: tokio::sync::Semaphore::new(IN_FLIGHT),
        }
    }
}

impl Directory for DynamoDirectory {
    async fn existing(
        &self,
        serials: &[String],
        user_keys: &[String],
    ) -> Result<Existing, PortError> {
        // Devices and users share each BatchGetItem (up to 100 keys per request).
        let keys: Vec<(bool, String)> = serials
            .iter()
            .map(|s| (true, s.clone()))
            .chain(user_keys.iter().map(|k| (false, k.clone())))
            .collect();
        let tables = &self.tables;
        let found = send_in_batches(keys, MAX_BATCH_GET, IN_FLIGHT, |batch| async move {
            let mut device_keys = Vec::new();
            let mut user_keys = Vec::new();
            for (is_device, k) in &batch {
                if *is_device {
                    device_keys.push(HashMap::from([("serial".to_owned(), s(k))]));
                } else {
                    user_keys.push(HashMap::from([("email".to_owned(), s(k))]));
                }
            }
            let mut req = self.client.batch_get_item();
            if !device_keys.is_empty() {
                req = req.request_items(
                    &tables.devices,
                    // Whole items: a replaced device's before-image.
                    KeysAndAttributes::builder()
                        .set_keys(Some(device_keys))
                        .consistent_read(true)
                        .build()
                        .map_err(|e| PortError::new("batch get", e))?,
                );
            }
            if !user_keys.is_empty() {
                req = req.request_items(
                    &tables.users,
                    KeysAndAttributes::builder()
                        .set_keys(Some(user_keys))
                        .consistent_read(true)
                        .build()
                        .map_err(|e| PortError::new("batch get", e))?,
                );
            }
            let out = req
                .send()
                .await
                .map_err(|e| sdk_error("read devices and users", e))?;
            let mut done = Vec::new();
            for (table, rows) in out.responses.unwrap_or_default() {
                let is_device = table == tables.devices;
                done.extend(rows.into_iter().map(|item| (is_device, item)));
            }
            let mut unprocessed = Vec::new();
            for (table, ka) in out.unprocessed_keys.unwrap_or_default() {
                let is_device = table == tables.devices;
                let key_name = if is_device { "serial" } else { "email" };
                for key in ka.keys {
                    if let Some(AttributeValue::S(k)) = key.get(key_name) {
                        unprocessed.push((is_device, k.clone()));
                    }
                }
            }
            Ok((unprocessed, done))
        })
        .await?;
        let mut devices = HashMap::new();
        let mut users = HashMap::new();
        for (is_device, item) in found {
            let import_id = items::get_s(&item, "import_id").map(str::to_owned);
            if is_device {
                if let (Some(serial), Some(status)) = (
                    items::get_s(&item, "serial"),
                    items::get_s(&item, "status").and_then(DeviceStatus::parse),
                ) {
                    let record = items::device_record(&item).map(Box::new);
                    devices.insert(
                        serial.to_owned(),
                        ExistingDevice {
                            status,
                            import_id,
                            record,
                        },
                    );
                }
            } else if let Some(email) = items::get_s(&item, "email") {
                let record = items::user_record(&item).map(Box::new);
                users.insert(email.to_owned(), ExistingUser { import_id, record });
            }
        }
        Ok((devices, users))
    }

    async fn write_devices(
        &self,
        import_id: &str,
        devices: &[DeviceWrite],
    ) -> Result<Vec<bool>, PortError> {
        // A transaction, because BatchWriteItem takes no condition; each
        // device with its before-image, so that an image exists exactly for
        // what the import wrote.
        let mut transactions: Vec<Vec<Vec<TransactWriteItem>>> = Vec::new();
        let mut size = 0;
        for d in devices {
            let group = self.device_group(import_id, d)?;
            match transactions.last_mut() {
                Some(t) if size + group.len() <= transact::MAX_ITEMS => {
                    size += group.len();
                    t.push(group);
                }
                _ => {
                    size = group.len();
                    transactions.push(vec![group]);
                }
            }
        }
        let written: Vec<Vec<bool>> = stream::iter(transactions)
            .map(|groups| async move {
                let _slot = self
                    .write_slots
                    .acquire()
                    .await
                    .map_err(|e| PortError::new("write devices", e))?;
                transact::write_groups(&self.client, groups, "write devices").await
            })
            .buffered(IN_FLIGHT)
            .try_collect()
            .await?;
        Ok(written.concat())
    }

    async fn write_users(&self, users: Vec<UserRecord>) -> Result<(), PortError> {
        let table = &self.tables.users;
        self.put_all(users.iter().map(|u| (table.clone(), items::user_item(u))))
            .await
    }

    async fn keep_before(
        &self,
        import_id: &str,
        items: Vec<crate::records::UndoItem>,
    ) -> Result<(), PortError> {
        let table = &self.tables.imports;
        let puts = items
            .iter()
            .map(|i| (table.clone(), super::undo::before_item(import_id, i)));
        self.put_all(puts).await
    }
}

impl DynamoDirectory {
    /// A device's conditional put, and its before-image's put when it has one.
    fn device_group(
        &self,
        import_id: &str,
        d: &DeviceWrite,
    ) -> Result<Vec<TransactWriteItem>, PortError> {
        let build = |e| PortError::new("write devices", e);
        let device = Put::builder()
            .table_name(&self.tables.devices)
            .set_item(Some(items::device_item(&d.record)))
            .condition_expression("attribute_not_exists(serial) OR #st <> :enrolled")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":enrolled", s(DeviceStatus::Enrolled.as_str()))
            .build()
            .map_err(build)?;
        let mut group = vec![TransactWriteItem::builder().put(device).build()];
        if let Some(image) = &d.before {
            let image = Put::builder()
                .table_name(&self.tables.imports)
                .set_item(Some(super::undo::before_item(import_id, image)))
                .build()
                .map_err(build)?;
            group.push(TransactWriteItem::builder().put(image).build());
        }
        Ok(group)
    }

    /// Puts every item, 25 to a BatchWriteItem, unprocessed ones again.
    async fn put_all(
        &self,
        puts: impl Iterator<Item = (String, items::Item)>,
    ) -> Result<(), PortError> {
        let requests: Vec<(String, WriteRequest)> = puts
            .map(|(table, item)| {
                let put = PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(|e| PortError::new("write", e))?;
                Ok((table, WriteRequest::builder().put_request(put).build()))
            })
            .collect::<Result<_, PortError>>()?;
        send_in_batches(requests, MAX_BATCH_WRITE, IN_FLIGHT, |batch| async move {
            let mut by_table: HashMap<String, Vec<WriteRequest>> = HashMap::new();
            for (table, req) in batch {
                by_table.entry(table).or_default().push(req);
            }
            let _slot = self
                .write_slots
                .acquire()
                .await
                .map_err(|e| PortError::new("write", e))?;
            let out = self
                .client
                .batch_write_item()
                .set_request_items(Some(by_table))
                .send()
                .await
                .map_err(|e| sdk_error("write devices and users", e))?;
            let unprocessed = out
                .unprocessed_items
                .unwrap_or_default()
                .into_iter()
                .flat_map(|(table, reqs)| reqs.into_iter().map(move |r| (table.clone(), r)))
                .collect();
            Ok((unprocessed, Vec::<()>::new()))
        })
        .await?;
        Ok(())
    }
}

/// Import records (`sk=META`) in the imports table.
#[derive(Debug, Clone)]
pub struct DynamoImports {
    pub client: Client,
    pub table: String,
}

const META: &str = "META";

impl ImportRecords for DynamoImports {
    async fn load(&self, import_id: &str) -> Result<Option<ImportState>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("import_id", s(import_id))
            .key("sk", s(META))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("load import", e))?;
        out.item.map(|item| items::import_state(&item)).transpose()
    }

    async fn create(&self, state: &ImportState) -> Result<bool, PortError> {
        let mut item = items::import_item(state)?;
        item.insert("import_id".into(), s(&state.import_id));
        item.insert("sk".into(), s(META));
        item.insert("kind".into(), s("import"));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(import_id)")
            .send()
            .await;
        written(result, "create import", |se| {
            se.is_conditional_check_failed_exception()
        })
    }

    async fn lease(&self, import_id: &str, owner: &str, until: u64) -> Result<Lease, PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("import_id", s(import_id))
            .key("sk", s(META))
            .update_expression("SET lease_until = :until, lease_owner = :me")
            .condition_expression(
                "attribute_exists(import_id) AND (attribute_not_exists(lease_until) \
                 OR lease_until < :now OR lease_owner = :me)",
            )
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":now", n(epoch_now()))
            .expression_attribute_values(":me", s(owner))
            // On refusal, the same request says until when it is held.
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Lease::Taken),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(c)) => Ok(Lease::Held {
                    until: c.item().map_or(0, |i| items::get_n(i, "lease_until")),
                }),
                _ => Err(sdk_error("lease import", e)),
            },
        }
    }

    async fn unlease(&self, import_id: &str, owner: &str) -> Result<(), PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("import_id", s(import_id))
            .key("sk", s(META))
            .update_expression("REMOVE lease_until, lease_owner")
            // Only its owner gives a lease up: one taken over is the new owner's.
            .condition_expression("lease_owner = :me")
            .expression_attribute_values(":me", s(owner))
            .send()
            .await;
        written(result, "release import", |se| {
            se.is_conditional_check_failed_exception()
        })
        .map(|_| ())
    }

    async fn save(&self, state: &ImportState) -> Result<(), PortError> {
        let item = items::import_item(state)?;
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let mut sets = Vec::new();
        for (i, (k, v)) in item.into_iter().enumerate() {
            names.insert(format!("#a{i}"), k);
            values.insert(format!(":v{i}"), v);
            sets.push(format!("#a{i} = :v{i}"));
        }
        let mut expr = format!("SET {}", sets.join(", "));
        if state.status.is_final() {
            expr.push_str(" REMOVE lease_until, lease_owner");
        }
        self.client
            .update_item()
            .table_name(&self.table)
            .key("import_id", s(&state.import_id))
            .key("sk", s(META))
            .update_expression(expr)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await
            .map_err(|e| sdk_error("save import", e))?;
        Ok(())
    }
}
