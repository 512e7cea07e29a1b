//! The ADE adapters: accounts in their own table (settings, token facts and
//! sync state as JSON attributes; the lease as two plain ones), each account's
//! secrets in one Secrets Manager secret, the sync's device writes, and the
//! sync queue.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, Select, TransactWriteItem, Update};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::items::{get_s, n, s, Item, ADE_RUN};
use super::sdk::{sdk_error, written};
use super::transact::{write_each, MAX_ITEMS};
use crate::ade::account::{AccountSettings, AdeAccount, FullRequest, SyncState, TokenInfo};
use crate::ade::ports::{
    AdeAccounts, AdeDevices, AdeSecrets, ListedDevice, Removal, StoreError, SyncJob, SyncJobs,
};
use crate::ade::token::ServerToken;
use crate::clock::rfc3339;
use crate::domain::Ownership;
use crate::port_error::PortError;
use crate::records::{ade_origin, DeviceStatus};

/// The accounts' table.
#[derive(Clone)]
pub struct DynamoAdeAccounts {
    pub client: aws_sdk_dynamodb::Client,
    pub table: String,
}

fn json<T: Serialize>(what: &'static str, v: &T) -> Result<AttributeValue, PortError> {
    serde_json::to_string(v)
        .map(AttributeValue::S)
        .map_err(|e| PortError::new(what, e))
}

fn from_json<T: for<'de> Deserialize<'de>>(
    item: &Item,
    key: &str,
    what: &'static str,
) -> Result<Option<T>, PortError> {
    get_s(item, key)
        .map(|v| serde_json::from_str(v).map_err(|e| PortError::new(what, e)))
        .transpose()
}

fn account_item(a: &AdeAccount) -> Result<Item, PortError> {
    const WHAT: &str = "store ade account";
    let mut item = Item::from([
        ("id".to_owned(), s(&a.id)),
        ("settings".to_owned(), json(WHAT, &a.settings)?),
        ("certificate_pem".to_owned(), s(&a.certificate_pem)),
        ("created_at".to_owned(), s(&a.created_at)),
        ("created_by".to_owned(), s(&a.created_by)),
        ("sync".to_owned(), json(WHAT, &a.sync)?),
    ]);
    if let Some(t) = &a.token {
        item.insert("token".to_owned(), json(WHAT, t)?);
    }
    if let Some(f) = &a.full_requested {
        item.insert("full_requested".to_owned(), json(WHAT, f)?);
    }
    Ok(item)
}

fn account_of(item: &Item) -> Result<AdeAccount, PortError> {
    const WHAT: &str = "read ade account";
    let text = |k: &str| get_s(item, k).unwrap_or_default().to_owned();
    Ok(AdeAccount {
        id: text("id"),
        settings: from_json(item, "settings", WHAT)?
            .ok_or_else(|| PortError::new(WHAT, "an account without settings"))?,
        certificate_pem: text("certificate_pem"),
        created_at: text("created_at"),
        created_by: text("created_by"),
        token: from_json(item, "token", WHAT)?,
        full_requested: from_json(item, "full_requested", WHAT)?,
        sync: from_json(item, "sync", WHAT)?.unwrap_or_default(),
    })
}

fn is_ccf(e: &UpdateItemError) -> bool {
    e.is_conditional_check_failed_exception()
}

impl DynamoAdeAccounts {
    /// `SET` of the given attributes on an existing account; false when there is none.
    async fn set(
        &self,
        id: &str,
        what: &'static str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<bool, PortError> {
        // Names as placeholders: `token` is one of DynamoDB's reserved words.
        let expr: Vec<String> = values.iter().map(|(k, _)| format!("#{k} = :{k}")).collect();
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id))
            .update_expression(format!("SET {}", expr.join(", ")))
            .condition_expression("attribute_exists(id)");
        for (k, v) in values {
            req = req
                .expression_attribute_names(format!("#{k}"), k)
                .expression_attribute_values(format!(":{k}"), v);
        }
        written(req.send().await, what, is_ccf)
    }
}

