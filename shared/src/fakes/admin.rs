//! The admin's ports in memory: one store behind every trait, so that an
//! approval is seen by the next read, as in DynamoDB.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use super::{
    DeviceTable, MemoryObject, MemoryOutbox, MemoryQueue, MemoryQuota, MemorySender, MemoryWindows,
};
use crate::admin::devices::ListSearch;
use crate::admin::{
    Acted, AdminPorts, AdminReads, ApprovalWrite, Approvals, Count, Cursor, DenialView,
    DeviceAction, DeviceActions, DeviceAudit, Page, Published, ReportFiles, Staging,
};
use crate::clock::now_rfc3339;
use crate::files::{ObjectSource, ObjectVersion};
use crate::import::ports::{Existing, ImportState};
use crate::outbox::deliver::{deliver_batch, DeliverConfig, DeliverPorts, Incoming, Verdict};
use crate::outbox::{InviteRef, InviteStatus, Outbox, SendQuota};
use crate::port_error::PortError;
use crate::records::{DeviceRecord, DeviceStatus, ExistingDevice, ExistingUser, UserRecord};
use crate::settings::{AuditEntry, Change, Settings, SettingsStore, Versioned};

pub const BUCKET: &str = "memory-bucket";

pub struct MemoryAdmin {
    pub settings: Mutex<Versioned>,
    /// Oldest first.
    pub audit: Mutex<Vec<AuditEntry>>,
    /// The devices table, which the outbox (the sender's side) reads and writes too.
    pub devices: DeviceTable,
    pub users: Mutex<BTreeMap<String, UserRecord>>,
    pub denials: Mutex<Vec<DenialView>>,
    pub imports: Mutex<Vec<ImportState>>,
    /// The bucket: staged uploads, published imports, reports.
    pub objects: Mutex<BTreeMap<String, Vec<u8>>>,
    pub metadata: Mutex<BTreeMap<String, Vec<(String, String)>>>,
    pub outbox: MemoryOutbox,
    pub queue: MemoryQueue,
    pub exports: super::MemoryExports,
    /// Undo requests and their before-images (the import's directory side).
    pub undo: super::MemoryDirectory,
    /// What the sender function delivers the queued invites through ([`MemoryAdmin::deliver_invites`]).
    pub sender: MemorySender,
    /// Device audit trails, oldest first.
    pub device_audit: Mutex<BTreeMap<String, Vec<DeviceAudit>>>,
    /// Every call fails (the store is down).
    pub fail: AtomicBool,
    /// Settings saves that lose a race (someone else saved first) before one wins.
    pub lost_saves: AtomicU32,
    /// Calls of [`ReportFiles::exists`] (a HeadObject each in S3).
    pub file_checks: AtomicU32,
    pub ade: MemoryAde,
    /// Admission's side ([`crate::admission::AdmissionStore`]): the nonces
    /// of the tokens that completed an enrollment.
    pub used_tokens: Mutex<HashSet<String>>,
    /// Every password check admission claimed (serial, when), in order.
    pub password_checks: Mutex<Vec<(String, u64)>>,
}

/// The ADE ports of the admin: accounts, secrets, the sync queue and a scripted Apple.
#[derive(Default, Clone)]
pub struct MemoryAde {
    pub accounts: super::MemoryAdeAccounts,
    pub secrets: super::MemoryAdeSecrets,
    pub jobs: super::MemorySyncJobs,
    pub apple: super::ScriptedApple,
}

impl crate::admin::ade::AdePorts for MemoryAde {
    type Accounts = super::MemoryAdeAccounts;
    type Secrets = super::MemoryAdeSecrets;
    type Jobs = super::MemorySyncJobs;
    type Apple = super::ScriptedApple;
    fn accounts(&self) -> &Self::Accounts {
        &self.accounts
    }
    fn secrets(&self) -> &Self::Secrets {
        &self.secrets
    }
    fn jobs(&self) -> &Self::Jobs {
        &self.jobs
    }
    fn apple(&self) -> &Self::Apple {
        &self.apple
    }
}

