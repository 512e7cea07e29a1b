//! One undo (or dry run) of an import, page by page through its
//! before-images, with its progress saved after each page: a run that dies
//! goes on where the last one saved, and every change is conditional (still
//! the import's own, not enrolled), so a page done twice changes nothing twice.

use std::collections::{HashMap, HashSet};

use futures::{stream, StreamExt, TryStreamExt};

use super::{
    Applied, Change, Phase, UndoCounts, UndoState, UndoStatus, UndoStore, UsersKept,
    CHANGES_PER_CALL,
};
use crate::clock::now_rfc3339;
use crate::events::{DetailType, Event, EventPublisher};
use crate::import::ports::ImportRecords;
use crate::import::ImportStatus;
use crate::port_error::PortError;
use crate::records::{DeviceRecord, DeviceStatus, UndoItem, UserRecord};

/// Before-images per page.
pub const PAGE: usize = 500;
/// Calls of [`UndoStore::apply`] in flight at once.
const IN_FLIGHT: usize = 4;
/// Marks of kept users in flight at once (one small write each).
const KEEPS_IN_FLIGHT: usize = 16;
/// Look-ups of a user's devices in flight at once (one Query each).
const LOOKUPS_IN_FLIGHT: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ran {
    Finished(UndoState),
    /// Stopped for time after saving its progress; deliver the request again.
    Paused(UndoState),
    /// No undo was asked for this import.
    Missing,
}

/// What to do with one before-image, given what is stored now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Remove,
    Restore,
    /// Done by an earlier attempt of this undo.
    AlreadyRemoved,
    AlreadyRestored,
    LeftEnrolled,
    LeftChanged,
}

fn same_device(a: &DeviceRecord, b: &DeviceRecord) -> bool {
    a.import_id == b.import_id && a.updated_at == b.updated_at && a.status == b.status
}

fn same_user(a: &UserRecord, b: &UserRecord) -> bool {
    a.import_id == b.import_id && a.updated_at == b.updated_at
}

fn device_verdict(before: Option<&DeviceRecord>, now: Option<&DeviceRecord>, id: &str) -> Verdict {
    match (before, now) {
        (None, None) => Verdict::AlreadyRemoved,
        // Replaced by the import, then removed by someone: nothing to put back over.
        (Some(_), None) => Verdict::LeftChanged,
        (b, Some(d)) if d.import_id != id => match b {
            Some(b) if same_device(b, d) => Verdict::AlreadyRestored,
            _ => Verdict::LeftChanged,
        },
        (_, Some(d)) if d.status == DeviceStatus::Enrolled => Verdict::LeftEnrolled,
        (None, Some(_)) => Verdict::Remove,
        (Some(_), Some(_)) => Verdict::Restore,
    }
}

fn user_verdict(before: Option<&UserRecord>, now: Option<&UserRecord>, id: &str) -> Verdict {
    match (before, now) {
        (None, None) => Verdict::AlreadyRemoved,
        (Some(_), None) => Verdict::LeftChanged,
        (b, Some(u)) if u.import_id != id => match b {
            Some(b) if same_user(b, u) => Verdict::AlreadyRestored,
            _ => Verdict::LeftChanged,
        },
        (None, Some(_)) => Verdict::Remove,
        (Some(_), Some(_)) => Verdict::Restore,
    }
}

fn count(counts: &mut UndoCounts, device: bool, v: Verdict) {
    let c = match (device, v) {
        (true, Verdict::Remove | Verdict::AlreadyRemoved) => &mut counts.devices_removed,
        (true, Verdict::Restore | Verdict::AlreadyRestored) => &mut counts.devices_restored,
        (true, Verdict::LeftEnrolled) => &mut counts.devices_left_enrolled,
        (true, Verdict::LeftChanged) => &mut counts.devices_left_changed,
        (false, Verdict::Remove | Verdict::AlreadyRemoved) => &mut counts.users_removed,
        (false, Verdict::Restore | Verdict::AlreadyRestored) => &mut counts.users_restored,
        (false, _) => &mut counts.users_left,
    };
    *c += 1;
}