impl AdeAccounts for DynamoAdeAccounts {
    async fn get(&self, id: &str) -> Result<Option<AdeAccount>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("id", s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("read ade account", e))?;
        out.item.as_ref().map(account_of).transpose()
    }

    async fn list(&self) -> Result<Vec<AdeAccount>, PortError> {
        let items: Vec<Item> = self
            .client
            .scan()
            .table_name(&self.table)
            .consistent_read(true)
            .select(Select::AllAttributes)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| sdk_error("list ade accounts", e))?;
        let mut accounts = items
            .iter()
            .map(account_of)
            .collect::<Result<Vec<_>, _>>()?;
        accounts.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(accounts)
    }

    async fn create(&self, account: &AdeAccount) -> Result<(), PortError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(account_item(account)?))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await
            .map_err(|e| sdk_error("create ade account", e))?;
        Ok(())
    }

    async fn put_settings(
        &self,
        id: &str,
        settings: &AccountSettings,
        full: Option<FullRequest>,
    ) -> Result<bool, PortError> {
        const WHAT: &str = "update ade account settings";
        let mut values = vec![("settings", json(WHAT, settings)?)];
        if let Some(f) = full {
            values.push(("full_requested", json(WHAT, &f)?));
        }
        self.set(id, WHAT, values).await
    }

    async fn put_token(
        &self,
        id: &str,
        token: &TokenInfo,
        new_server: bool,
    ) -> Result<bool, PortError> {
        const WHAT: &str = "store ade token facts";
        let mut values = vec![("token", json(WHAT, token)?)];
        if new_server {
            values.push(("sync", json(WHAT, &SyncState::default())?));
        }
        self.set(id, WHAT, values).await
    }

    async fn request_full(&self, id: &str, request: FullRequest) -> Result<bool, PortError> {
        const WHAT: &str = "request a full ade fetch";
        self.set(id, WHAT, vec![("full_requested", json(WHAT, &request)?)])
            .await
    }

    async fn delete(&self, id: &str) -> Result<(), PortError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("id", s(id))
            .send()
            .await
            .map_err(|e| sdk_error("delete ade account", e))?;
        Ok(())
    }

    async fn lease(&self, id: &str, owner: &str, now: u64, until: u64) -> Result<bool, PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id))
            .update_expression("SET lease_owner = :owner, lease_until = :until")
            .condition_expression(
                "attribute_exists(id) AND (attribute_not_exists(lease_until) \
                 OR lease_until <= :now OR lease_owner = :owner)",
            )
            .expression_attribute_values(":owner", s(owner))
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":now", n(now))
            .send()
            .await;
        written(result, "lease ade account", is_ccf)
    }

    async fn release(&self, id: &str, owner: &str) -> Result<(), PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id))
            .update_expression("REMOVE lease_owner, lease_until")
            .condition_expression("lease_owner = :owner")
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        written(result, "release ade account", is_ccf).map(drop)
    }

    async fn save_sync(&self, id: &str, owner: &str, sync: &SyncState) -> Result<(), StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("id", s(id))
            .update_expression("SET sync = :sync")
            .condition_expression("lease_owner = :owner")
            .expression_attribute_values(":sync", json("save ade sync", sync)?)
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
        match written(result, "save ade sync", is_ccf)? {
            true => Ok(()),
            false => Err(StoreError::LeaseLost),
        }
    }
}

/// Each account's secret: `<prefix><id>`, a JSON object with the MDM server's
/// private key and, once uploaded, the server token's credentials.
#[derive(Clone)]
pub struct SecretsAdeSecrets {
    pub client: aws_sdk_secretsmanager::Client,
    /// e.g. `preapprove/ade/`: the template scopes the functions' rights to it.
    pub prefix: String,
}

#[derive(Serialize, Deserialize)]
struct AccountSecret {
    private_key_pem: String,
    #[serde(default)]
    token: Option<ServerToken>,
}

