//! The invite outbox. Whoever decides that a user gets an invite (an import,
//! an approval, a resend) records it durably and queues a small message that
//! names it; the sender function delivers it at the account's real rate, and
//! delivery events move it on. Each record goes through
//!
//! ```text
//! queued -> sending -> sent -> delivered | bounced | complained
//!                   \-> failed (refused for good)
//!                   \-> unconfirmed (the provider's answer never came: lost, or its sender died)
//!                   \-> cancelled (its device was removed or changed: not sent)
//! ```
//!
//! `sending` is a claim with an owner token and an expiry: only one sender at
//! a time holds it. A send the provider did not take gives the claim back
//! (`queued` again). One that may have gone out is never sent again: a lost
//! answer (a timeout, a connection broken after the request was written), or
//! a claim whose holder died, becomes `unconfirmed`, which an admin may resend.
//! Before it sends, the holder checks the device the invite is for
//! ([`cancel`]): one that is gone or changed gets nothing.

pub mod cancel;
pub mod deliver;
pub mod events;
pub mod invite;
mod pace;
pub mod resend;

pub use invite::{Invite, InviteOrigin, InviteSender, SendError};
pub use pace::Pacer;

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::domain::{InviteChannel, InviteState};
use crate::port_error::PortError;

/// Which invite: the import (or approval, or device) it belongs to, and its row.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct InviteRef {
    pub origin: String,
    pub row: u64,
}

impl InviteRef {
    pub fn new(origin: impl Into<String>, row: u64) -> Self {
        Self {
            origin: origin.into(),
            row,
        }
    }

    /// As kept on the device item and sent as an SES message tag, whose
    /// values allow only ASCII letters, digits, `_`, `-` and `.`.
    pub fn tag(&self) -> String {
        format!("{}.{}", hex::encode(self.origin.as_bytes()), self.row)
    }

    pub fn from_tag(tag: &str) -> Option<Self> {
        let (origin, row) = tag.rsplit_once('.')?;
        let origin = String::from_utf8(hex::decode(origin).ok()?).ok()?;
        Some(Self::new(origin, row.parse().ok()?))
    }
}

/// The queue message naming one attempt at one invite. It carries no
/// address, name or password: those stay in the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteMessage {
    pub origin: String,
    pub row: u64,
    pub attempt: u32,
}

impl InviteMessage {
    pub fn of(r: &InviteRef, attempt: u32) -> Self {
        Self {
            origin: r.origin.clone(),
            row: r.row,
            attempt,
        }
    }

    pub fn invite_ref(&self) -> InviteRef {
        InviteRef::new(self.origin.clone(), self.row)
    }
}

/// An invite to record: its content (the password is sealed by the store)
/// and who it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    pub origin: String,
    pub invite: Invite,
}

impl OutboxEntry {
    pub fn invite_ref(&self) -> InviteRef {
        InviteRef::new(self.origin.clone(), self.invite.row)
    }
}

/// What claiming an attempt found.
#[derive(Debug, Clone)]
pub enum Claimed {
    /// This sender holds it until the claim expires: send it.
    Owned(Box<Invite>),
    /// No such record (yet: an approval queues its message before it commits).
    Missing,
    /// The record is at an earlier attempt (a resend not committed yet) or a later one (a stale message).
    OtherAttempt { attempt: u32 },
    /// Another sender holds it, until then (epoch seconds).
    Held { until: u64 },
    /// Its claim expired without an outcome: the holder died mid-send.
    Abandoned { serial: String },
    /// This attempt ended already.
    Ended { state: InviteState, serial: String },
}

/// A change of state, made only if the record is still `from` at `attempt`
/// (and, for a claim's outcome, still held by `token`).
#[derive(Debug, Clone)]
pub struct Transition<'a> {
    pub invite: &'a InviteRef,
    pub attempt: u32,
    pub from: InviteState,
    pub to: InviteState,
    pub token: Option<&'a str>,
    pub message_id: Option<&'a str>,
    /// The provider's reason code (never an address).
    pub reason: Option<&'a str>,
}

/// One invite as the admin sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InviteStatus {
    pub state: InviteState,
    pub channel: InviteChannel,
    pub attempt: u32,
    pub queued_at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The device the invite is for (not shown: the page knows it).
    #[serde(skip)]
    pub serial: String,
}

/// How many of an import's invites are in each state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InviteTally {
    pub queued: u64,
    pub sent: u64,
    pub delivered: u64,
    pub bounced: u64,
    pub complained: u64,
    pub failed: u64,
    pub unconfirmed: u64,
    pub cancelled: u64,
}

impl InviteTally {
    /// From the counters of the counted states and the number recorded.
    pub fn new(recorded: u64, counted: &[(InviteState, i64)]) -> Self {
        let mut t = InviteTally::default();
        let mut ended = 0u64;
        for (state, n) in counted {
            let n = (*n).max(0) as u64;
            ended += n;
            match state {
                InviteState::Sent => t.sent += n,
                InviteState::Delivered => t.delivered += n,
                InviteState::Bounced => t.bounced += n,
                InviteState::Complained => t.complained += n,
                InviteState::Failed => t.failed += n,
                InviteState::Unconfirmed => t.unconfirmed += n,
                InviteState::Cancelled => t.cancelled += n,
                InviteState::Queued | InviteState::Sending => {}
            }
        }
        t.queued = recorded.saturating_sub(ended);
        t
    }
}

