//! Resending: a device's invite (at most once a minute), or every invite of
//! an import that bounced, failed or is unconfirmed. The message of the new
//! attempt is queued before the record moves to it, so a crash in between
//! leaves a message that finds no such attempt and is dropped, never a
//! record that waits for a message that will not come.

use super::{InviteMessage, InviteQueue, InviteRef, InviteState, Outbox};
use crate::port_error::PortError;

/// The shortest time between two invites to one device.
pub const MIN_GAP_SECONDS: u64 = 60;

/// Delay of a resend's message: enough for the record to move to its attempt first.
const DELAY_SECONDS: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum ResendError {
    #[error("this device has no invite to resend")]
    NoInvite,
    #[error("an invite went to this device less than a minute ago; try again in {retry_after} s")]
    TooSoon { retry_after: u64 },
    #[error("the invite is being sent right now; look again in a minute")]
    InFlight,
    #[error(transparent)]
    Port(#[from] PortError),
}

/// Queues a new attempt at the invite; returns its attempt number.
pub async fn resend_one<O: Outbox, Q: InviteQueue>(
    outbox: &O,
    queue: &Q,
    invite: &InviteRef,
    now: u64,
) -> Result<u32, ResendError> {
    let status = outbox.status(invite).await?.ok_or(ResendError::NoInvite)?;
    if status.state == InviteState::Sending {
        return Err(ResendError::InFlight);
    }
    let too_soon = |queued_at: u64| ResendError::TooSoon {
        retry_after: (queued_at + MIN_GAP_SECONDS).saturating_sub(now).max(1),
    };
    if now < status.queued_at + MIN_GAP_SECONDS {
        return Err(too_soon(status.queued_at));
    }
    let next = status.attempt + 1;
    queue
        .enqueue(&[InviteMessage::of(invite, next)], DELAY_SECONDS)
        .await?;
    match outbox
        .requeue(
            invite,
            status.state,
            status.attempt,
            now,
            now - MIN_GAP_SECONDS,
        )
        .await?
    {
        Some(attempt) => Ok(attempt),
        // Someone else resent it (or it moved on) between our read and our write.
        None => Err(too_soon(now)),
    }
}

/// What an import-wide resend did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Resent {
    pub resent: u64,
    /// Picked up but resent less than a minute ago, or in flight.
    pub skipped: u64,
    /// True when it stopped for time before the last of them: call it again.
    pub more: bool,
}

/// Resends every invite of `origin` that bounced, failed or is unconfirmed.
pub async fn resend_all<O: Outbox, Q: InviteQueue>(
    outbox: &O,
    queue: &Q,
    origin: &str,
    now: u64,
    out_of_time: &(dyn Fn() -> bool + Sync),
) -> Result<Resent, PortError> {
    let states: Vec<InviteState> = InviteState::ALL
        .into_iter()
        .filter(|s| s.resendable())
        .collect();
    let mut done = Resent::default();
    let mut after = None;
    loop {
        let (page, next) = outbox.in_states(origin, &states, after).await?;
        for (r, _) in &page {
            match resend_one(outbox, queue, r, now).await {
                Ok(_) => done.resent += 1,
                Err(ResendError::Port(e)) => return Err(e),
                Err(_) => done.skipped += 1,
            }
        }
        after = next;
        if after.is_none() {
            return Ok(done);
        }
        if out_of_time() {
            done.more = true;
            return Ok(done);
        }
    }
}
