//! How an import ends: the errors file, the report, the final status and the
//! event, in that order (a status is final only once its report exists); and
//! the import the queue gave up on, recorded as failed.

use std::sync::Arc;

use serde_json::json;

use super::object::{open_record, ImportObject, Opened};
use super::outcome::{Outcome, RunError};
use super::ports::{ImportPorts, ImportRecords, ImportState};
use super::report::{report_keys, write_errors_csv, Counts, ImportStatus, Report};
use super::scan::Scan;
use crate::domain::ImportOptions;
use crate::events::{DetailType, Event, EventPublisher};
use crate::files::{ObjectSource, PartWriter, ReportSink};

pub(super) async fn finish<P: ImportPorts>(
    state: ImportState,
    report: Report,
    ports: &P,
) -> Result<Outcome, RunError> {
    close(
        state,
        report,
        ports.records(),
        ports.reports(),
        ports.events(),
    )
    .await
}

/// Streams every row in error to the errors file, a part at a time: its size
/// is the file's, the memory it takes is a few parts.
pub(super) async fn write_errors_file<R: ReportSink>(
    state: &ImportState,
    source: &Arc<dyn ObjectSource>,
    scan: &Arc<Scan>,
    options: &ImportOptions,
    reports: &R,
) -> Result<(), RunError> {
    let (_, csv_key) = report_keys(&state.key, &state.import_id);
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let writer = {
        let (src, scan, opts) = (source.clone(), scan.clone(), options.clone());
        tokio::task::spawn_blocking(move || -> Result<u64, String> {
            let mut out = PartWriter::new(tx);
            let rows = write_errors_csv(
                src.open().map_err(|e| e.to_string())?,
                &scan,
                &opts,
                &mut out,
            )
            .map_err(|e| e.to_string())?;
            out.finish().map_err(|e| e.to_string())?;
            Ok(rows)
        })
    };
    let upload = reports.put_parts(&state.bucket, &csv_key, "text/csv; charset=utf-8", rx);
    let (written, uploaded) = tokio::join!(writer, upload);
    // The reader's error first: a failed upload also stops the writer (broken pipe).
    let rows = written
        .map_err(|e| RunError::Internal(e.to_string()))?
        .map_err(RunError::Reread);
    uploaded?;
    let rows = rows?;
    tracing::info!(import_id = %state.import_id, rows, "errors file written");
    Ok(())
}

/// Writes the report and then the final status: a status is final only once
/// its report exists.
async fn close<M: ImportRecords, R: ReportSink, E: EventPublisher>(
    mut state: ImportState,
    mut report: Report,
    records: &M,
    reports: &R,
    events: &E,
) -> Result<Outcome, RunError> {
    let status = report.status;
    report.counts = Counts {
        rows: report.counts.rows,
        valid_rows: report.counts.valid_rows,
        ..state.counts.clone()
    };
    report.skipped = state.skipped.clone();
    report.skipped_total = state.skipped_total;
    let (json_key, _) = report_keys(&state.key, &state.import_id);
    let body = serde_json::to_vec_pretty(&report).map_err(|e| RunError::Internal(e.to_string()))?;
    reports
        .put(&state.bucket, &json_key, body, "application/json")
        .await?;
    state.status = status;
    state.counts = report.counts.clone();
    // Published before the record says finished: a crash in between publishes
    // again on the retry (at least once), never not at all.
    events.publish(&[finished_event(&state)]).await?;
    records.save(&state).await?;
    Ok(Outcome::Finished(status))
}

/// The last delivery of an import's event failed too (the queue moves it to
/// its dead-letter queue next): record the import as `failed`, with a report
/// that says so, instead of leaving it `validating` or `writing` for ever.
/// What was written and sent stays; the report counts it as of the last checkpoint.
pub async fn mark_failed<M: ImportRecords, R: ReportSink, E: EventPublisher>(
    object: &ImportObject,
    attempts: u64,
    records: &M,
    reports: &R,
    events: &E,
) -> Result<Outcome, RunError> {
    let import_id = object.import_id();
    let state = match open_record(
        records,
        object,
        ImportOptions::default(),
        ImportStatus::Failed,
    )
    .await?
    {
        Opened::Finished(status) => return Ok(Outcome::AlreadyFinished(status)),
        Opened::Resumed(state) | Opened::Created(state) => state,
    };
    let mut report = Report::new(&import_id, &object.key, &state.options);
    report.status = ImportStatus::Failed;
    report.counts.rows = state.counts.rows;
    report.counts.valid_rows = state.counts.valid_rows;
    report.failure = Some(format!(
        "the import stopped after {attempts} failed attempts (the import function's logs say why); \
         the counts are those of its last checkpoint. Fix the cause and upload the \
         file again: the new upload is a new import and sends its own invites"
    ));
    close(state, report, records, reports, events).await
}

/// A finished import (completed, rejected or failed) with its counts.
fn finished_event(state: &ImportState) -> Event {
    Event {
        detail_type: DetailType::ImportFinished,
        detail: json!({
            "import_id": state.import_id,
            "bucket": state.bucket,
            "key": state.key,
            "status": state.status,
            "rows": state.counts.rows,
            "valid_rows": state.counts.valid_rows,
            "devices_written": state.counts.devices_written,
            "users_written": state.counts.users_written,
            "invites_queued": state.counts.invites_queued,
            "skipped": state.skipped_total,
            "created_at": state.created_at,
        }),
    }
}
