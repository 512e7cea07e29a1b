//! `POST /v1/imports/{id}/undo` (`{"dry_run": true}` first, to see what it
//! would do) and `GET` of its progress and result. The work runs in the undo
//! function, page by page: a 100,000-row import is undone in one invocation.

use serde::Deserialize;

use super::{AdminError, AdminReads};
use crate::clock::now_rfc3339;
use crate::import::ImportStatus;
use crate::undo::{UndoQueue, UndoState, UndoStatus, UndoStore};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndoInput {
    #[serde(default)]
    pub dry_run: bool,
}

/// The undo's state, and whether this request started it (202) or found it (200).
pub struct Started {
    pub state: UndoState,
    pub queued: bool,
}

pub async fn start(
    reads: &impl AdminReads,
    undo: &(impl UndoStore + UndoQueue),
    import_id: &str,
    input: &UndoInput,
    by: &str,
) -> Result<Started, AdminError> {
    let import = reads.import(import_id).await?.ok_or_else(no_import)?;
    match import.status {
        ImportStatus::Validating | ImportStatus::Writing => {
            return Err(AdminError::Conflict(
                "the import is still running: undo it once it has finished".into(),
            ))
        }
        ImportStatus::Rejected => {
            return Err(AdminError::Conflict(
                "a rejected import wrote nothing: there is nothing to undo".into(),
            ))
        }
        ImportStatus::Completed | ImportStatus::Failed | ImportStatus::Undone => {}
    }
    let found = undo.load(import_id).await?;
    let busy = |s: &UndoState| matches!(s.status, UndoStatus::Queued | UndoStatus::Running);
    match &found {
        // Undone, or being undone: asking again is answered with it.
        Some(s) if !s.dry_run && s.status != UndoStatus::Failed => {
            return Ok(Started {
                state: s.clone(),
                queued: false,
            })
        }
        Some(s) if busy(s) && input.dry_run => {
            return Ok(Started {
                state: s.clone(),
                queued: false,
            })
        }
        Some(s) if busy(s) => {
            return Err(AdminError::Conflict(
                "a dry run of this undo is still counting: wait for its answer, then undo".into(),
            ))
        }
        _ => {}
    }
    if import.status == ImportStatus::Undone {
        return Err(AdminError::Conflict("the import is undone already".into()));
    }
    let state = UndoState::queued(import_id, input.dry_run, by, &now_rfc3339());
    undo.save(&state).await?;
    undo.request(import_id).await?;
    tracing::info!(by = %by, dry_run = input.dry_run, "undo of an import requested");
    Ok(Started {
        state,
        queued: true,
    })
}

pub async fn get(undo: &impl UndoStore, import_id: &str) -> Result<UndoState, AdminError> {
    undo.load(import_id).await?.ok_or_else(|| {
        AdminError::NotFound(
            "no undo was asked for this import (POST to this address first)".into(),
        )
    })
}

fn no_import() -> AdminError {
    AdminError::NotFound("no import has this id".into())
}
