//! Export records, their queue and the devices they read, in memory.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::export::{
    DevicePage, DeviceSource, ExportFilter, ExportQueue, ExportState, ExportStore,
};
use crate::port_error::PortError;
use crate::records::{DeviceRecord, DeviceStatus, UserRecord};

#[derive(Default)]
pub struct MemoryExports {
    pub records: Mutex<BTreeMap<String, ExportState>>,
    /// Every record as it was saved, in order (the progress it showed).
    pub saves: Mutex<Vec<ExportState>>,
    pub queued: Mutex<Vec<String>>,
}

impl ExportStore for MemoryExports {
    async fn export(&self, id: &str) -> Result<Option<ExportState>, PortError> {
        Ok(self.records.lock().unwrap().get(id).cloned())
    }

    async fn save_export(&self, st: &ExportState) -> Result<(), PortError> {
        self.saves.lock().unwrap().push(st.clone());
        self.records
            .lock()
            .unwrap()
            .insert(st.export_id.clone(), st.clone());
        Ok(())
    }
}

impl ExportQueue for MemoryExports {
    async fn enqueue_export(&self, id: &str) -> Result<(), PortError> {
        self.queued.lock().unwrap().push(id.to_owned());
        Ok(())
    }
}

/// Devices by serial and users by email key. Pages read `limit` devices and
/// then filter them, as DynamoDB does, so a page may come back short or empty.
#[derive(Default)]
pub struct MemoryDevices {
    pub devices: BTreeMap<String, DeviceRecord>,
    pub users: HashMap<String, UserRecord>,
    /// Requests made (device pages and user batches).
    pub requests: AtomicUsize,
    /// Requests after which every request fails (a throttled table).
    pub fail_after: Option<usize>,
}

impl MemoryDevices {
    fn request(&self, what: &'static str) -> Result<(), PortError> {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        match self.fail_after {
            Some(max) if n >= max => Err(PortError::new(what, "throttled")),
            _ => Ok(()),
        }
    }
}

impl DeviceSource for MemoryDevices {
    async fn devices(
        &self,
        filter: &ExportFilter,
        status: DeviceStatus,
        after: Option<&str>,
        limit: usize,
    ) -> Result<DevicePage, PortError> {
        self.request("read devices")?;
        let read: Vec<&DeviceRecord> = self
            .devices
            .values()
            .filter(|d| d.status == status && after.is_none_or(|a| d.serial.as_str() > a))
            .filter(|d| {
                filter
                    .serial_prefix
                    .as_deref()
                    .is_none_or(|p| d.serial.starts_with(p))
            })
            .take(limit)
            .collect();
        let after = (read.len() == limit).then(|| read[limit - 1].serial.clone());
        Ok(DevicePage {
            devices: read
                .into_iter()
                .filter(|d| filter.matches(d))
                .cloned()
                .collect(),
            after,
        })
    }

    async fn users(&self, keys: &[String]) -> Result<HashMap<String, UserRecord>, PortError> {
        self.request("read users")?;
        Ok(keys
            .iter()
            .filter_map(|k| self.users.get(k).map(|u| (k.clone(), u.clone())))
            .collect())
    }
}
