//! The undo's port over the in-memory directory.

use super::MemoryDirectory;
use crate::port_error::PortError;
use crate::records::{user_key, UndoItem};
use crate::records::{DeviceRecord, DeviceStatus, UserRecord};
use crate::undo::{Applied, Change, Phase, UndoState, UndoStore, CHANGES_PER_CALL};

impl MemoryDirectory {
    /// Counts `n` changes; Err, changing nothing, if they would pass the simulated crash point.
    fn change(&self, n: usize) -> Result<(), PortError> {
        let mut done = self.undo_changes.lock().unwrap();
        if self
            .fail_undo_after
            .lock()
            .unwrap()
            .is_some_and(|max| *done + n > max)
        {
            return Err(PortError::new("undo", "simulated crash"));
        }
        *done += n;
        Ok(())
    }
}

impl crate::undo::UndoQueue for MemoryDirectory {
    async fn request(&self, import_id: &str) -> Result<(), PortError> {
        self.undo_requests
            .lock()
            .unwrap()
            .push(import_id.to_owned());
        Ok(())
    }
}

impl UndoStore for MemoryDirectory {
    async fn load(&self, import_id: &str) -> Result<Option<UndoState>, PortError> {
        Ok(self.undos.lock().unwrap().get(import_id).cloned())
    }

    async fn save(&self, state: &UndoState) -> Result<(), PortError> {
        self.undos
            .lock()
            .unwrap()
            .insert(state.import_id.clone(), state.clone());
        Ok(())
    }

    async fn items(
        &self,
        import_id: &str,
        phase: Phase,
        after: Option<&str>,
        limit: usize,
    ) -> Result<(Vec<UndoItem>, Option<String>), PortError> {
        let prefix = phase.prefix();
        let before = self.before.lock().unwrap();
        let items: Vec<UndoItem> = before
            .iter()
            .filter(|((id, key), _)| id == import_id && key.starts_with(prefix))
            .filter(|((_, key), _)| after.is_none_or(|a| key.as_str() > a))
            .take(limit)
            .map(|(_, item)| item.clone())
            .collect();
        let next = (items.len() == limit)
            .then(|| items.last().map(UndoItem::key))
            .flatten();
        Ok((items, next))
    }

    async fn current(
        &self,
        serials: &[String],
        emails: &[String],
    ) -> Result<(Vec<DeviceRecord>, Vec<UserRecord>), PortError> {
        let devices = self.devices.lock().unwrap();
        let users = self.users.lock().unwrap();
        Ok((
            serials
                .iter()
                .filter_map(|s| devices.get(s).cloned())
                .collect(),
            emails
                .iter()
                .filter_map(|e| users.get(e).cloned())
                .collect(),
        ))
    }

    async fn apply(
        &self,
        import_id: &str,
        changes: &[Change<'_>],
    ) -> Result<Vec<Applied>, PortError> {
        assert!(
            changes.len() <= CHANGES_PER_CALL,
            "{} changes",
            changes.len()
        );
        // All or nothing, as a transaction: a crash point inside the call fails it whole.
        self.change(changes.len())?;
        let mut devices = self.devices.lock().unwrap();
        let mut users = self.users.lock().unwrap();
        let own_device = |d: Option<&DeviceRecord>| {
            d.is_some_and(|d| d.import_id == import_id && d.status != DeviceStatus::Enrolled)
        };
        let own_user = |u: Option<&UserRecord>| u.is_some_and(|u| u.import_id == import_id);
        Ok(changes
            .iter()
            .map(|c| {
                let ours = match c {
                    Change::RemoveDevice(s) => own_device(devices.get(*s)),
                    Change::RestoreDevice(b) => own_device(devices.get(&b.serial)),
                    Change::RemoveUser(e) => own_user(users.get(*e)),
                    Change::RestoreUser(b) => own_user(users.get(&b.email)),
                };
                if !ours {
                    return Applied::Changed;
                }
                match c {
                    Change::RemoveDevice(s) => {
                        devices.remove(*s);
                    }
                    Change::RestoreDevice(b) => {
                        devices.insert(b.serial.clone(), (*b).clone());
                    }
                    Change::RemoveUser(e) => {
                        users.remove(*e);
                    }
                    Change::RestoreUser(b) => {
                        users.insert(b.email.clone(), (*b).clone());
                    }
                }
                Applied::Done
            })
            .collect())
    }

    async fn devices_of(&self, email: &str) -> Result<Vec<String>, PortError> {
        Ok(self
            .devices
            .lock()
            .unwrap()
            .values()
            .filter(|d| d.email == email)
            .map(|d| d.serial.clone())
            .collect())
    }

    async fn device_images(
        &self,
        import_id: &str,
        serials: &[String],
    ) -> Result<Vec<UndoItem>, PortError> {
        let before = self.before.lock().unwrap();
        Ok(serials
            .iter()
            .filter_map(|s| {
                let item = UndoItem::Device {
                    serial: s.clone(),
                    owner: String::new(),
                    before: None,
                };
                before.get(&(import_id.to_owned(), item.key())).cloned()
            })
            .collect())
    }

    async fn keep_user(&self, import_id: &str, email: &str) -> Result<(), PortError> {
        let key = (import_id.to_owned(), user_key(email));
        if let Some(UndoItem::User { kept, .. }) = self.before.lock().unwrap().get_mut(&key) {
            *kept = true;
        }
        Ok(())
    }
}
