//! In-memory implementations of the ports, for fast tests of the domain logic.

pub mod abm;
mod ade;
mod admin;
mod admission;
mod counts;
mod expiry;
mod exports;
mod outbox;
mod undo;
pub use ade::{
    MemoryAdeAccounts, MemoryAdeDevices, MemoryAdeSecrets, MemorySyncJobs, ScriptedApple,
};
pub use admin::{MemoryAde, MemoryAdmin};
pub use counts::MemoryCounts;
pub use exports::{MemoryDevices, MemoryExports};
pub use outbox::{device_for, MemoryOutbox, MemoryQueue, MemoryQuota, MemoryRecord, MemoryWindows};

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::{self, Cursor};
use std::sync::{Arc, Mutex};

use crate::admission::grouping::{route, LedgerState, Memory, Route, Seen, RETURNED};
use crate::admission::lockout::Claim;
use crate::admission::{
    AdmissionStore, Denial, Enrolled, Enrollment, Expect, Lookup, Recorded, StoredDevice,
};
use crate::csvfile::BoxRead;
use crate::files::{ObjectInfo, ObjectSource, ObjectVersion, ReportSink, Uploads};
use crate::import::ports::{
    Continuations, DeviceWrite, Directory, Existing, ImportRecords, ImportState, Lease,
};
use crate::outbox::{Invite, InviteOrigin, InviteSender, SendError};
use crate::port_error::PortError;
use crate::records::{
    DeviceRecord, DeviceStatus, ExistingDevice, ExistingUser, PasswordChecks, UserRecord,
};

/// The devices table, shared by the fakes that read or write it (the
/// import's directory, the admin's store, the outbox), as one table is in DynamoDB.
pub type DeviceTable = Arc<Mutex<BTreeMap<String, DeviceRecord>>>;

/// A file in memory; counts how often it was opened.
pub struct MemoryObject {
    pub bytes: Vec<u8>,
    pub opens: Mutex<u32>,
}

impl MemoryObject {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self {
            bytes: bytes.into(),
            opens: Mutex::new(0),
        }
    }
}

impl ObjectSource for MemoryObject {
    fn open(&self) -> io::Result<BoxRead> {
        *self.opens.lock().unwrap() += 1;
        Ok(Box::new(Cursor::new(self.bytes.clone())))
    }
}

/// An uploaded object: what HeadObject says, and its bytes.
pub type Upload = (ObjectInfo, Vec<u8>);

/// Uploaded objects by (bucket, key); each upload is a new version.
#[derive(Default)]
pub struct MemoryUploads {
    pub objects: Mutex<BTreeMap<(String, String), Upload>>,
}

impl MemoryUploads {
    pub fn put(
        &self,
        bucket: &str,
        key: &str,
        body: impl Into<Vec<u8>>,
        metadata: &[(&str, &str)],
    ) {
        let mut objects = self.objects.lock().unwrap();
        let info = ObjectInfo {
            metadata: metadata
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            version: ObjectVersion::new(Some(format!("v{}", objects.len() + 1)), None),
        };
        objects.insert((bucket.to_owned(), key.to_owned()), (info, body.into()));
    }
}

impl Uploads for MemoryUploads {
    async fn head(
        &self,
        bucket: &str,
        key: &str,
        _version_id: Option<&str>,
    ) -> Result<ObjectInfo, PortError> {
        let objects = self.objects.lock().unwrap();
        objects
            .get(&(bucket.to_owned(), key.to_owned()))
            .map(|(info, _)| info.clone())
            .ok_or_else(|| PortError::new("read upload metadata", "the object is not there"))
    }

    fn object(&self, bucket: &str, key: &str, _version: &ObjectVersion) -> Arc<dyn ObjectSource> {
        let objects = self.objects.lock().unwrap();
        let bytes = objects
            .get(&(bucket.to_owned(), key.to_owned()))
            .map(|(_, b)| b.clone())
            .unwrap_or_default();
        Arc::new(MemoryObject::new(bytes))
    }
}

/// Continuations queued, in order.
#[derive(Default)]
pub struct MemoryContinuations {
    pub queued: Mutex<Vec<String>>,
}

impl Continuations for MemoryContinuations {
    async fn requeue(&self, event: &str) -> Result<(), PortError> {
        self.queued.lock().unwrap().push(event.to_owned());
        Ok(())
    }
}

