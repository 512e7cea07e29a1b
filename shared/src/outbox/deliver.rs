//! The sender: takes a batch of queue messages, claims each invite, sends it
//! within the account's rate and records the outcome. At most once per
//! attempt: a message delivered twice finds the claim taken or the attempt
//! ended. A send the provider did not take ([`SendError::Retry`]) is tried
//! again; one whose answer was lost ([`SendError::Unknown`]: it may have gone
//! out) turns `unconfirmed`, as does the claim of a sender killed mid-send,
//! and is never sent again by itself; one refused for good
//! ([`SendError::Refused`]) is `failed` with the provider's code.
//!
//! Nothing goes to a device that is gone or changed ([`super::cancel`]): the
//! device is read right after the claim, and again before the invite takes
//! its place in the rate if it waited for a full window or that read is
//! older than [`DeliverConfig::recheck_after`] (at a low quota a claim waits
//! seconds). An invite its device no longer wants turns `cancelled`, and
//! takes no place in the rate.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use futures::{stream, StreamExt};

use super::cancel::{why_cancel, Cancel};
use super::Pacer;
use super::{
    Claimed, InviteMessage, InviteRef, InviteState, Outbox, QuotaSource, RateWindows, SendQuota,
    Transition,
};
use crate::domain::InviteChannel;
use crate::outbox::{Invite, InviteOrigin, InviteSender, SendError};
use crate::port_error::PortError;

/// One message of the batch.
#[derive(Debug, Clone)]
pub struct Incoming {
    pub id: String,
    pub body: String,
    /// When it was first queued (epoch seconds).
    pub queued_at: u64,
}

/// What to do with a message once the batch is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Delete it: the attempt ended (or the message is meaningless).
    Done,
    /// Leave it on the queue, visible again after that many seconds.
    RetryAfter(u32),
}

#[derive(Debug, Clone)]
pub struct DeliverConfig {
    /// How long a claim holds: longer than the function's timeout, so that a
    /// live sender never sees its claim taken over.
    pub claim_seconds: u64,
    /// Upper bound on e-mails per second; 0 = the account's SES quota.
    pub email_cap: f64,
    /// Used when the quota cannot be read (SES's sandbox rate).
    pub email_fallback: f64,
    /// SNS has no API for the account's SMS throughput: this is the deployment's.
    pub sms_per_second: f64,
    /// Sends in flight at once within one invocation.
    pub concurrency: usize,
    /// Sends the provider did not take ([`SendError::Retry`]) tried again in
    /// place before the message is put back.
    pub send_retries: u32,
    /// How long a message waits for a record that is not there (an approval
    /// or resend queues its message just before it commits).
    pub missing_grace: u64,
    /// A device read older than this is read again before the invite takes
    /// its place in the rate (it is, whatever its age, after a wait for a
    /// full window): the longest before its send that a device may change
    /// unseen.
    pub recheck_after: Duration,
}

impl Default for DeliverConfig {
    fn default() -> Self {
        Self {
            claim_seconds: 120,
            email_cap: 0.0,
            email_fallback: 1.0,
            sms_per_second: 1.0,
            concurrency: 16,
            send_retries: 3,
            missing_grace: 300,
            recheck_after: Duration::from_secs(1),
        }
    }
}

/// What the sender works with.
pub struct DeliverPorts<'a, O, R, Q, S> {
    pub outbox: &'a O,
    pub windows: &'a R,
    pub quota: &'a Q,
    pub sender: &'a S,
    pub origin: &'a InviteOrigin,
}

/// The account-wide limit of one channel, as this invocation uses it: sends
/// are spaced at the rate here and each one takes its place in the shared
/// one-second window, so all senders together never pass the quota.
struct Lane {
    channel: InviteChannel,
    limit: u32,
    pacer: Pacer,
    /// Window (epoch second) and the places in it this invocation still holds.
    held: tokio::sync::Mutex<(u64, u32)>,
    /// Claimed invites of the batch waiting for a place on this lane: with
    /// the messages not yet claimed ([`Lanes::undecided`]), never take more
    /// places (one a duplicate or cancelled invite would never use is lost
    /// to every other sender for that second).
    pending: AtomicU32,
}