impl SecretsAdeSecrets {
    fn name(&self, id: &str) -> String {
        format!("{}{id}", self.prefix)
    }

    async fn read(&self, id: &str) -> Result<Option<AccountSecret>, PortError> {
        const WHAT: &str = "read ade account secret";
        let out = self
            .client
            .get_secret_value()
            .secret_id(self.name(id))
            .send()
            .await;
        let out = match out {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception()) =>
            {
                return Ok(None)
            }
            Err(e) => {
                let e = aws_sdk_secretsmanager::error::DisplayErrorContext(e);
                return Err(PortError::new(WHAT, e));
            }
        };
        let text = out
            .secret_string
            .ok_or_else(|| PortError::new(WHAT, "the secret has no string value"))?;
        // Never the serde error's text: it could quote the secret.
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|_| PortError::new(WHAT, "the secret is not an ADE account's"))
    }
}

fn secret_text(secret: &AccountSecret) -> Result<String, PortError> {
    serde_json::to_string(secret).map_err(|_| PortError::new("write ade secret", "unserialisable"))
}

impl AdeSecrets for SecretsAdeSecrets {
    async fn create(&self, id: &str, private_key_pem: &str) -> Result<(), PortError> {
        let secret = AccountSecret {
            private_key_pem: private_key_pem.to_owned(),
            token: None,
        };
        self.client
            .create_secret()
            .name(self.name(id))
            .description("An ADE account's MDM server key and server token (preapprove)")
            .secret_string(secret_text(&secret)?)
            .send()
            .await
            .map_err(|e| {
                let e = aws_sdk_secretsmanager::error::DisplayErrorContext(e);
                PortError::new("create ade account secret", e)
            })?;
        Ok(())
    }

    async fn private_key(&self, id: &str) -> Result<Option<String>, PortError> {
        Ok(self.read(id).await?.map(|s| s.private_key_pem))
    }

    async fn put_token(&self, id: &str, token: &ServerToken) -> Result<(), PortError> {
        let mut secret = self
            .read(id)
            .await?
            .ok_or_else(|| PortError::new("store ade token", "the account has no secret"))?;
        secret.token = Some(token.clone());
        self.client
            .put_secret_value()
            .secret_id(self.name(id))
            .secret_string(secret_text(&secret)?)
            .send()
            .await
            .map_err(|e| {
                let e = aws_sdk_secretsmanager::error::DisplayErrorContext(e);
                PortError::new("store ade token", e)
            })?;
        Ok(())
    }

    async fn token(&self, id: &str) -> Result<Option<ServerToken>, PortError> {
        Ok(self.read(id).await?.and_then(|s| s.token))
    }

    async fn delete(&self, id: &str) -> Result<(), PortError> {
        let result = self
            .client
            .delete_secret()
            .secret_id(self.name(id))
            // The key is of no use without its account: nothing to recover it for.
            .force_delete_without_recovery(true)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|se| se.is_resource_not_found_exception()) =>
            {
                Ok(())
            }
            Err(e) => {
                let e = aws_sdk_secretsmanager::error::DisplayErrorContext(e);
                Err(PortError::new("delete ade account secret", e))
            }
        }
    }
}

/// The devices table, as the ADE sync writes it.
#[derive(Clone)]
pub struct DynamoAdeDevices {
    pub client: aws_sdk_dynamodb::Client,
    pub devices_table: String,
}

/// The sparse index of the devices an account lists (keys and `ade_run`).
pub const BY_ADE_ACCOUNT: &str = "by-ade-account";
/// Removals in flight at once.
const REMOVALS_IN_FLIGHT: usize = 16;
/// Keys read from the account's index at a time, when removing (a page of Apple's).
const LINKED_PAGE: i32 = 1000;
/// Transactions of a page in flight at once.
const UPSERTS_IN_FLIGHT: usize = 4;