/// What happens to the devices between an import's look-up (of these
/// serials) and its write: a device enrolling meanwhile.
pub type AfterLookUp = Box<dyn FnMut(&[String], &mut BTreeMap<String, DeviceRecord>) + Send>;

#[derive(Default)]
pub struct MemoryDirectory {
    pub devices: DeviceTable,
    /// Runs after each look-up has read, before its answer is used.
    pub after_look_up: Mutex<Option<AfterLookUp>>,
    pub users: Mutex<BTreeMap<String, UserRecord>>,
    /// Fail every write after this many calls (to simulate a crash mid-import).
    pub fail_writes_after: Mutex<Option<u32>>,
    pub writes: Mutex<u32>,
    /// Each write takes this long (a slow table), in milliseconds.
    pub write_ms: std::sync::atomic::AtomicU64,
    /// Before-images by (import id, key), as the imports table keeps them.
    pub before: Mutex<BTreeMap<(String, String), crate::records::UndoItem>>,
    pub undos: Mutex<HashMap<String, crate::undo::UndoState>>,
    /// Fail every undo change after this many (a crash mid-undo).
    pub fail_undo_after: Mutex<Option<usize>>,
    pub undo_changes: Mutex<usize>,
    /// Undo requests queued for the undo function.
    pub undo_requests: Mutex<Vec<String>>,
}

impl Directory for MemoryDirectory {
    async fn existing(
        &self,
        serials: &[String],
        user_keys: &[String],
    ) -> Result<Existing, PortError> {
        let devices = self.devices.lock().unwrap();
        let users = self.users.lock().unwrap();
        let d = serials
            .iter()
            .filter_map(|s| {
                devices.get(s).map(|d| {
                    (
                        s.clone(),
                        ExistingDevice {
                            status: d.status,
                            import_id: Some(d.import_id.clone()),
                            record: Some(Box::new(d.clone())),
                        },
                    )
                })
            })
            .collect();
        let u = user_keys
            .iter()
            .filter_map(|k| {
                users.get(k).map(|u| {
                    (
                        k.clone(),
                        ExistingUser {
                            import_id: Some(u.import_id.clone()),
                            record: Some(Box::new(u.clone())),
                        },
                    )
                })
            })
            .collect();
        drop(devices);
        if let Some(hook) = self.after_look_up.lock().unwrap().as_mut() {
            hook(serials, &mut self.devices.lock().unwrap());
        }
        Ok((d, u))
    }

    async fn write_devices(
        &self,
        import_id: &str,
        devices: &[DeviceWrite],
    ) -> Result<Vec<bool>, PortError> {
        let ms = self.write_ms.load(std::sync::atomic::Ordering::Relaxed);
        if ms > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        let mut writes = self.writes.lock().unwrap();
        if self
            .fail_writes_after
            .lock()
            .unwrap()
            .is_some_and(|n| *writes >= n)
        {
            return Err(PortError::new("write", "simulated crash"));
        }
        *writes += 1;
        let mut stored = self.devices.lock().unwrap();
        let mut before = self.before.lock().unwrap();
        // As DynamoDB's condition: the device is absent or not enrolled, now.
        Ok(devices
            .iter()
            .map(|d| {
                let serial = &d.record.serial;
                if stored
                    .get(serial)
                    .is_some_and(|now| now.status == DeviceStatus::Enrolled)
                {
                    return false;
                }
                if let Some(image) = &d.before {
                    before.insert((import_id.to_owned(), image.key()), image.clone());
                }
                stored.insert(serial.clone(), d.record.clone());
                true
            })
            .collect())
    }

    async fn write_users(&self, users: Vec<UserRecord>) -> Result<(), PortError> {
        let mut u = self.users.lock().unwrap();
        for user in users {
            u.insert(user.email.clone(), user);
        }
        Ok(())
    }

    async fn keep_before(
        &self,
        import_id: &str,
        items: Vec<crate::records::UndoItem>,
    ) -> Result<(), PortError> {
        let mut before = self.before.lock().unwrap();
        for item in items {
            before.insert((import_id.to_owned(), item.key()), item);
        }
        Ok(())
    }
}

/// Import records and their leases (owner, until).
#[derive(Default)]
pub struct MemoryImports {
    pub imports: Mutex<HashMap<String, ImportState>>,
    pub leased: Mutex<HashMap<String, (String, u64)>>,
    pub saves: Mutex<u32>,
}

