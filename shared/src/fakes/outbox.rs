//! The outbox, its queue, the shared rate windows and the quota, in memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::DeviceTable;
use crate::domain::InviteState;
use crate::domain::{InviteChannel, Ownership, Platform};
use crate::outbox::cancel::DeviceNow;
use crate::outbox::Invite;
use crate::outbox::{
    Claimed, InviteMessage, InvitePage, InviteQueue, InviteRef, InviteStatus, InviteTally, Outbox,
    OutboxEntry, QuotaSource, RateWindows, SendQuota, Transition,
};
use crate::port_error::PortError;
use crate::records::{DeviceInvite, DeviceRecord, DeviceStatus};

#[derive(Debug, Clone)]
pub struct MemoryRecord {
    pub invite: Invite,
    pub state: InviteState,
    pub attempt: u32,
    pub queued_at: u64,
    pub token: Option<String>,
    pub claim_until: u64,
    pub message_id: Option<String>,
    pub reason: Option<String>,
}

impl MemoryRecord {
    fn status(&self) -> InviteStatus {
        InviteStatus {
            state: self.state,
            channel: self.invite.channel,
            attempt: self.attempt,
            queued_at: self.queued_at,
            reason: self.reason.clone(),
            serial: self.invite.serial.clone(),
        }
    }
}

#[derive(Default)]
pub struct MemoryOutbox {
    pub records: Mutex<BTreeMap<InviteRef, MemoryRecord>>,
    /// Counters per origin and counted state.
    pub counters: Mutex<HashMap<(String, InviteState), i64>>,
    /// The devices the invites are for (their `invite` shows where the latest stands).
    pub devices: DeviceTable,
    /// The clock claims are judged by (epoch seconds); 0 = the real one.
    pub now: Mutex<u64>,
    /// The next this many transitions fail, writing nothing (a sender that dies before its write).
    pub fail_transitions: Mutex<u32>,
}

/// A pre-approved device whose latest invite is `entry`'s, as an import writes it.
pub fn device_for(entry: &OutboxEntry) -> DeviceRecord {
    let i = &entry.invite;
    DeviceRecord {
        serial: i.serial.clone(),
        status: DeviceStatus::PreApproved,
        platform: Platform::parse(i.platform).unwrap_or(Platform::Ios),
        ownership: Some(Ownership::Corporate),
        email: i.to.to_lowercase(),
        device_name: i.device_name.clone(),
        groups: Vec::new(),
        password_hash: None,
        import_id: entry.origin.clone(),
        domain: None,
        updated_at: String::new(),
        enrollment: None,
        checks: Default::default(),
        invite: Some(DeviceInvite {
            reference: entry.invite_ref().tag(),
            state: InviteState::Queued,
        }),
        expires: None,
        ade: None,
    }
}

impl MemoryOutbox {
    /// An outbox over a devices table another fake writes too.
    pub fn over(devices: DeviceTable) -> Self {
        Self {
            devices,
            ..Self::default()
        }
    }

    /// Writes, for each entry, the device an import would have written with it.
    pub fn add_devices_for(&self, entries: &[OutboxEntry]) {
        let mut devices = self.devices.lock().unwrap();
        for e in entries {
            devices.insert(e.invite.serial.clone(), device_for(e));
        }
    }

    /// The state the device shows for its latest invite.
    pub fn shown(&self, serial: &str) -> Option<InviteState> {
        let devices = self.devices.lock().unwrap();
        devices.get(serial)?.invite.as_ref().map(|i| i.state)
    }

    fn now(&self) -> u64 {
        match *self.now.lock().unwrap() {
            0 => crate::clock::epoch_now(),
            n => n,
        }
    }

    pub fn state_of(&self, r: &InviteRef) -> Option<InviteState> {
        self.records.lock().unwrap().get(r).map(|x| x.state)
    }
}

