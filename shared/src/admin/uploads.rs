//! The guided upload (the seeds' three steps): a presigned upload to
//! `staging/`, a preview of the staged file as the import will see it, and
//! the commit that publishes the kept rows to `imports/`; and the sample file.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::ports::Published;
use super::{AdminError, AdminReads, Staging, LINK_TTL};
use crate::csvfile::{Dialect, HeaderError, ManualMapping, ReadError, TextEncoding};
use crate::domain::{
    email_key, ColumnDefaults, ExistingPolicy, ImportOptions, InviteChannel, OnError, UploadChoices,
};
use crate::files::ObjectSource;
use crate::import::preview::{
    preview as preview_file, write_final, DuplicateEmail, PreviewError, PreviewRow,
};
use crate::import::{FileError, ImportObject, RowIssue};
use crate::port_error::PortError;
use crate::records::DeviceStatus;
use crate::settings::SettingsStore;

/// Staged uploads go here, outside `imports/`, so nothing imports them before the admin commits.
pub const STAGING_PREFIX: &str = "staging/";
const CSV: &str = "text/csv";

/// Every column, two example rows (one with every optional field).
pub const SAMPLE_CSV: &str = "\
Name,Email,Ownership,Serial Number,Platform,SAMAccountName,Mobile,Device Name,Password,Device Group\r\n\
Jane Doe,jane.doe@example.com,corporate,C02XK0ABJGH5,macos,jdoe,+14155550123,Jane's MacBook,Enroll-7421,Engineering;Laptops\r\n\
John Smith,john.smith@example.com,personal,R58M12ABCDE,android,,,,,\r\n";

/// Where and how the page PUTs the file (step 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UploadTarget {
    pub key: String,
    pub url: String,
    pub method: &'static str,
    pub headers: BTreeMap<&'static str, &'static str>,
    pub expires_in: u64,
}

/// Step 1: a presigned PUT for a new staging key.
pub async fn upload_target(staging: &impl Staging) -> Result<UploadTarget, AdminError> {
    let key = format!("{STAGING_PREFIX}{}.csv", new_id());
    let url = staging.upload_link(&key, CSV).await?;
    Ok(UploadTarget {
        key,
        url,
        method: "PUT",
        headers: BTreeMap::from([("content-type", CSV)]),
        expires_in: LINK_TTL.as_secs(),
    })
}

/// 128 random bits as hex.
fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Staged keys come back from the page: only ones [`upload_target`] could have made.
fn staged_key(key: &str) -> Result<&str, AdminError> {
    let name = key.strip_prefix(STAGING_PREFIX).unwrap_or_default();
    if name.is_empty() || name.contains('/') || !name.ends_with(".csv") {
        return Err(AdminError::bad(
            "key",
            "use the key POST /v1/uploads returned",
        ));
    }
    Ok(key)
}

async fn staged(staging: &impl Staging, key: &str) -> Result<Arc<dyn ObjectSource>, AdminError> {
    staging.staged(key).await?.ok_or_else(|| {
        AdminError::NotFound(
            "the staged file is not there (expired or never uploaded); upload it again".into(),
        )
    })
}