impl Default for MemoryAdmin {
    fn default() -> Self {
        let devices = DeviceTable::default();
        // The import's and the undo's directory: the same devices table.
        let undo = super::MemoryDirectory {
            devices: devices.clone(),
            ..Default::default()
        };
        Self {
            settings: Mutex::default(),
            audit: Mutex::default(),
            outbox: MemoryOutbox::over(devices.clone()),
            devices,
            users: Mutex::default(),
            denials: Mutex::default(),
            imports: Mutex::default(),
            objects: Mutex::default(),
            metadata: Mutex::default(),
            queue: MemoryQueue::default(),
            exports: super::MemoryExports::default(),
            undo,
            sender: MemorySender::default(),
            device_audit: Mutex::default(),
            fail: AtomicBool::default(),
            lost_saves: AtomicU32::default(),
            file_checks: AtomicU32::default(),
            ade: MemoryAde::default(),
            used_tokens: Mutex::default(),
            password_checks: Mutex::default(),
        }
    }
}

impl MemoryAdmin {
    /// Runs the sender function over every queued invite message, with the
    /// admin's settings as the invites' origin; the verdicts, in queue order.
    pub async fn deliver_invites(&self) -> Vec<Verdict> {
        let origin =
            self.settings
                .lock()
                .unwrap()
                .settings
                .invite_origin(&crate::outbox::InviteOrigin {
                    sender: "noreply@deploy.example".into(),
                    enrollment_url: "https://deploy.example/enroll".into(),
                });
        let batch = self
            .queue
            .drain()
            .into_iter()
            .enumerate()
            .map(|(i, m)| Incoming {
                id: i.to_string(),
                body: serde_json::to_string(&m).unwrap_or_default(),
                queued_at: crate::clock::epoch_now(),
            })
            .collect();
        let (windows, quota) = (
            MemoryWindows::default(),
            MemoryQuota(Some(SendQuota {
                per_second: 1000.0,
                remaining_today: None,
            })),
        );
        let ports = DeliverPorts {
            outbox: &self.outbox,
            windows: &windows,
            quota: &quota,
            sender: &self.sender,
            origin: &origin,
        };
        deliver_batch(batch, &ports, &DeliverConfig::default(), &|| false)
            .await
            .into_iter()
            .map(|(_, v)| v)
            .collect()
    }

    pub(super) fn up(&self) -> Result<(), PortError> {
        if self.fail.load(Ordering::Relaxed) {
            return Err(PortError::new("memory store", "failing on purpose"));
        }
        Ok(())
    }
}

/// The items after `cursor` (by `key`), at most `limit`, and the cursor of
/// the last one when the page is full, as DynamoDB's LastEvaluatedKey.
fn page<T: Clone>(
    items: impl Iterator<Item = T>,
    cursor: Option<Cursor>,
    limit: usize,
    key: impl Fn(&T) -> BTreeMap<String, String>,
) -> Page<T> {
    let after = cursor.map(|c| c.attributes().clone());
    let mut started = after.is_none();
    let mut out = Vec::new();
    for item in items {
        if !started {
            started = after.as_ref() == Some(&key(&item));
            continue;
        }
        out.push(item);
        if out.len() == limit {
            break;
        }
    }
    let cursor = (out.len() == limit)
        .then(|| out.last().and_then(|l| Cursor::new(key(l))))
        .flatten()
        .map(|c| c.encode());
    Page { items: out, cursor }
}