impl Lane {
    fn new(channel: InviteChannel, per_second: f64) -> Self {
        let per_second = per_second.max(0.1);
        Self {
            channel,
            limit: (per_second.floor() as u32).max(1),
            pacer: Pacer::new(per_second),
            held: tokio::sync::Mutex::new((0, 0)),
            pending: AtomicU32::new(0),
        }
    }

    /// Waits for a place in the rate for one of the `pending` invites; Some
    /// if, meanwhile, the invite's device stopped wanting it (it then takes
    /// no place).
    async fn acquire<R: RateWindows, O: Outbox>(
        &self,
        windows: &R,
        clock: &Clock,
        device: &mut DeviceCheck<'_, O>,
        undecided: &AtomicU32,
    ) -> Result<Option<Cancel>, PortError> {
        self.pacer.wait().await;
        let placed = self.place(windows, clock, device, undecided).await;
        self.pending.fetch_sub(1, Ordering::Relaxed);
        placed
    }

    async fn place<R: RateWindows, O: Outbox>(
        &self,
        windows: &R,
        clock: &Clock,
        device: &mut DeviceCheck<'_, O>,
        undecided: &AtomicU32,
    ) -> Result<Option<Cancel>, PortError> {
        let mut held = self.held.lock().await;
        let mut waited = false;
        loop {
            if let Some(cancel) = device.fresh(clock, waited).await? {
                return Ok(Some(cancel));
            }
            let second = clock.epoch();
            if held.0 == second && held.1 > 0 {
                held.1 -= 1;
                return Ok(None);
            }
            let waiting = self.pending.load(Ordering::Relaxed) + undecided.load(Ordering::Relaxed);
            let want = waiting.clamp(1, self.limit);
            let granted = windows.take(self.channel, second, want, self.limit).await?;
            if granted > 0 {
                *held = (second, granted - 1);
                return Ok(None);
            }
            // The window is full: the next one opens at the next second.
            tokio::time::sleep(clock.until_next_second()).await;
            waited = true;
        }
    }
}

/// The device a claimed invite is for, read at the claim and again when the
/// last read is older than `max_age`.
struct DeviceCheck<'a, O> {
    outbox: &'a O,
    invite: &'a InviteRef,
    serial: &'a str,
    max_age: Duration,
    at: tokio::time::Instant,
}

impl<'a, O: Outbox> DeviceCheck<'a, O> {
    /// Reads the device now.
    async fn new(
        outbox: &'a O,
        invite: &'a InviteRef,
        serial: &'a str,
        max_age: Duration,
        clock: &Clock,
    ) -> Result<(Self, Option<Cancel>), PortError> {
        let mut check = Self {
            outbox,
            invite,
            serial,
            max_age,
            at: tokio::time::Instant::now(),
        };
        let found = check.read(clock).await?;
        Ok((check, found))
    }

    async fn read(&mut self, clock: &Clock) -> Result<Option<Cancel>, PortError> {
        let device = self.outbox.device(self.serial).await?;
        self.at = tokio::time::Instant::now();
        Ok(why_cancel(device.as_ref(), self.invite, clock.epoch()))
    }

    /// Reads the device again if the last read is too old to go by, or
    /// `anyway` (the invite waited for the rate since).
    async fn fresh(&mut self, clock: &Clock, anyway: bool) -> Result<Option<Cancel>, PortError> {
        if !anyway && self.at.elapsed() < self.max_age {
            return Ok(None);
        }
        self.read(clock).await
    }
}

/// A message of the batch not yet known to want a place in the rate, counted
/// in [`Lanes::undecided`] until it is known (claimed for a lane, or not).
struct Undecided<'a> {
    count: &'a AtomicU32,
    counted: bool,
}

impl<'a> Undecided<'a> {
    fn new(count: &'a AtomicU32) -> Self {
        Self {
            count,
            counted: true,
        }
    }