impl ImportRecords for MemoryImports {
    async fn load(&self, import_id: &str) -> Result<Option<ImportState>, PortError> {
        Ok(self.imports.lock().unwrap().get(import_id).cloned())
    }

    async fn create(&self, state: &ImportState) -> Result<bool, PortError> {
        let mut m = self.imports.lock().unwrap();
        if m.contains_key(&state.import_id) {
            return Ok(false);
        }
        m.insert(state.import_id.clone(), state.clone());
        Ok(true)
    }

    async fn lease(&self, import_id: &str, owner: &str, until: u64) -> Result<Lease, PortError> {
        let mut l = self.leased.lock().unwrap();
        if let Some((holder, held_until)) = l.get(import_id) {
            if holder != owner && *held_until >= crate::clock::epoch_now() {
                return Ok(Lease::Held { until: *held_until });
            }
        }
        l.insert(import_id.to_owned(), (owner.to_owned(), until));
        Ok(Lease::Taken)
    }

    async fn unlease(&self, import_id: &str, owner: &str) -> Result<(), PortError> {
        let mut l = self.leased.lock().unwrap();
        if l.get(import_id).is_some_and(|(holder, _)| holder == owner) {
            l.remove(import_id);
        }
        Ok(())
    }

    async fn save(&self, state: &ImportState) -> Result<(), PortError> {
        *self.saves.lock().unwrap() += 1;
        self.imports
            .lock()
            .unwrap()
            .insert(state.import_id.clone(), state.clone());
        if state.status.is_final() {
            self.leased.lock().unwrap().remove(&state.import_id);
        }
        Ok(())
    }
}

/// What the provider does with one send, as a test scripts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Throttles it: the message is not taken.
    Throttle,
    /// Refuses it for good with this error code: the message is not taken.
    Refuse(String),
    /// Takes the message, but the answer never arrives (a timeout or a
    /// reset after the request was written): it went out, and the sender
    /// cannot know.
    LostAfterSend,
}

#[derive(Default)]
pub struct MemorySender {
    pub sent: Mutex<Vec<Invite>>,
    /// The address of every call, whatever its answer, in order.
    pub tried: Mutex<Vec<String>>,
    /// Answers to the next sends to an address, in order; then the rules below.
    pub script: Mutex<HashMap<String, VecDeque<Answer>>>,
    /// Where each sent invite said it came from, in the order of `sent`.
    pub origins: Mutex<Vec<InviteOrigin>>,
    /// Addresses the provider refuses.
    pub refuse: Vec<String>,
    /// How many sends to throttle before accepting.
    pub throttle_first: Mutex<u32>,
    /// Addresses whose sends are never taken, with an error that may be retried.
    pub fail_always: Mutex<Vec<String>>,
    /// Addresses whose sends take this many milliseconds (to be in flight when others end).
    pub slow: Mutex<Vec<(String, u64)>>,
}

impl MemorySender {
    /// Scripts the answers to the next sends to `to`.
    pub fn script(&self, to: &str, answers: impl IntoIterator<Item = Answer>) {
        self.script
            .lock()
            .unwrap()
            .entry(to.to_owned())
            .or_default()
            .extend(answers);
    }

    /// How many times a send to `to` was tried.
    pub fn tries(&self, to: &str) -> usize {
        self.tried
            .lock()
            .unwrap()
            .iter()
            .filter(|t| *t == to)
            .count()
    }

    /// The addresses sent to, sorted.
    pub fn sent_to(&self) -> Vec<String> {
        let mut to: Vec<String> = self
            .sent
            .lock()
            .unwrap()
            .iter()
            .map(|i| i.to.clone())
            .collect();
        to.sort();
        to
    }

    /// The rows sent, sorted.
    pub fn sent_rows(&self) -> Vec<u64> {
        let mut rows: Vec<u64> = self.sent.lock().unwrap().iter().map(|i| i.row).collect();
        rows.sort_unstable();
        rows
    }
}