fn attributes(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

impl SettingsStore for MemoryAdmin {
    async fn load(&self) -> Result<Versioned, PortError> {
        self.up()?;
        Ok(self.settings.lock().unwrap().clone())
    }

    async fn save(
        &self,
        next: &Settings,
        read_version: u64,
        changes: &[Change],
        by: &str,
    ) -> Result<bool, PortError> {
        self.up()?;
        let lost = self
            .lost_saves
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        let mut current = self.settings.lock().unwrap();
        if lost.is_ok() || current.version != read_version {
            return Ok(false);
        }
        *current = Versioned {
            settings: next.clone(),
            version: read_version + 1,
        };
        self.audit.lock().unwrap().push(AuditEntry {
            at: now_rfc3339(),
            by: by.to_owned(),
            changes: changes.to_vec(),
        });
        Ok(true)
    }

    async fn history(&self, limit: usize) -> Result<Vec<AuditEntry>, PortError> {
        self.up()?;
        Ok(self
            .audit
            .lock()
            .unwrap()
            .iter()
            .rev()
            .take(limit)
            .cloned()
            .collect())
    }
}

impl AdminReads for MemoryAdmin {
    async fn devices(
        &self,
        status: DeviceStatus,
        search: &ListSearch,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<Page<DeviceRecord>, PortError> {
        self.up()?;
        let devices = self.devices.lock().unwrap();
        let matching = devices.values().filter(|d| {
            d.status == status
                && match search {
                    ListSearch::All => true,
                    ListSearch::SerialPrefix(p) => d.serial.starts_with(p.as_str()),
                    ListSearch::Invite(i) => d.invite.as_ref().is_some_and(|x| x.state == *i),
                    ListSearch::Source(s) => d.source() == *s,
                }
        });
        Ok(page(matching.cloned(), cursor, limit, |d| {
            attributes(&[("serial", &d.serial), ("status", d.status.as_str())])
        }))
    }

    async fn device(&self, serial: &str) -> Result<Option<DeviceRecord>, PortError> {
        self.up()?;
        Ok(self.devices.lock().unwrap().get(serial).cloned())
    }

    async fn ade_devices(
        &self,
        account: Option<&str>,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<Page<DeviceRecord>, PortError> {
        self.up()?;
        let devices = self.devices.lock().unwrap();
        let linked = |d: &&DeviceRecord| {
            d.ade
                .as_ref()
                .is_some_and(|l| account.is_none_or(|a| l.account == a))
        };
        Ok(page(
            devices.values().filter(linked).cloned(),
            cursor,
            limit,
            |d| {
                let account = d.ade.as_ref().map_or("", |l| l.account.as_str());
                attributes(&[("serial", &d.serial), ("ade_account", account)])
            },
        ))
    }

    async fn owner_devices(&self, email_key: &str) -> Result<Vec<DeviceRecord>, PortError> {
        self.up()?;
        let devices = self.devices.lock().unwrap();
        Ok(devices
            .values()
            .filter(|d| d.email == email_key)
            .cloned()
            .collect())
    }

    async fn user_and_invite(
        &self,
        email_key: Option<&str>,
        invite: Option<&InviteRef>,
    ) -> Result<(Option<UserRecord>, Option<InviteStatus>), PortError> {
        self.up()?;
        let user = email_key.and_then(|k| self.users.lock().unwrap().get(k).cloned());
        let invite = match invite {
            Some(r) => self.outbox.status(r).await?,
            None => None,
        };
        Ok((user, invite))
    }

    async fn existing(
        &self,
        serials: &[String],
        user_keys: &[String],
    ) -> Result<Existing, PortError> {
        self.up()?;
        let devices = self.devices.lock().unwrap();
        let users = self.users.lock().unwrap();
        let d = serials
            .iter()
            .filter_map(|s| devices.get(s))
            .map(|d| {
                let existing = ExistingDevice {
                    status: d.status,
                    import_id: Some(d.import_id.clone()),
                    record: None,
                };
                (d.serial.clone(), existing)
            })
            .collect();
        let u = user_keys
            .iter()
            .filter_map(|k| users.get(k))
            .map(|u| {
                let existing = ExistingUser {
                    import_id: Some(u.import_id.clone()),
                    record: None,
                };
                (u.email.clone(), existing)
            })
            .collect();
        Ok((d, u))
    }

    async fn denials(
        &self,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<Page<DenialView>, PortError> {
        self.up()?;
        let mut all = self.denials.lock().unwrap().clone();
        all.sort_by(|a, b| (&b.at, &b.id).cmp(&(&a.at, &a.id)));
        Ok(page(all.into_iter(), cursor, limit, |d| {
            attributes(&[("denial_id", &d.id), ("at", &d.at)])
        }))
    }

    async fn denial(&self, id: &str) -> Result<Option<DenialView>, PortError> {
        self.up()?;
        let denials = self.denials.lock().unwrap();
        Ok(denials.iter().find(|d| d.id == id).cloned())
    }

    async fn imports(
        &self,
        cursor: Option<Cursor>,
        limit: usize,
    ) -> Result<Page<ImportState>, PortError> {
        self.up()?;
        let mut all = self.imports.lock().unwrap().clone();
        all.sort_by(|a, b| (&b.created_at, &b.import_id).cmp(&(&a.created_at, &a.import_id)));
        Ok(page(all.into_iter(), cursor, limit, |st| {
            attributes(&[("import_id", &st.import_id), ("created_at", &st.created_at)])
        }))
    }

    async fn import(&self, id: &str) -> Result<Option<ImportState>, PortError> {
        self.up()?;
        let imports = self.imports.lock().unwrap();
        Ok(imports.iter().find(|st| st.import_id == id).cloned())
    }

    async fn counts(&self) -> Result<Vec<Count>, PortError> {
        self.up()?;
        let mut counts: BTreeMap<(&'static str, String), (DeviceStatus, u64)> = BTreeMap::new();
        for d in self.devices.lock().unwrap().values() {
            let key = (d.status.as_str(), d.platform.as_str().to_owned());
            counts.entry(key).or_insert((d.status, 0)).1 += 1;
        }
        Ok(counts
            .into_iter()
            .map(|((_, platform), (status, count))| Count {
                status,
                platform,
                count,
            })
            .collect())
    }
}

impl Approvals for MemoryAdmin {
    async fn approve(&self, w: &ApprovalWrite) -> Result<bool, PortError> {
        self.up()?;
        let mut denials = self.denials.lock().unwrap();
        let mut devices = self.devices.lock().unwrap();
        let Some(denial) = denials.iter_mut().find(|d| d.id == w.denial_id) else {
            return Ok(false);
        };
        if denial.approved_at.is_some() || devices.contains_key(&w.device.serial) {
            return Ok(false);
        }
        denial.approved_by = Some(w.by.clone());
        denial.approved_at = Some(w.at.clone());
        devices.insert(w.device.serial.clone(), w.device.clone());
        self.users
            .lock()
            .unwrap()
            .insert(w.user.email.clone(), w.user.clone());
        if let Some(invite) = &w.invite {
            self.outbox.insert(std::slice::from_ref(invite));
        }
        Ok(true)
    }
}

impl Staging for MemoryAdmin {
    fn bucket(&self) -> &str {
        BUCKET
    }

    async fn upload_link(&self, key: &str, _content_type: &str) -> Result<String, PortError> {
        self.up()?;
        Ok(format!("https://{BUCKET}.invalid/{key}?signed=put"))
    }

    async fn staged(&self, key: &str) -> Result<Option<Arc<dyn ObjectSource>>, PortError> {
        self.up()?;
        let objects = self.objects.lock().unwrap();
        Ok(objects
            .get(key)
            .map(|bytes| Arc::new(MemoryObject::new(bytes.clone())) as Arc<dyn ObjectSource>))
    }

    async fn publish(
        &self,
        key: &str,
        file: &Path,
        _content_type: &str,
        metadata: &[(&str, String)],
    ) -> Result<Option<ObjectVersion>, PortError> {
        self.up()?;
        let bytes = std::fs::read(file).map_err(|e| PortError::new("publish", e))?;
        let etag = format!("\"{}\"", hex::encode(&bytes[..bytes.len().min(8)]));
        if self.objects.lock().unwrap().contains_key(key) {
            return Ok(None);
        }
        self.objects.lock().unwrap().insert(key.to_owned(), bytes);
        self.metadata.lock().unwrap().insert(
            key.to_owned(),
            metadata
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        );
        Ok(Some(ObjectVersion::new(None, Some(etag))))
    }

    async fn published(&self, prefix: &str) -> Result<Option<Published>, PortError> {
        self.up()?;
        let objects = self.objects.lock().unwrap();
        let Some((key, bytes)) = objects.range(prefix.to_owned()..).next() else {
            return Ok(None);
        };
        if !key.starts_with(prefix) {
            return Ok(None);
        }
        let etag = format!("\"{}\"", hex::encode(&bytes[..bytes.len().min(8)]));
        let metadata = self
            .metadata
            .lock()
            .unwrap()
            .get(key)
            .cloned()
            .unwrap_or_default();
        Ok(Some(Published {
            key: key.clone(),
            version: ObjectVersion::new(None, Some(etag)),
            metadata: metadata.into_iter().collect(),
        }))
    }

    async fn discard(&self, key: &str) -> Result<(), PortError> {
        self.up()?;
        self.objects.lock().unwrap().remove(key);
        Ok(())
    }
}

impl ReportFiles for MemoryAdmin {
    async fn read(&self, key: &str) -> Result<Option<Vec<u8>>, PortError> {
        self.up()?;
        Ok(self.objects.lock().unwrap().get(key).cloned())
    }

    async fn exists(&self, key: &str) -> Result<bool, PortError> {
        self.up()?;
        self.file_checks.fetch_add(1, Ordering::Relaxed);
        Ok(self.objects.lock().unwrap().contains_key(key))
    }

    async fn download_link(&self, key: &str) -> Result<String, PortError> {
        self.up()?;
        Ok(format!("https://{BUCKET}.invalid/{key}?signed=get"))
    }
}

impl AdminPorts for MemoryAdmin {
    type Settings = Self;
    type Reads = Self;
    type Approvals = Self;
    type Staging = Self;
    type Files = Self;
    type Outbox = MemoryOutbox;
    type Queue = MemoryQueue;
    type Devices = Self;
    type Exports = super::MemoryExports;
    type Undo = super::MemoryDirectory;
    type Ade = MemoryAde;
    fn settings(&self) -> &Self {
        self
    }
    fn reads(&self) -> &Self {
        self
    }
    fn approvals(&self) -> &Self {
        self
    }
    fn staging(&self) -> &Self {
        self
    }
    fn files(&self) -> &Self {
        self
    }
    fn outbox(&self) -> &MemoryOutbox {
        &self.outbox
    }
    fn queue(&self) -> &MemoryQueue {
        &self.queue
    }
    fn devices(&self) -> &Self {
        self
    }
    fn exports(&self) -> &super::MemoryExports {
        &self.exports
    }
    fn undo(&self) -> &super::MemoryDirectory {
        &self.undo
    }
    fn ade(&self) -> &MemoryAde {
        &self.ade
    }
}

impl DeviceActions for MemoryAdmin {
    async fn act(
        &self,
        serial: &str,
        action: DeviceAction,
        audit: &DeviceAudit,
    ) -> Result<Acted, PortError> {
        self.up()?;
        let mut devices = self.devices.lock().unwrap();
        let Some(d) = devices.get_mut(serial) else {
            return Ok(Acted::Missing);
        };
        match (action, d.status) {
            (DeviceAction::Remove, DeviceStatus::PreApproved | DeviceStatus::Expired) => {
                devices.remove(serial);
            }
            (DeviceAction::Renew, DeviceStatus::PreApproved | DeviceStatus::Expired) => {
                d.status = DeviceStatus::PreApproved;
                d.expires = audit.expires;
                d.updated_at = audit.at.clone();
            }
            (DeviceAction::Reset, DeviceStatus::Enrolled) => {
                d.status = DeviceStatus::PreApproved;
                d.enrollment = None;
                d.checks = Default::default();
                d.updated_at = audit.at.clone();
            }
            (DeviceAction::Unlock, _) => d.checks.cleared = d.checks.claimed,
            (_, status) => return Ok(Acted::WrongStatus(status)),
        }
        self.device_audit
            .lock()
            .unwrap()
            .entry(serial.to_owned())
            .or_default()
            .push(audit.clone());
        Ok(Acted::Done)
    }

    async fn audit(&self, serial: &str, limit: usize) -> Result<Vec<DeviceAudit>, PortError> {
        self.up()?;
        let audit = self.device_audit.lock().unwrap();
        Ok(audit
            .get(serial)
            .map(|a| a.iter().rev().take(limit).cloned().collect())
            .unwrap_or_default())
    }
}
