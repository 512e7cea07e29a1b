//! GET /v1/devices, /v1/devices/{serial} and /v1/overview.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Serialize;
use shared::aws::admin::{decode_cursor, DeviceSearch};
use shared::records::{DeviceRecord, DeviceStatus, EnrollmentInfo};

use crate::http::{json, ApiError};
use crate::routes::Call;

const PAGE: i32 = 50;

/// A device as the admin page shows it: never the password hash.
#[derive(Serialize)]
pub struct DeviceView {
    serial_number: String,
    status: DeviceStatus,
    /// The seeds' "Pre-approved Device": true until the device enrolls.
    pre_approved: bool,
    platform: String,
    ownership: Option<String>,
    device_name: Option<String>,
    groups: Vec<String>,
    email: String,
    domain: Option<String>,
    import_id: String,
    updated_at: String,
    has_enrollment_password: bool,
    enrollment: Option<EnrollmentInfo>,
}

impl From<DeviceRecord> for DeviceView {
    fn from(d: DeviceRecord) -> Self {
        Self {
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

fn statuses(param: Option<&str>) -> Result<Vec<DeviceStatus>, ApiError> {
    match param.unwrap_or("all") {
        "all" | "" => Ok(vec![DeviceStatus::PreApproved, DeviceStatus::Enrolled]),
        other => DeviceStatus::parse(other)
            .map(|s| vec![s])
            .ok_or_else(|| ApiError::bad("status", "use pre_approved, enrolled or all")),
    }
}

/// The cursor names the status it continues, so `all` pages through both partitions.
pub async fn list(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let wanted = statuses(call.query("status"))?;
    let search = DeviceSearch::parse(call.query("q"));
    let (mut index, mut start) = match call.query("cursor") {
        None | Some("") => (0, None),
        Some(c) => {
            let bad = || ApiError::bad("cursor", "use the cursor of the previous page as given");
            let (status, key) = c.split_once('.').ok_or_else(bad)?;
            let status = DeviceStatus::parse(status).ok_or_else(bad)?;
            let index = wanted.iter().position(|s| *s == status).ok_or_else(bad)?;
            let start = match key {
                "" => None,
                key => Some(decode_cursor(key).ok_or_else(bad)?),
            };
            (index, start)
        }
    };
    let reads = call.app.reads();
    let mut items: Vec<DeviceView> = Vec::new();
    let mut cursor = None;
    while index < wanted.len() && items.len() < PAGE as usize {
        let status = wanted[index];
        let page = reads
            .devices(status, &search, start.take(), PAGE - items.len() as i32)
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
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "items": items, "cursor": cursor }),
    ))
}

pub async fn one(call: &Call<'_>, serial: &str) -> Result<Response<Body>, ApiError> {
    let reads = call.app.reads();
    let device = reads.device(serial).await?.ok_or_else(|| {
        ApiError::NotFound("no device has this serial number (serials are case-sensitive)".into())
    })?;
    let user = reads.user(&device.email).await?;
    let pre_approved = device.status == DeviceStatus::PreApproved;
    // The device's own fields at the top, with its user and the page's banner beside them.
    let mut v = serde_json::to_value(DeviceView::from(device)).unwrap_or_default();
    v["user"] = serde_json::json!(user);
    v["banner"] = serde_json::json!(pre_approved.then_some("Pre-approved Device"));
    v["details_note"] = serde_json::json!(pre_approved.then_some(
        "Location and hardware details appear only after the device enrolls; until then only the serial number is known."
    ));
    Ok(json(StatusCode::OK, &v))
}

pub async fn overview(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let counts = call.app.reads().counts().await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "counts": counts }),
    ))
}
