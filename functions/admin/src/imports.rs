//! GET /v1/imports and /v1/imports/{id}: history, progress, errors and report links.

use std::time::Duration;

use aws_sdk_s3::presigning::PresigningConfig;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use shared::aws::s3::head;
use shared::import::report_keys;
use shared::ports::{ImportState, PortError};

use crate::http::{json, ApiError};
use crate::routes::Call;

/// Presigned links live long enough to click, not to share.
pub const LINK_TTL: Duration = Duration::from_secs(15 * 60);

fn progress(st: &ImportState) -> serde_json::Value {
    // Validation reads every row once, then writing does: half the bar each.
    let rows = st.counts.rows.max(st.rows_validated).max(1) as f64;
    let fraction = match st.status.as_str() {
        "completed" | "rejected" | "failed" => 1.0,
        "validating" => 0.5 * st.rows_validated as f64 / rows,
        _ => {
            0.5 + 0.5
                * (st.counts.devices_written as f64 / st.counts.valid_rows.max(1) as f64).min(1.0)
        }
    };
    serde_json::json!({
        "rows_validated": st.rows_validated,
        "rows_written": st.counts.devices_written,
        "rows_invited": st.counts.invites_sent,
        "fraction": (fraction * 1000.0).round() / 1000.0,
    })
}

fn summary(st: &ImportState) -> serde_json::Value {
    serde_json::json!({
        "import_id": st.import_id,
        "key": st.key,
        "file": st.key.rsplit('/').next().unwrap_or(&st.key),
        "status": st.status,
        "created_at": st.created_at,
        "counts": st.counts,
        "skipped_total": st.skipped_total,
        "options": {
            "invite": st.options.invite,
            "existing_users": st.options.existing,
            "on_error": st.options.on_error,
            "domain": st.options.domain,
        },
        "progress": progress(st),
    })
}

pub async fn list(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let cursor = call.cursor()?;
    let page = call.app.reads().imports(cursor, 25).await?;
    let items: Vec<_> = page.items.iter().map(summary).collect();
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "items": items, "cursor": page.cursor }),
    ))
}

/// How long presigned links live (long enough to click, not to share).
pub fn presigning() -> Result<PresigningConfig, ApiError> {
    Ok(PresigningConfig::expires_in(LINK_TTL).map_err(|e| PortError::new("presign", e))?)
}

async fn presigned_get(call: &Call<'_>, key: &str) -> Result<String, ApiError> {
    let req = call
        .app
        .s3
        .get_object()
        .bucket(&call.app.config.bucket)
        .key(key)
        .presigned(presigning()?)
        .await
        .map_err(|e| PortError::new("presign", e))?;
    Ok(req.uri().to_owned())
}

pub async fn one(call: &Call<'_>, id: &str) -> Result<Response<Body>, ApiError> {
    let st = call
        .app
        .reads()
        .import(id)
        .await?
        .ok_or_else(|| ApiError::NotFound("no import has this id".into()))?;
    let (report_key, errors_key) = report_keys(&st.key);
    // The report holds every error with row, column, value and message; read it once it exists.
    let report: Option<serde_json::Value> = match call
        .app
        .s3
        .get_object()
        .bucket(&call.app.config.bucket)
        .key(&report_key)
        .send()
        .await
    {
        Ok(out) => match out.body.collect().await {
            Ok(bytes) => serde_json::from_slice(&bytes.into_bytes()).ok(),
            Err(_) => None,
        },
        Err(_) => None,
    };
    let mut v = summary(&st);
    v["skipped"] = serde_json::to_value(&st.skipped).unwrap_or_default();
    v["invite_errors"] = serde_json::to_value(&st.invite_errors).unwrap_or_default();
    v["errors"] = report
        .as_ref()
        .and_then(|r| r.get("errors").cloned())
        .unwrap_or_else(|| serde_json::json!([]));
    v["warnings"] = report
        .as_ref()
        .and_then(|r| r.get("warnings").cloned())
        .unwrap_or_else(|| serde_json::json!([]));
    // The report was just read; only the errors file needs a look to know it exists.
    let report_url = match report {
        Some(_) => Some(presigned_get(call, &report_key).await?),
        None => None,
    };
    let errors_csv = head(&call.app.s3, &call.app.config.bucket, &errors_key, None).await;
    let errors_csv_url = match errors_csv {
        Ok(_) => Some(presigned_get(call, &errors_key).await?),
        Err(_) => None,
    };
    v["report_url"] = serde_json::json!(report_url);
    v["errors_csv_url"] = serde_json::json!(errors_csv_url);
    Ok(json(StatusCode::OK, &v))
}
