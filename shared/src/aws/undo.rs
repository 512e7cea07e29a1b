//! [`UndoStore`] in DynamoDB. An import's before-images live in the imports
//! table in [`SHARDS`] partitions of their own (`import_id=<id>#UNDO#<n>`,
//! `n` from the key, so a million-row import's writes spread instead of
//! heating one partition), `sk=UNDO#D#<serial>` or `UNDO#U#<email>`, the
//! previous item as a map in `before` (none when the import created it);
//! the undo's record is `import_id=<id>, sk=UNDO`. Every change an undo
//! makes is conditional on the item still being the import's own and not
//! enrolled; a call's changes go in one transaction (a hundred conditional
//! writes in one request), and those refused are told apart by the
//! cancellation's reasons.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;

use super::batch::batch_get;
use super::items::{
    device_item, device_record, get_s, s, stable_hash, user_item, user_record, Item,
};
use super::queries::serials_of_owner;
use super::transact::write_each;
use super::{
    sdk::{sdk_error, written},
    tables::Tables,
};
use crate::port_error::PortError;
use crate::records::{user_key, UndoItem, DEVICE_PREFIX, USER_PREFIX};
use crate::records::{DeviceRecord, DeviceStatus, UserRecord};
use crate::undo::{Applied, Change, Phase, UndoState, UndoStore};

const STATE_SK: &str = "UNDO";
/// Partitions of one import's before-images.
pub const SHARDS: u32 = 16;

/// The partition of the before-image with this key.
fn partition(import_id: &str, key: &str) -> String {
    shard_partition(import_id, (stable_hash(key) % u64::from(SHARDS)) as u32)
}

fn shard_partition(import_id: &str, shard: u32) -> String {
    format!("{import_id}#UNDO#{shard}")
}

/// The before-image item of one thing an import wrote.
pub fn before_item(import_id: &str, item: &UndoItem) -> Item {
    let key = item.key();
    let mut out = Item::from([
        ("import_id".to_owned(), s(partition(import_id, &key))),
        ("sk".to_owned(), s(key)),
    ]);
    match item {
        UndoItem::Device { owner, before, .. } => {
            out.insert("owner".to_owned(), s(owner));
            if let Some(b) = before {
                out.insert("before".to_owned(), AttributeValue::M(device_item(b)));
            }
        }
        UndoItem::User { before, kept, .. } => {
            if let Some(b) = before {
                out.insert("before".to_owned(), AttributeValue::M(user_item(b)));
            }
            if *kept {
                out.insert("kept".to_owned(), AttributeValue::Bool(true));
            }
        }
    }
    out
}

fn undo_item(item: &Item) -> Option<UndoItem> {
    let sk = get_s(item, "sk")?;
    let before = match item.get("before") {
        Some(AttributeValue::M(m)) => Some(m),
        _ => None,
    };
    if let Some(serial) = sk.strip_prefix(DEVICE_PREFIX) {
        return Some(UndoItem::Device {
            serial: serial.to_owned(),
            owner: get_s(item, "owner").unwrap_or_default().to_owned(),
            before: before.and_then(device_record).map(Box::new),
        });
    }
    let email = sk.strip_prefix(USER_PREFIX)?;
    Some(UndoItem::User {
        email: email.to_owned(),
        before: before.and_then(user_record).map(Box::new),
        kept: matches!(item.get("kept"), Some(AttributeValue::Bool(true))),
    })
}

pub struct DynamoUndo {
    pub client: Client,
    pub tables: Tables,
    /// The undo function's queue (only the admin function sends to it).
    pub queue: Option<(aws_sdk_sqs::Client, String)>,
}

impl crate::undo::UndoQueue for DynamoUndo {
    async fn request(&self, import_id: &str) -> Result<(), PortError> {
        let Some((client, url)) = &self.queue else {
            return Err(PortError::new(
                "request an undo",
                "no UNDO_QUEUE_URL configured",
            ));
        };
        let body = serde_json::json!({ "import_id": import_id }).to_string();
        super::sqs::send(client, url, body, "request an undo").await
    }
}

/// A refused condition ([`written`] false) is the item having changed.
fn applied(written: bool) -> Applied {
    if written {
        Applied::Done
    } else {
        Applied::Changed
    }
}

impl DynamoUndo {
    /// One change as a conditional write: still the import's own, and a device not enrolled.
    fn write(&self, change: &Change<'_>, import_id: &str) -> Result<TransactWriteItem, PortError> {
        let mut values = HashMap::from([(":id".to_owned(), s(import_id))]);
        let (table, condition, names) = match change {
            Change::RemoveDevice(_) | Change::RestoreDevice(_) => {
                values.insert(":enrolled".to_owned(), s(DeviceStatus::Enrolled.as_str()));
                (
                    &self.tables.devices,
                    "import_id = :id AND #st <> :enrolled",
                    Some(HashMap::from([("#st".to_owned(), "status".to_owned())])),
                )
            }
            Change::RemoveUser(_) | Change::RestoreUser(_) => {
                (&self.tables.users, "import_id = :id", None)
            }
        };
        let delete = |key: &str, value: &str| {
            Delete::builder()
                .table_name(table)
                .key(key, s(value))
                .condition_expression(condition)
                .set_expression_attribute_names(names.clone())
                .set_expression_attribute_values(Some(values.clone()))
                .build()
                .map(|d| TransactWriteItem::builder().delete(d).build())
        };
        let put = |item: Item| {
            Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .condition_expression(condition)
                .set_expression_attribute_names(names.clone())
                .set_expression_attribute_values(Some(values.clone()))
                .build()
                .map(|p| TransactWriteItem::builder().put(p).build())
        };
        match change {
            Change::RemoveDevice(serial) => delete("serial", serial),
            Change::RemoveUser(email) => delete("email", email),
            Change::RestoreDevice(before) => put(device_item(before)),
            Change::RestoreUser(before) => put(user_item(before)),
        }
        .map_err(|e| PortError::new("undo changes", e))
    }
}

