//! One import from start (or checkpoint) to report, over the ports.
//!
//! 1. Validation pass over the whole object (streamed, re-run on resume).
//! 2. All-or-nothing: any invalid row rejects the file before anything is written.
//! 3. Write pass: the object is read again; rows go in chunks to the devices and
//!    users tables, then each written row's invite is recorded in the outbox
//!    and queued for the sender (see `crate::outbox`). The checkpoint is saved
//!    as chunks finish, so a redelivered or continued event resumes after the
//!    last saved chunk; a replayed chunk finds its invites recorded already,
//!    and the sender's claim stops any second send.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, StreamExt};

use super::close::{finish, write_errors_file};
use super::lease::renew_lease;
use super::object::{open_record, ImportObject, Opened};
use super::outcome::{Outcome, RunConfig, RunError};
use super::ports::{ImportPorts, ImportRecords, ImportState, Lease};
use super::report::{ImportStatus, Report};
use super::row::{DeviceRow, RowIssue};
use super::scan::{scan, FileError, Scan};
use super::write::{read_rows, Writer, CHUNKS_WRITING, LOOK_AHEAD_CHUNKS};
use crate::domain::{ImportOptions, IssueKind, OnError, OptionError};
use crate::files::ObjectSource;

/// How often the write pass saves its checkpoint and progress.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Runs (or resumes) one import. `remaining` tells how long the invocation may still run.
pub async fn run_import<P: ImportPorts>(
    object: &ImportObject,
    options: Result<ImportOptions, OptionError>,
    source: Arc<dyn ObjectSource>,
    ports: &P,
    settings: &RunConfig,
    remaining: impl Fn() -> Duration + Sync,
) -> Result<Outcome, RunError> {
    let import_id = object.import_id();
    let new_options = options.clone().unwrap_or_default();
    let (state, resumed) = match open_record(
        ports.records(),
        object,
        new_options,
        ImportStatus::Validating,
    )
    .await?
    {
        Opened::Finished(status) => return Ok(Outcome::AlreadyFinished(status)),
        Opened::Resumed(state) => (state, true),
        Opened::Created(state) => (state, false),
    };
    // This invocation's own token: only it releases what it took.
    let owner = uuid::Uuid::new_v4().simple().to_string();
    let until = crate::clock::epoch_now() + settings.lease_seconds;
    if let Lease::Held { until } = ports.records().lease(&import_id, &owner, until).await? {
        return Ok(Outcome::Busy { until });
    }
    // A resumed import keeps the options it started with, whatever the settings say now.
    let options = if resumed {
        Ok(state.options.clone())
    } else {
        options
    };
    let work = run_leased(object, options, source, ports, settings, remaining, state);
    // The lease is short and renewed while the import runs, so that when its
    // process dies the retry takes over within a lease, not a whole timeout.
    let result = tokio::select! {
        result = work => result,
        until = renew_lease(ports.records(), &import_id, &owner, settings.lease_seconds) => {
            tracing::warn!(%import_id, until, "lost the import lease to another invocation; stopping");
            Ok(Outcome::Busy { until })
        }
    };
    // A finished import dropped its lease when saved; any other end hands it back
    // so that the continuation or the retry can take it at once.
    if !matches!(result, Ok(Outcome::Finished(_))) {
        if let Err(e) = ports.records().unlease(&import_id, &owner).await {
            tracing::warn!(%import_id, error = %e, "could not release the import lease; it expires by itself");
        }
    }
    result
}

