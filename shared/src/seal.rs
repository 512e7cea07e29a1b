//! Passwords an invite must show, sealed while they wait in the outbox. The
//! key is derived from the password key (never stored beside the sealed
//! text); each sealing has a fresh random nonce, and the invite's reference
//! is bound in as associated data, so a sealed password copied onto another
//! record does not open.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::password::PasswordKey;

const VERSION: &str = "s1";
const NONCE: usize = 12;

#[derive(Clone)]
pub struct Sealer(ChaCha20Poly1305);

#[derive(Debug, thiserror::Error)]
#[error("a sealed invite password could not be opened (wrong key, or the record was altered)")]
pub struct Unsealable;

impl Sealer {
    pub fn new(key: &PasswordKey) -> Self {
        let k = key.subkey(b"invite-outbox-seal");
        Self(ChaCha20Poly1305::new(Key::from_slice(&k)))
    }

    /// `s1$<hex nonce and ciphertext>`.
    pub fn seal(&self, context: &str, secret: &str) -> String {
        let random = uuid::Uuid::new_v4();
        let nonce = Nonce::from_slice(&random.as_bytes()[..NONCE]);
        let sealed = self
            .0
            .encrypt(
                nonce,
                Payload {
                    msg: secret.as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("ChaCha20-Poly1305 seals any message under 256 GB");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        format!("{VERSION}${}", hex::encode(out))
    }

    pub fn open(&self, context: &str, sealed: &str) -> Result<String, Unsealable> {
        let bytes = sealed
            .strip_prefix("s1$")
            .and_then(|h| hex::decode(h).ok())
            .filter(|b| b.len() > NONCE)
            .ok_or(Unsealable)?;
        let (nonce, text) = bytes.split_at(NONCE);
        let plain = self
            .0
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: text,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| Unsealable)?;
        String::from_utf8(plain).map_err(|_| Unsealable)
    }
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sealer(k: u8) -> Sealer {
        Sealer::new(&PasswordKey::new(vec![k; 32]).unwrap())
    }

    #[test]
    fn seals_open_only_with_the_key_and_the_context() {
        let s = sealer(1);
        let sealed = s.seal("imp.3", "s3cret pw");
        assert!(!sealed.contains("s3cret"));
        assert_ne!(
            sealed,
            s.seal("imp.3", "s3cret pw"),
            "fresh nonce each time"
        );
        assert_eq!(s.open("imp.3", &sealed).unwrap(), "s3cret pw");
        assert!(s.open("imp.4", &sealed).is_err(), "bound to its record");
        assert!(
            sealer(2).open("imp.3", &sealed).is_err(),
            "bound to the key"
        );
        assert!(s.open("imp.3", "s1$00").is_err());
        assert!(s.open("imp.3", "plain").is_err());
    }
}
