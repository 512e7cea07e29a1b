//! In-memory ADE ports: accounts, secrets, the devices table's ADE writes, and
//! a scripted Apple (pages and failures), for the sync's unit tests.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::ade::account::{AccountSettings, AdeAccount, FullRequest, SyncState, TokenInfo};
use crate::ade::ports::{
    AdeAccounts, AdeDevices, AdeSecrets, AppleAccount, DepConnector, DepError, DepSession,
    DevicePage, ListedDevice, Removal, StoreError,
};
use crate::ade::token::ServerToken;
use crate::domain::Ownership;
use crate::port_error::PortError;
use crate::records::{ade_origin, DeviceRecord, DeviceStatus};

#[derive(Default)]
struct Leased {
    account: Option<AdeAccount>,
    lease: Option<(String, u64)>,
}

/// Accounts in memory, with the lease's conditions.
#[derive(Default, Clone)]
pub struct MemoryAdeAccounts {
    inner: Arc<Mutex<BTreeMap<String, Leased>>>,
    /// Every state saved, in order (what a crash would leave is the last one).
    pub saves: Arc<Mutex<Vec<SyncState>>>,
}

impl MemoryAdeAccounts {
    pub fn account(&self, id: &str) -> Option<AdeAccount> {
        self.inner.lock().unwrap().get(id)?.account.clone()
    }

    /// Replaces a stored account (tests set up a state directly).
    pub fn set(&self, account: AdeAccount) {
        let mut inner = self.inner.lock().unwrap();
        let id = account.id.clone();
        inner.entry(id).or_default().account = Some(account);
    }
}

fn with_account<T>(
    inner: &Mutex<BTreeMap<String, Leased>>,
    id: &str,
    f: impl FnOnce(&mut AdeAccount) -> T,
) -> Option<T> {
    let mut inner = inner.lock().unwrap();
    inner.get_mut(id)?.account.as_mut().map(f)
}

impl AdeAccounts for MemoryAdeAccounts {
    async fn get(&self, id: &str) -> Result<Option<AdeAccount>, PortError> {
        Ok(self.account(id))
    }

    async fn list(&self) -> Result<Vec<AdeAccount>, PortError> {
        let inner = self.inner.lock().unwrap();
        Ok(inner.values().filter_map(|l| l.account.clone()).collect())
    }

    async fn create(&self, account: &AdeAccount) -> Result<(), PortError> {
        let mut inner = self.inner.lock().unwrap();
        let slot = inner.entry(account.id.clone()).or_default();
        if slot.account.is_some() {
            return Err(PortError::new("create ade account", "the id exists"));
        }
        slot.account = Some(account.clone());
        Ok(())
    }

    async fn put_settings(
        &self,
        id: &str,
        settings: &AccountSettings,
        full: Option<FullRequest>,
    ) -> Result<bool, PortError> {
        Ok(with_account(&self.inner, id, |a| {
            a.settings = settings.clone();
            if full.is_some() {
                a.full_requested = full;
            }
        })
        .is_some())
    }

    async fn put_token(
        &self,
        id: &str,
        token: &TokenInfo,
        new_server: bool,
    ) -> Result<bool, PortError> {
        Ok(with_account(&self.inner, id, |a| {
            a.token = Some(token.clone());
            if new_server {
                a.sync = SyncState::default();
            }
        })
        .is_some())
    }

    async fn request_full(&self, id: &str, request: FullRequest) -> Result<bool, PortError> {
        Ok(with_account(&self.inner, id, |a| a.full_requested = Some(request)).is_some())
    }

    async fn delete(&self, id: &str) -> Result<(), PortError> {
        self.inner.lock().unwrap().remove(id);
        Ok(())
    }

    async fn lease(&self, id: &str, owner: &str, now: u64, until: u64) -> Result<bool, PortError> {
        let mut inner = self.inner.lock().unwrap();
        let Some(slot) = inner.get_mut(id) else {
            return Ok(false);
        };
        match &slot.lease {
            Some((holder, end)) if holder != owner && *end > now => Ok(false),
            _ => {
                slot.lease = Some((owner.to_owned(), until));
                Ok(true)
            }
        }
    }

    async fn release(&self, id: &str, owner: &str) -> Result<(), PortError> {
        let mut inner = self.inner.lock().unwrap();
        if let Some(slot) = inner.get_mut(id) {
            if slot.lease.as_ref().is_some_and(|(h, _)| h == owner) {
                slot.lease = None;
            }
        }
        Ok(())
    }