impl DynamoAdeDevices {
    /// One listed device as an update that creates it pre-approved, or adds the
    /// account's link to what is there: every field an import or an enrollment
    /// owns is only set when absent, so no condition is needed and an enrolled
    /// device, a CSV user or a password never changes.
    fn upsert_item(
        &self,
        settings: &AccountSettings,
        d: &ListedDevice,
        run: Option<&str>,
        now: &str,
    ) -> Result<TransactWriteItem, PortError> {
        // No `email`: an ADE device has no user, and the by-email index refuses an empty key.
        let mut set = vec![
            "#status = if_not_exists(#status, :pre)",
            "platform = if_not_exists(platform, :platform)",
            "ownership = if_not_exists(ownership, :corporate)",
            "import_id = if_not_exists(import_id, :origin)",
            "groups = if_not_exists(groups, :groups)",
            "updated_at = :now",
            "ade_account = :account",
        ];
        let mut remove = Vec::new();
        let mut update = Update::builder()
            .table_name(&self.devices_table)
            .key("serial", s(&d.serial))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pre", s(DeviceStatus::PreApproved.as_str()))
            .expression_attribute_values(":platform", s(d.platform.as_str()))
            .expression_attribute_values(":corporate", s(Ownership::Corporate.as_str()))
            .expression_attribute_values(":origin", s(ade_origin(&d.link.account)))
            .expression_attribute_values(
                ":groups",
                AttributeValue::L(settings.groups.iter().map(s).collect()),
            )
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":account", s(&d.link.account));
        if let Some(domain) = &settings.domain {
            set.push("#domain = if_not_exists(#domain, :domain)");
            update = update
                .expression_attribute_names("#domain", "domain")
                .expression_attribute_values(":domain", s(domain));
        }
        if let Some(run) = run {
            set.push("ade_run = :run");
            update = update.expression_attribute_values(":run", s(run));
        }
        let fields = [
            ("ade_model", &d.link.model),
            ("ade_description", &d.link.description),
            ("ade_color", &d.link.color),
            ("ade_asset_tag", &d.link.asset_tag),
            ("ade_assigned_date", &d.link.device_assigned_date),
        ];
        let mut owned = Vec::new();
        for (name, value) in fields {
            match value {
                Some(v) => {
                    owned.push(format!("{name} = :{name}"));
                    update = update.expression_attribute_values(format!(":{name}"), s(v));
                }
                None => remove.push(name),
            }
        }
        let mut expr = format!(
            "SET {}",
            set.iter()
                .map(|s| s.to_string())
                .chain(owned)
                .collect::<Vec<_>>()
                .join(", ")
        );
        if !remove.is_empty() {
            expr.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let update = update
            .update_expression(expr)
            .build()
            .map_err(|e| PortError::new("ade upsert", e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// Deletes the account's own never-enrolled pre-approval, or else unlinks
    /// the device from the account (enrolled, or a CSV pre-approval too).
    async fn remove_one(&self, account_id: &str, serial: &str) -> Result<Removal, PortError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.devices_table)
            .key("serial", s(serial))
            .condition_expression(
                "ade_account = :account AND import_id = :origin AND #status <> :enrolled",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":account", s(account_id))
            .expression_attribute_values(":origin", s(ade_origin(account_id)))
            .expression_attribute_values(":enrolled", s(DeviceStatus::Enrolled.as_str()))
            .send()
            .await;
        let deleted = written(deleted, "remove ade device", |e| {
            e.is_conditional_check_failed_exception()
        })?;
        if deleted {
            return Ok(Removal {
                removed: 1,
                kept: 0,
            });
        }
        let unlinked = self
            .client
            .update_item()
            .table_name(&self.devices_table)
            .key("serial", s(serial))
            .update_expression(
                "REMOVE ade_account, ade_run, ade_model, ade_description, ade_color, \
                 ade_asset_tag, ade_assigned_date",
            )
            .condition_expression("ade_account = :account")
            .expression_attribute_values(":account", s(account_id))
            .send()
            .await;
        let unlinked = written(unlinked, "unlink ade device", is_ccf)?;
        Ok(Removal {
            removed: 0,
            kept: u64::from(unlinked),
        })
    }

    /// Removes the account's linked devices that `pick` chooses by the full
    /// fetch that last saw each (`ade_run`), reading the account's index a page
    /// at a time: memory holds one page of keys whatever the account's size.
    /// Removing behind the page being read moves no later key.
    async fn remove_linked(
        &self,
        account_id: &str,
        pick: impl Fn(Option<&str>) -> bool,
    ) -> Result<Removal, PortError> {
        let mut total = Removal::default();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.devices_table)
                .index_name(BY_ADE_ACCOUNT)
                .key_condition_expression("ade_account = :account")
                .expression_attribute_values(":account", s(account_id))
                .limit(LINKED_PAGE)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| sdk_error("list ade devices", e))?;
            let serials: Vec<String> = page
                .items()
                .iter()
                .filter(|i| pick(get_s(i, ADE_RUN)))
                .filter_map(|i| get_s(i, "serial").map(str::to_owned))
                .collect();
            let removal = self.remove_many(account_id, serials.into_iter()).await?;
            total.removed += removal.removed;
            total.kept += removal.kept;
            start = page.last_evaluated_key.filter(|k| !k.is_empty());
            if start.is_none() {
                return Ok(total);
            }
        }
    }

    async fn remove_many(
        &self,
        account_id: &str,
        serials: impl Iterator<Item = String>,
    ) -> Result<Removal, PortError> {
        stream::iter(serials)
            .map(|serial| async move { self.remove_one(account_id, &serial).await })
            .buffer_unordered(REMOVALS_IN_FLIGHT)
            .try_fold(Removal::default(), |acc, r| async move {
                Ok(Removal {
                    removed: acc.removed + r.removed,
                    kept: acc.kept + r.kept,
                })
            })
            .await
    }
}