impl InviteSender for MemorySender {
    async fn send(
        &self,
        invite: &Invite,
        origin: &InviteOrigin,
        _attempt: &crate::outbox::InviteMessage,
    ) -> Result<String, SendError> {
        self.tried.lock().unwrap().push(invite.to.clone());
        {
            let mut t = self.throttle_first.lock().unwrap();
            if *t > 0 {
                *t -= 1;
                return Err(throttled());
            }
        }
        let scripted = self
            .script
            .lock()
            .unwrap()
            .get_mut(&invite.to)
            .and_then(VecDeque::pop_front);
        match scripted {
            Some(Answer::Throttle) => return Err(throttled()),
            Some(Answer::Refuse(code)) => return Err(refused(code)),
            Some(Answer::LostAfterSend) => {
                self.sent.lock().unwrap().push(invite.clone());
                self.origins.lock().unwrap().push(origin.clone());
                return Err(lost());
            }
            None => {}
        }
        if self.refuse.contains(&invite.to) {
            return Err(refused("address refused".into()));
        }
        let delay = {
            let slow = self.slow.lock().unwrap();
            slow.iter()
                .find(|(to, _)| *to == invite.to)
                .map(|(_, ms)| *ms)
        };
        if let Some(ms) = delay {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        if self.fail_always.lock().unwrap().contains(&invite.to) {
            return Err(unavailable());
        }
        let mut sent = self.sent.lock().unwrap();
        sent.push(invite.clone());
        self.origins.lock().unwrap().push(origin.clone());
        Ok(format!("msg-{}", sent.len()))
    }
}

fn throttled() -> SendError {
    SendError::Retry("TooManyRequestsException".into())
}

fn refused(code: String) -> SendError {
    SendError::Refused { code }
}

fn lost() -> SendError {
    SendError::Unknown("Timeout".into())
}

fn unavailable() -> SendError {
    SendError::Retry("ServiceUnavailable".into())
}

/// Reports by key (the bucket is the upload's; tests use one).
#[derive(Default)]
pub struct MemoryReports {
    pub objects: Mutex<BTreeMap<String, Vec<u8>>>,
    /// How many parts each streamed object came in.
    pub parts: Mutex<BTreeMap<String, usize>>,
}

impl ReportSink for MemoryReports {
    async fn put(
        &self,
        _bucket: &str,
        key: &str,
        body: Vec<u8>,
        _content_type: &str,
    ) -> Result<(), PortError> {
        self.objects.lock().unwrap().insert(key.to_owned(), body);
        Ok(())
    }

    async fn put_parts(
        &self,
        _bucket: &str,
        key: &str,
        _content_type: &str,
        mut parts: tokio::sync::mpsc::Receiver<crate::files::Part>,
    ) -> Result<(), PortError> {
        let mut body = Vec::new();
        let mut sizes = Vec::new();
        loop {
            let Some(part) = parts.recv().await else {
                return Err(PortError::new(
                    "write report",
                    "abandoned before its last part",
                ));
            };
            sizes.push(part.bytes.len());
            body.extend_from_slice(&part.bytes);
            if part.last {
                break;
            }
        }
        // S3 refuses a multipart upload whose parts (but the last) are short.
        if let Some((_, whole)) = sizes.split_last() {
            if whole.iter().any(|&n| n != crate::files::PART_SIZE) {
                return Err(PortError::new("write report", "a part short of PART_SIZE"));
            }
        }
        self.parts
            .lock()
            .unwrap()
            .insert(key.to_owned(), sizes.len());
        self.objects.lock().unwrap().insert(key.to_owned(), body);
        Ok(())
    }
}

impl MemoryReports {
    pub fn json(&self, key: &str) -> serde_json::Value {
        let o = self.objects.lock().unwrap();
        serde_json::from_slice(o.get(key).expect("report written")).expect("report is JSON")
    }
}

/// Devices, the restriction setting and denials in memory, for admission tests and the handler bench.
#[derive(Default)]
pub struct MemoryAdmission {
    pub pre_approved_only: std::sync::atomic::AtomicBool,
    pub devices: Mutex<HashMap<String, StoredDevice>>,
    /// Every denial recorded, in order.
    pub denials: Mutex<Vec<Denial>>,
    /// The records of their own they counted in ([`Denial::record_id`]):
    /// the last attempt and how many.
    pub denial_records: Mutex<BTreeMap<String, (Denial, u64)>>,
    /// The ledgers of source addresses and hours ([`Denial::ledger_id`]).
    pub denial_ledgers: Mutex<BTreeMap<String, MemoryLedger>>,
    pub enrollments: Mutex<Vec<Enrollment>>,
    /// The nonces of the tokens that completed an enrollment.
    pub used_tokens: Mutex<HashSet<String>>,
    /// Every call made, by method name, in order (the requests a real store would get).
    pub calls: Mutex<Vec<&'static str>>,
    pub fail: std::sync::atomic::AtomicBool,
    /// Only calls of this method fail.
    pub fail_on: Mutex<Option<&'static str>>,
}

/// An address's ledger for an hour, as `DynamoAdmission` keeps it in one item.
#[derive(Debug, Clone, Default)]
pub struct MemoryLedger {
    pub source_ip: Option<String>,
    /// Attempts counted only here, and the serials among them.
    pub attempts: u64,
    pub serials: u64,
    /// The last attempt counted here.
    pub last: Option<Denial>,
    pub sample: BTreeMap<u32, String>,
    pub memory: Memory,
    /// Returning serials past the budget, as the row names them.
    pub returned: Vec<String>,
    /// Tags of the serials with records of their own.
    pub owns: HashSet<String>,
    pub own: u64,
    pub promoted: u64,
    /// A row of Blocked attempts.
    pub opened: bool,
}

impl MemoryAdmission {
    fn check(&self, call: &'static str) -> Result<(), PortError> {
        self.calls.lock().unwrap().push(call);
        if self.fail.load(std::sync::atomic::Ordering::Relaxed)
            || *self.fail_on.lock().unwrap() == Some(call)
        {
            return Err(PortError::new("memory store", "failing on purpose"));
        }
        Ok(())
    }

