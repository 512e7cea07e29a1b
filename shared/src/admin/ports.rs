//! What the admin's use cases need from storage, one trait per concern.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use super::devices::ListSearch;
use super::page::{Cursor, Page};
use crate::counts::Count;
use crate::files::{ObjectSource, ObjectVersion};
use crate::import::ports::{Existing, ImportState};
use crate::outbox::{InviteRef, InviteStatus};
use crate::port_error::PortError;
use crate::records::{DeviceRecord, DeviceStatus, UserRecord};
use crate::settings::SettingsStore;

/// A row of the admin's inbox: a serial's blocked attempts for one precise
/// reason in one hour, or (`grouped`) the attempts from one source address in
/// one hour that were only counted there (`crate::admission::grouping`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DenialView {
    pub id: String,
    /// Empty on a grouped row (many serials: see `sample`).
    pub serial_number: String,
    pub platform: String,
    pub enrollment_method: Option<String>,
    pub os_version: Option<String>,
    /// The precise reason (the caller was told less); a grouped row's last.
    pub reason: String,
    pub endpoint: String,
    /// The last attempt.
    pub at: String,
    /// The first attempt this record counts.
    pub first_at: Option<String>,
    /// Attempts of this serial for this reason in the record's hour; on a
    /// grouped row, the attempts from its address counted only there.
    pub attempts: u64,
    pub source_ip: Option<String>,
    /// Attempts from one address, counted together (not approvable).
    pub grouped: bool,
    /// The serials among `attempts` (1 for a serial's own row).
    pub serials: u64,
    /// A few of a grouped row's serials (each cut to 20 bytes); empty otherwise.
    pub sample: Vec<String>,
    /// A grouped row's serials that came back once the address's rows of
    /// their own were spent, the first few (each cut to 20 bytes): likely
    /// real devices. Empty otherwise.
    pub returned: Vec<String>,
    pub expires_at: u64,
    pub approved_by: Option<String>,
    pub approved_at: Option<String>,
}