    async fn save_sync(&self, id: &str, owner: &str, sync: &SyncState) -> Result<(), StoreError> {
        let mut inner = self.inner.lock().unwrap();
        let slot = inner.get_mut(id).ok_or(StoreError::LeaseLost)?;
        if slot.lease.as_ref().is_none_or(|(h, _)| h != owner) {
            return Err(StoreError::LeaseLost);
        }
        if let Some(a) = slot.account.as_mut() {
            a.sync = sync.clone();
        }
        self.saves.lock().unwrap().push(sync.clone());
        Ok(())
    }
}

/// A private key and, once uploaded, the token's credentials.
type SecretEntry = (String, Option<ServerToken>);

/// A call made to the scripted Apple, and the cursor it gave.
pub type Asked = (&'static str, Option<String>);

/// Secrets in memory.
#[derive(Default, Clone)]
pub struct MemoryAdeSecrets {
    keys: Arc<Mutex<HashMap<String, SecretEntry>>>,
}

impl AdeSecrets for MemoryAdeSecrets {
    async fn create(&self, id: &str, private_key_pem: &str) -> Result<(), PortError> {
        let mut keys = self.keys.lock().unwrap();
        keys.insert(id.to_owned(), (private_key_pem.to_owned(), None));
        Ok(())
    }

    async fn private_key(&self, id: &str) -> Result<Option<String>, PortError> {
        Ok(self.keys.lock().unwrap().get(id).map(|(k, _)| k.clone()))
    }

    async fn put_token(&self, id: &str, token: &ServerToken) -> Result<(), PortError> {
        let mut keys = self.keys.lock().unwrap();
        let entry = keys
            .get_mut(id)
            .ok_or_else(|| PortError::new("put ade token", "no such secret"))?;
        entry.1 = Some(token.clone());
        Ok(())
    }

    async fn token(&self, id: &str) -> Result<Option<ServerToken>, PortError> {
        Ok(self
            .keys
            .lock()
            .unwrap()
            .get(id)
            .and_then(|(_, t)| t.clone()))
    }

    async fn delete(&self, id: &str) -> Result<(), PortError> {
        self.keys.lock().unwrap().remove(id);
        Ok(())
    }
}

/// The devices table as the ADE sync sees it: records, and the full fetch
/// that last saw each linked device.
#[derive(Default, Clone)]
pub struct MemoryAdeDevices {
    pub devices: Arc<Mutex<BTreeMap<String, DeviceRecord>>>,
    seen: Arc<Mutex<HashMap<String, String>>>,
    /// Fails the n-th upsert from now (1 = the next), as a crash mid-run would.
    pub fail_upsert_at: Arc<Mutex<Option<u32>>>,
}

impl MemoryAdeDevices {
    pub fn get(&self, serial: &str) -> Option<DeviceRecord> {
        self.devices.lock().unwrap().get(serial).cloned()
    }

    pub fn insert(&self, d: DeviceRecord) {
        self.devices.lock().unwrap().insert(d.serial.clone(), d);
    }

    fn unlink_or_remove(&self, account_id: &str, serial: &str, removal: &mut Removal) {
        let mut devices = self.devices.lock().unwrap();
        let Some(d) = devices.get_mut(serial) else {
            return;
        };
        if d.ade.as_ref().is_none_or(|l| l.account != account_id) {
            return;
        }
        if d.import_id == ade_origin(account_id) && d.status != DeviceStatus::Enrolled {
            devices.remove(serial);
            removal.removed += 1;
        } else {
            d.ade = None;
            removal.kept += 1;
        }
        self.seen.lock().unwrap().remove(serial);
    }
}

impl AdeDevices for MemoryAdeDevices {
    async fn upsert(
        &self,
        settings: &AccountSettings,
        listed: &[ListedDevice],
        run: Option<&str>,
        now: u64,
    ) -> Result<(), PortError> {
        {
            let mut fail = self.fail_upsert_at.lock().unwrap();
            if let Some(n) = fail.as_mut() {
                *n -= 1;
                if *n == 0 {
                    *fail = None;
                    return Err(PortError::new("ade upsert", "injected failure"));
                }
            }
        }
        let mut devices = self.devices.lock().unwrap();
        for l in listed {
            let d = devices
                .entry(l.serial.clone())
                .or_insert_with(|| DeviceRecord {
                    serial: l.serial.clone(),
                    status: DeviceStatus::PreApproved,
                    platform: l.platform,
                    ownership: Some(Ownership::Corporate),
                    email: String::new(),
                    device_name: None,
                    groups: settings.groups.clone(),
                    password_hash: None,
                    import_id: ade_origin(&l.link.account),
                    domain: settings.domain.clone(),
                    updated_at: now.to_string(),
                    enrollment: None,
                    checks: Default::default(),
                    invite: None,
                    expires: None,
                    ade: None,
                });
            d.ade = Some(l.link.clone());
            if let Some(run) = run {
                self.seen
                    .lock()
                    .unwrap()
                    .insert(l.serial.clone(), run.to_owned());
            }
        }
        Ok(())
    }

    async fn remove(&self, account_id: &str, serials: &[String]) -> Result<Removal, PortError> {
        let mut removal = Removal::default();
        for s in serials {
            self.unlink_or_remove(account_id, s, &mut removal);
        }
        Ok(removal)
    }

    async fn remove_unseen(&self, account_id: &str, run: &str) -> Result<Removal, PortError> {
        let unseen: Vec<String> = {
            let devices = self.devices.lock().unwrap();
            let seen = self.seen.lock().unwrap();
            devices
                .values()
                .filter(|d| d.ade.as_ref().is_some_and(|l| l.account == account_id))
                .filter(|d| seen.get(&d.serial).is_none_or(|r| r != run))
                .map(|d| d.serial.clone())
                .collect()
        };
        self.remove(account_id, &unseen).await
    }

    async fn remove_all(&self, account_id: &str) -> Result<Removal, PortError> {
        let linked: Vec<String> = {
            let devices = self.devices.lock().unwrap();
            devices
                .values()
                .filter(|d| d.ade.as_ref().is_some_and(|l| l.account == account_id))
                .map(|d| d.serial.clone())
                .collect()
        };
        self.remove(account_id, &linked).await
    }
}

/// What the scripted Apple answers next: a page, or an error.
pub type Answer = Result<DevicePage, DepError>;

/// A scripted Apple: answers are taken in order, per call kind.
#[derive(Default, Clone)]
pub struct ScriptedApple {
    pub fetches: Arc<Mutex<VecDeque<Answer>>>,
    pub syncs: Arc<Mutex<VecDeque<Answer>>>,
    /// Cursors asked with, in order (`None` for a fetch's first page).
    pub asked: Arc<Mutex<Vec<Asked>>>,
    pub account: Arc<Mutex<Option<Result<AppleAccount, DepError>>>>,
}

impl ScriptedApple {
    pub fn fetch(&self, answer: Answer) -> &Self {
        self.fetches.lock().unwrap().push_back(answer);
        self
    }

    pub fn sync(&self, answer: Answer) -> &Self {
        self.syncs.lock().unwrap().push_back(answer);
        self
    }

    pub fn asked(&self) -> Vec<Asked> {
        self.asked.lock().unwrap().clone()
    }
}

impl DepConnector for ScriptedApple {
    type Session = ScriptedApple;

    fn connect(&self, _token: &ServerToken) -> ScriptedApple {
        self.clone()
    }
}

impl DepSession for ScriptedApple {
    async fn account(&self) -> Result<AppleAccount, DepError> {
        self.account
            .lock()
            .unwrap()
            .clone()
            .unwrap_or_else(|| Ok(AppleAccount::default()))
    }

    async fn fetch(&self, cursor: Option<&str>, _limit: u32) -> Result<DevicePage, DepError> {
        let mut asked = self.asked.lock().unwrap();
        asked.push(("fetch", cursor.map(str::to_owned)));
        // Apple answers an exhausted fetch when the script has nothing more.
        let next = self.fetches.lock().unwrap().pop_front();
        next.unwrap_or(Err(DepError::CursorExhausted))
    }

    async fn sync(&self, cursor: &str, _limit: u32) -> Result<DevicePage, DepError> {
        let mut asked = self.asked.lock().unwrap();
        asked.push(("sync", Some(cursor.to_owned())));
        let next = self.syncs.lock().unwrap().pop_front();
        next.unwrap_or_else(|| {
            Ok(DevicePage {
                devices: Vec::new(),
                cursor: Some(cursor.to_owned()),
                more_to_follow: false,
            })
        })
    }

    fn requests(&self) -> u64 {
        self.asked.lock().unwrap().len() as u64
    }
}

/// The sync queue in memory.
#[derive(Default, Clone)]
pub struct MemorySyncJobs {
    pub sent: Arc<Mutex<Vec<crate::ade::ports::SyncJob>>>,
    /// Sending fails (the queue is unreachable).
    pub fail: Arc<std::sync::atomic::AtomicBool>,
}

impl MemorySyncJobs {
    /// Every job sent, in order.
    pub fn sent(&self) -> Vec<crate::ade::ports::SyncJob> {
        self.sent.lock().unwrap().clone()
    }
}

impl crate::ade::ports::SyncJobs for MemorySyncJobs {
    async fn send(&self, job: &crate::ade::ports::SyncJob) -> Result<(), PortError> {
        if self.fail.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(PortError::new("send sync job", "failing on purpose"));
        }
        self.sent.lock().unwrap().push(job.clone());
        Ok(())
    }
}
