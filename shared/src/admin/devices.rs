//! The device list (the seeds' Manage > Devices > Filter by Enrollment
//! Status), one device with its "Pre-approved Device" banner, and the overview.

use serde::Serialize;

use super::{
    Acted, AdminError, AdminReads, Count, Cursor, DeviceAction, DeviceActions, DeviceAudit,
};
use crate::admission::lockout;
use crate::clock::epoch_now as now_secs;
use crate::clock::{epoch_now, now_rfc3339, rfc3339};
use crate::counts::total_of;
use crate::domain::InviteState;
use crate::domain::{email_key, Expiry};
use crate::outbox::resend::{resend_one, ResendError};
use crate::outbox::{InviteQueue, InviteRef, InviteStatus, Outbox};
use crate::port_error::PortError;
use crate::records::{
    AdeLink, DeviceRecord, DeviceSource, DeviceStatus, EnrollmentInfo, UserRecord,
};

/// Audit entries shown on a device's page.
pub const AUDIT_LIMIT: usize = 20;

/// Devices per page.
pub const PAGE: usize = 50;

/// The seeds' banner on a device that has not enrolled yet.
pub const BANNER: &str = "Pre-approved Device";
pub const DETAILS_NOTE: &str = "Location and hardware details appear only after the device enrolls; until then only the serial number is known.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceSearch {
    All,
    /// Serials that start with this text (case-sensitive, like the serials).
    SerialPrefix(String),
    /// Devices of this owner (email, case-insensitive).
    Email(String),
    /// Devices whose latest invite is in this state.
    Invite(InviteState),
    Source(DeviceSource),
}

/// What one page of the device list reads (an owner search is answered
/// apart, every status at once: [`AdminReads::owner_devices`]; so are the
/// devices of ADE accounts: [`AdminReads::ade_devices`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListSearch {
    All,
    SerialPrefix(String),
    Invite(InviteState),
    /// Devices whose pre-approval came from a CSV import, or none (open enrollment).
    Source(DeviceSource),
}

impl DeviceSearch {
    pub fn parse(q: Option<&str>) -> Self {
        match q.map(str::trim).filter(|q| !q.is_empty()) {
            None => Self::All,
            Some(q) if q.contains('@') => Self::Email(email_key(q)),
            Some(q) => Self::SerialPrefix(q.to_owned()),
        }
    }
}

/// A device as the admin page shows it: never the password hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceView {
    pub serial_number: String,
    pub status: DeviceStatus,
    /// The seeds' "Pre-approved Device": true until the device enrolls.
    pub pre_approved: bool,
    pub platform: String,
    pub ownership: Option<String>,
    pub device_name: Option<String>,
    pub groups: Vec<String>,
    pub email: String,
    pub domain: Option<String>,
    pub import_id: String,
    pub updated_at: String,
    pub has_enrollment_password: bool,
    /// When the pre-approval lapses (absent: it does not; never on an enrolled device).
    pub expires_at: Option<Expiry>,
    pub enrollment: Option<EnrollmentInfo>,
    /// Password checks since the last right password or unlock: wrong
    /// passwords (and any being compared at this moment).
    pub failed_attempts: u64,
    /// While the attempt limit refuses every admission of this serial.
    pub locked_until: Option<String>,
    /// Where the user's latest invite stands (None: no invite was sent).
    pub invite_state: Option<InviteState>,
    /// Where the pre-approval came from: a CSV import, an ADE account, or
    /// neither (the device enrolled openly).
    pub source: DeviceSource,
    /// The ADE account that lists the device and what Apple says of it
    /// (beside a CSV pre-approval of the same serial, too).
    pub ade: Option<AdeLink>,
}

impl From<DeviceRecord> for DeviceView {
    fn from(d: DeviceRecord) -> Self {
        let now = epoch_now();
        let locked_until = lockout::locked_until(&d.checks).filter(|t| *t > now);
        // Lapsed but not yet marked by the sweep: shown as it is.
        let status = d.status_at(now);
        Self {
            source: d.source(),
            invite_state: d.invite.as_ref().map(|i| i.state),
            failed_attempts: lockout::since_cleared(&d.checks),
            locked_until: locked_until.map(rfc3339),
            pre_approved: status == DeviceStatus::PreApproved,
            status,
            expires_at: d.expires,
            platform: d.platform.as_str().to_owned(),
            ownership: d.ownership.map(|o| o.as_str().to_owned()),
            device_name: d.device_name,
            groups: d.groups,
            email: d.email,
            domain: d.domain,
            import_id: d.import_id,
            updated_at: d.updated_at,
            has_enrollment_password: d.password_hash.is_some(),
            enrollment: d.enrollment,
            ade: d.ade,
            serial_number: d.serial,
        }
    }
}