    /// The calls made so far, and none from now on.
    pub fn take_calls(&self) -> Vec<&'static str> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

impl AdmissionStore for MemoryAdmission {
    async fn lookup(&self, serial: &str) -> Result<Lookup, PortError> {
        self.check("lookup")?;
        let lookup = Lookup {
            pre_approved_only: self
                .pre_approved_only
                .load(std::sync::atomic::Ordering::Relaxed),
            device: self.devices.lock().unwrap().get(serial).cloned(),
        };
        // The answer of a real read arrives later: concurrent requests
        // interleave here, between what they read and what they write.
        tokio::task::yield_now().await;
        Ok(lookup)
    }

    async fn lookup_completion(
        &self,
        serial: &str,
        nonce: &str,
    ) -> Result<(Lookup, bool), PortError> {
        self.check("lookup_completion")?;
        let used = self.used_tokens.lock().unwrap().contains(nonce);
        let lookup = Lookup {
            pre_approved_only: self
                .pre_approved_only
                .load(std::sync::atomic::Ordering::Relaxed),
            device: self.devices.lock().unwrap().get(serial).cloned(),
        };
        tokio::task::yield_now().await;
        Ok((lookup, used))
    }

    async fn record_denial(&self, denial: &Denial) -> Result<Recorded, PortError> {
        self.check("record_denial")?;
        self.denials.lock().unwrap().push(denial.clone());
        let mark = denial.mark;
        let ledger_id = denial.ledger_id();
        {
            // One lock: what the adapter's conditional writes make atomic.
            let mut ledgers = self.denial_ledgers.lock().unwrap();
            let ledger = ledgers
                .entry(ledger_id.clone())
                .or_insert_with(|| MemoryLedger {
                    source_ip: denial.source_ip.clone(),
                    ..MemoryLedger::default()
                });
            let seen = if ledger.owns.contains(&mark.hex()) {
                Seen::Own
            } else if ledger.memory.knows(&mark) {
                Seen::Counted
            } else {
                Seen::New
            };
            let state = LedgerState {
                own: ledger.own,
                promoted: ledger.promoted,
                opened: ledger.opened,
            };
            if seen == Seen::New {
                ledger.memory.remember(mark);
            }
            match route(seen, &state) {
                Route::Own => {}
                Route::ClaimFirst => {
                    ledger.own += 1;
                    ledger.owns.insert(mark.hex());
                }
                Route::ClaimReturn => {
                    ledger.promoted += 1;
                    ledger.owns.insert(mark.hex());
                }
                Route::Ledger => {
                    ledger.attempts += 1;
                    let shown = denial.shown();
                    if seen == Seen::Counted
                        && ledger.returned.len() < RETURNED
                        && !ledger.returned.contains(&shown)
                    {
                        ledger.returned.push(shown);
                    }
                    if seen == Seen::New {
                        ledger.serials += 1;
                        let (place, shown) = denial.sample_entry();
                        ledger.sample.entry(place).or_insert(shown);
                    }
                    ledger.last = Some(denial.clone());
                    if ledger.opened {
                        return Ok(Recorded::Counted);
                    }
                    ledger.opened = true;
                    return Ok(Recorded::Opened { id: ledger_id });
                }
            }
        }
        let id = denial.record_id();
        let mut records = self.denial_records.lock().unwrap();
        let record = records
            .entry(id.clone())
            .or_insert_with(|| (denial.clone(), 0));
        record.0 = denial.clone();
        record.1 += 1;
        Ok(if record.1 == 1 {
            Recorded::Created { id }
        } else {
            Recorded::Counted
        })
    }