impl MemoryOutbox {
    /// [`Outbox::record`], callable where no await may come (inside another store's lock).
    pub fn insert(&self, entries: &[OutboxEntry]) -> Vec<Option<InviteState>> {
        let now = self.now();
        let mut records = self.records.lock().unwrap();
        entries
            .iter()
            .map(|e| match records.get(&e.invite_ref()) {
                Some(r) => Some(r.state),
                None => {
                    records.insert(
                        e.invite_ref(),
                        MemoryRecord {
                            invite: e.invite.clone(),
                            state: InviteState::Queued,
                            attempt: 1,
                            queued_at: now,
                            token: None,
                            claim_until: 0,
                            message_id: None,
                            reason: None,
                        },
                    );
                    None
                }
            })
            .collect()
    }
}

impl Outbox for MemoryOutbox {
    async fn record(&self, entries: &[OutboxEntry]) -> Result<Vec<Option<InviteState>>, PortError> {
        Ok(self.insert(entries))
    }

    async fn claim(
        &self,
        r: &InviteRef,
        attempt: u32,
        token: &str,
        until: u64,
    ) -> Result<Claimed, PortError> {
        let now = self.now();
        let mut records = self.records.lock().unwrap();
        let Some(rec) = records.get_mut(r) else {
            return Ok(Claimed::Missing);
        };
        if rec.attempt != attempt {
            return Ok(Claimed::OtherAttempt {
                attempt: rec.attempt,
            });
        }
        let serial = rec.invite.serial.clone();
        Ok(match rec.state {
            InviteState::Queued => {
                rec.state = InviteState::Sending;
                rec.token = Some(token.to_owned());
                rec.claim_until = until;
                Claimed::Owned(Box::new(rec.invite.clone()))
            }
            InviteState::Sending if rec.claim_until > now => Claimed::Held {
                until: rec.claim_until,
            },
            InviteState::Sending => Claimed::Abandoned { serial },
            state => Claimed::Ended { state, serial },
        })
    }

    async fn transition(&self, t: &Transition<'_>) -> Result<bool, PortError> {
        {
            let mut failing = self.fail_transitions.lock().unwrap();
            if *failing > 0 {
                *failing -= 1;
                return Err(PortError::new("update invite", "simulated crash"));
            }
        }
        let mut records = self.records.lock().unwrap();
        let Some(rec) = records.get_mut(t.invite) else {
            return Ok(false);
        };
        let id_matches = t.from == InviteState::Sending
            || t.message_id.is_none()
            || rec.message_id.as_deref() == t.message_id;
        if rec.attempt != t.attempt
            || rec.state != t.from
            || (t.token.is_some() && rec.token.as_deref() != t.token)
            || !id_matches
        {
            return Ok(false);
        }
        rec.state = t.to;
        if t.from == InviteState::Sending {
            rec.token = None;
            if let Some(id) = t.message_id {
                rec.message_id = Some(id.to_owned());
            }
        }
        if let Some(reason) = t.reason {
            rec.reason = Some(reason.to_owned());
        }
        let mut counters = self.counters.lock().unwrap();
        for (state, delta) in [(t.from, -1), (t.to, 1)] {
            if state.counted() {
                *counters
                    .entry((t.invite.origin.clone(), state))
                    .or_default() += delta;
            }
        }
        Ok(true)
    }

    async fn device(&self, serial: &str) -> Result<Option<DeviceNow>, PortError> {
        let devices = self.devices.lock().unwrap();
        Ok(devices.get(serial).map(DeviceNow::from))
    }

    async fn show_on_device(
        &self,
        serial: &str,
        r: &InviteRef,
        state: InviteState,
    ) -> Result<(), PortError> {
        // As the conditional update in DynamoDB: only on a device that exists,
        // has no other invite (none at all, for `cancelled`), and shows no
        // state that supersedes this one.
        let mut devices = self.devices.lock().unwrap();
        let Some(device) = devices.get_mut(serial) else {
            return Ok(());
        };
        let tag = r.tag();
        let holds = match &device.invite {
            None => state != InviteState::Cancelled,
            Some(i) => i.reference == tag && !state.superseded_by().contains(&i.state),
        };
        if holds {
            device.invite = Some(DeviceInvite {
                reference: tag,
                state,
            });
        }
        Ok(())
    }

