//! Import history and one import's page: status, live progress, counts,
//! errors and links to its report files.

use serde::{Deserialize, Serialize};

use super::{AdminError, AdminReads, Cursor, Page, ReportFiles};
use crate::domain::{ExistingPolicy, InviteChannel, OnError};
use crate::import::ports::ImportState;
use crate::import::scan::IssueTotals;
use crate::import::{report_keys, Counts, ImportStatus, RowIssue, Skipped};
use crate::outbox::{InviteTally, Outbox};
use crate::port_error::PortError;

/// Imports per page of the history.
pub const PAGE: usize = 25;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    pub rows_validated: u64,
    pub rows_written: u64,
    pub rows_invited: u64,
    /// 0 to 1, for the progress bar.
    pub fraction: f64,
}

impl Progress {
    fn of(st: &ImportState) -> Self {
        // Validation reads every row once, then writing does: half the bar each.
        let rows = st.counts.rows.max(st.rows_validated).max(1) as f64;
        let fraction = match st.status {
            ImportStatus::Completed
            | ImportStatus::Rejected
            | ImportStatus::Failed
            | ImportStatus::Undone => 1.0,
            ImportStatus::Validating => 0.5 * st.rows_validated as f64 / rows,
            ImportStatus::Writing => {
                0.5 + 0.5
                    * (st.counts.devices_written as f64 / st.counts.valid_rows.max(1) as f64)
                        .min(1.0)
            }
        };
        Self {
            rows_validated: st.rows_validated,
            rows_written: st.counts.devices_written,
            rows_invited: st.counts.invites_queued,
            fraction: (fraction * 1000.0).round() / 1000.0,
        }
    }
}

/// The options an import runs with, under the names the page uses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OptionsView {
    pub invite: InviteChannel,
    pub existing_users: ExistingPolicy,
    pub on_error: OnError,
    pub domain: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportSummary {
    pub import_id: String,
    pub key: String,
    /// The file's name, without the folders of its key.
    pub file: String,
    pub status: ImportStatus,
    pub created_at: String,
    pub counts: Counts,
    pub skipped_total: u64,
    pub options: OptionsView,
    pub progress: Progress,
}