/// Runs the import's undo request until it is done or `out_of_time`.
pub async fn run(
    store: &impl UndoStore,
    records: &impl ImportRecords,
    events: &impl EventPublisher,
    import_id: &str,
    out_of_time: impl Fn() -> bool,
) -> Result<Ran, PortError> {
    let Some(mut state) = store.load(import_id).await? else {
        return Ok(Ran::Missing);
    };
    if matches!(state.status, UndoStatus::Done | UndoStatus::Failed) {
        return Ok(Ran::Finished(state));
    }
    if state.dry_run {
        // A dry run changes nothing: after a crash it simply starts again
        // (the users it would keep are known only within one run).
        state.phase = Phase::Devices;
        state.cursor = None;
        state.counts = UndoCounts::default();
        state.users_kept = UsersKept::default();
    }
    state.status = UndoStatus::Running;
    state.runs += 1;
    store.save(&state).await?;
    let mut kept: HashSet<String> = HashSet::new();
    loop {
        if out_of_time() {
            store.save(&state).await?;
            return Ok(Ran::Paused(state));
        }
        let (items, next) = store
            .items(import_id, state.phase, state.cursor.as_deref(), PAGE)
            .await?;
        match state.phase {
            Phase::Devices => devices_page(store, &mut state, &items, &mut kept).await?,
            Phase::Users => users_page(store, &mut state, &items, &kept).await?,
        }
        match (next, state.phase) {
            (Some(n), _) => state.cursor = Some(n),
            (None, Phase::Devices) => {
                state.phase = Phase::Users;
                state.cursor = None;
            }
            (None, Phase::Users) => break,
        }
        store.save(&state).await?;
    }
    if !state.dry_run {
        if let Some(mut import) = records.load(import_id).await? {
            if import.status != ImportStatus::Undone {
                import.status = ImportStatus::Undone;
                // Before the record says undone: a crash in between publishes again, never not at all.
                events.publish(&[undone_event(&import, &state)]).await?;
                records.save(&import).await?;
            }
        }
    }
    state.status = UndoStatus::Done;
    state.finished_at = Some(now_rfc3339());
    store.save(&state).await?;
    Ok(Ran::Finished(state))
}

fn undone_event(import: &crate::import::ports::ImportState, state: &UndoState) -> Event {
    Event {
        detail_type: DetailType::ImportUndone,
        detail: serde_json::json!({
            "import_id": import.import_id,
            "bucket": import.bucket,
            "key": import.key,
            "by": state.requested_by,
            "requested_at": state.requested_at,
            "counts": state.counts,
        }),
    }
}

