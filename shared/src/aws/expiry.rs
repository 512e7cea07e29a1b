//! [`ExpiryStore`] on the devices table's sparse `by-expiry` index: only a
//! pre-approved device with an expiry carries its partition key
//! ([`EXPIRY_SHARD`]), so the sweep reads exactly the pre-approvals that lapsed.

use aws_sdk_dynamodb::Client;

use super::items::{get_n_opt, get_s, n, s, Item, EXPIRY_SHARD, EXPIRY_SHARDS};
use super::sdk::{sdk_error, written};
use crate::clock::rfc3339;
use crate::domain::Expiry;
use crate::expiry::{After, Due, ExpiryStore};
use crate::port_error::PortError;
use crate::records::DeviceStatus;

pub const BY_EXPIRY: &str = "by-expiry";

pub struct DynamoExpiry {
    pub client: Client,
    pub devices_table: String,
}

fn due_of(item: &Item) -> Option<Due> {
    Some(Due {
        serial: get_s(item, "serial")?.to_owned(),
        expires: Expiry::from_epoch(get_n_opt(item, "expires_at")?),
    })
}

impl ExpiryStore for DynamoExpiry {
    fn shards(&self) -> u32 {
        EXPIRY_SHARDS
    }

    async fn due(
        &self,
        shard: u32,
        now: u64,
        after: After,
        limit: usize,
    ) -> Result<(Vec<Due>, After), PortError> {
        let start = after.map(|a| {
            Item::from([
                ("serial".to_owned(), s(&a.serial)),
                ("expires_at".to_owned(), n(a.expires.epoch())),
                (EXPIRY_SHARD.to_owned(), s(shard.to_string())),
            ])
        });
        let out = self
            .client
            .query()
            .table_name(&self.devices_table)
            .index_name(BY_EXPIRY)
            .key_condition_expression("#shard = :shard AND expires_at <= :now")
            .expression_attribute_names("#shard", EXPIRY_SHARD)
            .expression_attribute_values(":shard", s(shard.to_string()))
            .expression_attribute_values(":now", n(now))
            .projection_expression("serial, expires_at")
            .set_exclusive_start_key(start)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| sdk_error("read due expiries", e))?;
        let due: Vec<Due> = out.items().iter().filter_map(due_of).collect();
        let next = out.last_evaluated_key().and_then(due_of);
        Ok((due, next))
    }

    async fn expire(&self, due: &Due, at: u64) -> Result<bool, PortError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.devices_table)
            .key("serial", s(&due.serial))
            .update_expression(format!(
                "SET #st = :expired, updated_at = :at REMOVE {EXPIRY_SHARD}"
            ))
            .condition_expression("#st = :pre AND expires_at = :exp")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":expired", s(DeviceStatus::Expired.as_str()))
            .expression_attribute_values(":pre", s(DeviceStatus::PreApproved.as_str()))
            .expression_attribute_values(":exp", n(due.expires.epoch()))
            .expression_attribute_values(":at", s(rfc3339(at)))
            .send()
            .await;
        written(result, "expire a pre-approval", |e| {
            e.is_conditional_check_failed_exception()
        })
    }
}
