//! Enrollment passwords are stored only as a keyed HMAC-SHA256 of the serial
//! and the password. The key lives in Secrets Manager, not in the table, so a
//! leaked table does not allow offline guessing; the serial in the MAC makes
//! equal passwords on different devices hash differently. Hashing and
//! verifying cost about a microsecond, so admission stays fast.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::Password;

const VERSION: &str = "v1";

#[derive(Clone)]
pub struct PasswordKey(Vec<u8>);

#[derive(Debug, thiserror::Error)]
#[error("the password key must be at least 32 bytes")]
pub struct WeakKey;

impl PasswordKey {
    pub fn new(key: impl Into<Vec<u8>>) -> Result<Self, WeakKey> {
        let key = key.into();
        if key.len() < 32 {
            return Err(WeakKey);
        }
        Ok(Self(key))
    }

    fn mac(&self, serial: &str, password: &str) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(serial.as_bytes());
        mac.update(&[0]);
        mac.update(password.as_bytes());
        mac
    }

    /// A key for another purpose, derived from this one (HMAC of the purpose),
    /// so one secret serves several MACs that can never stand in for each other.
    pub fn subkey(&self, purpose: &[u8]) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"subkey\0");
        mac.update(purpose);
        mac.finalize().into_bytes().into()
    }

    /// `v1$<hex>`, what is stored on the device item.
    pub fn hash(&self, serial: &str, password: &Password) -> String {
        format!(
            "{VERSION}${}",
            hex::encode(self.mac(serial, password.expose()).finalize().into_bytes())
        )
    }

    /// Constant-time comparison of a presented password with the stored hash.
    pub fn verify(&self, serial: &str, presented: &str, stored: &str) -> bool {
        let Some(hex_mac) = stored.strip_prefix("v1$") else {
            return false;
        };
        let Ok(expected) = hex::decode(hex_mac) else {
            return false;
        };
        self.mac(serial, presented).verify_slice(&expected).is_ok()
    }
}

impl std::fmt::Debug for PasswordKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let key = PasswordKey::new(vec![7u8; 32]).unwrap();
        let p = Password::parse("s3cret").unwrap();
        let h = key.hash("SER1", &p);
        assert!(h.starts_with("v1$") && !h.contains("s3cret"));
        assert!(key.verify("SER1", "s3cret", &h));
        assert!(!key.verify("SER1", "S3cret", &h));
        assert!(!key.verify("SER2", "s3cret", &h), "bound to the serial");
        assert_ne!(h, key.hash("SER2", &p));
        let other = PasswordKey::new(vec![8u8; 32]).unwrap();
        assert!(!other.verify("SER1", "s3cret", &h), "bound to the key");
        assert!(!key.verify("SER1", "s3cret", "garbage"));
        assert!(PasswordKey::new(vec![1u8; 8]).is_err());
    }
}
