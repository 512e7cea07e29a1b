//! The guided upload (the seeds' three steps): POST /v1/uploads, POST
//! /v1/imports/preview, POST /v1/imports; and GET /v1/sample.csv.

use aws_sdk_s3::primitives::ByteStream;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::Deserialize;
use shared::aws::dynamo::DynamoDirectory;
use shared::aws::s3::{head, S3Object};
use shared::csvfile::{HeaderError, ManualMapping, ReadError, TextEncoding};
use shared::domain::options::wire_name;
use shared::domain::{ExistingPolicy, ImportOptions, InviteChannel, OnError};
use shared::import::preview::{preview as preview_file, write_final, PreviewError};
use shared::import::{FileError, ImportObject};
use shared::ports::{Directory, ObjectSource, PortError};

use crate::http::{body, json, with_type, ApiError};
use crate::imports::{presigning, LINK_TTL};
use crate::routes::Call;

/// Staged uploads go here, outside `imports/`, so nothing imports them before the admin commits.
pub const STAGING_PREFIX: &str = "staging/";

/// Step 1 of the guided upload: a presigned PUT for a staging key.
pub async fn upload_url(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let key = format!("{STAGING_PREFIX}{}.csv", uuid::Uuid::new_v4().simple());
    let req = call
        .app
        .s3
        .put_object()
        .bucket(&call.app.config.bucket)
        .key(&key)
        .content_type("text/csv")
        .presigned(presigning()?)
        .await
        .map_err(|e| PortError::new("presign", e))?;
    Ok(json(
        StatusCode::CREATED,
        &serde_json::json!({
            "key": key,
            "url": req.uri(),
            "method": "PUT",
            "headers": {"content-type": "text/csv"},
            "expires_in": LINK_TTL.as_secs(),
        }),
    ))
}

/// Every column, two example rows (one with every optional field).
pub const SAMPLE_CSV: &str = "\
Name,Email,Ownership,Serial Number,Platform,SAMAccountName,Mobile,Device Name,Password,Device Group\r\n\
Jane Doe,jane.doe@example.com,corporate,C02XK0ABJGH5,macos,jdoe,+14155550123,Jane's MacBook,Enroll-7421,Engineering;Laptops\r\n\
John Smith,john.smith@example.com,personal,R58M12ABCDE,android,,,,,\r\n";

pub fn sample() -> Response<Body> {
    let mut r = with_type(
        StatusCode::OK,
        Body::from(SAMPLE_CSV),
        "text/csv; charset=utf-8",
    );
    r.headers_mut().insert(
        lambda_http::http::header::CONTENT_DISPOSITION,
        lambda_http::http::HeaderValue::from_static(
            "attachment; filename=\"pre-approved-devices-sample.csv\"",
        ),
    );
    r
}

/// Staged keys come back from the page: only ones [`upload_url`] could have made.
fn staged_key(key: &str) -> Result<&str, ApiError> {
    let name = key.strip_prefix(STAGING_PREFIX).unwrap_or_default();
    if name.is_empty() || name.contains('/') || !name.ends_with(".csv") {
        return Err(ApiError::bad(
            "key",
            "use the key POST /v1/uploads returned",
        ));
    }
    Ok(key)
}

async fn staged(call: &Call<'_>, key: &str) -> Result<S3Object, ApiError> {
    let c = &call.app.config;
    let info = head(&call.app.s3, &c.bucket, key, None)
        .await
        .map_err(|_| {
            ApiError::NotFound(
                "the staged file is not there (expired or never uploaded); upload it again".into(),
            )
        })?;
    Ok(S3Object {
        client: call.app.s3.clone(),
        bucket: c.bucket.clone(),
        key: key.to_owned(),
        version_id: info.version_id,
        etag: info.etag,
        handle: tokio::runtime::Handle::current(),
    })
}

