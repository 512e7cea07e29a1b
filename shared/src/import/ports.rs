//! What the import needs from the outside world besides files
//! (`crate::files`) and the outbox: the devices and users tables, the import's
//! own record with its lease, and the queue that continues a paused import.
//! The AWS adapters are in `aws::dynamo` and `aws::sqs`; tests use `fakes`.

use std::collections::HashMap;
use std::future::Future;

use serde::{Deserialize, Serialize};

use super::{Counts, ImportStatus, Skipped};
use crate::domain::ImportOptions;
use crate::events::EventPublisher;
use crate::files::ReportSink;
use crate::outbox::{InviteQueue, Outbox};
use crate::port_error::PortError;
use crate::records::{DeviceRecord, ExistingDevice, ExistingUser, UndoItem, UserRecord};

/// Hands a paused import's event back to its queue, so that a fresh
/// invocation continues at the checkpoint.
pub trait Continuations: Send + Sync {
    fn requeue(&self, event: &str) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// What is stored already for some serials and user keys.
pub type Existing = (
    HashMap<String, ExistingDevice>,
    HashMap<String, ExistingUser>,
);

/// A device an import writes, with its before-image when the import keeps
/// one (none when it wrote this device already: the first image stands).
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceWrite {
    pub record: DeviceRecord,
    /// An [`UndoItem::Device`].
    pub before: Option<UndoItem>,
}

/// The devices and users tables.
pub trait Directory: Send + Sync {
    fn existing(
        &self,
        serials: &[String],
        user_keys: &[String],
    ) -> impl Future<Output = Result<Existing, PortError>> + Send;

    /// Writes each device, and its before-image with it, unless the device
    /// is enrolled by now: the look-up the import planned from may be older
    /// than an enrollment, and an enrolled device is never made pre-approved
    /// again. For each device, in order, whether it was written; a device
    /// not written has no before-image of this write either.
    fn write_devices(
        &self,
        import_id: &str,
        devices: &[DeviceWrite],
    ) -> impl Future<Output = Result<Vec<bool>, PortError>> + Send;

    fn write_users(
        &self,
        users: Vec<UserRecord>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Stores the before-images of users an import is about to write (an
    /// undo's material); called, and done, before [`Directory::write_users`].
    fn keep_before(
        &self,
        import_id: &str,
        items: Vec<UndoItem>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Everything needed to resume an import where it stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportState {
    pub import_id: String,
    pub bucket: String,
    pub key: String,
    pub version: Option<String>,
    pub status: ImportStatus,
    pub options: ImportOptions,
    pub counts: Counts,
    /// Every data row up to and including this spreadsheet row is done.
    pub rows_done: u64,
    pub rows_validated: u64,
    pub skipped: Vec<Skipped>,
    pub skipped_total: u64,
    pub created_at: String,
}

/// The import's record: status, options, counts, checkpoint, and the lease
/// that lets one invocation at a time work on it.
pub trait ImportRecords: Send + Sync {
    fn load(
        &self,
        import_id: &str,
    ) -> impl Future<Output = Result<Option<ImportState>, PortError>> + Send;
    /// Creates the record; false if it already exists.
    fn create(&self, state: &ImportState) -> impl Future<Output = Result<bool, PortError>> + Send;
    /// Takes the import for `owner` until `until` (epoch seconds) unless
    /// another owner holds an unexpired lease; an expired one is taken over.
    fn lease(
        &self,
        import_id: &str,
        owner: &str,
        until: u64,
    ) -> impl Future<Output = Result<Lease, PortError>> + Send;
    /// Gives the lease up, if `owner` still holds it (pause, or an error that ends this invocation).
    fn unlease(
        &self,
        import_id: &str,
        owner: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
    /// Saves status, counts and checkpoint (and drops the lease when the status is final).
    fn save(&self, state: &ImportState) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// What asking for an import's lease found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    Taken,
    /// Another invocation holds it until then (epoch seconds), unless it dies first.
    Held {
        until: u64,
    },
}

/// Everything an import run talks to.
pub trait ImportPorts: Send + Sync {
    type Directory: Directory;
    type Records: ImportRecords;
    type Outbox: Outbox;
    type Queue: InviteQueue;
    type Reports: ReportSink;
    type Events: EventPublisher;
    fn directory(&self) -> &Self::Directory;
    fn records(&self) -> &Self::Records;
    fn outbox(&self) -> &Self::Outbox;
    fn queue(&self) -> &Self::Queue;
    fn reports(&self) -> &Self::Reports;
    fn events(&self) -> &Self::Events;
}

/// The ports of one run, borrowed from whoever owns the adapters.
pub struct Ports<'a, D, M, O, Q, R, E> {
    pub directory: &'a D,
    pub records: &'a M,
    pub outbox: &'a O,
    pub queue: &'a Q,
    pub reports: &'a R,
    pub events: &'a E,
}

impl<D, M, O, Q, R, E> ImportPorts for Ports<'_, D, M, O, Q, R, E>
where
    D: Directory,
    M: ImportRecords,
    O: Outbox,
    Q: InviteQueue,
    R: ReportSink,
    E: EventPublisher,
{
    type Directory = D;
    type Records = M;
    type Outbox = O;
    type Queue = Q;
    type Reports = R;
    type Events = E;
    fn directory(&self) -> &D {
        self.directory
    }
    fn records(&self) -> &M {
        self.records
    }
    fn outbox(&self) -> &O {
        self.outbox
    }
    fn queue(&self) -> &Q {
        self.queue
    }
    fn reports(&self) -> &R {
        self.reports
    }
    fn events(&self) -> &E {
        self.events
    }
}
