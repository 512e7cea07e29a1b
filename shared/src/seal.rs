//! Passwords an invite must show, sealed while they wait in the outbox. The
//! key is derived from the password key (never stored beside the sealed
//! text); each sealing has a fresh random nonce, and the invite's reference
//! is bound in as associated data, so a sealed password copied onto another
//! record does not open.
//!
//! `s2$`: the key is [`PasswordKey::subkey`] for [`Purpose::InviteSeal`], in a
//! MAC domain of its own. `s1$`, sealed before with the first derivation
//! (`HMAC(K, "subkey\0invite-outbox-seal")`, which a password hash could
//! equal), still opens, so invites already in the outbox are sent; nothing new
//! is sealed as `s1`.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

use crate::password::{PasswordKey, Purpose};

const VERSION: &str = "s2";
const NONCE: usize = 12;

#[derive(Clone)]
pub struct Sealer {
    current: ChaCha20Poly1305,
    /// Opens `s1$` only.
    v1: ChaCha20Poly1305,
}

#[derive(Debug, thiserror::Error)]
#[error("a sealed invite password could not be opened (wrong key, or the record was altered)")]
pub struct Unsealable;

impl Sealer {
    pub fn new(key: &PasswordKey) -> Self {
        let cipher = |k: [u8; 32]| ChaCha20Poly1305::new(Key::from_slice(&k));
        Self {
            current: cipher(key.subkey(Purpose::InviteSeal)),
            v1: cipher(key.subkey_v1(b"invite-outbox-seal")),
        }
    }

    /// `s2$<hex nonce and ciphertext>`.
    pub fn seal(&self, context: &str, secret: &str) -> String {
        let random = uuid::Uuid::new_v4();
        let nonce = Nonce::from_slice(&random.as_bytes()[..NONCE]);
        let sealed = self
            .current
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
        let (cipher, hex_text) = match sealed.split_once('$') {
            Some(("s2", h)) => (&self.current, h),
            Some(("s1", h)) => (&self.v1, h),
            _ => return Err(Unsealable),
        };
        let bytes = hex::decode(hex_text)
            .ok()
            .filter(|b| b.len() > NONCE)
            .ok_or(Unsealable)?;
        let (nonce, text) = bytes.split_at(NONCE);
        let plain = cipher
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
        assert!(s.open("imp.3", "s2$00").is_err());
        assert!(s.open("imp.3", "plain").is_err());
    }

    /// Serial and password pairs an uploader might try so that the stored
    /// hash is a key derived from the same secret.
    const FORGERIES: [(&str, &str); 6] = [
        ("subkey", "invite-outbox-seal"),
        ("subkey", "enrollment-token/v1"),
        ("subkey", "invite-outbox-seal/v2"),
        ("subkey\0invite-outbox-seal", ""),
        ("preapprove/subkey/v2", "invite-outbox-seal"),
        ("", "subkey\0invite-outbox-seal"),
    ];

    #[test]
    fn no_imported_password_hash_opens_a_sealed_invite() {
        use crate::domain::Password;
        let key = PasswordKey::new(vec![1u8; 32]).unwrap();
        let sealed = Sealer::new(&key).seal("imp.3", "s3cret pw");
        let bytes = hex::decode(sealed.split_once('$').unwrap().1).unwrap();
        let (nonce, text) = bytes.split_at(NONCE);
        for (serial, password) in FORGERIES {
            let hash = key.hash(serial, &Password::parse(password).unwrap());
            let stolen = hex::decode(hash.split_once('$').unwrap().1).unwrap();
            let thief = ChaCha20Poly1305::new(Key::from_slice(&stolen));
            let opened = thief.decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: text,
                    aad: b"imp.3",
                },
            );
            assert!(
                opened.is_err(),
                "importing serial {serial:?} with password {password:?} stores the seal key \
                 as its password hash: it opens {sealed}"
            );
        }
    }

    #[test]
    fn invites_sealed_before_v2_still_open_and_new_ones_are_s2() {
        use hmac::{Hmac, Mac};
        let secret = [1u8; 32];
        // The first derivation: HMAC(K, "subkey\0" || purpose), sealed as `s1$`.
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&secret).unwrap();
        mac.update(b"subkey\0invite-outbox-seal");
        let old_key = mac.finalize().into_bytes();
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&old_key));
        let nonce = [5u8; NONCE];
        let mut old = nonce.to_vec();
        old.extend(
            cipher
                .encrypt(
                    Nonce::from_slice(&nonce),
                    Payload {
                        msg: b"old pw",
                        aad: b"imp.9",
                    },
                )
                .unwrap(),
        );
        let old = format!("s1${}", hex::encode(old));
        let s = sealer(1);
        assert_eq!(
            s.open("imp.9", &old).unwrap(),
            "old pw",
            "an s1 invite opens"
        );
        assert!(s.open("imp.8", &old).is_err(), "still bound to its record");
        let new = s.seal("imp.9", "new pw");
        assert!(new.starts_with("s2$"), "new seals are s2: {new}");
        assert_eq!(s.open("imp.9", &new).unwrap(), "new pw");
        assert!(
            s.open("imp.9", &new.replacen("s2$", "s1$", 1)).is_err(),
            "an s2 seal is not opened with the old key"
        );
    }
}
