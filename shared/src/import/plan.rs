//! What one chunk of valid rows becomes: devices and users to write (replace
//! or skip what exists, as the admin chose; an enrolled device is never
//! pre-approved again), invites to send, and the before-images of an undo.

use std::collections::HashMap;

use super::row::{DeviceRow, Provenance};
use super::scan::Scan;
use super::Skipped;
use crate::clock::now_rfc3339;
use crate::domain::{ExistingPolicy, ImportOptions, InviteState};
use crate::outbox::{Invite, InviteRef};
use crate::password::PasswordKey;
use crate::records::{
    DeviceInvite, DeviceRecord, DeviceStatus, ExistingDevice, ExistingUser, UndoItem, UserRecord,
};

/// What one chunk of rows turns into.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub devices: Vec<DeviceRecord>,
    pub users: Vec<UserRecord>,
    pub skipped: Vec<Skipped>,
    pub invites: Vec<Invite>,
    /// The row each device and each user came from, in the same order.
    pub device_rows: Vec<u64>,
    pub user_rows: Vec<u64>,
    /// What each written device and user replaced (or that it is new), for an undo.
    pub undo: Vec<UndoItem>,
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
                    found => plan.undo.push(UndoItem::User {
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
            Some(d) if !d.status.is_replaceable() => {
                Some("the device has already enrolled; it stays enrolled and is not pre-approved again")
            }
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
        // A replayed chunk finds its own earlier write: the first before-image stands.
        match devices.get(r.serial.as_str()) {
            Some(d) if ours(&d.import_id) => {}
            found => plan.undo.push(UndoItem::Device {
                serial: device.serial.clone(),
                owner: device.email.clone(),
                before: found.and_then(|d| d.record.clone()),
            }),
        }
        plan.devices.push(device);
        plan.device_rows.push(r.row);
    }
    plan
}
