//! Undoing an import: every device and user it wrote has a before-image
//! (written by the import ahead of the item itself), and an undo puts each
//! back: a device the import created and that is still its own and not
//! enrolled is removed, a replaced one gets its previous record back; users
//! likewise, except a user a device outside the undone set still has (one
//! of the import's own that stays, enrolled since or changed by a later
//! import; or another import's or an approval's): that user is neither
//! removed nor restored, and [`UsersKept`] says why. Enrolled devices are
//! never touched.

pub mod run;

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::port_error::PortError;
use crate::records::{DeviceRecord, UndoItem, UserRecord, DEVICE_PREFIX, USER_PREFIX};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Devices,
    Users,
}

impl Phase {
    /// What the keys of this phase's before-images start with.
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Devices => DEVICE_PREFIX,
            Self::Users => USER_PREFIX,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UndoStatus {
    Queued,
    Running,
    Done,
    Failed,
}

/// What an undo did, or (dry run) would do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoCounts {
    pub devices_removed: u64,
    pub devices_restored: u64,
    pub users_removed: u64,
    pub users_restored: u64,
    /// Devices that enrolled since the import: never touched.
    pub devices_left_enrolled: u64,
    /// Devices and users a later import or an administrator changed since: left as they are.
    pub devices_left_changed: u64,
    pub users_left: u64,
}

/// Users the undo neither removes nor restores because a device outside the
/// undone set still has them as its user (each is counted in
/// [`UndoCounts::users_left`] too).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsersKept {
    /// A device this import wrote stays (enrolled since, or changed by a later import).
    pub devices_staying: u64,
    /// A device outside this import (a later import's, an approved one) has them as its user.
    pub devices_outside: u64,
}

/// One undo (or dry run) of one import: its progress, its result and who asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoState {
    pub import_id: String,
    pub dry_run: bool,
    pub status: UndoStatus,
    pub phase: Phase,
    /// Where the current phase goes on (the last before-image done).
    pub cursor: Option<String>,
    pub counts: UndoCounts,
    /// Of `counts.users_left`: the users kept for a device, and why.
    #[serde(default)]
    pub users_kept: UsersKept,
    pub requested_by: String,
    pub requested_at: String,
    pub finished_at: Option<String>,
    pub error: Option<String>,
    /// Invocations that worked on it: more than one when it paused for time or was interrupted.
    #[serde(default)]
    pub runs: u32,
    /// Dry run only: users whose device stays, found so far (a real undo marks them in the store).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept_users: Vec<String>,
}

impl UndoState {
    pub fn queued(import_id: &str, dry_run: bool, by: &str, at: &str) -> Self {
        Self {
            import_id: import_id.to_owned(),
            dry_run,
            status: UndoStatus::Queued,
            phase: Phase::Devices,
            cursor: None,
            counts: UndoCounts::default(),
            users_kept: UsersKept::default(),
            requested_by: by.to_owned(),
            requested_at: at.to_owned(),
            finished_at: None,
            error: None,
            runs: 0,
            kept_users: Vec::new(),
        }
    }
}

/// How a conditional change found the item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Done,
    /// It is no longer the import's own (or enrolled since): now this.
    Changed,
}

/// One change an undo makes to the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    RemoveDevice(&'a str),
    /// Puts the device's before-image back.
    RestoreDevice(&'a DeviceRecord),
    RemoveUser(&'a str),
    RestoreUser(&'a UserRecord),
}

/// Changes in one [`UndoStore::apply`]: DynamoDB's limit of one transaction.
pub const CHANGES_PER_CALL: usize = 100;

pub trait UndoStore: Send + Sync {
    fn load(
        &self,
        import_id: &str,
    ) -> impl Future<Output = Result<Option<UndoState>, PortError>> + Send;

    fn save(&self, state: &UndoState) -> impl Future<Output = Result<(), PortError>> + Send;

    /// The import's before-images of one phase after `after`, in key order, at most `limit`.
    fn items(
        &self,
        import_id: &str,
        phase: Phase,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<(Vec<UndoItem>, Option<String>), PortError>> + Send;

    /// The devices and users as they are now.
    fn current(
        &self,
        serials: &[String],
        emails: &[String],
    ) -> impl Future<Output = Result<(Vec<DeviceRecord>, Vec<UserRecord>), PortError>> + Send;

    /// Makes each change if its item is still the import's own (and a
    /// device not enrolled): one [`Applied`] per change, in order. At most
    /// [`CHANGES_PER_CALL`] changes, each on a different item.
    fn apply(
        &self,
        import_id: &str,
        changes: &[Change<'_>],
    ) -> impl Future<Output = Result<Vec<Applied>, PortError>> + Send;

    /// The serials of the devices whose user is `email` now (an index of
    /// the devices: it may lag a moment behind them, so read them with
    /// [`UndoStore::current`] before trusting it).
    fn devices_of(
        &self,
        email: &str,
    ) -> impl Future<Output = Result<Vec<String>, PortError>> + Send;

    /// The import's before-images of these devices (those it has).
    fn device_images(
        &self,
        import_id: &str,
        serials: &[String],
    ) -> impl Future<Output = Result<Vec<UndoItem>, PortError>> + Send;

    /// Marks the before-image of a user the import wrote as kept.
    fn keep_user(
        &self,
        import_id: &str,
        email: &str,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// Where undo requests go for the undo function.
pub trait UndoQueue: Send + Sync {
    fn request(&self, import_id: &str) -> impl Future<Output = Result<(), PortError>> + Send;
}
