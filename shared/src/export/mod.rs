//! Exports of the device list: the admin asks for one (a filter), a function
//! streams the matching devices as CSV to S3, and the admin downloads it.
//! No AWS types here: the records, the reader of devices and the queue are
//! ports ([`ExportStore`], [`DeviceSource`], [`ExportQueue`]).

pub mod file;
pub mod filter;
pub mod run;

use std::collections::HashMap;
use std::future::Future;

use serde::{Deserialize, Serialize};

pub use filter::{ExportFilter, FilterError};

use crate::port_error::PortError;
use crate::records::{DeviceRecord, DeviceStatus, UserRecord};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportStatus {
    Queued,
    Running,
    Ready,
    Failed,
}

impl ExportStatus {
    pub fn is_over(self) -> bool {
        matches!(self, Self::Ready | Self::Failed)
    }
}

/// One export, as stored and as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportState {
    pub export_id: String,
    pub filter: ExportFilter,
    pub status: ExportStatus,
    /// Devices written to the file so far.
    pub rows: u64,
    /// How many devices match, when the device totals know it (a status and
    /// platform filter only): the progress bar's end.
    pub total: Option<u64>,
    /// The file's key in the bucket.
    pub key: String,
    pub requested_by: String,
    pub requested_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
    /// Why it failed, and what to do.
    pub error: Option<String>,
}

impl ExportState {
    /// A new export of `filter`, waiting for the export function.
    pub fn queued(filter: ExportFilter, total: Option<u64>, by: &str, at: &str) -> Self {
        let export_id = uuid::Uuid::new_v4().to_string();
        let date = at.get(..10).unwrap_or("export");
        Self {
            key: format!("exports/devices-{date}-{export_id}.csv"),
            export_id,
            filter,
            status: ExportStatus::Queued,
            rows: 0,
            total,
            requested_by: by.to_owned(),
            requested_at: at.to_owned(),
            updated_at: at.to_owned(),
            finished_at: None,
            error: None,
        }
    }
}

/// Export records.
pub trait ExportStore: Send + Sync {
    /// None when there is no such export (or it expired).
    fn export(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<ExportState>, PortError>> + Send;

    /// Writes the record whole (a new export, progress, the end).
    fn save_export(&self, st: &ExportState) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Hands an export to the export function.
pub trait ExportQueue: Send + Sync {
    fn enqueue_export(&self, id: &str) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// One page of devices of one status, in serial order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DevicePage {
    pub devices: Vec<DeviceRecord>,
    /// Where the next page starts (the last serial read); None after the last page.
    pub after: Option<String>,
}

/// Reads the devices an export holds and their users.
pub trait DeviceSource: Send + Sync {
    /// Devices of `status` matching `filter`, after serial `after`. A page
    /// may hold fewer than `limit` (even none) and still not be the last.
    fn devices(
        &self,
        filter: &ExportFilter,
        status: DeviceStatus,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<DevicePage, PortError>> + Send;

    /// The users with these email keys (unknown ones are left out).
    fn users(
        &self,
        keys: &[String],
    ) -> impl Future<Output = Result<HashMap<String, UserRecord>, PortError>> + Send;
}