/// The device's user as its page shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserView {
    pub name: String,
    /// The address as the file wrote it.
    pub email: String,
    pub mobile: Option<String>,
    pub sam_account_name: Option<String>,
    pub domain: Option<String>,
}

impl From<UserRecord> for UserView {
    fn from(u: UserRecord) -> Self {
        Self {
            name: u.name,
            email: u.address,
            mobile: u.mobile,
            sam_account_name: u.sam_account_name,
            domain: u.domain,
        }
    }
}

/// One device page: the device's own fields at the top, its user and the
/// banner beside them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceDetail {
    #[serde(flatten)]
    pub device: DeviceView,
    pub user: Option<UserView>,
    pub banner: Option<&'static str>,
    pub details_note: Option<&'static str>,
    /// What administrators did to it, newest first.
    pub audit: Vec<DeviceAudit>,
    /// The latest invite as the outbox has it (state, attempt, provider's reason).
    pub invite: Option<InviteStatus>,
}

/// An administrator's action, done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionDone {
    pub serial_number: String,
    pub action: DeviceAction,
    pub at: String,
    /// After a renewal: the new expiry (absent: it does not expire).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Expiry>,
}

/// The body of `POST /v1/devices/{serial}/renew`: a date (or `null`: no
/// expiry) or a number of days; neither: the settings' default expiry.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenewInput {
    #[serde(default, deserialize_with = "crate::settings::present")]
    pub expires: Option<Option<String>>,
    pub expires_in_days: Option<u32>,
}

