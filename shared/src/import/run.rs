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

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::stream::{self, StreamExt};

use super::report::{report_keys, write_errors_csv, Counts, ImportStatus, Report, Skipped};
use super::row::{DeviceRow, Provenance, RowIssue};
use super::scan::{scan, FileError, RowPass, Scan};
use crate::domain::{ExistingPolicy, ImportOptions, IssueKind, OnError, OptionError};
use crate::events::{Event, EventPublisher};
use crate::outbox::{InviteMessage, InviteQueue, InviteRef, InviteState, Outbox, OutboxEntry};
use crate::password::PasswordKey;
use crate::ports::{
    Directory, ImportRecords, ImportState, Invite, Lease, ObjectSource, ObjectVersion, PartWriter,
    PortError, ReportSink,
};
use crate::records::{
    now_rfc3339, DeviceInvite, DeviceRecord, DeviceStatus, ExistingDevice, ExistingUser, UserRecord,
};
use crate::undo::UndoItem;

/// How often the write pass saves its checkpoint and progress.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Skipped rows kept in the record and report; the total is always counted.
pub const MAX_SKIPPED: usize = 1000;

/// The object an event names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportObject {
    pub bucket: String,
    pub key: String,
    /// Version id when the bucket is versioned, else the ETag.
    pub version: Option<String>,
}

impl ImportObject {
    pub fn new(bucket: impl Into<String>, key: impl Into<String>, version: &ObjectVersion) -> Self {
        Self {
            bucket: bucket.into(),
            key: key.into(),
            version: version.import_version(),
        }
    }

    /// Stable across redeliveries of the same upload, different for a re-upload.
    pub fn import_id(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for part in [
            &self.bucket,
            &self.key,
            self.version.as_deref().unwrap_or(""),
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        hex::encode(&h.finalize()[..16])
    }

    /// The record of a new import of this object.
    fn new_state(&self, options: ImportOptions, status: ImportStatus) -> ImportState {
        ImportState {
            import_id: self.import_id(),
            bucket: self.bucket.clone(),
            key: self.key.clone(),
            version: self.version.clone(),
            status,
            options,
            counts: Counts::default(),
            rows_done: 0,
            rows_validated: 0,
            skipped: Vec::new(),
            skipped_total: 0,
            created_at: now_rfc3339(),
        }
    }
}

/// How an import run is paced and keyed: the deployment's tuning and the password key.
#[derive(Clone)]
pub struct RunConfig {
    pub chunk_rows: usize,
    pub lease_seconds: u64,
    pub password_key: Option<PasswordKey>,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            chunk_rows: 100,
            lease_seconds: 60,
            password_key: None,
        }
    }
}

/// Everything an import run talks to.
pub trait ImportPorts: Send + Sync {
    type Directory: Directory;
    type Records: ImportRecords;
    type Outbox: Outbox;
    type Queue: InviteQueue;
    type Reports: ReportSink;
    type Events: EventPublisher;
    fn directory(&self) -> &Self::Directory;
    fn records(&self) -> &Self::Records;
    fn outbox(&self) -> &Self::Outbox;
    fn queue(&self) -> &Self::Queue;
    fn reports(&self) -> &Self::Reports;
    fn events(&self) -> &Self::Events;
}

/// The ports of one run, borrowed from whoever owns the adapters.
pub struct Ports<'a, D, M, O, Q, R, E> {
    pub directory: &'a D,
    pub records: &'a M,
    pub outbox: &'a O,
    pub queue: &'a Q,
    pub reports: &'a R,
    pub events: &'a E,
}

