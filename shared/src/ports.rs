//! The small interfaces the import (and the admin's approvals) need from the
//! outside world. The AWS adapters implement them for DynamoDB, S3, SES and
//! SNS; tests use the in-memory ones in `fakes.rs`.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::csvfile::BoxRead;
use crate::domain::{ImportOptions, InviteChannel};
use crate::import::{Counts, ImportStatus, Skipped};
use crate::records::{DeviceRecord, ExistingDevice, ExistingUser, UserRecord};

/// An infrastructure failure, with what was being done. Never carries row data.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {message}")]
pub struct PortError {
    pub what: &'static str,
    pub message: String,
}

impl PortError {
    pub fn new(what: &'static str, e: impl std::fmt::Display) -> Self {
        Self {
            what,
            message: e.to_string(),
        }
    }
}

/// Reads the uploaded object, from the start, as often as asked. Blocking:
/// called from the thread that parses.
pub trait ObjectSource: Send + Sync + 'static {
    fn open(&self) -> io::Result<BoxRead>;
}

/// Which version of an object S3 stored (HeadObject, PutObject).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectVersion {
    /// None in an unversioned bucket (S3 says `null` there).
    pub version_id: Option<String>,
    pub etag: Option<String>,
}

impl ObjectVersion {
    pub fn new(version_id: Option<String>, etag: Option<String>) -> Self {
        Self {
            version_id: version_id.filter(|v| v != "null"),
            etag,
        }
    }

    /// What identifies this upload for its import: the version id in a
    /// versioned bucket, else the ETag (a re-upload of other bytes differs).
    pub fn import_version(&self) -> Option<String> {
        self.version_id.clone().or_else(|| self.etag.clone())
    }
}

/// What HeadObject says about an upload.
#[derive(Debug, Clone, Default)]
pub struct ObjectInfo {
    /// User metadata, keys without `x-amz-meta-`.
    pub metadata: HashMap<String, String>,
    pub version: ObjectVersion,
}

/// The bucket uploads arrive in, as the import reads them.
pub trait Uploads: Send + Sync {
    fn head(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> impl Future<Output = Result<ObjectInfo, PortError>> + Send;

    /// That version of the object (or, without a version id, those bytes:
    /// the ETag must still match), to read as often as the import needs.
    fn object(&self, bucket: &str, key: &str, version: &ObjectVersion) -> Arc<dyn ObjectSource>;
}

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

/// The devices and users tables.
pub trait Directory: Send + Sync {
    fn existing(
        &self,
        serials: &[String],
        user_keys: &[String],
    ) -> impl Future<Output = Result<Existing, PortError>> + Send;

    fn write(
        &self,
        devices: Vec<DeviceRecord>,
        users: Vec<UserRecord>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Stores the before-images of what an import is about to write (an
    /// undo's material); called, and done, before [`Directory::write`].
    fn keep_before(
        &self,
        import_id: &str,
        items: Vec<crate::undo::UndoItem>,
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

/// One enrollment invite, for one row.
#[derive(Clone, PartialEq, Eq)]
pub struct Invite {
    pub row: u64,
    pub channel: InviteChannel,
    /// Email address or E.164 number.
    pub to: String,
    pub user_name: String,
    pub serial: String,
    pub device_name: Option<String>,
    pub platform: &'static str,
    /// Shown to the user in the invite; never logged.
    pub password: Option<String>,
}

impl std::fmt::Debug for Invite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Invite")
            .field("row", &self.row)
            .field("channel", &self.channel)
            .field("serial", &self.serial)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("throttled: {0}")]
    Throttled(String),
    /// The provider refused this message for good (bad address, opted out).
    #[error("rejected: {0}")]
    Rejected(String),
    #[error("{0}")]
    Other(String),
}

/// Who invites come from and where they send the user: the admin's settings
/// over the deployment's (see `Settings::invite_origin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteOrigin {
    /// The sender's email address.
    pub sender: String,
    pub enrollment_url: String,
}

/// Delivers invites by email (SES) or SMS (SNS).
pub trait InviteSender: Send + Sync {
    /// Returns the provider's message id. `attempt` names the invite and its
    /// attempt in the message's tags, for the delivery events.
    fn send(
        &self,
        invite: &Invite,
        origin: &InviteOrigin,
        attempt: &crate::outbox::InviteMessage,
    ) -> impl Future<Output = Result<String, SendError>> + Send;
}

/// Where reports go: beside the upload, in its bucket.
pub trait ReportSink: Send + Sync {
    fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    /// Writes an object of any size from parts produced as it goes (see
    /// [`PartWriter`]): every part but the last is [`PART_SIZE`] bytes. The
    /// object appears whole or not at all: a sender dropped before the part
    /// marked `last` abandons it.
    fn put_parts(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
        parts: tokio::sync::mpsc::Receiver<Part>,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// One piece of a streamed object.
#[derive(Debug)]
pub struct Part {
    pub bytes: Vec<u8>,
    pub last: bool,
}

/// Size of the parts [`PartWriter`] hands over: S3's smallest multipart part,
/// so a file of any length streams through a few of them in memory.
pub const PART_SIZE: usize = 5 * 1024 * 1024;

/// A blocking `Write` that hands [`PART_SIZE`] parts to an async
/// [`ReportSink::put_parts`]; [`finish`](Self::finish) sends the last one.
pub struct PartWriter {
    tx: tokio::sync::mpsc::Sender<Part>,
    buf: Vec<u8>,
}

impl PartWriter {
    pub fn new(tx: tokio::sync::mpsc::Sender<Part>) -> Self {
        Self {
            tx,
            buf: Vec::with_capacity(PART_SIZE),
        }
    }

    fn send(&mut self, bytes: Vec<u8>, last: bool) -> std::io::Result<()> {
        self.tx
            .blocking_send(Part { bytes, last })
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the upload stopped"))
    }

    /// Sends what is left as the last part; without it the object is abandoned.
    pub fn finish(mut self) -> std::io::Result<()> {
        let rest = std::mem::take(&mut self.buf);
        self.send(rest, true)
    }
}

impl std::io::Write for PartWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let n = data.len().min(PART_SIZE - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == PART_SIZE {
            let part = std::mem::replace(&mut self.buf, Vec::with_capacity(PART_SIZE));
            self.send(part, false)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