impl RenewInput {
    /// The new expiry at `now`; `default_days` when the body names none.
    pub fn expiry(
        &self,
        default_days: Option<u32>,
        now: u64,
    ) -> Result<Option<Expiry>, AdminError> {
        match (&self.expires, self.expires_in_days) {
            (Some(_), Some(_)) => Err(AdminError::bad(
                "expires",
                "give either expires or expires_in_days, not both",
            )),
            (Some(None), None) => Ok(None),
            (Some(Some(text)), None) => Expiry::parse(text.trim(), now)
                .map(Some)
                .map_err(|e| AdminError::bad("expires", e.message)),
            (None, Some(days)) => Expiry::in_days(days, now)
                .map(Some)
                .map_err(|e| AdminError::bad("expires_in_days", e.message)),
            (None, None) => {
                Ok(default_days.map(|d| Expiry::from_epoch(now + u64::from(d) * 86_400)))
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overview {
    pub counts: Vec<Count>,
}

/// The list's query parameters as given.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeviceQuery<'a> {
    /// `pre_approved`, `enrolled` or `all` (the default).
    pub status: Option<&'a str>,
    pub q: Option<&'a str>,
    /// An invite state: only devices whose latest invite is in it.
    pub invite: Option<&'a str>,
    /// `csv`, `ade` or `enrollment`: where the pre-approval came from.
    pub source: Option<&'a str>,
    /// An ADE account's id: the devices it lists.
    pub account: Option<&'a str>,
    pub cursor: Option<&'a str>,
}

fn statuses(param: Option<&str>) -> Result<Vec<DeviceStatus>, AdminError> {
    match param.unwrap_or("all") {
        "all" | "" => Ok(DeviceStatus::ALL.to_vec()),
        other => DeviceStatus::parse(other)
            .map(|s| vec![s])
            .ok_or_else(|| AdminError::bad("status", "use pre_approved, enrolled, expired or all")),
    }
}

/// Where a page of the list starts: which of the wanted statuses, and where in it.
/// The cursor is `<status>.<key>`, so `all` pages through both partitions.
fn start(
    wanted: &[DeviceStatus],
    cursor: Option<&str>,
) -> Result<(usize, Option<Cursor>), AdminError> {
    let Some(c) = cursor.filter(|c| !c.is_empty()) else {
        return Ok((0, None));
    };
    let (status, key) = c.split_once('.').ok_or_else(AdminError::bad_cursor)?;
    let status = DeviceStatus::parse(status).ok_or_else(AdminError::bad_cursor)?;
    let index = wanted
        .iter()
        .position(|s| *s == status)
        .ok_or_else(AdminError::bad_cursor)?;
    let key = match key {
        "" => None,
        key => Some(Cursor::parse(key).ok_or_else(AdminError::bad_cursor)?),
    };
    Ok((index, key))
}

/// A page of the device list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceList {
    pub items: Vec<DeviceView>,
    pub cursor: Option<String>,
    /// Devices in the listed statuses, from the totals; None for a search.
    pub total: Option<u64>,
}

/// A page of devices in at most three DynamoDB requests: the totals and one
/// Query per status partition the page spans (an owner's devices: one Query
/// of the `by-email` index and one BatchGetItem; the devices of ADE
/// accounts: one read of the sparse `by-ade-account` index and one
/// BatchGetItem).
pub async fn list(
    reads: &impl AdminReads,
    query: DeviceQuery<'_>,
) -> Result<DeviceList, AdminError> {
    let wanted = statuses(query.status)?;
    let given = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).is_some();
    let source = query
        .source
        .filter(|s| !s.is_empty())
        .map(|s| {
            DeviceSource::parse(s)
                .ok_or_else(|| AdminError::bad("source", "use csv, ade or enrollment"))
        })
        .transpose()?;
    let account = query.account.map(str::trim).filter(|a| !a.is_empty());
    if source.is_some() || account.is_some() {
        if given(query.q) || given(query.invite) {
            return Err(AdminError::bad(
                "source",
                "filter by source or ADE account, or search or filter by invite, not both at once",
            ));
        }
        if account.is_some() || source == Some(DeviceSource::Ade) {
            return ade_list(reads, &wanted, source, account, query.cursor).await;
        }
    }
    let search = match query.invite.filter(|i| !i.is_empty()) {
        None => source.map_or_else(|| DeviceSearch::parse(query.q), DeviceSearch::Source),
        Some(_) if query.q.is_some_and(|q| !q.trim().is_empty()) => {
            return Err(AdminError::bad(
                "invite",
                "filter by invite state or search, not both at once",
            ))
        }
        Some(state) => DeviceSearch::Invite(InviteState::parse(state).ok_or_else(|| {
            AdminError::bad(
                "invite",
                "use queued, sending, sent, delivered, bounced, complained, failed, unconfirmed \
                 or cancelled",
            )
        })?),
    };
    let search = match search {
        DeviceSearch::Email(email) => {
            if query.cursor.is_some_and(|c| !c.is_empty()) {
                return Err(AdminError::bad_cursor());
            }
            // An owner's devices come in one page, every status at once.
            let mut items = reads.owner_devices(&email).await?;
            items.retain(|d| wanted.contains(&d.status));
            items.sort_by_key(|d| wanted.iter().position(|s| *s == d.status));
            return Ok(DeviceList {
                items: items.into_iter().map(DeviceView::from).collect(),
                cursor: None,
                total: None,
            });
        }
        DeviceSearch::All => ListSearch::All,
        DeviceSearch::SerialPrefix(p) => ListSearch::SerialPrefix(p),
        DeviceSearch::Invite(i) => ListSearch::Invite(i),
        DeviceSearch::Source(s) => ListSearch::Source(s),
    };
    let (index, from) = start(&wanted, query.cursor)?;
    // The totals and the page do not depend on each other: read at once.
    let totals = async {
        match search {
            ListSearch::All => Ok(Some(reads.counts().await?)),
            _ => Ok::<_, PortError>(None),
        }
    };
    // With the totals, a page reads two partitions (three requests in all);
    // a search reads no totals, so it may read all three.
    let partitions = match search {
        ListSearch::All => 2,
        _ => DeviceStatus::ALL.len(),
    };
    let ((items, mut cursor), counts) = futures::future::try_join(
        page(reads, &wanted, &search, index, from, partitions),
        totals,
    )
    .await?;
    let per_status = |s: DeviceStatus| counts.as_ref().map_or(1, |c| total_of(c, Some(s)));
    // A cursor to the start of statuses the totals say are empty leads to an empty page.
    if let Some(next) = cursor.as_deref().and_then(|c| c.strip_suffix('.')) {
        let rest = wanted.iter().skip_while(|s| s.as_str() != next);
        if rest.map(|s| per_status(*s)).sum::<u64>() == 0 {
            cursor = None;
        }
    }
    let total = counts
        .is_some()
        .then(|| wanted.iter().map(|s| per_status(*s)).sum());
    Ok(DeviceList {
        items,
        cursor,
        total,
    })
}

/// A page of the devices ADE accounts list (one account's, or every
/// account's), in the order of the sparse index that holds only them; the
/// page keeps the wanted statuses and source, so it may come back short.
async fn ade_list(
    reads: &impl AdminReads,
    wanted: &[DeviceStatus],
    source: Option<DeviceSource>,
    account: Option<&str>,
    cursor: Option<&str>,
) -> Result<DeviceList, AdminError> {
    let from = Cursor::from_query(cursor)?;
    let page = reads.ade_devices(account, from, PAGE).await?;
    let items = page
        .items
        .into_iter()
        .filter(|d| wanted.contains(&d.status))
        .filter(|d| source.is_none_or(|s| d.source() == s))
        .map(DeviceView::from)
        .collect();
    Ok(DeviceList {
        items,
        cursor: page.cursor,
        total: None,
    })
}

/// One page from `wanted[index]` on (after `from`), spanning up to `partitions` partitions.
async fn page(
    reads: &impl AdminReads,
    wanted: &[DeviceStatus],
    search: &ListSearch,
    mut index: usize,
    mut from: Option<Cursor>,
    partitions: usize,
) -> Result<(Vec<DeviceView>, Option<String>), PortError> {
    let mut items: Vec<DeviceView> = Vec::new();
    let mut cursor = None;
    // A short page that stopped at the limit carries a cursor to the next partition.
    let mut queries = 0;
    while index < wanted.len() && items.len() < PAGE && queries < partitions {
        queries += 1;
        let status = wanted[index];
        let page = reads
            .devices(status, search, from.take(), PAGE - items.len())
            .await?;
        items.extend(page.items.into_iter().map(DeviceView::from));
        match page.cursor {
            Some(next) => {
                cursor = Some(format!("{}.{next}", status.as_str()));
                break;
            }
            None => index += 1,
        }
    }
    if cursor.is_none() && index < wanted.len() {
        // The page filled exactly at a partition's end: the next page starts the next status.
        cursor = Some(format!("{}.", wanted[index].as_str()));
    }
    Ok((items, cursor))
}

fn invite_of(device: &DeviceRecord) -> Option<InviteRef> {
    InviteRef::from_tag(&device.invite.as_ref()?.reference)
}

/// A new invite was queued for the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InviteQueued {
    pub serial_number: String,
    pub invite_state: InviteState,
    pub attempt: u32,
}

