//! The lifecycle of one invite, as the outbox moves it and the console shows it.

use serde::{Deserialize, Serialize};

/// Where one invite stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InviteState {
    Queued,
    Sending,
    Sent,
    Delivered,
    Bounced,
    Complained,
    Failed,
    Unconfirmed,
    /// Not sent, and never to be by itself: its device was removed or changed
    /// before it went (the record's reason says how).
    Cancelled,
}

impl InviteState {
    pub const ALL: [InviteState; 9] = [
        InviteState::Queued,
        InviteState::Sending,
        InviteState::Sent,
        InviteState::Delivered,
        InviteState::Bounced,
        InviteState::Complained,
        InviteState::Failed,
        InviteState::Unconfirmed,
        InviteState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InviteState::Queued => "queued",
            InviteState::Sending => "sending",
            InviteState::Sent => "sent",
            InviteState::Delivered => "delivered",
            InviteState::Bounced => "bounced",
            InviteState::Complained => "complained",
            InviteState::Failed => "failed",
            InviteState::Unconfirmed => "unconfirmed",
            InviteState::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// States kept in the per-import counters. `queued` (and `sending`, a
    /// claim in flight) are what the import recorded minus all of these.
    pub fn counted(self) -> bool {
        !matches!(self, InviteState::Queued | InviteState::Sending)
    }

    /// States a device must not go back from to this one: what SES reports
    /// after a send (a delivery, then perhaps a complaint) may be written to
    /// the device before the send itself, by another function. A resend's
    /// `queued` starts over and always shows.
    pub fn superseded_by(self) -> &'static [InviteState] {
        match self {
            InviteState::Sending | InviteState::Sent => &[
                InviteState::Delivered,
                InviteState::Bounced,
                InviteState::Complained,
            ],
            InviteState::Delivered => &[InviteState::Bounced, InviteState::Complained],
            _ => &[],
        }
    }

    /// The states the import-wide resend picks up: the user has no invite.
    /// Not `cancelled`: its device no longer wants it (a renewed one is
    /// resent from its own page).
    pub fn resendable(self) -> bool {
        matches!(
            self,
            InviteState::Bounced | InviteState::Failed | InviteState::Unconfirmed
        )
    }
}

impl std::fmt::Display for InviteState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