impl UndoStore for DynamoUndo {
    async fn load(&self, import_id: &str) -> Result<Option<UndoState>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.imports)
            .key("import_id", s(import_id))
            .key("sk", s(STATE_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("read undo", e))?;
        out.item
            .as_ref()
            .and_then(|i| get_s(i, "undo"))
            .map(|json| serde_json::from_str(json).map_err(|e| PortError::new("decode undo", e)))
            .transpose()
    }

    async fn save(&self, state: &UndoState) -> Result<(), PortError> {
        let json = serde_json::to_string(state).map_err(|e| PortError::new("save undo", e))?;
        self.client
            .put_item()
            .table_name(&self.tables.imports)
            .item("import_id", s(&state.import_id))
            .item("sk", s(STATE_SK))
            .item("undo", s(json))
            .send()
            .await
            .map_err(|e| sdk_error("save undo", e))?;
        Ok(())
    }

    async fn items(
        &self,
        import_id: &str,
        phase: Phase,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<UndoItem>, Option<String>), PortError> {
        let prefix = phase.prefix();
        // The cursor is `<shard>|<last key>`; a shard read to its end goes on at the next.
        let (shard, last) = match after.and_then(|a| a.split_once('|')) {
            Some((n, sk)) => (
                n.parse::<u32>().unwrap_or(SHARDS),
                Some(sk).filter(|k| !k.is_empty()),
            ),
            None => (0, None),
        };
        if shard >= SHARDS {
            return Ok((Vec::new(), None));
        }
        let pk = shard_partition(import_id, shard);
        let start =
            last.map(|sk| Item::from([("import_id".to_owned(), s(&pk)), ("sk".to_owned(), s(sk))]));
        let out = self
            .client
            .query()
            .table_name(&self.tables.imports)
            .key_condition_expression("import_id = :id AND begins_with(sk, :prefix)")
            .expression_attribute_values(":id", s(&pk))
            .expression_attribute_values(":prefix", s(prefix))
            .set_exclusive_start_key(start)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("read before-images", e))?;
        let items = out.items().iter().filter_map(undo_item).collect();
        let next = match out.last_evaluated_key().and_then(|k| get_s(k, "sk")) {
            Some(sk) => Some(format!("{shard}|{sk}")),
            None if shard + 1 < SHARDS => Some(format!("{}|", shard + 1)),
            None => None,
        };
        Ok((items, next))
    }

    async fn current(
        &self,
        serials: &[String],
        emails: &[String],
    ) -> Result<(Vec<DeviceRecord>, Vec<UserRecord>), PortError> {
        let key = |k: &str, v: &String| Item::from([(k.to_owned(), s(v))]);
        let (devices, users) = futures::future::try_join(
            batch_get(
                &self.client,
                &self.tables.devices,
                serials.iter().map(|v| key("serial", v)).collect(),
                4,
                "read devices",
            ),
            batch_get(
                &self.client,
                &self.tables.users,
                emails.iter().map(|v| key("email", v)).collect(),
                4,
                "read users",
            ),
        )
        .await?;
        Ok((
            devices.iter().filter_map(device_record).collect(),
            users.iter().filter_map(user_record).collect(),
        ))
    }

    async fn apply(
        &self,
        import_id: &str,
        changes: &[Change<'_>],
    ) -> Result<Vec<Applied>, PortError> {
        let items = changes
            .iter()
            .map(|c| self.write(c, import_id))
            .collect::<Result<Vec<_>, _>>()?;
        let written = write_each(&self.client, items, "undo changes").await?;
        Ok(written.into_iter().map(applied).collect())
    }

    /// GSI `by-email` (keys only), every page: one Query for most users.
    async fn devices_of(&self, email: &str) -> Result<Vec<String>, PortError> {
        let table = &self.tables.devices;
        serials_of_owner(&self.client, table, email, None, "find a user's devices").await
    }

    async fn device_images(
        &self,
        import_id: &str,
        serials: &[String],
    ) -> Result<Vec<UndoItem>, PortError> {
        let keys = serials
            .iter()
            .map(|serial| {
                let key = format!("{DEVICE_PREFIX}{serial}");
                Item::from([
                    ("import_id".to_owned(), s(partition(import_id, &key))),
                    ("sk".to_owned(), s(key)),
                ])
            })
            .collect();
        let found = batch_get(
            &self.client,
            &self.tables.imports,
            keys,
            4,
            "read before-images",
        )
        .await?;
        Ok(found.iter().filter_map(undo_item).collect())
    }

    async fn keep_user(&self, import_id: &str, email: &str) -> Result<(), PortError> {
        let key = user_key(email);
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.imports)
            .key("import_id", s(partition(import_id, &key)))
            .key("sk", s(&key))
            .update_expression("SET kept = :yes")
            .condition_expression("attribute_exists(sk)")
            .expression_attribute_values(":yes", AttributeValue::Bool(true))
            .send()
            .await;
        // No before-image: the import did not write this user (an existing one it skipped).
        written(result, "keep a user", |e| {
            e.is_conditional_check_failed_exception()
        })
        .map(|_| ())
    }
}
