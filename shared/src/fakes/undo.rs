//! The undo's port over the in-memory directory.

use super::MemoryDirectory;
use crate::ports::PortError;
use crate::records::{DeviceRecord, DeviceStatus, UserRecord};
use crate::undo::{user_key, Applied, Phase, UndoItem, UndoState, UndoStore};

impl MemoryDirectory {
    /// Counts a change; Err once the simulated crash point is reached.
    fn change(&self) -> Result<(), PortError> {
        let mut n = self.undo_changes.lock().unwrap();
        if self
            .fail_undo_after
            .lock()
            .unwrap()
            .is_some_and(|max| *n >= max)
        {
            return Err(PortError::new("undo", "simulated crash"));
        }
        *n += 1;
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

    async fn remove_device(&self, serial: &str, import_id: &str) -> Result<Applied, PortError> {
        self.change()?;
        let mut devices = self.devices.lock().unwrap();
        match devices.get(serial) {
            Some(d) if d.import_id == import_id && d.status != DeviceStatus::Enrolled => {
                devices.remove(serial);
                Ok(Applied::Done)
            }
            _ => Ok(Applied::Changed),
        }
    }

    async fn restore_device(
        &self,
        before: &DeviceRecord,
        import_id: &str,
    ) -> Result<Applied, PortError> {
        self.change()?;
        let mut devices = self.devices.lock().unwrap();
        match devices.get(&before.serial) {
            Some(d) if d.import_id == import_id && d.status != DeviceStatus::Enrolled => {
                devices.insert(before.serial.clone(), before.clone());
                Ok(Applied::Done)
            }
            _ => Ok(Applied::Changed),
        }
    }

    async fn remove_user(&self, email: &str, import_id: &str) -> Result<Applied, PortError> {
        self.change()?;
        let mut users = self.users.lock().unwrap();
        match users.get(email) {
            Some(u) if u.import_id == import_id => {
                users.remove(email);
                Ok(Applied::Done)
            }
            _ => Ok(Applied::Changed),
        }
    }

    async fn restore_user(
        &self,
        before: &UserRecord,
        import_id: &str,
    ) -> Result<Applied, PortError> {
        self.change()?;
        let mut users = self.users.lock().unwrap();
        match users.get(&before.email) {
            Some(u) if u.import_id == import_id => {
                users.insert(before.email.clone(), before.clone());
                Ok(Applied::Done)
            }
            _ => Ok(Applied::Changed),
        }
    }

    async fn keep_user(&self, import_id: &str, email: &str) -> Result<(), PortError> {
        let key = (import_id.to_owned(), user_key(email));
        if let Some(UndoItem::User { kept, .. }) = self.before.lock().unwrap().get_mut(&key) {
            *kept = true;
        }
        Ok(())
    }
}
