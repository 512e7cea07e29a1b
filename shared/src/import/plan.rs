//! What one chunk of valid rows becomes: devices and users to write (replace
//! or skip what exists, as the admin chose; an enrolled device is never
//! pre-approved again), invites to send, and the before-images of an undo.

use std::collections::{HashMap, HashSet};

use super::ports::DeviceWrite;
use super::row::{DeviceRow, Provenance};
use super::scan::Scan;
use super::Skipped;
use crate::clock::now_rfc3339;
use crate::domain::{ExistingPolicy, ImportOptions, InviteState};
use crate::outbox::{Invite, InviteRef};
use crate::password::PasswordKey;
use crate::records::{
    DeviceInvite, DeviceStatus, ExistingDevice, ExistingUser, UndoItem, UserRecord,
};

/// Why a row whose device is enrolled is not written: found so by the
/// look-up, or by the write's condition when it enrolled in between (a
/// replayed chunk then finds it at the look-up: the same words either way).
pub const ENROLLED: &str =
    "the device has already enrolled; it stays enrolled and is not pre-approved again";

/// What one chunk of rows turns into.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// Each device with what it replaces, for an undo (none when this
    /// import wrote it already: the first before-image stands).
    pub devices: Vec<DeviceWrite>,
    pub users: Vec<UserRecord>,
    pub skipped: Vec<Skipped>,
    pub invites: Vec<Invite>,
    /// The row each device and each user came from, in the same order.
    pub device_rows: Vec<u64>,
    pub user_rows: Vec<u64>,
    /// What each written user replaced (or that it is new), for an undo.
    pub user_images: Vec<UndoItem>,
}

impl Plan {
    /// Takes back the devices the write refused (`written[i]` false for
    /// `devices[i]`: enrolled since the look-up): their rows become skipped
    /// as enrolled, in row order with the others, and get no invite.
    pub fn enrolled_meanwhile(&mut self, written: &[bool]) {
        if written.iter().all(|w| *w) {
            return;
        }
        let mut lost = HashSet::new();
        let devices = std::mem::take(&mut self.devices);
        let rows = std::mem::take(&mut self.device_rows);
        for ((device, row), &ok) in devices.into_iter().zip(rows).zip(written) {
            if ok {
                self.devices.push(device);
                self.device_rows.push(row);
            } else {
                lost.insert(row);
                self.skipped.push(Skipped {
                    row,
                    serial_number: device.record.serial,
                    reason: ENROLLED.to_owned(),
                });
            }
        }
        self.invites.retain(|i| !lost.contains(&i.row));
        self.skipped.sort_by_key(|s| s.row);
    }
}

/// Decides, for rows already known valid, what to write and whom to invite.
/// Existing items written by this same import (an earlier attempt) are not
/// "existing": the retry must behave as the first attempt would have.
pub fn plan_chunk(
    rows: Vec<DeviceRow>,
    scan: &Scan,
    devices: &HashMap<String, ExistingDevice>,
    users: &HashMap<String, ExistingUser>,
    import_id: &str,
    options: &ImportOptions,
    password_key: Option<&PasswordKey>,
) -> Plan {
    let now = now_rfc3339();
    let provenance = Provenance {
        import_id,
        domain: options.domain.as_deref(),
        at: &now,
        expires: options.default_expiry(scan.now),
    };
    let mut plan = Plan::default();
    let ours = |id: &Option<String>| id.as_deref() == Some(import_id);
    for r in rows {
        if scan.carries_user_details(r.row) {
            let keep_existing = users
                .get(&r.email.key())
                .is_some_and(|u| !ours(&u.import_id) && options.existing == ExistingPolicy::Skip);
            if !keep_existing {
                let user = r.user_record(provenance);
                match users.get(&user.email) {
                    Some(u) if ours(&u.import_id) => {}
                    found => plan.user_images.push(UndoItem::User {
                        email: user.email.clone(),
                        before: found.and_then(|u| u.record.clone()),
                        kept: false,
                    }),
                }
                plan.users.push(user);
                plan.user_rows.push(r.row);
            }
        }
        let skip_reason = match devices.get(r.serial.as_str()) {
            Some(d) if !d.status.is_replaceable() => Some(ENROLLED),
            // An expired pre-approval is not one to protect: importing it again renews it.
            Some(d)
                if d.status == DeviceStatus::PreApproved
                    && !ours(&d.import_id)
                    && options.existing == ExistingPolicy::Skip =>
            {
                Some("the device is already pre-approved; existing devices are skipped (choose replace to update)")
            }
            _ => None,
        };
        if let Some(reason) = skip_reason {
            plan.skipped.push(Skipped {
                row: r.row,
                serial_number: r.serial.as_str().to_owned(),
                reason: reason.to_owned(),
            });
            continue;
        }
        let password_hash = match (&r.password, password_key) {
            (Some(p), Some(k)) => Some(k.hash(r.serial.as_str(), p)),
            _ => None,
        };
        let mut device = r.device_record(password_hash, provenance);
        if let Some(invite) = r.invite(options.invite) {
            device.invite = Some(DeviceInvite {
                reference: InviteRef::new(import_id, r.row).tag(),
                state: InviteState::Queued,
            });
            plan.invites.push(invite);
        }
        let found = devices.get(r.serial.as_str());
        // An ADE account's pre-approval stays linked beside the row's user.
        device.ade = found
            .and_then(|d| d.record.as_ref())
            .and_then(|d| d.ade.clone());
        // A replayed chunk finds its own earlier write: the first before-image stands.
        let before = match found {
            Some(d) if ours(&d.import_id) => None,
            found => Some(UndoItem::Device {
                serial: device.serial.clone(),
                owner: device.email.clone(),
                before: found.and_then(|d| d.record.clone()),
            }),
        };
        plan.devices.push(DeviceWrite {
            record: device,
            before,
        });
        plan.device_rows.push(r.row);
    }
    plan
}
