//! GET/PUT /v1/settings and GET /v1/settings/history.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use shared::aws::settings::{history as audit, load_versioned, save};
use shared::settings::SettingsPatch;

use crate::http::{body, json, ApiError};
use crate::routes::Call;

pub async fn get(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let c = &call.app.config;
    let v = load_versioned(&call.app.dynamo, &c.tables.settings).await?;
    Ok(json(StatusCode::OK, &v.settings))
}

pub async fn put(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let patch: SettingsPatch = body(call.body)?;
    let c = &call.app.config;
    // Optimistic: a concurrent save makes this one re-read and re-apply, a few times.
    for _ in 0..3 {
        let current = load_versioned(&call.app.dynamo, &c.tables.settings).await?;
        let (next, changes) = current
            .settings
            .apply(&patch)
            .map_err(|e| ApiError::bad(e.field, e.message))?;
        if changes.is_empty() {
            return Ok(json(StatusCode::OK, &next));
        }
        let by = &call.admin.username;
        if save(
            &call.app.dynamo,
            &c.tables.settings,
            &next,
            current.version,
            &changes,
            by,
        )
        .await?
        {
            tracing::info!(by = %by, fields = changes.len(), "settings changed");
            return Ok(json(StatusCode::OK, &next));
        }
    }
    Err(ApiError::Conflict(
        "the settings are being changed by someone else; reload and try again".into(),
    ))
}

pub async fn history(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let entries = audit(&call.app.dynamo, &call.app.config.tables.settings, 50).await?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "items": entries }),
    ))
}