/// Sends the device's user a new invite, at most once a minute.
pub async fn resend(
    reads: &impl AdminReads,
    outbox: &impl Outbox,
    queue: &impl InviteQueue,
    serial: &str,
    by: &str,
) -> Result<InviteQueued, AdminError> {
    let device = reads.device(serial).await?.ok_or_else(no_device)?;
    match device.status_at(epoch_now()) {
        DeviceStatus::PreApproved => {}
        DeviceStatus::Enrolled => {
            return Err(AdminError::Conflict(
                "the device has enrolled already: it needs no invite".into(),
            ))
        }
        DeviceStatus::Expired => {
            return Err(AdminError::Conflict(
                "the device's pre-approval has expired: renew it first, then send the invite"
                    .into(),
            ))
        }
    }
    let r = invite_of(&device).ok_or_else(|| {
        AdminError::Conflict(
            "this device was imported without an invite (Invite = none): import it again \
             with an invite channel to send one"
                .into(),
        )
    })?;
    let attempt = match resend_one(outbox, queue, &r, now_secs()).await {
        Ok(attempt) => attempt,
        Err(ResendError::TooSoon { retry_after }) => {
            return Err(AdminError::TooSoon {
                retry_after,
                message: format!(
                    "an invite went to this device less than a minute ago; try again in {retry_after} s"
                ),
            })
        }
        Err(ResendError::InFlight) => {
            return Err(AdminError::TooSoon {
                retry_after: 60,
                message: "the invite is being sent right now; look again in a minute".into(),
            })
        }
        Err(ResendError::NoInvite) => {
            return Err(AdminError::Conflict("this device's invite record has expired".into()))
        }
        Err(ResendError::Port(e)) => return Err(e.into()),
    };
    tracing::info!(by = %by, attempt, "invite resent");
    Ok(InviteQueued {
        serial_number: device.serial,
        invite_state: InviteState::Queued,
        attempt,
    })
}

fn no_device() -> AdminError {
    AdminError::NotFound("no device has this serial number (serials are case-sensitive)".into())
}