async fn run_leased<P: ImportPorts>(
    object: &ImportObject,
    options: Result<ImportOptions, OptionError>,
    source: Arc<dyn ObjectSource>,
    ports: &P,
    settings: &RunConfig,
    remaining: impl Fn() -> Duration + Sync,
    mut state: ImportState,
) -> Result<Outcome, RunError> {
    let import_id = state.import_id.clone();
    // Leave time for one more chunk and the checkpoint before the invocation ends.
    let reserve = (remaining() / 4).min(Duration::from_secs(60));
    let options = match options {
        Ok(o) => o,
        Err(e) => {
            let mut report = Report::new(&import_id, &object.key, &state.options);
            report.status = ImportStatus::Rejected;
            report.add_file_error(RowIssue {
                row: 0,
                column: String::new(),
                value: e.value.clone(),
                message: e.to_string(),
                kind: IssueKind::File,
            });
            return finish(state, report, ports).await;
        }
    };
    state.options = options.clone();

    let started = std::time::Instant::now();
    let scan = match validate(&source, &options, &mut state, ports.records()).await? {
        Ok(scan) => Arc::new(scan),
        Err(file_error) => {
            let report = Report::new(&import_id, &object.key, &options).file_error(&file_error);
            return finish(state, report, ports).await;
        }
    };
    tracing::info!(%import_id, rows = scan.rows, errors = scan.errors_total, ms = started.elapsed().as_millis() as u64, "validated");
    let report = Report::new(&import_id, &object.key, &options).with_scan(&scan);
    // Written once, before anything else: a resumed import has it already.
    if scan.has_errors() && state.status == ImportStatus::Validating {
        write_errors_file(&state, &source, &scan, &options, ports.reports()).await?;
    }
    if scan.has_errors() && options.on_error == OnError::RejectFile {
        let mut report = report;
        report.status = ImportStatus::Rejected;
        return finish(state, report, ports).await;
    }

    state.status = ImportStatus::Writing;
    ports.records().save(&state).await?;
    let out_of_time = || remaining() < reserve;
    let writer = Writer {
        import_id: &import_id,
        options: &options,
        settings,
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<DeviceRow>, String>>(2);
    let reader = {
        let (src, scan, opts, from, chunk) = (
            source.clone(),
            scan.clone(),
            options.clone(),
            state.rows_done,
            settings.chunk_rows,
        );
        tokio::task::spawn_blocking(move || read_rows(src, &scan, &opts, from, chunk, tx))
    };
    let mut paused = false;
    // The checkpoint is saved about once a second, not after every chunk: a
    // replay after a crash rewrites the same items and the invite ledger stops
    // any second send, so a coarser checkpoint costs only repeated writes.
    let mut saved_at = tokio::time::Instant::now();
    // The next chunk's existing items are read while this one is written, so
    // the table never waits for a read between chunks. Reading ahead is safe:
    // items this import writes never count as existing (see `plan_chunk`), and
    // a device that enrolls after the read is refused by the write's condition
    // (`Plan::enrolled_meanwhile`).
    let chunks = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    // The next chunk's writes start while this one's last batches are still in
    // flight, so the table is not left idle at each chunk boundary (the
    // directory bounds the batches in flight overall). Invites and the
    // checkpoint follow in file order, each after its chunk's writes.
    // The pipeline lives in this block so that leaving it drops the receiver,
    // which stops the reader.
    {
        let written = chunks
            .map(|chunk| async {
                let rows = chunk.map_err(RunError::Reread)?;
                writer.look_up(rows, &scan, ports.directory()).await
            })
            .buffered(LOOK_AHEAD_CHUNKS)
            .map(|looked_up| async { writer.write(looked_up?, &scan, ports.directory()).await })
            .buffered(CHUNKS_WRITING);
        tokio::pin!(written);
        while let Some(chunk) = written.next().await {
            let chunk = chunk?;
            let last_row = chunk.last_row.unwrap_or(state.rows_done);
            writer.queue_invites(chunk, ports, &mut state).await?;
            state.rows_done = last_row;
            let pause = out_of_time();
            if pause || saved_at.elapsed() >= CHECKPOINT_EVERY {
                ports.records().save(&state).await?;
                saved_at = tokio::time::Instant::now();
            }
            if pause {
                paused = true;
                break;
            }
        }
    }
    let _ = reader.await;
    tracing::info!(%import_id, rows_done = state.rows_done, paused, ms = started.elapsed().as_millis() as u64, "write pass ended");
    if paused {
        return Ok(Outcome::Paused {
            rows_done: state.rows_done,
        });
    }
    let mut report = report;
    report.status = ImportStatus::Completed;
    finish(state, report, ports).await
}

async fn validate<M: ImportRecords>(
    source: &Arc<dyn ObjectSource>,
    options: &ImportOptions,
    state: &mut ImportState,
    records: &M,
) -> Result<Result<Scan, FileError>, RunError> {
    let validated = Arc::new(AtomicU64::new(0));
    let task = {
        let (src, opts, counter) = (source.clone(), options.clone(), validated.clone());
        tokio::task::spawn_blocking(move || {
            scan(
                || src.open(),
                &opts,
                |n| counter.store(n, Ordering::Relaxed),
            )
        })
    };
    tokio::pin!(task);
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    tick.tick().await;
    loop {
        tokio::select! {
            done = &mut task => {
                let result = done.map_err(|e| RunError::Internal(e.to_string()))?;
                if let Ok(s) = &result {
                    state.rows_validated = s.rows;
                    state.counts.rows = s.rows;
                    state.counts.valid_rows = s.valid_rows;
                }
                return Ok(result);
            }
            _ = tick.tick() => {
                state.rows_validated = validated.load(Ordering::Relaxed);
                records.save(state).await?;
            }
        }
    }
}
