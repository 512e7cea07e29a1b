//! The write pass's pipeline: valid rows read again in chunks on a blocking
//! thread, each chunk's existing items looked up ahead, written (users after
//! their before-images; each device with its own, unless it enrolled since
//! the look-up), then its invites recorded in the outbox and queued.

use std::collections::HashMap;
use std::sync::Arc;

use super::outcome::{RunConfig, RunError};
use super::plan::plan_chunk;
use super::ports::{Directory, ImportPorts, ImportState};
use super::row::DeviceRow;
use super::scan::{RowPass, Scan};
use super::Skipped;
use crate::domain::{ImportOptions, InviteState};
use crate::files::ObjectSource;
use crate::outbox::{Invite, InviteMessage, InviteQueue, Outbox, OutboxEntry};
use crate::records::{ExistingDevice, ExistingUser};

/// Skipped rows kept in the record and report; the total is always counted.
pub const MAX_SKIPPED: usize = 1000;

/// The reading side of the write pass, on a blocking thread: valid rows after
/// the checkpoint, in chunks, in file order.
pub(super) fn read_rows(
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

/// Chunks whose existing items are read ahead of the one being written.
pub(super) const LOOK_AHEAD_CHUNKS: usize = 2;
/// Chunks being written at once.
pub(super) const CHUNKS_WRITING: usize = 2;

/// A chunk of rows with what the tables already hold for them.
pub(super) struct LookedUp {
    rows: Vec<DeviceRow>,
    devices: HashMap<String, ExistingDevice>,
    users: HashMap<String, ExistingUser>,
}

/// A written chunk, before its invites: which rows it wrote what for.
pub(super) struct Written {
    pub(super) last_row: Option<u64>,
    device_rows: Vec<u64>,
    user_rows: Vec<u64>,
    skipped: Vec<Skipped>,
    invites: Vec<Invite>,
}

pub(super) struct Writer<'a> {
    pub(super) import_id: &'a str,
    pub(super) options: &'a ImportOptions,
    pub(super) settings: &'a RunConfig,
}

impl Writer<'_> {
    pub(super) async fn look_up<D: Directory>(
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

    pub(super) async fn write<D: Directory>(
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
        let mut plan = plan_chunk(
            rows,
            scan,
            &devices,
            &users,
            self.import_id,
            self.options,
            self.settings.password_key.as_ref(),
        );
        let user_images = std::mem::take(&mut plan.user_images);
        let users = std::mem::take(&mut plan.users);
        let write_users = async {
            // Before-images first: no user is overwritten without one (a
            // device's goes with the device).
            if !user_images.is_empty() {
                directory.keep_before(self.import_id, user_images).await?;
            }
            directory.write_users(users).await
        };
        let (devices_written, ()) = futures::try_join!(
            directory.write_devices(self.import_id, &plan.devices),
            write_users
        )?;
        plan.enrolled_meanwhile(&devices_written);
        Ok(Written {
            last_row,
            device_rows: plan.device_rows,
            user_rows: plan.user_rows,
            skipped: plan.skipped,
            invites: plan.invites,
        })
    }

    /// Counts a written chunk, records its invites in the outbox and queues
    /// them for the sender. A replayed chunk finds its invites recorded
    /// already: those still queued are queued again (the sender's claim makes
    /// a second message harmless), and a device the replay rewrote shows its
    /// invite's real state again.
    pub(super) async fn queue_invites<P: ImportPorts>(
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