    async fn claim_check(&self, serial: &str, claim: &Claim) -> Result<Option<u64>, PortError> {
        self.check("claim_check")?;
        let taken = match self.devices.lock().unwrap().get_mut(serial) {
            Some(d) if d.status == DeviceStatus::PreApproved && claim.admits(&d.checks) => {
                d.checks = claim.taken(&d.checks);
                Some(d.checks.claimed)
            }
            _ => None,
        };
        // Written at once, answered later: other requests run meanwhile.
        tokio::task::yield_now().await;
        Ok(taken)
    }

    async fn claim_nothing(&self, _serial: &str) -> Result<(), PortError> {
        self.check("claim_nothing")?;
        tokio::task::yield_now().await;
        Ok(())
    }

    async fn clear_checks(&self, serial: &str, claimed: u64) -> Result<(), PortError> {
        self.check("clear_checks")?;
        if let Some(d) = self.devices.lock().unwrap().get_mut(serial) {
            if d.checks.claimed == claimed {
                d.checks.cleared = claimed;
            }
        }
        Ok(())
    }

    async fn enroll(&self, e: &Enrollment) -> Result<Enrolled, PortError> {
        self.check("enroll")?;
        let mut used = self.used_tokens.lock().unwrap();
        let mut devices = self.devices.lock().unwrap();
        let outcome = match (devices.get_mut(&e.serial), &e.expect) {
            _ if used.contains(&e.nonce) => Enrolled::TokenUsed,
            (Some(d), _) if d.status == DeviceStatus::Enrolled => Enrolled::AlreadyEnrolled,
            (
                Some(d),
                Expect::Unenrolled {
                    status,
                    password_hash,
                },
            ) if d.status == *status
                && &d.password_hash == password_hash
                && !(e.pre_approved && d.expires.is_some_and(|x| x.has_passed(e.at))) =>
            {
                d.status = DeviceStatus::Enrolled;
                // An open enrollment leaves the pre-approval's password unused.
                if e.pre_approved {
                    d.password_hash = None;
                }
                d.checks = PasswordChecks::default();
                d.expires = None;
                Enrolled::Done
            }
            (None, Expect::Absent) => {
                let platform = crate::domain::Platform::parse(e.platform)
                    .map_err(|e| PortError::new("memory store", e))?;
                devices.insert(
                    e.serial.clone(),
                    StoredDevice {
                        status: DeviceStatus::Enrolled,
                        platform,
                        groups: Vec::new(),
                        password_hash: None,
                        checks: PasswordChecks::default(),
                        expires: None,
                    },
                );
                Enrolled::Done
            }
            _ => Enrolled::Changed,
        };
        if outcome == Enrolled::Done {
            used.insert(e.nonce.clone());
            self.enrollments.lock().unwrap().push(e.clone());
        }
        Ok(outcome)
    }
}

/// The event bus in memory: every event published, in order.
#[derive(Debug, Default)]
pub struct MemoryEvents {
    pub published: Mutex<Vec<crate::events::Event>>,
    /// Publishing fails (the bus is down).
    pub fail: std::sync::atomic::AtomicBool,
}

impl MemoryEvents {
    pub fn of(&self, t: crate::events::DetailType) -> Vec<serde_json::Value> {
        self.published
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.detail_type == t)
            .map(|e| e.detail.clone())
            .collect()
    }
}

impl crate::events::EventPublisher for MemoryEvents {
    async fn publish(&self, events: &[crate::events::Event]) -> Result<(), PortError> {
        if self.fail.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(PortError::new("memory bus", "failing on purpose"));
        }
        self.published.lock().unwrap().extend_from_slice(events);
        Ok(())
    }
}
