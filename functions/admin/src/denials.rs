//! GET /v1/admission-denials and POST /v1/admission-denials/{id}/approve.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Deserialize;
use shared::aws::items::{device_item, s, user_item};
use shared::aws::messaging::AwsInviteSender;
use shared::domain::values::parse_groups;
use shared::domain::{Email, InviteChannel, Mobile, Ownership, Platform};
use shared::ports::{Invite, InviteSender};
use shared::records::{now_rfc3339, DeviceRecord, DeviceStatus, UserRecord};

use crate::http::{body, json, ApiError};
use crate::routes::Call;

pub async fn list(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let cursor = call.cursor()?;
    let page = call.app.reads().denials(cursor, 50).await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "items": page.items, "cursor": page.cursor }),
    ))
}

/// Who the approved device is for.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Approval {
    name: String,
    email: String,
    #[serde(default = "corporate")]
    ownership: String,
    device_name: Option<String>,
    #[serde(default)]
    groups: Option<String>,
    mobile: Option<String>,
    #[serde(default)]
    invite: InviteChannel,
}

fn corporate() -> String {
    "corporate".into()
}

fn field<T>(name: &'static str, r: Result<T, shared::domain::ValueError>) -> Result<T, ApiError> {
    r.map_err(|e| ApiError::bad(name, e.0))
}

/// Pre-approves the blocked serial for the named user and sends the invite.
/// The device, the user and the denial's `approved` mark are written in one
/// transaction that fails if the denial was approved already, so a repeated
/// click never sends a second invite.
pub async fn approve(call: &Call<'_>, id: &str) -> Result<Response<Body>, ApiError> {
    let a: Approval = body(call.body)?;
    let reads = call.app.reads();
    let denial = reads.denial(id).await?.ok_or_else(|| {
        ApiError::NotFound("no blocked attempt has this id (they expire after 30 days)".into())
    })?;
    let platform = Platform::parse(&denial.platform).map_err(|e| ApiError::Conflict(e.0))?;
    let name = a.name.trim();
    if name.is_empty() {
        return Err(ApiError::bad("name", "the user's name is required"));
    }
    let email = field("email", Email::parse(a.email.trim()))?;
    let ownership = field("ownership", Ownership::parse(a.ownership.trim()))?;
    let mobile = a
        .mobile
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| field("mobile", Mobile::parse(m)))
        .transpose()?;
    if a.invite == InviteChannel::Sms && mobile.is_none() {
        return Err(ApiError::bad(
            "mobile",
            "an SMS invite needs the user's mobile number",
        ));
    }
    let groups = field("groups", parse_groups(a.groups.as_deref().unwrap_or("")))?;
    let now = now_rfc3339();
    let import_id = format!("approval:{id}");
    let device = DeviceRecord {
        serial: denial.serial_number.clone(),
        status: DeviceStatus::PreApproved,
        platform,
        ownership: Some(ownership),
        email: email.key(),
        device_name: a.device_name.clone().filter(|d| !d.trim().is_empty()),
        groups,
        password_hash: None,
        import_id: import_id.clone(),
        domain: None,
        updated_at: now.clone(),
        enrollment: None,
    };
    let user = UserRecord {
        email: email.key(),
        address: email.as_str().to_owned(),
        name: name.to_owned(),
        sam_account_name: None,
        mobile: mobile.as_ref().map(|m| m.as_str().to_owned()),
        domain: None,
        import_id,
        updated_at: now.clone(),
    };
    let c = &call.app.config;
    let build = |e| ApiError::Unavailable(shared::ports::PortError::new("approve", e));
    let put_device = Put::builder()
        .table_name(&c.tables.devices)
        .set_item(Some(device_item(&device)))
        // Never turn an enrolled device back into a pre-approved one.
        .condition_expression("attribute_not_exists(serial) OR #st = :pre")
        .expression_attribute_names("#st", "status")
        .expression_attribute_values(":pre", s(DeviceStatus::PreApproved.as_str()))
        .build()
        .map_err(build)?;
    let put_user = Put::builder()
        .table_name(&c.tables.users)
        .set_item(Some(user_item(&user)))
        .build()
        .map_err(build)?;
    let mark = Update::builder()
        .table_name(&c.denials_table)
        .key("denial_id", s(id))
        .update_expression("SET approved_by = :by, approved_at = :at")
        .condition_expression("attribute_exists(denial_id) AND attribute_not_exists(approved_at)")
        .expression_attribute_values(":by", s(&call.admin.username))
        .expression_attribute_values(":at", s(&now))
        .build()
        .map_err(build)?;
    let written = call
        .app
        .dynamo
        .transact_write_items()
        .transact_items(TransactWriteItem::builder().put(put_device).build())
        .transact_items(TransactWriteItem::builder().put(put_user).build())
        .transact_items(TransactWriteItem::builder().update(mark).build())
        .send()
        .await;
    if let Err(e) = written {
        if e.as_service_error()
            .is_some_and(|se| se.is_transaction_canceled_exception())
        {
            return Err(ApiError::Conflict(
                "this attempt was approved already, or the device has enrolled since".into(),
            ));
        }
        return Err(ApiError::Unavailable(shared::ports::PortError::new(
            "approve",
            aws_sdk_dynamodb::error::DisplayErrorContext(e),
        )));
    }
    let stored = shared::aws::settings::load(&call.app.dynamo, &c.tables.settings).await?;
    let invite_sent = match a.invite {
        InviteChannel::None => None,
        channel => {
            let sender = AwsInviteSender {
                ses: call.app.ses.clone(),
                sns: call.app.sns.clone(),
                from: stored
                    .invite_sender
                    .unwrap_or_else(|| c.invite_sender.clone()),
                enrollment_url: stored
                    .enrollment_url
                    .unwrap_or_else(|| c.enrollment_url.clone()),
            };
            let invite = Invite {
                row: 0,
                channel,
                to: match channel {
                    InviteChannel::Sms => mobile.map(|m| m.as_str().to_owned()).unwrap_or_default(),
                    _ => email.as_str().to_owned(),
                },
                user_name: name.to_owned(),
                serial: device.serial.clone(),
                device_name: device.device_name.clone(),
                platform: platform.as_str(),
                password: None,
            };
            match sender.send(&invite).await {
                Ok(_) => Some(true),
                Err(e) => {
                    // The approval stands; the page says the invite was not sent.
                    tracing::warn!(error = %e, "approval invite not sent");
                    Some(false)
                }
            }
        }
    };
    tracing::info!(by = %call.admin.username, invite_sent = ?invite_sent, "blocked attempt approved");
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({
            "serial_number": device.serial,
            "status": "pre_approved",
            "invite": a.invite,
            "invite_sent": invite_sent,
        }),
    ))
}