/// One device's page in three DynamoDB requests: the device, then its user
/// and invite together, and its audit trail.
pub async fn one(
    reads: &impl AdminReads,
    actions: &impl DeviceActions,
    serial: &str,
) -> Result<DeviceDetail, AdminError> {
    // The audit trail does not depend on the device: both in one round trip's time.
    let (device, audit) =
        futures::future::try_join(reads.device(serial), actions.audit(serial, AUDIT_LIMIT)).await?;
    let device = device.ok_or_else(no_device)?;
    let email = Some(device.email.as_str()).filter(|e| !e.is_empty());
    let (user, invite) = reads
        .user_and_invite(email, invite_of(&device).as_ref())
        .await?;
    let user = user.map(UserView::from);
    let device = DeviceView::from(device);
    let pre_approved = device.status == DeviceStatus::PreApproved;
    Ok(DeviceDetail {
        device,
        user,
        banner: pre_approved.then_some(BANNER),
        details_note: pre_approved.then_some(DETAILS_NOTE),
        audit,
        invite,
    })
}

/// Removes a pre-approval, resets an enrolled device or unlocks a serial,
/// with an audit entry (who, when, what) written with the change.
pub async fn act(
    actions: &impl DeviceActions,
    serial: &str,
    action: DeviceAction,
    by: &str,
) -> Result<ActionDone, AdminError> {
    change(actions, serial, action, None, by).await
}

/// Pre-approves a pre-approved or expired device again, until the body's
/// expiry (or the settings' default, or for good).
pub async fn renew(
    actions: &impl DeviceActions,
    settings: &impl crate::settings::SettingsStore,
    serial: &str,
    input: &RenewInput,
    by: &str,
) -> Result<ActionDone, AdminError> {
    let default_days = match (&input.expires, input.expires_in_days) {
        (None, None) => settings.load().await?.settings.default_expiry_days,
        _ => None,
    };
    let expires = input.expiry(default_days, epoch_now())?;
    change(actions, serial, DeviceAction::Renew, expires, by).await
}

async fn change(
    actions: &impl DeviceActions,
    serial: &str,
    action: DeviceAction,
    expires: Option<Expiry>,
    by: &str,
) -> Result<ActionDone, AdminError> {
    let audit = DeviceAudit {
        at: now_rfc3339(),
        by: by.to_owned(),
        action,
        expires,
    };
    match actions.act(serial, action, &audit).await? {
        Acted::Done => {
            tracing::info!(by = %by, ?action, "device changed by an administrator");
            Ok(ActionDone {
                serial_number: serial.to_owned(),
                action,
                at: audit.at,
                expires_at: expires,
            })
        }
        Acted::Missing => Err(no_device()),
        Acted::WrongStatus(status) => Err(AdminError::Conflict(
            match (action, status) {
                (DeviceAction::Remove, _) => {
                    "the device has enrolled; reset it first if it should enroll again"
                }
                (DeviceAction::Renew, _) => {
                    "the device has enrolled, and enrolled devices do not expire: nothing to renew"
                }
                _ => "the device has not enrolled, so there is nothing to reset",
            }
            .into(),
        )),
    }
}

pub async fn overview(reads: &impl AdminReads) -> Result<Overview, AdminError> {
    Ok(Overview {
        counts: reads.counts().await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches() {
        assert_eq!(DeviceSearch::parse(None), DeviceSearch::All);
        assert_eq!(DeviceSearch::parse(Some("  ")), DeviceSearch::All);
        assert_eq!(
            DeviceSearch::parse(Some("C02")),
            DeviceSearch::SerialPrefix("C02".into())
        );
        assert_eq!(
            DeviceSearch::parse(Some("Ann@X.com")),
            DeviceSearch::Email("ann@x.com".into())
        );
    }

    #[test]
    fn list_cursors_name_their_status() {
        let both = [DeviceStatus::PreApproved, DeviceStatus::Enrolled];
        assert_eq!(start(&both, None).unwrap(), (0, None));
        assert_eq!(start(&both, Some("enrolled.")).unwrap(), (1, None));
        let key = Cursor::parse(&hex::encode(r#"{"serial":"A"}"#)).unwrap();
        assert_eq!(
            start(&both, Some(&format!("pre_approved.{}", key.encode()))).unwrap(),
            (0, Some(key))
        );
        for bad in ["x", "lost.", "enrolled.zz"] {
            assert!(start(&both, Some(bad)).is_err(), "{bad}");
        }
        assert!(
            start(&[DeviceStatus::PreApproved], Some("enrolled.")).is_err(),
            "a cursor of another filter"
        );
    }
}
