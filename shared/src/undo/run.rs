//! One undo (or dry run) of an import, page by page through its
//! before-images, with its progress saved after each page: a run that dies
//! goes on where the last one saved, and every change is conditional (still
//! the import's own, not enrolled), so a page done twice changes nothing twice.

use std::collections::{HashMap, HashSet};

use futures::{stream, StreamExt, TryStreamExt};

use super::{Applied, Phase, UndoCounts, UndoItem, UndoState, UndoStatus, UndoStore};
use crate::events::{DetailType, Event, EventPublisher};
use crate::import::ImportStatus;
use crate::ports::{ImportRecords, PortError};
use crate::records::{now_rfc3339, DeviceRecord, DeviceStatus, UserRecord};

/// Before-images per page.
pub const PAGE: usize = 500;
/// Conditional writes in flight at once.
const IN_FLIGHT: usize = 16;

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

fn user_verdict(
    before: Option<&UserRecord>,
    now: Option<&UserRecord>,
    id: &str,
    kept: bool,
) -> Verdict {
    match (before, now) {
        (None, None) => Verdict::AlreadyRemoved,
        (Some(_), None) => Verdict::LeftChanged,
        (b, Some(u)) if u.import_id != id => match b {
            Some(b) if same_user(b, u) => Verdict::AlreadyRestored,
            _ => Verdict::LeftChanged,
        },
        // Its device stays: so does the user the import created for it.
        (None, Some(_)) if kept => Verdict::LeftChanged,
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
    }
    state.status = UndoStatus::Running;
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

fn undone_event(import: &crate::ports::ImportState, state: &UndoState) -> Event {
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

async fn devices_page(
    store: &impl UndoStore,
    state: &mut UndoState,
    items: &[UndoItem],
    kept: &mut HashSet<String>,
) -> Result<(), PortError> {
    let id = state.import_id.clone();
    let serials: Vec<String> = items
        .iter()
        .filter_map(|i| match i {
            UndoItem::Device { serial, .. } => Some(serial.clone()),
            UndoItem::User { .. } => None,
        })
        .collect();
    let (now, _) = store.current(&serials, &[]).await?;
    let now: HashMap<&str, &DeviceRecord> = now.iter().map(|d| (d.serial.as_str(), d)).collect();
    let judged: Vec<(&UndoItem, Verdict)> = items
        .iter()
        .filter_map(|item| match item {
            UndoItem::Device { serial, before, .. } => Some((
                item,
                device_verdict(before.as_deref(), now.get(serial.as_str()).copied(), &id),
            )),
            UndoItem::User { .. } => None,
        })
        .collect();
    let dry = state.dry_run;
    let verdicts: Vec<(&UndoItem, Verdict)> = stream::iter(judged.into_iter().map(|(item, v)| {
        let id = &id;
        async move {
            let UndoItem::Device { serial, before, .. } = item else {
                return Ok((item, v));
            };
            let applied = match (v, dry, before) {
                (Verdict::Remove, false, _) => store.remove_device(serial, id).await?,
                (Verdict::Restore, false, Some(b)) => store.restore_device(b, id).await?,
                _ => Applied::Done,
            };
            Ok::<_, PortError>((
                item,
                if applied == Applied::Changed {
                    Verdict::LeftChanged
                } else {
                    v
                },
            ))
        }
    }))
    .buffer_unordered(IN_FLIGHT)
    .try_collect()
    .await?;
    for (item, v) in verdicts {
        count(&mut state.counts, true, v);
        if let (UndoItem::Device { owner, .. }, Verdict::LeftEnrolled | Verdict::LeftChanged) =
            (item, v)
        {
            if owner.is_empty() {
                continue;
            }
            if dry {
                kept.insert(owner.clone());
            } else {
                store.keep_user(&id, owner).await?;
            }
        }
    }
    Ok(())
}

async fn users_page(
    store: &impl UndoStore,
    state: &mut UndoState,
    items: &[UndoItem],
    kept: &HashSet<String>,
) -> Result<(), PortError> {
    let id = state.import_id.clone();
    let emails: Vec<String> = items
        .iter()
        .filter_map(|i| match i {
            UndoItem::User { email, .. } => Some(email.clone()),
            UndoItem::Device { .. } => None,
        })
        .collect();
    let (_, now) = store.current(&[], &emails).await?;
    let now: HashMap<&str, &UserRecord> = now.iter().map(|u| (u.email.as_str(), u)).collect();
    let dry = state.dry_run;
    let verdicts: Vec<Verdict> = stream::iter(
        items
            .iter()
            .filter_map(|item| match item {
                UndoItem::User {
                    email,
                    before,
                    kept: marked,
                } => {
                    let keep = *marked || kept.contains(email);
                    let v = user_verdict(
                        before.as_deref(),
                        now.get(email.as_str()).copied(),
                        &id,
                        keep,
                    );
                    Some((email, before, v))
                }
                UndoItem::Device { .. } => None,
            })
            .map(|(email, before, v)| {
                let id = &id;
                async move {
                    let applied = match (v, dry, before) {
                        (Verdict::Remove, false, _) => store.remove_user(email, id).await?,
                        (Verdict::Restore, false, Some(b)) => store.restore_user(b, id).await?,
                        _ => Applied::Done,
                    };
                    Ok::<_, PortError>(if applied == Applied::Changed {
                        Verdict::LeftChanged
                    } else {
                        v
                    })
                }
            }),
    )
    .buffer_unordered(IN_FLIGHT)
    .try_collect()
    .await?;
    for v in verdicts {
        count(&mut state.counts, false, v);
    }
    Ok(())
}
