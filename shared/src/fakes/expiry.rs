//! The expiry sweep's port over the in-memory admin store (one shard).

use super::MemoryAdmin;
use crate::domain::{Expiry, Platform};
use crate::expiry::{After, Due, ExpiryStore};
use crate::port_error::PortError;
use crate::records::{DeviceRecord, DeviceStatus};

impl MemoryAdmin {
    /// Stores a minimal device (tests of the sweep and of renewals).
    pub fn put_device(&self, serial: &str, status: DeviceStatus, expires: Option<Expiry>) {
        let d = DeviceRecord {
            serial: serial.to_owned(),
            status,
            platform: Platform::Ios,
            ownership: None,
            email: String::new(),
            device_name: None,
            groups: Vec::new(),
            password_hash: None,
            import_id: "test".into(),
            domain: None,
            updated_at: String::new(),
            enrollment: None,
            checks: Default::default(),
            invite: None,
            expires,
            ade: None,
        };
        self.devices.lock().unwrap().insert(serial.to_owned(), d);
    }

    pub fn device_now(&self, serial: &str) -> Option<DeviceRecord> {
        self.devices.lock().unwrap().get(serial).cloned()
    }
}

impl ExpiryStore for MemoryAdmin {
    fn shards(&self) -> u32 {
        1
    }

    async fn due(
        &self,
        _shard: u32,
        now: u64,
        after: After,
        limit: usize,
    ) -> Result<(Vec<Due>, After), PortError> {
        self.up()?;
        let mut due: Vec<Due> = self
            .devices
            .lock()
            .unwrap()
            .values()
            .filter(|d| d.status == DeviceStatus::PreApproved)
            .filter_map(|d| {
                let expires = d.expires.filter(|e| e.has_passed(now))?;
                Some(Due {
                    serial: d.serial.clone(),
                    expires,
                })
            })
            .collect();
        due.sort_by(|a, b| (a.expires, &a.serial).cmp(&(b.expires, &b.serial)));
        if let Some(a) = after {
            due.retain(|d| (d.expires, &d.serial) > (a.expires, &a.serial));
        }
        due.truncate(limit);
        let next = (due.len() == limit).then(|| due.last().cloned()).flatten();
        Ok((due, next))
    }

    async fn expire(&self, due: &Due, _at: u64) -> Result<bool, PortError> {
        self.up()?;
        let mut devices = self.devices.lock().unwrap();
        match devices.get_mut(&due.serial) {
            Some(d) if d.status == DeviceStatus::PreApproved && d.expires == Some(due.expires) => {
                d.status = DeviceStatus::Expired;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