/// The reads behind the admin page. Lists are pages of at most `limit`.
pub trait AdminReads: Send + Sync {
    fn devices(
        &self,
        status: DeviceStatus,
        search: &ListSearch,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> impl Future<Output = Result<Page<DeviceRecord>, PortError>> + Send;

    fn device(
        &self,
        serial: &str,
    ) -> impl Future<Output = Result<Option<DeviceRecord>, PortError>> + Send;

    /// Devices an ADE account lists (every account's when `account` is
    /// None), whatever their status, at most `limit`.
    fn ade_devices(
        &self,
        account: Option<&str>,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> impl Future<Output = Result<Page<DeviceRecord>, PortError>> + Send;

    /// Every device of one owner (email key), whatever its status, by serial.
    fn owner_devices(
        &self,
        email_key: &str,
    ) -> impl Future<Output = Result<Vec<DeviceRecord>, PortError>> + Send;

    /// The device's user and its latest invite's record, read together (one
    /// round trip, so that a device's page stays within three).
    fn user_and_invite(
        &self,
        email_key: Option<&str>,
        invite: Option<&InviteRef>,
    ) -> impl Future<Output = Result<(Option<UserRecord>, Option<InviteStatus>), PortError>> + Send;

    /// Which of these devices and users are stored already (the guided upload's preview).
    fn existing(
        &self,
        serials: &[String],
        user_keys: &[String],
    ) -> impl Future<Output = Result<Existing, PortError>> + Send;

    /// Blocked attempts, newest first.
    fn denials(
        &self,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> impl Future<Output = Result<Page<DenialView>, PortError>> + Send;

    fn denial(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<DenialView>, PortError>> + Send;

    /// Import history, newest first.
    fn imports(
        &self,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> impl Future<Output = Result<Page<ImportState>, PortError>> + Send;

    fn import(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<ImportState>, PortError>> + Send;

    /// Devices per status and platform, for the overview.
    fn counts(&self) -> impl Future<Output = Result<Vec<Count>, PortError>> + Send;
}

/// What an administrator did to a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceAction {
    /// The pre-approval is deleted (an enrolled device is reset instead).
    Remove,
    /// An enrolled device is pre-approved again, so that it can enroll again.
    Reset,
    /// The attempt limit's lock and count are cleared.
    Unlock,
    /// A pre-approved or expired device is given a new expiry (or none) and
    /// is pre-approved again.
    Renew,
}

/// One entry of a device's audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceAudit {
    pub at: String,
    pub by: String,
    pub action: DeviceAction,
    /// A renewal's new expiry (none: it no longer expires).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<crate::domain::Expiry>,
}

/// How an action found the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acted {
    Done,
    /// No device has this serial.
    Missing,
    /// The device's status does not allow the action (it was written nothing).
    WrongStatus(DeviceStatus),
}

/// An administrator's changes to one device, each written with its audit entry.
pub trait DeviceActions: Send + Sync {
    fn act(
        &self,
        serial: &str,
        action: DeviceAction,
        audit: &DeviceAudit,
    ) -> impl Future<Output = Result<Acted, PortError>> + Send;

    /// The device's audit trail, newest first.
    fn audit(
        &self,
        serial: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<DeviceAudit>, PortError>> + Send;
}

/// An approved attempt: the device and its user, and who approved it when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalWrite {
    pub denial_id: String,
    pub device: DeviceRecord,
    pub user: UserRecord,
    /// The invite to record with the approval, if one was asked for.
    pub invite: Option<crate::outbox::OutboxEntry>,
    pub by: String,
    pub at: String,
}

pub trait Approvals: Send + Sync {
    /// Writes the device, its user, its invite and the attempt's approval mark at once.
    /// Ok(false), writing nothing, when the attempt was approved already or
    /// a device with this serial exists (an approval never replaces one: its
    /// password and user would be lost).
    fn approve(
        &self,
        write: &ApprovalWrite,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;
}

/// The guided upload's side of the bucket: staged files and the final upload.
/// An object a commit published.
#[derive(Debug, Clone)]
pub struct Published {
    pub key: String,
    pub version: ObjectVersion,
    pub metadata: std::collections::HashMap<String, String>,
}

pub trait Staging: Send + Sync {
    /// The bucket published uploads land in (part of their import id).
    fn bucket(&self) -> &str;

    /// A presigned PUT of `key`, valid for [`LINK_TTL`](super::LINK_TTL).
    fn upload_link(
        &self,
        key: &str,
        content_type: &str,
    ) -> impl Future<Output = Result<String, PortError>> + Send;

    /// The staged object as it is now; None when it is not there.
    fn staged(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<Arc<dyn ObjectSource>>, PortError>> + Send;

    /// Stores `file` at `key` with this user metadata unless `key` exists
    /// (`If-None-Match: *`): which version S3 stored, None when it was there.
    fn publish(
        &self,
        key: &str,
        file: &Path,
        content_type: &str,
        metadata: &[(&str, String)],
    ) -> impl Future<Output = Result<Option<ObjectVersion>, PortError>> + Send;

    /// The first object under `prefix`, with its version and user metadata.
    fn published(
        &self,
        prefix: &str,
    ) -> impl Future<Output = Result<Option<Published>, PortError>> + Send;

    fn discard(&self, key: &str) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Reports and errors files, read back for the import's page.
pub trait ReportFiles: Send + Sync {
    /// None when there is no such file (yet).
    fn read(&self, key: &str) -> impl Future<Output = Result<Option<Vec<u8>>, PortError>> + Send;

    fn exists(&self, key: &str) -> impl Future<Output = Result<bool, PortError>> + Send;

    /// A presigned GET, valid for [`LINK_TTL`](super::LINK_TTL).
    fn download_link(&self, key: &str) -> impl Future<Output = Result<String, PortError>> + Send;
}

/// Every port of the admin function, built once.
pub trait AdminPorts: Send + Sync {
    type Settings: SettingsStore;
    type Reads: AdminReads;
    type Approvals: Approvals;
    type Staging: Staging;
    type Files: ReportFiles;
    type Outbox: crate::outbox::Outbox;
    type Queue: crate::outbox::InviteQueue;
    type Devices: DeviceActions;
    type Exports: crate::export::ExportStore + crate::export::ExportQueue;
    type Undo: crate::undo::UndoStore + crate::undo::UndoQueue;
    type Ade: super::ade::AdePorts;
    fn settings(&self) -> &Self::Settings;
    fn reads(&self) -> &Self::Reads;
    fn approvals(&self) -> &Self::Approvals;
    fn staging(&self) -> &Self::Staging;
    fn files(&self) -> &Self::Files;
    fn outbox(&self) -> &Self::Outbox;
    fn queue(&self) -> &Self::Queue;
    fn devices(&self) -> &Self::Devices;
    fn exports(&self) -> &Self::Exports;
    fn undo(&self) -> &Self::Undo;
    fn ade(&self) -> &Self::Ade;
}
