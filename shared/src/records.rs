//! The stored shape of devices, users and imports: one layout shared by the
//! import (which writes it), the admission function and the admin API (which read it).

use serde::{Deserialize, Serialize};

use crate::domain::{Ownership, Platform};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    /// Imported, waiting for the user to enroll it (the seeds' "Pre-approved Device").
    PreApproved,
    Enrolled,
    /// A pre-approval whose expiry passed before the device enrolled; kept, renewable.
    Expired,
}

impl DeviceStatus {
    pub const ALL: [DeviceStatus; 3] = [Self::PreApproved, Self::Enrolled, Self::Expired];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::PreApproved => "pre_approved",
            Self::Enrolled => "enrolled",
            Self::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pre_approved" => Some(Self::PreApproved),
            "enrolled" => Some(Self::Enrolled),
            "expired" => Some(Self::Expired),
            _ => None,
        }
    }

    /// Whether an import may overwrite a device in this status: an enrolled
    /// device is never made pre-approved again; an expired one is renewed.
    pub fn is_replaceable(self) -> bool {
        self != Self::Enrolled
    }
}

/// A device item, keyed by its exact serial number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRecord {
    pub serial: String,
    pub status: DeviceStatus,
    pub platform: Platform,
    /// Unknown for a device that enrolled openly without being imported.
    pub ownership: Option<Ownership>,
    /// The owning user's key (lower-cased email); empty when no user was imported.
    pub email: String,
    pub device_name: Option<String>,
    pub groups: Vec<String>,
    /// Keyed hash of the enrollment password (never the password).
    pub password_hash: Option<String>,
    pub import_id: String,
    pub domain: Option<String>,
    pub updated_at: String,
    /// Set when the device completes enrollment.
    pub enrollment: Option<EnrollmentInfo>,
    /// Admission's count of password checks (its attempt limit; never
    /// written by an import).
    #[serde(default)]
    pub checks: PasswordChecks,
    /// The device's latest invite and where it stands.
    #[serde(default)]
    pub invite: Option<DeviceInvite>,
    /// When the pre-approval lapses; never set on an enrolled device.
    #[serde(default)]
    pub expires: Option<crate::domain::Expiry>,
    /// The Apple ADE account that lists this device, and what Apple says of it.
    #[serde(default)]
    pub ade: Option<AdeLink>,
}

impl DeviceRecord {
    /// Its status at `now`: a pre-approval whose expiry passed is `expired`
    /// whether or not the sweep has marked it yet.
    pub fn status_at(&self, now: u64) -> DeviceStatus {
        match self.expires {
            Some(e) if self.status == DeviceStatus::PreApproved && e.has_passed(now) => {
                DeviceStatus::Expired
            }
            _ => self.status,
        }
    }
}

/// Where a device's pre-approval came from, for lists, filters and the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceSource {
    /// A CSV import (or an approval of a blocked attempt, which is an import of one row).
    Csv,
    /// An Apple ADE account's sync, with no CSV row behind it.
    Ade,
    /// Neither: the device enrolled openly.
    Enrollment,
}

impl DeviceSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Ade => "ade",
            Self::Enrollment => "enrollment",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "csv" => Some(Self::Csv),
            "ade" => Some(Self::Ade),
            "enrollment" => Some(Self::Enrollment),
            _ => None,
        }
    }
}

/// The `import_id` of a device an ADE account pre-approved (no CSV row behind it).
pub fn ade_origin(account_id: &str) -> String {
    format!("{ADE_ORIGIN_PREFIX}{account_id}")
}

pub const ADE_ORIGIN_PREFIX: &str = "ade:";

impl DeviceRecord {
    pub fn source(&self) -> DeviceSource {
        if self.import_id.starts_with(ADE_ORIGIN_PREFIX) {
            DeviceSource::Ade
        } else if self.import_id.is_empty() {
            DeviceSource::Enrollment
        } else {
            DeviceSource::Csv
        }
    }
}

/// What Apple Business Manager says of a device an ADE account lists. A CSV
/// pre-approval of the same serial keeps its user and password beside it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdeLink {
    pub account: String,
    pub model: Option<String>,
    pub description: Option<String>,
    pub color: Option<String>,
    pub asset_tag: Option<String>,
    pub device_assigned_date: Option<String>,
}

/// The password checks admission claimed on a device item, for its attempt
/// limit (`crate::admission::lockout`): three numbers, whatever the number of
/// guesses, so the item's size stays bounded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasswordChecks {
    /// Checks claimed on this item (only grows while the item lives).
    pub claimed: u64,
    /// What `claimed` was at the last right password or unlock: the checks
    /// since then are the ones that count.
    pub cleared: u64,
    /// When (epoch seconds) the latest check was claimed: a lock starts there.
    pub last_at: u64,
}

/// Which invite a device's user got last (an [`InviteRef`] tag) and its state.
///
/// [`InviteRef`]: crate::outbox::InviteRef
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInvite {
    pub reference: String,
    pub state: crate::domain::InviteState,
}

/// How and when a device enrolled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnrollmentInfo {
    pub enrolled_at: String,
    pub method: Option<String>,
    pub os_version: Option<String>,
    /// Whether its pre-approval (and groups) applied, or it enrolled openly.
    pub pre_approved: bool,
}

/// A user item, keyed by the lower-cased email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRecord {
    pub email: String,
    /// The address as the file wrote it, used to send mail.
    pub address: String,
    pub name: String,
    pub sam_account_name: Option<String>,
    pub mobile: Option<String>,
    pub domain: Option<String>,
    pub import_id: String,
    pub updated_at: String,
}

/// What is already stored for a device, as far as an import cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingDevice {
    pub status: DeviceStatus,
    pub import_id: Option<String>,
    /// The whole record, when the reader needs it (an import's before-image).
    pub record: Option<Box<DeviceRecord>>,
}

/// What is already stored for a user, as far as an import cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingUser {
    pub import_id: Option<String>,
    pub record: Option<Box<UserRecord>>,
}

/// What was there before an import wrote a device or a user (None: nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UndoItem {
    Device {
        serial: String,
        /// The user key the import gave the device (its user is kept if it stays).
        owner: String,
        before: Option<Box<DeviceRecord>>,
    },
    User {
        email: String,
        before: Option<Box<UserRecord>>,
        /// A device of this user stays: the user the import created stays too.
        kept: bool,
    },
}

impl UndoItem {
    /// Its key among the import's before-images (devices sort before users).
    pub fn key(&self) -> String {
        match self {
            Self::Device { serial, .. } => format!("{DEVICE_PREFIX}{serial}"),
            Self::User { email, .. } => user_key(email),
        }
    }
}

/// The key of a user's before-image.
pub fn user_key(email: &str) -> String {
    format!("{USER_PREFIX}{email}")
}

pub const DEVICE_PREFIX: &str = "UNDO#D#";
pub const USER_PREFIX: &str = "UNDO#U#";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_pre_approved_devices_are_replaced() {
        assert!(DeviceStatus::PreApproved.is_replaceable());
        assert!(DeviceStatus::Expired.is_replaceable());
        assert!(!DeviceStatus::Enrolled.is_replaceable());
    }
}
