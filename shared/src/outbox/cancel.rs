//! Whether a claimed invite is still wanted. It was queued for one
//! pre-approval of one device; by the time the sender reaches it the device
//! may be gone (removed, its import undone), enrolled, lapsed, or holding
//! another invite or none (imported or approved again). Such an invite is not
//! sent: it carries a password that may no longer work, to a user who may no
//! longer be the device's. It becomes `cancelled`, with why.
//!
//! A reset keeps the device's invite: it changes neither the device's user
//! nor, when the device had enrolled openly, its password (the reset gives
//! that pre-approval back: docs/security.md). An invite cancelled while the
//! device was enrolled is resent from the device's page once it is reset.

use crate::domain::Expiry;
use crate::outbox::InviteRef;
use crate::records::{DeviceRecord, DeviceStatus};

/// What the sender reads of the device an invite is for: no more (not its
/// user, not its password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceNow {
    pub status: DeviceStatus,
    pub expires: Option<Expiry>,
    /// Its latest invite, as an [`InviteRef`] tag; None if it has none.
    pub invite: Option<String>,
}

impl From<&DeviceRecord> for DeviceNow {
    fn from(d: &DeviceRecord) -> Self {
        Self {
            status: d.status,
            expires: d.expires,
            invite: d.invite.as_ref().map(|i| i.reference.clone()),
        }
    }
}

/// Why an invite is cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancel {
    /// No device has the serial any more.
    DeviceRemoved,
    /// The device has another invite, or none (imported again with Invite = none).
    InviteReplaced,
    /// The device enrolled: it needs no invite.
    DeviceEnrolled,
    /// The pre-approval lapsed: renew it, then send the invite from the device's page.
    PreApprovalExpired,
}

impl Cancel {
    /// The reason kept on the invite record and shown to the admin.
    pub fn code(self) -> &'static str {
        match self {
            Self::DeviceRemoved => "DeviceRemoved",
            Self::InviteReplaced => "InviteReplaced",
            Self::DeviceEnrolled => "DeviceEnrolled",
            Self::PreApprovalExpired => "PreApprovalExpired",
        }
    }
}

/// None if `invite` may go to the device as it is at `now` (epoch seconds);
/// else why not. Which invite the device holds comes first: an invite the
/// device no longer holds is not about its status at all.
pub fn why_cancel(device: Option<&DeviceNow>, invite: &InviteRef, now: u64) -> Option<Cancel> {
    let Some(device) = device else {
        return Some(Cancel::DeviceRemoved);
    };
    if device.invite.as_deref() != Some(invite.tag().as_str()) {
        return Some(Cancel::InviteReplaced);
    }
    let lapsed = device.expires.is_some_and(|e| e.has_passed(now));
    match device.status {
        DeviceStatus::Enrolled => Some(Cancel::DeviceEnrolled),
        DeviceStatus::Expired => Some(Cancel::PreApprovalExpired),
        DeviceStatus::PreApproved if lapsed => Some(Cancel::PreApprovalExpired),
        DeviceStatus::PreApproved => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_pre_approved_device_holding_the_invite_gets_it() {
        let r = InviteRef::new("imp", 2);
        let now = 1_000;
        let current = DeviceNow {
            status: DeviceStatus::PreApproved,
            expires: Some(Expiry::from_epoch(now + 1)),
            invite: Some(r.tag()),
        };
        let with = |change: fn(&mut DeviceNow)| {
            let mut d = current.clone();
            change(&mut d);
            why_cancel(Some(&d), &r, now)
        };
        assert_eq!(why_cancel(Some(&current), &r, now), None);
        assert_eq!(why_cancel(None, &r, now), Some(Cancel::DeviceRemoved));
        assert_eq!(
            with(|d| d.invite = Some(InviteRef::new("imp", 3).tag())),
            Some(Cancel::InviteReplaced)
        );
        assert_eq!(with(|d| d.invite = None), Some(Cancel::InviteReplaced));
        assert_eq!(
            with(|d| d.status = DeviceStatus::Enrolled),
            Some(Cancel::DeviceEnrolled)
        );
        assert_eq!(
            with(|d| d.status = DeviceStatus::Expired),
            Some(Cancel::PreApprovalExpired)
        );
        // Lapsed at `now` exactly, not yet marked by the sweep.
        assert_eq!(
            with(|d| d.expires = Some(Expiry::from_epoch(1_000))),
            Some(Cancel::PreApprovalExpired)
        );
        assert_eq!(with(|d| d.expires = None), None);
        // Enrolled with another invite: the invite is not the device's, whatever it became.
        assert_eq!(
            with(|d| {
                d.status = DeviceStatus::Enrolled;
                d.invite = None;
            }),
            Some(Cancel::InviteReplaced)
        );
    }
}
