//! Exports on AWS: records in the imports table (partition `EXPORT#<id>`,
//! expiring with the file), the export queue (SQS), and the reads of devices
//! (the `by-status` index) and users (BatchGetItem) the export function makes.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;

use super::batch::batch_get;
use super::items::{device_record, get_s, n, s, source_condition, user_record, Item};
use super::sdk::sdk_error;
use crate::clock::epoch_now;
use crate::export::{
    DevicePage, DeviceSource, ExportFilter, ExportQueue, ExportState, ExportStore,
};
use crate::port_error::PortError;
use crate::records::{DeviceStatus, UserRecord};

/// Days an export's record is kept; the bucket's lifecycle rule removes the
/// file after the same time (template.yaml, `exports/`).
pub const KEEP_DAYS: u64 = 7;

#[derive(Debug, Clone)]
pub struct DynamoExports {
    pub client: Client,
    /// The imports table.
    pub table: String,
}

fn key(id: &str) -> [(String, aws_sdk_dynamodb::types::AttributeValue); 2] {
    [
        ("import_id".to_owned(), s(format!("EXPORT#{id}"))),
        ("sk".to_owned(), s("META")),
    ]
}

impl ExportStore for DynamoExports {
    async fn export(&self, id: &str) -> Result<Option<ExportState>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(id).into_iter().collect()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error("read export", e))?;
        out.item
            .as_ref()
            .and_then(|i| get_s(i, "export"))
            .map(|json| serde_json::from_str(json).map_err(|e| PortError::new("decode export", e)))
            .transpose()
    }

    async fn save_export(&self, st: &ExportState) -> Result<(), PortError> {
        let json = serde_json::to_string(st).map_err(|e| PortError::new("encode export", e))?;
        let mut item: Item = key(&st.export_id).into_iter().collect();
        item.insert("export".to_owned(), s(json));
        item.insert("expires_at".to_owned(), n(epoch_now() + KEEP_DAYS * 86_400));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| sdk_error("write export", e))?;
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct SqsExportQueue {
    pub client: aws_sdk_sqs::Client,
    pub url: String,
}

impl ExportQueue for SqsExportQueue {
    async fn enqueue_export(&self, id: &str) -> Result<(), PortError> {
        let body = serde_json::json!({ "export_id": id }).to_string();
        super::sqs::send(&self.client, &self.url, body, "queue export").await
    }
}

/// What the admin function needs of exports: the records and the queue.
#[derive(Debug, Clone)]
pub struct AwsExports {
    pub records: DynamoExports,
    pub queue: SqsExportQueue,
}

impl ExportStore for AwsExports {
    async fn export(&self, id: &str) -> Result<Option<ExportState>, PortError> {
        self.records.export(id).await
    }

    async fn save_export(&self, st: &ExportState) -> Result<(), PortError> {
        self.records.save_export(st).await
    }
}

impl ExportQueue for AwsExports {
    async fn enqueue_export(&self, id: &str) -> Result<(), PortError> {
        self.queue.enqueue_export(id).await
    }
}

/// Devices through the `by-status` index (serial order within a status),
/// users by key.
#[derive(Debug, Clone)]
pub struct DynamoDeviceSource {
    pub client: Client,
    pub devices_table: String,
    pub users_table: String,
}

impl DeviceSource for DynamoDeviceSource {
    async fn devices(
        &self,
        filter: &ExportFilter,
        status: DeviceStatus,
        after: Option<&str>,
        limit: usize,
    ) -> Result<DevicePage, PortError> {
        let mut q = self
            .client
            .query()
            .table_name(&self.devices_table)
            .index_name("by-status")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":st", s(status.as_str()))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX));
        q = match &filter.serial_prefix {
            Some(p) => q
                .key_condition_expression("#st = :st AND begins_with(serial, :p)")
                .expression_attribute_values(":p", s(p)),
            None => q.key_condition_expression("#st = :st"),
        };
        let mut conditions = Vec::new();
        if let Some(p) = filter.platform {
            conditions.push("platform = :pl");
            q = q.expression_attribute_values(":pl", s(p.as_str()));
        }
        if let Some(i) = &filter.import_id {
            conditions.push("import_id = :imp");
            q = q.expression_attribute_values(":imp", s(i));
        }
        if let Some(source) = filter.source {
            let (condition, values) = source_condition(source);
            conditions.push(condition);
            for (k, v) in values {
                q = q.expression_attribute_values(k, v);
            }
        }
        if let Some(a) = &filter.account {
            conditions.push("ade_account = :acct");
            q = q.expression_attribute_values(":acct", s(a));
        }
        if !conditions.is_empty() {
            q = q.filter_expression(conditions.join(" AND "));
        }
        if let Some(a) = after {
            q = q
                .exclusive_start_key("serial", s(a))
                .exclusive_start_key("status", s(status.as_str()));
        }
        let out = q
            .send()
            .await
            .map_err(|e| sdk_error("read devices to export", e))?;
        Ok(DevicePage {
            devices: out.items().iter().filter_map(device_record).collect(),
            after: out
                .last_evaluated_key()
                .and_then(|k| get_s(k, "serial"))
                .map(str::to_owned),
        })
    }

    async fn users(&self, keys: &[String]) -> Result<HashMap<String, UserRecord>, PortError> {
        let keys: Vec<Item> = keys
            .iter()
            .map(|k| Item::from([("email".to_owned(), s(k))]))
            .collect();
        // A page of 1,000 devices is at most 10 requests: 4 at a time.
        let items = batch_get(
            &self.client,
            &self.users_table,
            keys,
            4,
            "read users to export",
        );
        Ok(items
            .await?
            .iter()
            .filter_map(user_record)
            .map(|u| (u.email.clone(), u))
            .collect())
    }
}