impl AdeDevices for DynamoAdeDevices {
    async fn upsert(
        &self,
        settings: &AccountSettings,
        devices: &[ListedDevice],
        run: Option<&str>,
        now: u64,
    ) -> Result<(), PortError> {
        let now = rfc3339(now);
        let chunks = devices
            .chunks(MAX_ITEMS)
            .map(|chunk| {
                chunk
                    .iter()
                    .map(|d| self.upsert_item(settings, d, run, &now))
                    .collect::<Result<Vec<_>, _>>()
            })
            .collect::<Result<Vec<_>, _>>()?;
        stream::iter(chunks)
            .map(|items| async move { write_each(&self.client, items, "pre-approve ade devices").await })
            .buffer_unordered(UPSERTS_IN_FLIGHT)
            .try_for_each(|_| async { Ok(()) })
            .await
    }

    async fn remove(&self, account_id: &str, serials: &[String]) -> Result<Removal, PortError> {
        self.remove_many(account_id, serials.iter().cloned()).await
    }

    async fn remove_unseen(&self, account_id: &str, run: &str) -> Result<Removal, PortError> {
        self.remove_linked(account_id, |seen| seen != Some(run))
            .await
    }

    async fn remove_all(&self, account_id: &str) -> Result<Removal, PortError> {
        self.remove_linked(account_id, |_| true).await
    }
}

/// The ADE sync function's queue.
#[derive(Clone)]
pub struct SqsSyncJobs {
    pub client: aws_sdk_sqs::Client,
    pub queue_url: String,
}

impl SyncJobs for SqsSyncJobs {
    async fn send(&self, job: &SyncJob) -> Result<(), PortError> {
        let body = serde_json::to_string(job).map_err(|e| PortError::new("queue ade sync", e))?;
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| {
                let e = aws_sdk_sqs::error::DisplayErrorContext(e);
                PortError::new("queue ade sync", e)
            })?;
        Ok(())
    }
}