/// A page of invites and where the next one starts.
pub type InvitePage = (Vec<(InviteRef, InviteStatus)>, Option<u64>);

/// The invite records.
pub trait Outbox: Send + Sync {
    /// Records entries that are not recorded yet (each at attempt 1, `queued`).
    /// For each entry, None if it was recorded now, else the state the
    /// existing record is in (a replayed import chunk).
    fn record(
        &self,
        entries: &[OutboxEntry],
    ) -> impl Future<Output = Result<Vec<Option<InviteState>>, PortError>> + Send;

    /// Claims `attempt` for `token` until `until` (epoch seconds) if it is queued.
    fn claim(
        &self,
        invite: &InviteRef,
        attempt: u32,
        token: &str,
        until: u64,
    ) -> impl Future<Output = Result<Claimed, PortError>> + Send;

    /// Applies the transition, with its origin's counters in the same
    /// transaction; false if the record was no longer as expected.
    fn transition(
        &self,
        t: &Transition<'_>,
    ) -> impl Future<Output = Result<bool, PortError>> + Send;

    /// The device an invite is for, as it is now (a strongly consistent
    /// read of its status, expiry and latest invite); None if it is gone.
    fn device(
        &self,
        serial: &str,
    ) -> impl Future<Output = Result<Option<cancel::DeviceNow>, PortError>> + Send;

    /// Shows the state on the device the invite is for, unless the device
    /// is gone, has a newer invite, or shows a state that supersedes this one
    /// ([`InviteState::superseded_by`]). `cancelled` shows only on a device
    /// that still holds this invite (never on one that holds none).
    fn show_on_device(
        &self,
        serial: &str,
        invite: &InviteRef,
        state: InviteState,
    ) -> impl Future<Output = Result<(), PortError>> + Send;

    fn status(
        &self,
        invite: &InviteRef,
    ) -> impl Future<Output = Result<Option<InviteStatus>, PortError>> + Send;

    /// Moves an ended invite back to `queued` at the next attempt, if it was
    /// last queued before `queued_before` (epoch seconds). Returns the new
    /// attempt, or None if it is not in `from` any more or was queued since.
    fn requeue(
        &self,
        invite: &InviteRef,
        from: InviteState,
        attempt: u32,
        now: u64,
        queued_before: u64,
    ) -> impl Future<Output = Result<Option<u32>, PortError>> + Send;

    /// One page of an origin's invites in a state among `states`, from `after`.
    fn in_states(
        &self,
        origin: &str,
        states: &[InviteState],
        after: Option<u64>,
    ) -> impl Future<Output = Result<InvitePage, PortError>> + Send;

    /// The counters of an origin's invites.
    fn tally(
        &self,
        origin: &str,
        recorded: u64,
    ) -> impl Future<Output = Result<InviteTally, PortError>> + Send;
}

/// The queue the sender reads.
pub trait InviteQueue: Send + Sync {
    /// Queues the messages, visible after `delay_seconds`.
    fn enqueue(
        &self,
        messages: &[InviteMessage],
        delay_seconds: u32,
    ) -> impl Future<Output = Result<(), PortError>> + Send;
}

/// What the provider allows now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SendQuota {
    pub per_second: f64,
    /// Messages left in the rolling 24 hours, when the provider says.
    pub remaining_today: Option<f64>,
}

/// The account's sending quota (SES GetAccount).
pub trait QuotaSource: Send + Sync {
    fn email_quota(&self) -> impl Future<Output = Result<SendQuota, PortError>> + Send;
}

/// A send rate shared by every sender of the account: fixed one-second windows.
pub trait RateWindows: Send + Sync {
    /// Takes up to `want` of the `limit` sends of the window `second` (epoch
    /// seconds) for `channel`; returns how many were granted (0 if full).
    fn take(
        &self,
        channel: InviteChannel,
        second: u64,
        want: u32,
        limit: u32,
    ) -> impl Future<Output = Result<u32, PortError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_round_trip_and_use_only_allowed_characters() {
        for origin in ["approval:8c1f", "2f0c-7d.x/y", "device:C02X 1"] {
            let r = InviteRef::new(origin, 1234);
            let tag = r.tag();
            assert!(tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)));
            assert_eq!(InviteRef::from_tag(&tag), Some(r));
        }
        assert_eq!(InviteRef::from_tag("zz.1"), None);
        assert_eq!(InviteRef::from_tag("nodot"), None);
    }

    #[test]
    fn the_tally_queues_what_has_not_ended() {
        let t = InviteTally::new(
            10,
            &[
                (InviteState::Sent, 4),
                (InviteState::Bounced, 1),
                (InviteState::Failed, -1),
            ],
        );
        assert_eq!((t.queued, t.sent, t.bounced, t.failed), (5, 4, 1, 0));
        for s in InviteState::ALL {
            assert_eq!(InviteState::parse(s.as_str()), Some(s));
        }
    }
}