fn file_error(e: FileError) -> ApiError {
    let headers = match &e {
        FileError::Header(HeaderError::Missing { found, .. }) => found.clone(),
        _ => Vec::new(),
    };
    ApiError::Unprocessable {
        message: e.to_string(),
        headers,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewBody {
    key: String,
    #[serde(default)]
    mapping: ManualMapping,
    invite: Option<InviteChannel>,
    #[serde(default = "first_page")]
    page: usize,
    #[serde(default = "default_page_size")]
    page_size: usize,
}

fn first_page() -> usize {
    1
}

fn default_page_size() -> usize {
    100
}

/// Step 2: the staged file as the import will see it, one page of rows at a
/// time, with which of the page's devices and users exist already.
pub async fn preview(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let b: PreviewBody = body(call.body)?;
    let key = staged_key(&b.key)?.to_owned();
    let c = &call.app.config;
    let stored = shared::aws::settings::load(&call.app.dynamo, &c.tables.settings).await?;
    let options = ImportOptions {
        invite: b.invite.or(stored.defaults.invite).unwrap_or_default(),
        mapping: b.mapping,
        ..ImportOptions::default()
    };
    let source = staged(call, &key).await?;
    let (page, size) = (b.page, b.page_size);
    let p =
        tokio::task::spawn_blocking(move || preview_file(|| source.open(), &options, page, size))
            .await
            .map_err(|e| PortError::new("preview", e))?
            .map_err(|e| match e {
                PreviewError::File(f) => file_error(f),
                too_large => ApiError::bad("key", too_large.to_string()),
            })?;
    // BatchGetItem refuses duplicate keys: one per serial and per email.
    let unique = |field: &str, f: fn(&str) -> String| -> Vec<String> {
        let set: std::collections::BTreeSet<String> = p
            .rows
            .iter()
            .filter_map(|r| r.cells.get(field).map(|v| f(v.trim())))
            .filter(|v| !v.is_empty())
            .collect();
        set.into_iter().collect()
    };
    let serials = unique("serial_number", str::to_owned);
    let emails = unique("email", str::to_lowercase);
    let directory = DynamoDirectory::new(call.app.dynamo.clone(), c.tables.clone());
    let (devices, users) = directory.existing(&serials, &emails).await?;
    let rows: Vec<serde_json::Value> = p
        .rows
        .iter()
        .map(|r| {
            let serial = r
                .cells
                .get("serial_number")
                .map(|s| s.trim())
                .unwrap_or_default();
            let email = r
                .cells
                .get("email")
                .map(|e| e.trim().to_lowercase())
                .unwrap_or_default();
            let mut v = serde_json::to_value(r).unwrap_or_default();
            v["existing_device"] = serde_json::json!(devices.get(serial).map(|d| d.status));
            v["existing_user"] = serde_json::json!(users.contains_key(&email));
            v
        })
        .collect();
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({
            "key": key,
            "dialect": p.scan.dialect,
            "columns": p.scan.columns,
            "rows_total": p.scan.rows,
            "valid_rows": p.scan.valid_rows,
            "errors_total": p.scan.errors.len(),
            "errors": p.scan.errors,
            "warnings": p.scan.warnings,
            "duplicate_email_groups": p.scan.duplicate_email_groups,
            "duplicate_emails": p.duplicate_emails,
            "page": p.page,
            "page_size": p.page_size,
            "pages": p.pages,
            "rows": rows,
        }),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommitBody {
    key: String,
    #[serde(default)]
    mapping: ManualMapping,
    /// Rows the admin unchecked (spreadsheet row numbers of the staged file).
    #[serde(default)]
    exclude_rows: Vec<u64>,
    invite: Option<InviteChannel>,
    existing_users: Option<ExistingPolicy>,
    on_error: Option<OnError>,
    domain: Option<String>,
    /// The name of the file the admin picked, for the import's key.
    file_name: Option<String>,
}

/// A safe, readable key part from the admin's file name.
fn stem(file_name: Option<&str>) -> String {
    let name = file_name
        .unwrap_or("upload")
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("upload");
    let name = name
        .strip_suffix(".csv")
        .or_else(|| name.strip_suffix(".CSV"))
        .unwrap_or(name);
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(80)
        .collect();
    if clean.trim_matches('-').is_empty() {
        "upload".into()
    } else {
        clean
    }
}

/// Step 3: writes the final file (kept rows, canonical titles) and its options
/// to `imports/`, so the normal S3 -> SQS -> import path runs it.
pub async fn commit(call: &Call<'_>) -> Result<Response<Body>, ApiError> {
    let mut b: CommitBody = body(call.body)?;
    let key = staged_key(&b.key)?.to_owned();
    b.exclude_rows.sort_unstable();
    b.exclude_rows.dedup();
    let c = &call.app.config;
    let stored = shared::aws::settings::load(&call.app.dynamo, &c.tables.settings).await?;
    let options = ImportOptions {
        invite: b.invite.or(stored.defaults.invite).unwrap_or_default(),
        existing: b
            .existing_users
            .or(stored.defaults.existing)
            .unwrap_or_default(),
        on_error: b.on_error.or(stored.defaults.on_error).unwrap_or_default(),
        domain: b
            .domain
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_owned),
        mapping: b.mapping,
    };
    let source = staged(call, &key).await?;
    // The final file goes through /tmp, so memory stays flat whatever its size.
    let tmp = std::env::temp_dir().join(format!("commit-{}.csv", uuid::Uuid::new_v4().simple()));
    let (path, opts, excluded) = (tmp.clone(), options.clone(), b.exclude_rows);
    let kept = tokio::task::spawn_blocking(move || -> Result<u64, FileError> {
        // The same encoding detection as the import: UTF-8 first, Windows-1252 if that fails.
        let write = |encoding| -> Result<u64, FileError> {
            let file =
                std::fs::File::create(&path).map_err(|e| FileError::Read(ReadError::Io(e)))?;
            let input = source
                .open()
                .map_err(|e| FileError::Read(ReadError::Io(e)))?;
            write_final(
                input,
                &opts,
                encoding,
                &excluded,
                std::io::BufWriter::new(file),
            )
        };
        match write(None) {
            Err(FileError::Read(ReadError::BadEncoding { .. })) => {
                write(Some(TextEncoding::Windows1252))
            }
            other => other,
        }
    })
    .await
    .map_err(|e| PortError::new("commit", e))?;
    let kept = match kept {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(file_error(e));
        }
    };
    if kept == 0 {
        let _ = std::fs::remove_file(&tmp);
        return Err(ApiError::bad(
            "exclude_rows",
            "every row is unchecked; keep at least one",
        ));
    }
    let target = format!(
        "imports/{}-{}.csv",
        stem(b.file_name.as_deref()),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let body = ByteStream::from_path(&tmp)
        .await
        .map_err(|e| PortError::new("commit", e));
    let mut put = call
        .app
        .s3
        .put_object()
        .bucket(&c.bucket)
        .key(&target)
        .content_type("text/csv; charset=utf-8")
        .metadata("invite", wire_name(&options.invite))
        .metadata("existing-users", wire_name(&options.existing))
        .metadata("on-error", wire_name(&options.on_error))
        .metadata("submitted-by", ascii(&call.admin.username));
    if let Some(d) = &options.domain {
        put = put.metadata("domain", ascii(d));
    }
    let written = match body {
        Ok(body) => put
            .body(body)
            .send()
            .await
            .map_err(|e| PortError::new("commit", aws_sdk_s3::error::DisplayErrorContext(e))),
        Err(e) => Err(e),
    };
    let _ = std::fs::remove_file(&tmp);
    let out = written?;
    let import_id = ImportObject {
        bucket: c.bucket.clone(),
        key: target.clone(),
        version: out
            .version_id
            .clone()
            .filter(|v| v != "null")
            .or(out.e_tag.clone()),
    }
    .import_id();
    // The staged copy has served its purpose (a lifecycle rule would also expire it).
    let _ = call
        .app
        .s3
        .delete_object()
        .bucket(&c.bucket)
        .key(&key)
        .send()
        .await;
    tracing::info!(by = %call.admin.username, rows = kept, "guided upload committed");
    Ok(json(
        StatusCode::ACCEPTED,
        &serde_json::json!({"import_id": import_id, "key": target, "rows": kept}),
    ))
}

/// S3 metadata travels in HTTP headers: keep it ASCII.
fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::SAMPLE_CSV;
    use shared::domain::ImportOptions;
    use shared::import::scan::scan;

    /// The sample must pass the import's own validation.
    #[test]
    fn the_sample_file_is_valid() {
        let bytes = SAMPLE_CSV.as_bytes().to_vec();
        let result = scan(
            || Ok(Box::new(std::io::Cursor::new(bytes.clone()))),
            &ImportOptions::default(),
            |_| {},
        )
        .unwrap();
        assert_eq!(
            (result.rows, result.valid_rows),
            (2, 2),
            "{:?}",
            result.errors
        );
        assert!(result.errors.is_empty());
    }
}
