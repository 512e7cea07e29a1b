//! The device list (the seeds' Manage > Devices > Filter by Enrollment
//! Status), one device with its "Pre-approved Device" banner, and the overview.

use serde::Serialize;

use super::{
    Acted, AdminError, AdminReads, Count, Cursor, DeviceAction, DeviceActions, DeviceAudit, Page,
};
use crate::admission::lockout;
use crate::domain::email_key;
use crate::records::{
    epoch_now, now_rfc3339, rfc3339, DeviceRecord, DeviceStatus, EnrollmentInfo, UserRecord,
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
    pub enrollment: Option<EnrollmentInfo>,
    /// Wrong enrollment passwords since the last right one.
    pub failed_attempts: usize,
    /// While the attempt limit refuses every admission of this serial.
    pub locked_until: Option<String>,
}

impl From<DeviceRecord> for DeviceView {
    fn from(d: DeviceRecord) -> Self {
        let locked_until = lockout::locked_until(&d.failures).filter(|t| *t > epoch_now());
        Self {
            failed_attempts: d.failures.len(),
            locked_until: locked_until.map(rfc3339),
            pre_approved: d.status == DeviceStatus::PreApproved,
            status: d.status,
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
}

/// An administrator's action, done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionDone {
    pub serial_number: String,
    pub action: DeviceAction,
    pub at: String,
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
    pub cursor: Option<&'a str>,
}

fn statuses(param: Option<&str>) -> Result<Vec<DeviceStatus>, AdminError> {
    match param.unwrap_or("all") {
        "all" | "" => Ok(vec![DeviceStatus::PreApproved, DeviceStatus::Enrolled]),
        other => DeviceStatus::parse(other)
            .map(|s| vec![s])
            .ok_or_else(|| AdminError::bad("status", "use pre_approved, enrolled or all")),
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

pub async fn list(
    reads: &impl AdminReads,
    query: DeviceQuery<'_>,
) -> Result<Page<DeviceView>, AdminError> {
    let wanted = statuses(query.status)?;
    let search = DeviceSearch::parse(query.q);
    let (mut index, mut from) = start(&wanted, query.cursor)?;
    let mut items: Vec<DeviceView> = Vec::new();
    let mut cursor = None;
    while index < wanted.len() && items.len() < PAGE {
        let status = wanted[index];
        let page = reads
            .devices(status, &search, from.take(), PAGE - items.len())
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
    Ok(Page { items, cursor })
}

fn no_device() -> AdminError {
    AdminError::NotFound("no device has this serial number (serials are case-sensitive)".into())
}

pub async fn one(
    reads: &impl AdminReads,
    actions: &impl DeviceActions,
    serial: &str,
) -> Result<DeviceDetail, AdminError> {
    let device = reads.device(serial).await?.ok_or_else(no_device)?;
    let user = match device.email.as_str() {
        "" => None,
        key => reads.user(key).await?.map(UserView::from),
    };
    let pre_approved = device.status == DeviceStatus::PreApproved;
    Ok(DeviceDetail {
        device: device.into(),
        user,
        banner: pre_approved.then_some(BANNER),
        details_note: pre_approved.then_some(DETAILS_NOTE),
        audit: actions.audit(serial, AUDIT_LIMIT).await?,
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
    let audit = DeviceAudit {
        at: now_rfc3339(),
        by: by.to_owned(),
        action,
    };
    match actions.act(serial, action, &audit).await? {
        Acted::Done => {
            tracing::info!(by = %by, ?action, "device changed by an administrator");
            Ok(ActionDone {
                serial_number: serial.to_owned(),
                action,
                at: audit.at,
            })
        }
        Acted::Missing => Err(no_device()),
        Acted::WrongStatus(status) => Err(AdminError::Conflict(
            match (action, status) {
                (DeviceAction::Remove, _) => {
                    "the device has enrolled; reset it first if it should enroll again"
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