/// Makes the page's removals and restores (`change_of` the i-th verdict),
/// [`CHANGES_PER_CALL`] to a call; a change whose item was changed since
/// turns its verdict into `LeftChanged`.
async fn carry_out<'a>(
    store: &impl UndoStore,
    import_id: &str,
    verdicts: &mut [Verdict],
    change_of: impl Fn(usize, Verdict) -> Option<Change<'a>>,
) -> Result<(), PortError> {
    let changes: Vec<(usize, Change<'a>)> = verdicts
        .iter()
        .enumerate()
        .filter_map(|(i, v)| change_of(i, *v).map(|c| (i, c)))
        .collect();
    let done: Vec<(Vec<usize>, Vec<Applied>)> =
        stream::iter(changes.chunks(CHANGES_PER_CALL).map(|chunk| async move {
            let (at, chunk): (Vec<usize>, Vec<Change<'_>>) = chunk.iter().copied().unzip();
            let applied = store.apply(import_id, &chunk).await?;
            Ok::<_, PortError>((at, applied))
        }))
        .buffer_unordered(IN_FLIGHT)
        .try_collect()
        .await?;
    for (at, applied) in done {
        for (i, a) in at.into_iter().zip(applied) {
            if a == Applied::Changed {
                verdicts[i] = Verdict::LeftChanged;
            }
        }
    }
    Ok(())
}

async fn devices_page(
    store: &impl UndoStore,
    state: &mut UndoState,
    items: &[UndoItem],
    kept: &mut HashSet<String>,
) -> Result<(), PortError> {
    let id = state.import_id.clone();
    let devices: Vec<(&str, &str, Option<&DeviceRecord>)> = items
        .iter()
        .filter_map(|i| match i {
            UndoItem::Device {
                serial,
                owner,
                before,
            } => Some((serial.as_str(), owner.as_str(), before.as_deref())),
            UndoItem::User { .. } => None,
        })
        .collect();
    let serials: Vec<String> = devices.iter().map(|(s, _, _)| (*s).to_owned()).collect();
    let (now, _) = store.current(&serials, &[]).await?;
    let now: HashMap<&str, &DeviceRecord> = now.iter().map(|d| (d.serial.as_str(), d)).collect();
    let mut verdicts: Vec<Verdict> = devices
        .iter()
        .map(|(serial, _, before)| device_verdict(*before, now.get(serial).copied(), &id))
        .collect();
    let dry = state.dry_run;
    if !dry {
        carry_out(store, &id, &mut verdicts, |i, v| match (v, devices[i]) {
            (Verdict::Remove, (serial, _, _)) => Some(Change::RemoveDevice(serial)),
            (Verdict::Restore, (_, _, Some(b))) => Some(Change::RestoreDevice(b)),
            _ => None,
        })
        .await?;
    }
    let mut staying = Vec::new();
    for ((_, owner, _), v) in devices.iter().zip(verdicts) {
        count(&mut state.counts, true, v);
        if matches!(v, Verdict::LeftEnrolled | Verdict::LeftChanged) && !owner.is_empty() {
            staying.push(*owner);
        }
    }
    if dry {
        kept.extend(staying.into_iter().map(str::to_owned));
        return Ok(());
    }
    // Marked before the page's progress is saved: the users' phase may start in another run.
    stream::iter(staying.into_iter().map(Ok))
        .try_for_each_concurrent(KEEPS_IN_FLIGHT, |owner| store.keep_user(&id, owner))
        .await
}

async fn users_page(
    store: &impl UndoStore,
    state: &mut UndoState,
    items: &[UndoItem],
    kept: &HashSet<String>,
) -> Result<(), PortError> {
    let id = state.import_id.clone();
    let users: Vec<(&str, Option<&UserRecord>, bool)> = items
        .iter()
        .filter_map(|i| match i {
            UndoItem::User {
                email,
                before,
                kept: marked,
            } => Some((
                email.as_str(),
                before.as_deref(),
                *marked || kept.contains(email),
            )),
            UndoItem::Device { .. } => None,
        })
        .collect();
    let emails: Vec<String> = users.iter().map(|(e, _, _)| (*e).to_owned()).collect();
    let (_, now) = store.current(&[], &emails).await?;
    let now: HashMap<&str, &UserRecord> = now.iter().map(|u| (u.email.as_str(), u)).collect();
    let mut verdicts: Vec<Verdict> = users
        .iter()
        .map(|(email, before, _)| user_verdict(*before, now.get(email).copied(), &id))
        .collect();
    // A user a device outside the undone set still has is neither removed nor restored.
    let changing = |v: &Verdict| matches!(v, Verdict::Remove | Verdict::Restore);
    for ((_, _, keep), v) in users.iter().zip(verdicts.iter_mut()) {
        if *keep && changing(v) {
            *v = Verdict::LeftChanged;
            state.users_kept.devices_staying += 1;
        }
    }
    let asked: Vec<&str> = users
        .iter()
        .zip(&verdicts)
        .filter(|(_, v)| changing(v))
        .map(|((email, _, _), _)| *email)
        .collect();
    let outside = with_devices_outside(store, &id, &asked).await?;
    for ((email, _, _), v) in users.iter().zip(verdicts.iter_mut()) {
        if changing(v) && outside.contains(email) {
            *v = Verdict::LeftChanged;
            state.users_kept.devices_outside += 1;
        }
    }
    if !state.dry_run {
        carry_out(store, &id, &mut verdicts, |i, v| match (v, users[i]) {
            (Verdict::Remove, (email, _, _)) => Some(Change::RemoveUser(email)),
            (Verdict::Restore, (_, Some(b), _)) => Some(Change::RestoreUser(b)),
            _ => None,
        })
        .await?;
    }
    for v in verdicts {
        count(&mut state.counts, false, v);
    }
    Ok(())
}

/// Of these users, those a device outside the undone set has as its user:
/// one look-up of each user's devices (the index), then the devices
/// themselves, then the import's before-images of those no longer its own
/// (one read of each kind for the page, a hundred keys to a request). A device
/// that is gone, the import's own (removed or to be removed, or staying and
/// already marked), or put back by this undo to its before-image is inside.
async fn with_devices_outside<'a>(
    store: &impl UndoStore,
    import_id: &str,
    emails: &[&'a str],
) -> Result<HashSet<&'a str>, PortError> {
    let found: Vec<(&str, Vec<String>)> = stream::iter(
        emails
            .iter()
            .map(|e| async move { Ok::<_, PortError>((*e, store.devices_of(e).await?)) }),
    )
    .buffer_unordered(LOOKUPS_IN_FLIGHT)
    .try_collect()
    .await?;
    let serials: Vec<String> = found.iter().flat_map(|(_, s)| s.iter().cloned()).collect();
    if serials.is_empty() {
        return Ok(HashSet::new());
    }
    let (now, _) = store.current(&serials, &[]).await?;
    // Only a device whose user is still this one counts (the index may lag behind).
    let owner: HashMap<&str, &str> = found
        .iter()
        .flat_map(|(e, s)| s.iter().map(move |s| (s.as_str(), *e)))
        .collect();
    let others: Vec<&DeviceRecord> = now
        .iter()
        .filter(|d| owner.get(d.serial.as_str()) == Some(&d.email.as_str()))
        .filter(|d| d.import_id != import_id)
        .collect();
    if others.is_empty() {
        return Ok(HashSet::new());
    }
    let asked: Vec<String> = others.iter().map(|d| d.serial.clone()).collect();
    let images = store.device_images(import_id, &asked).await?;
    let put_back: HashMap<&str, &DeviceRecord> = images
        .iter()
        .filter_map(|i| match i {
            UndoItem::Device {
                serial,
                before: Some(b),
                ..
            } => Some((serial.as_str(), b.as_ref())),
            _ => None,
        })
        .collect();
    let emails: HashSet<&'a str> = emails.iter().copied().collect();
    Ok(others
        .into_iter()
        .filter(|d| {
            !put_back
                .get(d.serial.as_str())
                .is_some_and(|b| same_device(b, d))
        })
        .filter_map(|d| emails.get(d.email.as_str()).copied())
        .collect())
}