impl<D, M, O, Q, R, E> ImportPorts for Ports<'_, D, M, O, Q, R, E>
where
    D: Directory,
    M: ImportRecords,
    O: Outbox,
    Q: InviteQueue,
    R: ReportSink,
    E: EventPublisher,
{
    type Directory = D;
    type Records = M;
    type Outbox = O;
    type Queue = Q;
    type Reports = R;
    type Events = E;
    fn directory(&self) -> &D {
        self.directory
    }
    fn records(&self) -> &M {
        self.records
    }
    fn outbox(&self) -> &O {
        self.outbox
    }
    fn queue(&self) -> &Q {
        self.queue
    }
    fn reports(&self) -> &R {
        self.reports
    }
    fn events(&self) -> &E {
        self.events
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Finished(ImportStatus),
    /// Stopped at a checkpoint before the deadline; deliver the event again to continue.
    Paused {
        rows_done: u64,
    },
    /// Another invocation holds the import until then (epoch seconds): do not
    /// acknowledge the event, so that it comes back and takes over if the
    /// holder died.
    Busy {
        until: u64,
    },
    AlreadyFinished(ImportStatus),
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Port(#[from] PortError),
    #[error("the file changed between passes or could not be read again: {0}")]
    Reread(String),
    #[error("internal: {0}")]
    Internal(String),
}

/// An import's record as an attempt finds it.
enum Opened {
    Finished(ImportStatus),
    /// Stored by an earlier attempt.
    Resumed(ImportState),
    /// Created by this attempt, with the given options and status.
    Created(ImportState),
}

async fn open_record<M: ImportRecords>(
    records: &M,
    object: &ImportObject,
    options: ImportOptions,
    status: ImportStatus,
) -> Result<Opened, PortError> {
    Ok(match records.load(&object.import_id()).await? {
        Some(st) if st.status.is_final() => Opened::Finished(st.status),
        Some(st) => Opened::Resumed(st),
        None => {
            let st = object.new_state(options, status);
            records.create(&st).await?;
            Opened::Created(st)
        }
    })
}

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
    let until = crate::records::epoch_now() + settings.lease_seconds;
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

/// Extends the lease every third of its length; returns only when another
/// invocation has taken it (this one was stalled past its lease), with until when.
async fn renew_lease<M: ImportRecords>(
    records: &M,
    import_id: &str,
    owner: &str,
    seconds: u64,
) -> u64 {
    let every = Duration::from_secs((seconds / 3).max(1));
    loop {
        tokio::time::sleep(every).await;
        let until = crate::records::epoch_now() + seconds;
        match records.lease(import_id, owner, until).await {
            Ok(Lease::Taken) => {}
            Ok(Lease::Held { until }) => return until,
            // Tried again at the next beat; the lease still has two thirds to run.
            Err(e) => tracing::warn!(%import_id, error = %e, "could not renew the import lease"),
        }
    }
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
    // items this import writes never count as existing (see `plan_chunk`).
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

/// The reading side of the write pass, on a blocking thread: valid rows after
/// the checkpoint, in chunks, in file order.
fn read_rows(
    source: Arc<dyn ObjectSource>,
    scan: &Scan,
    options: &ImportOptions,
    after_row: u64,
    chunk_rows: usize,
    tx: tokio::sync::mpsc::Sender<Result<Vec<DeviceRow>, String>>,
) {
    let result = (|| -> Result<(), String> {
        let input = source.open().map_err(|e| e.to_string())?;
        let mut pass = RowPass::open(input, Some(scan.dialect.encoding), options, scan.now)
            .map_err(|e| e.to_string())?;
        let mut chunk = Vec::with_capacity(chunk_rows);
        while let Some(row) = pass.next_row().map_err(|e| e.to_string())? {
            if row <= after_row || !scan.is_row_valid(row) {
                continue;
            }
            // Warnings were reported by the first pass.
            let Ok(checked) = pass.check(row, &mut Vec::new()) else {
                return Err(format!(
                    "row {row} was valid in the first pass but not in the second"
                ));
            };
            chunk.push(checked.to_device_row());
            if chunk.len() == chunk_rows
                && tx.blocking_send(Ok(std::mem::take(&mut chunk))).is_err()
            {
                return Ok(()); // the writer stopped (deadline)
            }
        }
        if !chunk.is_empty() {
            let _ = tx.blocking_send(Ok(chunk));
        }
        Ok(())
    })();
    if let Err(e) = result {
        let _ = tx.blocking_send(Err(e));
    }
}

/// What one chunk of rows turns into.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    pub devices: Vec<DeviceRecord>,
    pub users: Vec<UserRecord>,
    pub skipped: Vec<Skipped>,
    pub invites: Vec<Invite>,
    /// The row each device and each user came from, in the same order.
    pub device_rows: Vec<u64>,
    pub user_rows: Vec<u64>,
    /// What each written device and user replaced (or that it is new), for an undo.
    pub undo: Vec<UndoItem>,
}

/// Decides, for rows already known valid, what to write and whom to invite.
/// Existing items written by this same import (an earlier attempt) are not
/// "existing": the retry must behave as the first attempt would have.
pub fn plan_chunk(
    rows: Vec<DeviceRow>,
    scan: &Scan,
    devices: &HashMap<String, ExistingDevice>,
    users: &HashMap<String, ExistingUser>,
    import_id: &str,
    options: &ImportOptions,
    password_key: Option<&PasswordKey>,
) -> Plan {
    let now = now_rfc3339();
    let provenance = Provenance {
        import_id,
        domain: options.domain.as_deref(),
        at: &now,
        expires: options.default_expiry(scan.now),
    };
    let mut plan = Plan::default();
    let ours = |id: &Option<String>| id.as_deref() == Some(import_id);
    for r in rows {
        if scan.carries_user_details(r.row) {
            let keep_existing = users
                .get(&r.email.key())
                .is_some_and(|u| !ours(&u.import_id) && options.existing == ExistingPolicy::Skip);
            if !keep_existing {
                let user = r.user_record(provenance);
                match users.get(&user.email) {
                    Some(u) if ours(&u.import_id) => {}
                    found => plan.undo.push(UndoItem::User {
                        email: user.email.clone(),
                        before: found.and_then(|u| u.record.clone()),
                        kept: false,
                    }),
                }
                plan.users.push(user);
                plan.user_rows.push(r.row);
            }
        }
        let skip_reason = match devices.get(r.serial.as_str()) {
            Some(d) if !d.status.is_replaceable() => {
                Some("the device has already enrolled; it stays enrolled and is not pre-approved again")
            }
            // An expired pre-approval is not one to protect: importing it again renews it.
            Some(d)
                if d.status == DeviceStatus::PreApproved
                    && !ours(&d.import_id)
                    && options.existing == ExistingPolicy::Skip =>
            {
                Some("the device is already pre-approved; existing devices are skipped (choose replace to update)")
            }
            _ => None,
        };
        if let Some(reason) = skip_reason {
            plan.skipped.push(Skipped {
                row: r.row,
                serial_number: r.serial.as_str().to_owned(),
                reason: reason.to_owned(),
            });
            continue;
        }
        let password_hash = match (&r.password, password_key) {
            (Some(p), Some(k)) => Some(k.hash(r.serial.as_str(), p)),
            _ => None,
        };
        let mut device = r.device_record(password_hash, provenance);
        if let Some(invite) = r.invite(options.invite) {
            device.invite = Some(DeviceInvite {
                reference: InviteRef::new(import_id, r.row).tag(),
                state: InviteState::Queued,
            });
            plan.invites.push(invite);
        }
        // A replayed chunk finds its own earlier write: the first before-image stands.
        match devices.get(r.serial.as_str()) {
            Some(d) if ours(&d.import_id) => {}
            found => plan.undo.push(UndoItem::Device {
                serial: device.serial.clone(),
                owner: device.email.clone(),
                before: found.and_then(|d| d.record.clone()),
            }),
        }
        plan.devices.push(device);
        plan.device_rows.push(r.row);
    }
    plan
}

/// Chunks whose existing items are read ahead of the one being written.
const LOOK_AHEAD_CHUNKS: usize = 2;
/// Chunks being written at once.
const CHUNKS_WRITING: usize = 2;

/// A chunk of rows with what the tables already hold for them.
struct LookedUp {
    rows: Vec<DeviceRow>,
    devices: HashMap<String, ExistingDevice>,
    users: HashMap<String, ExistingUser>,
}

/// A written chunk, before its invites: which rows it wrote what for.
struct Written {
    last_row: Option<u64>,
    device_rows: Vec<u64>,
    user_rows: Vec<u64>,
    skipped: Vec<Skipped>,
    invites: Vec<Invite>,
}

struct Writer<'a> {
    import_id: &'a str,
    options: &'a ImportOptions,
    settings: &'a RunConfig,
}

impl Writer<'_> {
    async fn look_up<D: Directory>(
        &self,
        rows: Vec<DeviceRow>,
        scan: &Scan,
        directory: &D,
    ) -> Result<LookedUp, RunError> {
        let serials: Vec<String> = rows.iter().map(|r| r.serial.as_str().to_owned()).collect();
        // Existing users decide a skip, and are the before-images of a replace.
        let mut user_keys: Vec<String> = rows
            .iter()
            .filter(|r| scan.carries_user_details(r.row))
            .map(|r| r.email.key())
            .collect();
        user_keys.sort_unstable();
        user_keys.dedup();
        let (devices, users) = directory.existing(&serials, &user_keys).await?;
        Ok(LookedUp {
            rows,
            devices,
            users,
        })
    }

    async fn write<D: Directory>(
        &self,
        LookedUp {
            rows,
            devices,
            users,
        }: LookedUp,
        scan: &Scan,
        directory: &D,
    ) -> Result<Written, RunError> {
        if self.password_key_missing(&rows) {
            return Err(RunError::Internal(
                "rows have passwords but no password key is configured".into(),
            ));
        }
        let last_row = rows.last().map(|r| r.row);
        let plan = plan_chunk(
            rows,
            scan,
            &devices,
            &users,
            self.import_id,
            self.options,
            self.settings.password_key.as_ref(),
        );
        let written = Written {
            last_row,
            device_rows: plan.device_rows,
            user_rows: plan.user_rows,
            skipped: plan.skipped,
            invites: plan.invites,
        };
        // Before-images first: no device or user is overwritten without one.
        if !plan.undo.is_empty() {
            directory.keep_before(self.import_id, plan.undo).await?;
        }
        directory.write(plan.devices, plan.users).await?;
        Ok(written)
    }

    /// Counts a written chunk, records its invites in the outbox and queues
    /// them for the sender. A replayed chunk finds its invites recorded
    /// already: those still queued are queued again (the sender's claim makes
    /// a second message harmless), and a device the replay rewrote shows its
    /// invite's real state again.
    async fn queue_invites<P: ImportPorts>(
        &self,
        chunk: Written,
        ports: &P,
        state: &mut ImportState,
    ) -> Result<(), RunError> {
        state.counts.devices_written += chunk.device_rows.len() as u64;
        state.counts.users_written += chunk.user_rows.len() as u64;
        state.skipped_total += chunk.skipped.len() as u64;
        let room = MAX_SKIPPED.saturating_sub(state.skipped.len());
        state.skipped.extend(chunk.skipped.into_iter().take(room));
        if chunk.invites.is_empty() {
            return Ok(());
        }
        let entries: Vec<OutboxEntry> = chunk
            .invites
            .into_iter()
            .map(|invite| OutboxEntry {
                origin: self.import_id.to_owned(),
                invite,
            })
            .collect();
        let found = ports.outbox().record(&entries).await?;
        let mut messages = Vec::with_capacity(entries.len());
        for (entry, found) in entries.iter().zip(found) {
            match found {
                None | Some(InviteState::Queued) => {
                    messages.push(InviteMessage::of(&entry.invite_ref(), 1))
                }
                Some(other) => {
                    ports
                        .outbox()
                        .show_on_device(&entry.invite.serial, &entry.invite_ref(), other)
                        .await?
                }
            }
        }
        ports.queue().enqueue(&messages, 0).await?;
        state.counts.invites_queued += entries.len() as u64;
        Ok(())
    }

    fn password_key_missing(&self, rows: &[DeviceRow]) -> bool {
        self.settings.password_key.is_none() && rows.iter().any(|r| r.password.is_some())
    }
}

async fn finish<P: ImportPorts>(
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
async fn write_errors_file<R: ReportSink>(
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
    events.publish(&[Event::import_finished(&state)]).await?;
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

#[cfg(test)]
#[path = "run_tests.rs"]
mod run_tests;