impl From<&ImportState> for ImportSummary {
    fn from(st: &ImportState) -> Self {
        Self {
            import_id: st.import_id.clone(),
            key: st.key.clone(),
            file: st.key.rsplit('/').next().unwrap_or(&st.key).to_owned(),
            status: st.status,
            created_at: st.created_at.clone(),
            counts: st.counts.clone(),
            skipped_total: st.skipped_total,
            options: OptionsView {
                invite: st.options.invite,
                existing_users: st.options.existing,
                on_error: st.options.on_error,
                domain: st.options.domain.clone(),
            },
            progress: Progress::of(st),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportDetail {
    #[serde(flatten)]
    pub summary: ImportSummary,
    pub skipped: Vec<Skipped>,
    /// Where the import's invites stand, from the outbox's counters.
    pub invites: InviteTally,
    /// The first [`LISTED`] of each list; the totals count them all, and the
    /// report and the errors CSV (linked) hold more.
    pub errors: Vec<RowIssue>,
    pub errors_total: u64,
    pub error_totals: IssueTotals,
    pub warnings: Vec<RowIssue>,
    pub warnings_total: u64,
    pub report_url: Option<String>,
    pub errors_csv_url: Option<String>,
}

/// Items of each list an import's page shows: the response stays well under
/// 1 MB whatever the file held (a test builds the worst case).
pub const LISTED: usize = 500;

/// The first [`LISTED`] items of a list.
fn listed<T>(mut items: Vec<T>) -> Vec<T> {
    items.truncate(LISTED);
    items
}

/// The part of a report the import's page shows.
#[derive(Default, Deserialize)]
struct ReportIssues {
    #[serde(default)]
    errors: Vec<RowIssue>,
    #[serde(default)]
    errors_total: Option<u64>,
    #[serde(default)]
    error_totals: IssueTotals,
    #[serde(default)]
    warnings: Vec<RowIssue>,
    #[serde(default)]
    warnings_total: Option<u64>,
}

pub async fn list(
    reads: &impl AdminReads,
    cursor: Option<&str>,
) -> Result<Page<ImportSummary>, AdminError> {
    let cursor = Cursor::from_query(cursor)?;
    let page = reads.imports(cursor, PAGE).await?;
    Ok(page.map(|st| ImportSummary::from(&st)))
}

pub async fn one(
    reads: &impl AdminReads,
    files: &impl ReportFiles,
    outbox: &impl Outbox,
    id: &str,
) -> Result<ImportDetail, AdminError> {
    let st = reads
        .import(id)
        .await?
        .ok_or_else(|| AdminError::NotFound("no import has this id".into()))?;
    let (report_key, errors_key) = report_keys(&st.key, &st.import_id);
    let report_and_errors_file = async {
        // The report holds every error with row, column, value and message, once it exists.
        let report: Option<ReportIssues> = files
            .read(&report_key)
            .await?
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        // The errors file is written while the file is validated, before any
        // report: a report without errors means there is none to look for.
        let errors_file = match &report {
            Some(r) if r.errors_total.unwrap_or(r.errors.len() as u64) == 0 => false,
            _ => files.exists(&errors_key).await?,
        };
        Ok::<_, PortError>((report, errors_file))
    };
    // The invite tally needs only the record: it waits on neither file.
    let ((report, errors_file), invites) = futures::try_join!(
        report_and_errors_file,
        outbox.tally(&st.import_id, st.counts.invites_queued),
    )?;
    let report_url = match &report {
        Some(_) => Some(files.download_link(&report_key).await?),
        None => None,
    };
    let errors_csv_url = match errors_file {
        true => Some(files.download_link(&errors_key).await?),
        false => None,
    };
    let r = report.unwrap_or_default();
    Ok(ImportDetail {
        summary: ImportSummary::from(&st),
        skipped: listed(st.skipped),
        invites,
        // Reports from before the totals: their lists were complete.
        errors_total: r.errors_total.unwrap_or(r.errors.len() as u64),
        error_totals: r.error_totals,
        warnings_total: r.warnings_total.unwrap_or(r.warnings.len() as u64),
        errors: listed(r.errors),
        warnings: listed(r.warnings),
        report_url,
        errors_csv_url,
    })
}

/// Resends every invite of the import that bounced, failed or is unconfirmed.
pub async fn resend_invites(
    reads: &impl AdminReads,
    outbox: &impl Outbox,
    queue: &impl crate::outbox::InviteQueue,
    id: &str,
    by: &str,
    out_of_time: &(dyn Fn() -> bool + Sync),
) -> Result<crate::outbox::resend::Resent, AdminError> {
    let st = reads
        .import(id)
        .await?
        .ok_or_else(|| AdminError::NotFound("no import has this id".into()))?;
    let now = crate::clock::epoch_now();
    let done =
        crate::outbox::resend::resend_all(outbox, queue, &st.import_id, now, out_of_time).await?;
    tracing::info!(by = %by, resent = done.resent, skipped = done.skipped, "import invites resent");
    Ok(done)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;
    use crate::fakes::MemoryAdmin;

    fn import(id: &str) -> ImportState {
        ImportState {
            import_id: id.into(),
            bucket: "b".into(),
            key: format!("imports/{id}.csv"),
            version: None,
            status: ImportStatus::Completed,
            options: Default::default(),
            counts: Counts::default(),
            rows_done: 0,
            rows_validated: 0,
            skipped: vec![],
            skipped_total: 0,
            created_at: "2026-12-04T00:00:00Z".into(),
        }
    }

    /// Each import's report and errors file as the import leaves them; the
    /// detail's links, and how many existence checks (HeadObjects) it made.
    #[tokio::test]
    async fn the_errors_file_is_looked_for_only_when_the_report_may_have_one() {
        let admin = MemoryAdmin::default();
        let cases = [
            ("clean", Some(r#"{"errors": [], "errors_total": 0}"#), false),
            ("errors", Some(r#"{"errors": [], "errors_total": 3}"#), true),
            // Still validating: the errors file is there before any report.
            ("running", None, true),
            // A report from before the totals: its list is whole.
            ("old clean", Some(r#"{"errors": []}"#), false),
        ];
        for (id, report, errors_file) in cases {
            admin.imports.lock().unwrap().push(import(id));
            let (report_key, errors_key) = report_keys(&format!("imports/{id}.csv"), id);
            let mut objects = admin.objects.lock().unwrap();
            if let Some(r) = report {
                objects.insert(report_key, r.as_bytes().to_vec());
            }
            if errors_file {
                objects.insert(errors_key, b"row,error\n".to_vec());
            }
        }
        let mut seen = Vec::new();
        for (id, _, _) in cases {
            let before = admin.file_checks.load(Ordering::Relaxed);
            let d = one(&admin, &admin, &admin.outbox, id).await.unwrap();
            seen.push((
                id,
                d.report_url.is_some(),
                d.errors_csv_url.is_some(),
                admin.file_checks.load(Ordering::Relaxed) - before,
            ));
        }
        assert_eq!(
            seen,
            [
                ("clean", true, false, 0),
                ("errors", true, true, 1),
                ("running", false, true, 1),
                ("old clean", true, false, 0),
            ]
        );
    }
}