    fn decide(&mut self) {
        if std::mem::take(&mut self.counted) {
            self.count.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Undecided<'_> {
    fn drop(&mut self) {
        self.decide();
    }
}

/// Wall-clock seconds that move with tokio's clock, so tests can pause time.
struct Clock {
    base_epoch_ms: u128,
    base: tokio::time::Instant,
}

impl Clock {
    fn new() -> Self {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        Self {
            base_epoch_ms: ms,
            base: tokio::time::Instant::now(),
        }
    }

    fn epoch_ms(&self) -> u128 {
        self.base_epoch_ms + self.base.elapsed().as_millis()
    }

    fn epoch(&self) -> u64 {
        (self.epoch_ms() / 1000) as u64
    }

    fn until_next_second(&self) -> Duration {
        Duration::from_millis((1000 - (self.epoch_ms() % 1000)) as u64)
    }
}

/// Delivers a batch. Returns a verdict for every message, in order.
pub async fn deliver_batch<O, R, Q, S>(
    batch: Vec<Incoming>,
    ports: &DeliverPorts<'_, O, R, Q, S>,
    config: &DeliverConfig,
    out_of_time: &(dyn Fn() -> bool + Sync),
) -> Vec<(String, Verdict)>
where
    O: Outbox,
    R: RateWindows,
    Q: QuotaSource,
    S: InviteSender,
{
    let quota = match ports.quota.email_quota().await {
        Ok(q) => q,
        Err(e) => {
            tracing::warn!(error = %e, rate = config.email_fallback, "SES quota unreadable; sending at the fallback rate");
            SendQuota {
                per_second: config.email_fallback,
                remaining_today: None,
            }
        }
    };
    let email_rate = if config.email_cap > 0.0 {
        quota.per_second.min(config.email_cap)
    } else {
        quota.per_second
    };
    let lanes = Lanes {
        email: Lane::new(InviteChannel::Email, email_rate),
        sms: Lane::new(InviteChannel::Sms, config.sms_per_second),
        undecided: AtomicU32::new(batch.len() as u32),
        email_exhausted: quota.remaining_today.is_some_and(|r| r < 1.0),
        clock: Clock::new(),
    };
    let token = uuid::Uuid::new_v4().to_string();
    stream::iter(batch)
        .map(|m| {
            let (lanes, token) = (&lanes, token.as_str());
            async move {
                let verdict = match deliver_one(&m, ports, config, lanes, token, out_of_time).await {
                    Ok(v) => v,
                    Err(e) => {
                        tracing::warn!(message = %m.id, error = %e, "invite not delivered; will retry");
                        Verdict::RetryAfter(10)
                    }
                };
                (m.id, verdict)
            }
        })
        .buffered(config.concurrency.max(1))
        .collect()
        .await
}

struct Lanes {
    email: Lane,
    sms: Lane,
    /// Messages not yet claimed for a lane: a lane's first places are taken
    /// for them too, as one request, rather than one by one as they come.
    undecided: AtomicU32,
    /// The account's 24-hour SES quota is used up.
    email_exhausted: bool,
    clock: Clock,
}

/// When a day's quota is used up, look again in a quarter of an hour.
const QUOTA_WAIT: u32 = 900;

async fn deliver_one<O, R, Q, S>(
    m: &Incoming,
    ports: &DeliverPorts<'_, O, R, Q, S>,
    config: &DeliverConfig,
    lanes: &Lanes,
    token: &str,
    out_of_time: &(dyn Fn() -> bool + Sync),
) -> Result<Verdict, PortError>
where
    O: Outbox,
    R: RateWindows,
    Q: QuotaSource,
    S: InviteSender,
{
    let Ok(msg) = serde_json::from_str::<InviteMessage>(&m.body) else {
        tracing::warn!(message = %m.id, "not an invite message; dropped");
        return Ok(Verdict::Done);
    };
    let r = msg.invite_ref();
    let mut undecided = Undecided::new(&lanes.undecided);
    let now = lanes.clock.epoch();
    if out_of_time() {
        tracing::info!(
            row = r.row,
            "out of time before this invite; it comes back at once"
        );
        return Ok(Verdict::RetryAfter(0));
    }
    let waiting = |found: &str| {
        if now.saturating_sub(m.queued_at) < config.missing_grace {
            tracing::info!(row = r.row, found, "invite message waits for its record");
            Verdict::RetryAfter(10)
        } else {
            tracing::warn!(
                row = r.row,
                found,
                "invite message never matched a record; dropped"
            );
            Verdict::Done
        }
    };
    let invite = match ports
        .outbox
        .claim(&r, msg.attempt, token, now + config.claim_seconds)
        .await?
    {
        Claimed::Owned(invite) => *invite,
        Claimed::Missing => return Ok(waiting("nothing")),
        Claimed::OtherAttempt { attempt } if attempt < msg.attempt => {
            return Ok(waiting("an earlier attempt"))
        }
        Claimed::OtherAttempt { .. } => return Ok(Verdict::Done),
        Claimed::Held { until } => {
            return Ok(Verdict::RetryAfter(
                until.saturating_sub(now).clamp(1, 900) as u32 + 1,
            ))
        }
        Claimed::Abandoned { serial } => {
            tracing::warn!(row = r.row, "invite claimed by a sender that stopped before the provider answered; not sent again");
            let t = Transition {
                invite: &r,
                attempt: msg.attempt,
                from: InviteState::Sending,
                to: InviteState::Unconfirmed,
                token: None,
                message_id: None,
                reason: Some("SenderStopped"),
            };
            if ports.outbox.transition(&t).await? {
                ports
                    .outbox
                    .show_on_device(&serial, &r, InviteState::Unconfirmed)
                    .await?;
            }
            return Ok(Verdict::Done);
        }
        Claimed::Ended { state, serial } => {
            // A crash may have come between the outcome and the device: show it again.
            ports.outbox.show_on_device(&serial, &r, state).await?;
            return Ok(Verdict::Done);
        }
    };
    // Not sent: the claim goes back, and the message comes again after `after` seconds.
    let give_back = Transition {
        invite: &r,
        attempt: msg.attempt,
        from: InviteState::Sending,
        to: InviteState::Queued,
        token: Some(token),
        message_id: None,
        reason: None,
    };
    // Nothing before the provider's call has sent anything: on an error there
    // the claim goes back, rather than expiring into `unconfirmed`.
    let outcome = async {
        let (mut device, cancel) = DeviceCheck::new(
            ports.outbox,
            &r,
            &invite.serial,
            config.recheck_after,
            &lanes.clock,
        )
        .await?;
        if let Some(cancel) = cancel {
            undecided.decide();
            return Ok(Sent::Cancelled(cancel));
        }
        let lane = match invite.channel {
            InviteChannel::Sms => &lanes.sms,
            _ if lanes.email_exhausted => return Ok(Sent::NotNow(QUOTA_WAIT)),
            _ => &lanes.email,
        };
        lane.pending.fetch_add(1, Ordering::Relaxed);
        undecided.decide();
        let sending = Sending {
            invite: &invite,
            msg: &msg,
            lane,
            lanes,
        };
        send(&sending, ports, config, &mut device, out_of_time).await
    };
    let (to, detail) = match outcome.await {
        Ok(Sent::Delivered(id)) => (InviteState::Sent, (Some(id), None)),
        Ok(Sent::Refused(code)) => (InviteState::Failed, (None, Some(code))),
        Ok(Sent::Unknown(what)) => (InviteState::Unconfirmed, (None, Some(what))),
        Ok(Sent::Cancelled(cancel)) => {
            tracing::info!(
                row = r.row,
                reason = cancel.code(),
                "invite cancelled: its device no longer wants it"
            );
            (
                InviteState::Cancelled,
                (None, Some(cancel.code().to_owned())),
            )
        }
        Ok(Sent::NotNow(after)) => {
            ports.outbox.transition(&give_back).await?;
            return Ok(Verdict::RetryAfter(after));
        }
        Err(e) => {
            tracing::warn!(row = r.row, error = %e, "invite not sent; its claim goes back");
            ports.outbox.transition(&give_back).await?;
            return Ok(Verdict::RetryAfter(10));
        }
    };
    let t = Transition {
        invite: &r,
        attempt: msg.attempt,
        from: InviteState::Sending,
        to,
        token: Some(token),
        message_id: detail.0.as_deref(),
        reason: detail.1.as_deref(),
    };
    let recorded = match ports.outbox.transition(&t).await {
        Ok(recorded) => recorded,
        // Not sent: the claim can go back, and the next delivery cancels it.
        Err(e) if to == InviteState::Cancelled => {
            tracing::warn!(row = r.row, error = %e, "cancellation not recorded; its claim goes back");
            ports.outbox.transition(&give_back).await?;
            return Ok(Verdict::RetryAfter(10));
        }
        Err(e) => return Err(e),
    };
    if recorded {
        ports.outbox.show_on_device(&invite.serial, &r, to).await?;
    } else {
        tracing::warn!(row = r.row, state = %to, "the invite's claim was taken over before its outcome was recorded");
    }
    Ok(Verdict::Done)
}

enum Sent {
    Delivered(String),
    /// Refused for good, with the provider's reason code.
    Refused(String),
    /// Perhaps sent: the answer was lost. Never sent again by itself.
    Unknown(String),
    /// Not sent, and not to be: its device no longer wants it.
    Cancelled(Cancel),
    /// Not sent: give the claim back and try again after that many seconds.
    NotNow(u32),
}

/// One claimed invite on its way to the provider, on `lane` of `lanes`.
struct Sending<'a> {
    invite: &'a Invite,
    msg: &'a InviteMessage,
    lane: &'a Lane,
    lanes: &'a Lanes,
}

/// Sends within the rate. An error comes only from before the provider's
/// call (the rate, the device): nothing was sent.
async fn send<O, R, Q, S>(
    sending: &Sending<'_>,
    ports: &DeliverPorts<'_, O, R, Q, S>,
    config: &DeliverConfig,
    device: &mut DeviceCheck<'_, O>,
    out_of_time: &(dyn Fn() -> bool + Sync),
) -> Result<Sent, PortError>
where
    O: Outbox,
    R: RateWindows,
    S: InviteSender,
{
    let Sending {
        invite,
        msg,
        lane,
        lanes,
    } = *sending;
    let clock = &lanes.clock;
    let mut backoff = Duration::from_millis(500);
    let mut tries = 0;
    loop {
        if let Some(cancel) = lane
            .acquire(ports.windows, clock, device, &lanes.undecided)
            .await?
        {
            return Ok(Sent::Cancelled(cancel));
        }
        if out_of_time() {
            return Ok(Sent::NotNow(0));
        }
        let error = match ports.sender.send(invite, ports.origin, msg).await {
            Ok(id) => return Ok(Sent::Delivered(id)),
            Err(SendError::Refused { code }) => {
                tracing::warn!(row = invite.row, reason = %code, "invite refused by the provider");
                return Ok(Sent::Refused(code));
            }
            Err(SendError::Unknown(what)) => {
                // Sending it again could deliver it twice: the admin decides.
                tracing::warn!(row = invite.row, reason = %what, "the provider's answer to an invite was lost; it may have gone out and is not sent again");
                return Ok(Sent::Unknown(what));
            }
            Err(e @ SendError::Retry(_)) => e,
        };
        tries += 1;
        if tries > config.send_retries {
            tracing::info!(row = invite.row, error = %error, "invite send put back on the queue");
            return Ok(Sent::NotNow(30));
        }
        tracing::info!(row = invite.row, error = %error, "invite send will be retried");
        // Each try takes a new place in the window: a throttled send counted too.
        lane.pending.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(8));
    }
}

#[cfg(test)]
mod tests;
