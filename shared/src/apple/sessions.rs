//! The `X-ADM-Auth-Session` tokens a container keeps between connections, by
//! the server token's consumer key: a warm Lambda container's next run reuses
//! a session while Apple takes it, and makes no `GET /session`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Shared by every connection of one connector. No `Debug`: sessions are credentials.
#[derive(Clone, Default)]
pub struct Sessions(Arc<Mutex<HashMap<String, String>>>);

impl Sessions {
    pub fn get(&self, consumer_key: &str) -> Option<String> {
        self.lock().get(consumer_key).cloned()
    }

    pub fn put(&self, consumer_key: &str, session: &str) {
        self.lock()
            .insert(consumer_key.to_owned(), session.to_owned());
    }

    /// Drops `session` if it is still the one kept: a call that saw it refused
    /// must not drop the newer one another call got meanwhile.
    pub fn forget(&self, consumer_key: &str, session: &str) {
        let mut kept = self.lock();
        if kept.get(consumer_key).is_some_and(|s| s == session) {
            kept.remove(consumer_key);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        // The map holds no invariant a panicking holder could break.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_kept_per_consumer_key_and_only_the_refused_one_is_forgotten() {
        let sessions = Sessions::default();
        sessions.put("CK_a", "s1");
        sessions.put("CK_b", "t1");
        assert_eq!(sessions.get("CK_a").as_deref(), Some("s1"));
        sessions.put("CK_a", "s2");
        sessions.forget("CK_a", "s1");
        assert_eq!(sessions.get("CK_a").as_deref(), Some("s2"));
        sessions.forget("CK_a", "s2");
        assert_eq!(sessions.get("CK_a"), None);
        assert_eq!(sessions.clone().get("CK_b").as_deref(), Some("t1"));
    }
}
