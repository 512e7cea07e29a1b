//! Blocked admission attempts: the inbox, and approving one, which
//! pre-approves the serial for a named user and queues the invite once.

use serde::{Deserialize, Serialize};

use super::{AdminError, AdminReads, ApprovalWrite, Approvals, Cursor, DenialView, Page};
use crate::clock::{epoch_now, now_rfc3339};
use crate::domain::parse_groups;
use crate::domain::InviteState;
use crate::domain::{Email, Expiry, InviteChannel, Mobile, Ownership, Platform, SerialNumber};
use crate::import::{DeviceRow, Provenance};
use crate::outbox::{InviteMessage, InviteQueue, InviteRef, OutboxEntry};
use crate::records::{DeviceInvite, DeviceStatus};

/// Attempts per page of the inbox.
pub const PAGE: usize = 50;

pub async fn list(
    reads: &impl AdminReads,
    cursor: Option<&str>,
) -> Result<Page<DenialView>, AdminError> {
    let cursor = Cursor::from_query(cursor)?;
    Ok(reads.denials(cursor, PAGE).await?)
}

/// Who the approved device is for (the body of the approve route).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalInput {
    pub name: String,
    pub email: String,
    #[serde(default = "corporate")]
    pub ownership: String,
    pub device_name: Option<String>,
    #[serde(default)]
    pub groups: Option<String>,
    pub mobile: Option<String>,
    #[serde(default)]
    pub invite: InviteChannel,
    /// As an `Expires` cell; none: the approval does not expire.
    #[serde(default)]
    pub expires: Option<String>,
}

fn corporate() -> String {
    "corporate".into()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Approved {
    pub serial_number: String,
    pub status: DeviceStatus,
    pub invite: InviteChannel,
    /// None when no invite was asked for; else `queued`: the sender delivers
    /// it, and the device's page shows how it went.
    pub invite_state: Option<InviteState>,
}

fn field<T>(name: &'static str, r: Result<T, crate::domain::ValueError>) -> Result<T, AdminError> {
    r.map_err(|e| AdminError::bad(name, e.message))
}

/// The approval as a validated row, as if the admin had imported it.
fn approved_row(denial: &DenialView, a: &ApprovalInput) -> Result<DeviceRow, AdminError> {
    let platform =
        Platform::parse(&denial.platform).map_err(|e| AdminError::Conflict(e.message))?;
    let name = a.name.trim();
    if name.is_empty() {
        return Err(AdminError::bad("name", "the user's name is required"));
    }
    let mobile = a
        .mobile
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| field("mobile", Mobile::parse(m)))
        .transpose()?;
    if a.invite == InviteChannel::Sms && mobile.is_none() {
        return Err(AdminError::bad(
            "mobile",
            "an SMS invite needs the user's mobile number",
        ));
    }
    Ok(DeviceRow {
        row: 0,
        name: name.to_owned(),
        email: field("email", Email::parse(a.email.trim()))?,
        ownership: field("ownership", Ownership::parse(a.ownership.trim()))?,
        // Exactly as the device reported it (admission compared it byte for byte).
        serial: SerialNumber::checked(&denial.serial_number),
        platform,
        sam_account_name: None,
        mobile,
        device_name: a.device_name.clone().filter(|d| !d.trim().is_empty()),
        password: None,
        groups: field("groups", parse_groups(a.groups.as_deref().unwrap_or("")))?,
        expires: a
            .expires
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(|e| field("expires", Expiry::parse(e, epoch_now())))
            .transpose()?,
    })
}

/// Which attempt, approved for whom, by which admin.
#[derive(Debug, Clone, Copy)]
pub struct ApprovalRequest<'a> {
    pub id: &'a str,
    pub input: &'a ApprovalInput,
    pub by: &'a str,
}

/// Pre-approves the blocked serial for the named user and queues the invite.
/// The device, the user, the invite's record and the attempt's approval mark
/// are written at once, and only if the attempt was not approved before, so
/// a repeated click never sends a second invite. The invite's message is
/// queued first (delayed): a crash after the commit cannot lose the invite,
/// and a message whose approval never committed finds no record and is dropped.
pub async fn approve(
    reads: &impl AdminReads,
    approvals: &impl Approvals,
    queue: &impl InviteQueue,
    request: ApprovalRequest<'_>,
) -> Result<Approved, AdminError> {
    let ApprovalRequest { id, input, by } = request;
    let denial = reads.denial(id).await?.ok_or_else(|| {
        AdminError::NotFound("no blocked attempt has this id (they expire after 30 days)".into())
    })?;
    if denial.grouped {
        return Err(AdminError::Conflict(
            "this row counts the attempts of many serials from one address; a device that \
             tries again gets a row of its own to approve, or import its serial"
                .into(),
        ));
    }
    let row = approved_row(&denial, input)?;
    let at = now_rfc3339();
    let import_id = format!("approval:{id}");
    let provenance = Provenance {
        import_id: &import_id,
        domain: None,
        at: &at,
        expires: None,
    };
    let mut device = row.device_record(None, provenance);
    let invite = row.invite(input.invite).map(|invite| OutboxEntry {
        origin: import_id.clone(),
        invite,
    });
    if let Some(entry) = &invite {
        let r: InviteRef = entry.invite_ref();
        device.invite = Some(DeviceInvite {
            reference: r.tag(),
            state: InviteState::Queued,
        });
        queue
            .enqueue(&[InviteMessage::of(&r, 1)], QUEUE_DELAY_SECONDS)
            .await?;
    }
    let write = ApprovalWrite {
        denial_id: id.to_owned(),
        device,
        user: row.user_record(provenance),
        invite,
        by: by.to_owned(),
        at: at.clone(),
    };
    if !approvals.approve(&write).await? {
        return Err(AdminError::Conflict(
            "this attempt was approved already, or a device with this serial exists now \
             (an approval never replaces one; change it by importing it)"
                .into(),
        ));
    }
    let invite_state = write.invite.as_ref().map(|_| InviteState::Queued);
    tracing::info!(by = %by, invite = ?invite_state, "blocked attempt approved");
    Ok(Approved {
        serial_number: write.device.serial,
        status: DeviceStatus::PreApproved,
        invite: input.invite,
        invite_state,
    })
}

/// Delay of an approval's invite message: the approval commits first.
const QUEUE_DELAY_SECONDS: u32 = 2;