    async fn status(&self, r: &InviteRef) -> Result<Option<InviteStatus>, PortError> {
        Ok(self
            .records
            .lock()
            .unwrap()
            .get(r)
            .map(MemoryRecord::status))
    }

    async fn requeue(
        &self,
        r: &InviteRef,
        from: InviteState,
        attempt: u32,
        now: u64,
        queued_before: u64,
    ) -> Result<Option<u32>, PortError> {
        let mut records = self.records.lock().unwrap();
        let Some(rec) = records.get_mut(r) else {
            return Ok(None);
        };
        if rec.state != from || rec.attempt != attempt || rec.queued_at >= queued_before {
            return Ok(None);
        }
        rec.state = InviteState::Queued;
        rec.attempt += 1;
        rec.queued_at = now;
        rec.message_id = None;
        rec.reason = None;
        if from.counted() {
            *self
                .counters
                .lock()
                .unwrap()
                .entry((r.origin.clone(), from))
                .or_default() -= 1;
        }
        Ok(Some(rec.attempt))
    }

    async fn in_states(
        &self,
        origin: &str,
        states: &[InviteState],
        after: Option<u64>,
    ) -> Result<InvitePage, PortError> {
        let records = self.records.lock().unwrap();
        let page = records
            .iter()
            .filter(|(r, rec)| {
                r.origin == origin && after.is_none_or(|a| r.row > a) && states.contains(&rec.state)
            })
            .map(|(r, rec)| (r.clone(), rec.status()))
            .collect();
        Ok((page, None))
    }

    async fn tally(&self, origin: &str, recorded: u64) -> Result<InviteTally, PortError> {
        let counters = self.counters.lock().unwrap();
        let counted: Vec<(InviteState, i64)> = counters
            .iter()
            .filter(|((o, _), _)| o == origin)
            .map(|((_, s), n)| (*s, *n))
            .collect();
        Ok(InviteTally::new(recorded, &counted))
    }
}

/// Queued messages, with their delay.
#[derive(Default)]
pub struct MemoryQueue {
    pub messages: Mutex<Vec<(InviteMessage, u32)>>,
}

impl MemoryQueue {
    /// Takes every queued message, as a sender's batch would receive them.
    pub fn drain(&self) -> Vec<InviteMessage> {
        std::mem::take(&mut *self.messages.lock().unwrap())
            .into_iter()
            .map(|(m, _)| m)
            .collect()
    }
}

impl InviteQueue for MemoryQueue {
    async fn enqueue(&self, messages: &[InviteMessage], delay: u32) -> Result<(), PortError> {
        self.messages
            .lock()
            .unwrap()
            .extend(messages.iter().cloned().map(|m| (m, delay)));
        Ok(())
    }
}

/// The shared one-second windows: (channel, second) -> places taken.
#[derive(Default)]
pub struct MemoryWindows {
    pub taken: Mutex<HashMap<(InviteChannel, u64), u32>>,
}

impl RateWindows for MemoryWindows {
    async fn take(
        &self,
        channel: InviteChannel,
        second: u64,
        want: u32,
        limit: u32,
    ) -> Result<u32, PortError> {
        let mut taken = self.taken.lock().unwrap();
        let used = taken.entry((channel, second)).or_default();
        let granted = want.min(limit.saturating_sub(*used));
        *used += granted;
        Ok(granted)
    }
}

/// A fixed quota; None makes reading it fail.
pub struct MemoryQuota(pub Option<SendQuota>);

impl QuotaSource for MemoryQuota {
    async fn email_quota(&self) -> Result<SendQuota, PortError> {
        self.0
            .ok_or_else(|| PortError::new("read SES quota", "AccessDenied"))
    }
}