fn file_error(e: FileError) -> AdminError {
    let (headers, mapping, platform_sources) = match &e {
        FileError::Header(HeaderError::Columns { seen, .. } | HeaderError::Source { seen, .. }) => {
            (
                seen.found.clone(),
                seen.mapped
                    .iter()
                    .map(|(f, title)| (f.key().to_owned(), title.clone()))
                    .collect(),
                seen.sources.clone(),
            )
        }
        _ => Default::default(),
    };
    AdminError::Unprocessable {
        message: e.to_string(),
        headers,
        mapping,
        platform_sources,
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewInput {
    pub key: String,
    #[serde(default)]
    pub mapping: ManualMapping,
    #[serde(default)]
    pub column_defaults: ColumnDefaults,
    pub invite: Option<InviteChannel>,
    #[serde(default = "first_page")]
    pub page: usize,
    #[serde(default = "default_page_size")]
    pub page_size: usize,
}

fn first_page() -> usize {
    1
}

fn default_page_size() -> usize {
    100
}

/// A previewed row with what is stored already for its device and user.
#[derive(Debug, Clone, Serialize)]
pub struct PreviewRowView {
    #[serde(flatten)]
    pub row: PreviewRow,
    pub existing_device: Option<DeviceStatus>,
    pub existing_user: bool,
}

/// Errors a preview lists beside its page of rows (a response under 1 MB).
pub const PREVIEW_ERRORS: usize = 200;

#[derive(Debug, Clone, Serialize)]
pub struct PreviewView {
    pub key: String,
    pub dialect: Dialect,
    pub columns: crate::csvfile::ColumnMap,
    pub rows_total: u64,
    pub valid_rows: u64,
    pub errors_total: u64,
    pub error_totals: crate::import::scan::IssueTotals,
    /// The first [`PREVIEW_ERRORS`]; each row of the page carries its own.
    pub errors: Vec<RowIssue>,
    pub warnings: Vec<RowIssue>,
    pub duplicate_email_groups: u64,
    pub duplicate_emails: Vec<DuplicateEmail>,
    /// When Platform is taken from another column: what the rows propose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform_proposals: Option<crate::import::proposals::ProposalTotals>,
    pub page: usize,
    pub page_size: usize,
    pub pages: usize,
    pub rows: Vec<PreviewRowView>,
}

/// Which of the previewed rows' devices and users are stored already (one
/// lookup for the page).
async fn with_existing(
    reads: &impl AdminReads,
    rows: Vec<PreviewRow>,
) -> Result<Vec<PreviewRowView>, AdminError> {
    let cell = |r: &PreviewRow, f: &str| {
        r.cells
            .get(f)
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    };
    // A set each: BatchGetItem refuses duplicate keys.
    let unique = |f: &str, key: fn(&str) -> String| -> Vec<String> {
        let set: BTreeSet<String> = rows
            .iter()
            .map(|r| key(&cell(r, f)))
            .filter(|v| !v.is_empty())
            .collect();
        set.into_iter().collect()
    };
    let serials = unique("serial_number", str::to_owned);
    let emails = unique("email", email_key);
    let (devices, users) = reads.existing(&serials, &emails).await?;
    Ok(rows
        .into_iter()
        .map(|row| PreviewRowView {
            existing_device: devices.get(&cell(&row, "serial_number")).map(|d| d.status),
            existing_user: users.contains_key(&email_key(&cell(&row, "email"))),
            row,
        })
        .collect())
}

/// Step 2: the staged file as the import will see it, one page of rows at a
/// time, with which of the page's devices and users exist already.
pub async fn preview(
    staging: &impl Staging,
    settings: &impl SettingsStore,
    reads: &impl AdminReads,
    input: PreviewInput,
) -> Result<PreviewView, AdminError> {
    let key = staged_key(&input.key)?.to_owned();
    let defaults = settings.load().await?.settings.import_defaults();
    let options = ImportOptions::resolve(
        UploadChoices {
            invite: input.invite,
            mapping: input.mapping,
            column_defaults: input.column_defaults,
            ..UploadChoices::default()
        },
        &defaults,
    );
    let source = staged(staging, &key).await?;
    let (page, size) = (input.page, input.page_size);
    let p =
        tokio::task::spawn_blocking(move || preview_file(|| source.open(), &options, page, size))
            .await
            .map_err(|e| PortError::new("preview", e))?
            .map_err(|e| match e {
                PreviewError::File(f) => file_error(f),
                too_large => AdminError::bad("key", too_large.to_string()),
            })?;
    let rows = with_existing(reads, p.rows).await?;
    let mut scan = p.scan;
    scan.errors.truncate(PREVIEW_ERRORS);
    Ok(PreviewView {
        key,
        dialect: scan.dialect,
        rows_total: scan.rows,
        valid_rows: scan.valid_rows,
        errors_total: scan.errors_total,
        error_totals: scan.error_totals,
        errors: scan.errors,
        warnings: scan.warnings,
        duplicate_email_groups: scan.duplicate_email_groups,
        columns: scan.columns,
        duplicate_emails: p.duplicate_emails,
        platform_proposals: scan.platform_proposals,
        page: p.page,
        page_size: p.page_size,
        pages: p.pages,
        rows,
    })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitInput {
    pub key: String,
    #[serde(default)]
    pub mapping: ManualMapping,
    /// One value for every row of Ownership or Platform when the file lacks the column.
    #[serde(default)]
    pub column_defaults: ColumnDefaults,
    /// Rows the admin unchecked (spreadsheet row numbers of the staged file).
    #[serde(default)]
    pub exclude_rows: Vec<u64>,
    pub invite: Option<InviteChannel>,
    pub existing_users: Option<ExistingPolicy>,
    pub on_error: Option<OnError>,
    pub domain: Option<String>,
    /// The name of the file the admin picked, for the import's key.
    pub file_name: Option<String>,
    /// Days until rows without their own `Expires` lapse; 0: they do not;
    /// absent: the settings' default.
    pub expires_in_days: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Committed {
    /// The id the import of the published file runs under.
    pub import_id: String,
    pub key: String,
    pub rows: u64,
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

/// Writes the final file into `path`: the kept rows under canonical titles,
/// decoded as the import would (UTF-8 first, Windows-1252 if that fails).
fn write_kept(
    source: &dyn ObjectSource,
    options: &ImportOptions,
    excluded: &[u64],
    path: &std::path::Path,
) -> Result<u64, FileError> {
    let write = |encoding| -> Result<u64, FileError> {
        let file = std::fs::File::create(path).map_err(|e| FileError::Read(ReadError::Io(e)))?;
        let input = source
            .open()
            .map_err(|e| FileError::Read(ReadError::Io(e)))?;
        write_final(
            input,
            options,
            encoding,
            excluded,
            std::io::BufWriter::new(file),
        )
    };
    match write(None) {
        Err(FileError::Read(ReadError::BadEncoding { .. })) => {
            write(Some(TextEncoding::Windows1252))
        }
        other => other,
    }
}

/// Removes the temporary file however the commit ends.
struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Step 3: publishes the final file (kept rows, canonical titles) and its
/// options to `imports/`, so the normal S3 -> SQS -> import path runs it.
pub async fn commit(
    staging: &impl Staging,
    settings: &impl SettingsStore,
    mut input: CommitInput,
    by: &str,
) -> Result<Committed, AdminError> {
    let key = staged_key(&input.key)?.to_owned();
    input.exclude_rows.sort_unstable();
    input.exclude_rows.dedup();
    if let Some(days) = input.expires_in_days.filter(|d| *d != 0) {
        crate::domain::expiry::check_days(days)
            .map_err(|e| AdminError::bad("expires_in_days", e.message))?;
    }
    let defaults = settings.load().await?.settings.import_defaults();
    let options = ImportOptions::resolve(
        UploadChoices {
            invite: input.invite,
            existing: input.existing_users,
            on_error: input.on_error,
            domain: input.domain,
            mapping: input.mapping,
            column_defaults: input.column_defaults,
            expires_in_days: input.expires_in_days,
        },
        &defaults,
    );
    // One staged upload is one import, however often "Send" is retried: its
    // objects live under a prefix named for the staged upload.
    let prefix = format!("imports/guided/{}/", staged_id(&key));
    if let Some(done) = staging.published(&prefix).await? {
        tracing::info!(by = %by, "guided upload committed before; the same import answered");
        return Ok(committed(staging, &key, done).await);
    }
    let source = staged(staging, &key).await?;
    // The final file goes through /tmp, so memory stays flat whatever its size.
    let tmp = TempFile(std::env::temp_dir().join(format!("commit-{}.csv", new_id())));
    let (path, opts, excluded) = (tmp.0.clone(), options.clone(), input.exclude_rows);
    let kept =
        tokio::task::spawn_blocking(move || write_kept(source.as_ref(), &opts, &excluded, &path))
            .await
            .map_err(|e| PortError::new("commit", e))?
            .map_err(file_error)?;
    if kept == 0 {
        return Err(AdminError::bad(
            "exclude_rows",
            "every row is unchecked; keep at least one",
        ));
    }
    let target = format!("{prefix}{}.csv", stem(input.file_name.as_deref()));
    let mut metadata = options.for_final_file().to_metadata();
    metadata.push(("submitted-by", by.to_owned()));
    metadata.push((ROWS_METADATA, kept.to_string()));
    let published = staging
        .publish(&target, &tmp.0, "text/csv; charset=utf-8", &metadata)
        .await?;
    drop(tmp);
    let done = match published {
        Some(version) => {
            tracing::info!(by = %by, rows = kept, "guided upload committed");
            Published {
                key: target,
                version,
                metadata: metadata
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect(),
            }
        }
        // A concurrent "Send" of the same upload published first: its import it is.
        None => staging
            .published(&prefix)
            .await?
            .ok_or_else(|| PortError::new("commit", "the published upload vanished"))?,
    };
    Ok(committed(staging, &key, done).await)
}

/// The user metadata a published upload carries its row count in.
const ROWS_METADATA: &str = "rows";

/// The staged upload's own id (`staging/<id>.csv`).
fn staged_id(key: &str) -> &str {
    key.trim_start_matches(STAGING_PREFIX)
        .trim_end_matches(".csv")
}

/// The answer for a published upload; the staged copy has served its purpose
/// (a lifecycle rule would also expire it).
async fn committed(staging: &impl Staging, staged: &str, done: Published) -> Committed {
    let import_id =
        ImportObject::new(staging.bucket(), done.key.as_str(), &done.version).import_id();
    let rows = done
        .metadata
        .get(ROWS_METADATA)
        .and_then(|r| r.parse().ok())
        .unwrap_or(0);
    if let Err(e) = staging.discard(staged).await {
        tracing::warn!(error = %e, "staged upload not removed; its lifecycle rule expires it");
    }
    Committed {
        import_id,
        key: done.key,
        rows,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::scan::scan;

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
    }

    #[test]
    fn staged_keys_and_file_names() {
        assert!(staged_key("staging/ab12.csv").is_ok());
        for bad in [
            "imports/x.csv",
            "staging/",
            "staging/a/b.csv",
            "staging/x.txt",
        ] {
            assert!(staged_key(bad).is_err(), "{bad}");
        }
        assert_eq!(stem(Some("C:\\Users\\me\\Q3 devices.CSV")), "Q3-devices");
        assert_eq!(stem(Some("ü.csv")), "upload");
        assert_eq!(stem(None), "upload");
        assert_ne!(new_id(), new_id());
        assert_eq!(new_id().len(), 32);
    }
}
