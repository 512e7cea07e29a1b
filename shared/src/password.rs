//! Enrollment passwords are stored only as a keyed HMAC-SHA256 of the serial
//! and the password. The key lives in Secrets Manager, not in the table, so a
//! leaked table does not allow offline guessing; the serial in the MAC makes
//! equal passwords on different devices hash differently. Hashing and
//! verifying cost about a microsecond, so admission stays fast.
//!
//! **One scheme for every MAC.** Everything keyed with the secret, or with a
//! key derived from it, goes through [`domain_mac`]: the MAC of
//! `len(label) ‖ label ‖ len(field₁) ‖ field₁ ‖ …`, every length a u64
//! big-endian. Each use has a label of its own ([`Domain`]), and a framed
//! input decodes one way only, so no input of one MAC is ever an input of
//! another: no serial and password make a hash that equals a derived key.
//! (The first scheme, `v1`, hashed `serial ‖ 0 ‖ password` and derived keys
//! from `"subkey\0" ‖ purpose` under the same secret: serial `subkey` with
//! password `enrollment-token/v1` stored the token key as a password hash.)
//! `v1` hashes already stored still verify; nothing new is made with `v1`.
//! A `v1` input is printable text (an imported serial has no control
//! character), a framed one starts with a zero byte, so they never meet.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::Password;

/// What a MAC is for: its label, fed first, is unique to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Domain {
    /// A stored password hash (`v2$`): serial, password.
    PasswordHash,
    /// A key derived from the secret: its [`Purpose`].
    Subkey,
    /// An enrollment token (under its own derived key).
    EnrollmentToken,
    /// The fingerprint of the pre-approval a token was judged against (under the token key).
    PreApproval,
    /// The tag a denials ledger remembers a serial by (under its own derived key).
    DenialMark,
}

impl Domain {
    pub const ALL: [Self; 5] = [
        Self::PasswordHash,
        Self::Subkey,
        Self::EnrollmentToken,
        Self::PreApproval,
        Self::DenialMark,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::PasswordHash => "preapprove/password-hash/v2",
            Self::Subkey => "preapprove/subkey/v2",
            Self::EnrollmentToken => "preapprove/enrollment-token/v2",
            Self::PreApproval => "preapprove/pre-approval/v2",
            Self::DenialMark => "preapprove/denial-mark/v2",
        }
    }
}

/// What a derived key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    EnrollmentToken,
    InviteSeal,
    DenialMark,
}

impl Purpose {
    fn name(self) -> &'static str {
        match self {
            Self::EnrollmentToken => "enrollment-token",
            Self::InviteSeal => "invite-seal",
            Self::DenialMark => "denial-mark",
        }
    }
}

/// Feeds `label` and `fields` to `sink`, each preceded by its length (u64, big-endian).
fn frame(label: &str, fields: &[&[u8]], mut sink: impl FnMut(&[u8])) {
    for part in std::iter::once(label.as_bytes()).chain(fields.iter().copied()) {
        sink(&(part.len() as u64).to_be_bytes());
        sink(part);
    }
}

/// HMAC-SHA256 under `key` of the framed `domain` label and `fields`; the
/// one way this crate MACs anything.
pub fn domain_mac(key: &[u8], domain: Domain, fields: &[&[u8]]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    frame(domain.label(), fields, |bytes| mac.update(bytes));
    mac
}

/// The stored hash's format.
const VERSION: &str = "v2";

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
        domain_mac(
            &self.0,
            Domain::PasswordHash,
            &[serial.as_bytes(), password.as_bytes()],
        )
    }

    /// The first scheme's hash, `HMAC(K, serial ‖ 0 ‖ password)`: verified, never made.
    fn mac_v1(&self, serial: &str, password: &str) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(serial.as_bytes());
        mac.update(&[0]);
        mac.update(password.as_bytes());
        mac
    }

    /// A key for another purpose, derived from this one in a domain of its
    /// own, so one secret serves several MACs that can never stand in for each other.
    pub fn subkey(&self, purpose: Purpose) -> [u8; 32] {
        domain_mac(&self.0, Domain::Subkey, &[purpose.name().as_bytes()])
            .finalize()
            .into_bytes()
            .into()
    }

    /// The first scheme's derivation, `HMAC(K, "subkey\0" ‖ purpose)`: only to
    /// open what was sealed with it before `v2` ([`crate::seal`]).
    pub(crate) fn subkey_v1(&self, purpose: &[u8]) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(b"subkey\0");
        mac.update(purpose);
        mac.finalize().into_bytes().into()
    }

    /// `v2$<hex>`, what is stored on the device item.
    pub fn hash(&self, serial: &str, password: &Password) -> String {
        format!(
            "{VERSION}${}",
            hex::encode(self.mac(serial, password.expose()).finalize().into_bytes())
        )
    }

    /// Constant-time comparison of a presented password with the stored hash
    /// (`v2$`, or `v1$` as imports wrote it before `v2`).
    pub fn verify(&self, serial: &str, presented: &str, stored: &str) -> bool {
        let (mac, hex_mac) = match stored.split_once('$') {
            Some(("v2", hex_mac)) => (self.mac(serial, presented), hex_mac),
            Some(("v1", hex_mac)) => (self.mac_v1(serial, presented), hex_mac),
            _ => return false,
        };
        let Ok(expected) = hex::decode(hex_mac) else {
            return false;
        };
        mac.verify_slice(&expected).is_ok()
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
        assert!(h.starts_with("v2$") && !h.contains("s3cret"));
        assert!(key.verify("SER1", "s3cret", &h));
        assert!(!key.verify("SER1", "S3cret", &h));
        assert!(!key.verify("SER2", "s3cret", &h), "bound to the serial");
        assert_ne!(h, key.hash("SER2", &p));
        let other = PasswordKey::new(vec![8u8; 32]).unwrap();
        assert!(!other.verify("SER1", "s3cret", &h), "bound to the key");
        assert!(!key.verify("SER1", "s3cret", "garbage"));
        assert!(PasswordKey::new(vec![1u8; 8]).is_err());
    }

    /// A hash as the first scheme wrote it: `v1$hex(HMAC(K, serial || 0 || password))`.
    fn v1_hash(key: &[u8], serial: &str, password: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
        mac.update(serial.as_bytes());
        mac.update(&[0]);
        mac.update(password.as_bytes());
        format!("v1${}", hex::encode(mac.finalize().into_bytes()))
    }

    #[test]
    fn new_hashes_are_v2_and_stored_v1_hashes_still_verify() {
        let key = PasswordKey::new(vec![7u8; 32]).unwrap();
        let old = v1_hash(&[7u8; 32], "SER1", "s3cret");
        assert!(
            key.verify("SER1", "s3cret", &old),
            "a stored v1 hash verifies"
        );
        assert!(!key.verify("SER1", "S3cret", &old));
        assert!(!key.verify("SER2", "s3cret", &old));
        let new = key.hash("SER1", &Password::parse("s3cret").unwrap());
        assert!(new.starts_with("v2$"), "new hashes are v2: {new}");
        assert_ne!(new[3..], old[3..], "v2 is another MAC domain than v1");
        assert!(key.verify("SER1", "s3cret", &new));
        assert!(!key.verify("SER1", "s3cret", &new.replacen("v2$", "v1$", 1)));
    }

    fn framed(domain: Domain, fields: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        frame(domain.label(), fields, |b| out.extend_from_slice(b));
        out
    }

    #[test]
    fn every_mac_has_a_domain_of_its_own() {
        let labels: std::collections::BTreeSet<&str> =
            Domain::ALL.iter().map(|d| d.label()).collect();
        assert_eq!(labels.len(), Domain::ALL.len(), "labels are unique");
        // A derived key's input, split anywhere into a serial and a password,
        // is never a password hash's input: the labels differ, and a framed
        // input decodes one way only.
        for purpose in [
            Purpose::EnrollmentToken,
            Purpose::InviteSeal,
            Purpose::DenialMark,
        ] {
            let derived = framed(Domain::Subkey, &[purpose.name().as_bytes()]);
            for cut in 0..=derived.len() {
                let (serial, password) = derived.split_at(cut);
                assert_ne!(framed(Domain::PasswordHash, &[serial, password]), derived);
            }
            // Nor is it a v1 hash's input (`serial ‖ 0 ‖ password`) of a real
            // serial, which never has a control character.
            assert_eq!(derived[0], 0, "framed input starts with a zero byte");
        }
        // Fields do not run into each other.
        assert_ne!(
            framed(Domain::PasswordHash, &[b"ab", b"c"]),
            framed(Domain::PasswordHash, &[b"a", b"bc"])
        );
        assert_ne!(
            framed(Domain::PasswordHash, &[b"abc"]),
            framed(Domain::PasswordHash, &[b"abc", b""])
        );
        assert_eq!(
            framed(Domain::Subkey, &[b"x"]),
            [
                &20u64.to_be_bytes()[..],
                b"preapprove/subkey/v2",
                &1u64.to_be_bytes(),
                b"x"
            ]
            .concat()
        );
    }

    #[test]
    fn derived_keys_differ_by_purpose_and_from_the_first_scheme() {
        let key = PasswordKey::new(vec![7u8; 32]).unwrap();
        let token = key.subkey(Purpose::EnrollmentToken);
        assert_ne!(token, key.subkey(Purpose::InviteSeal));
        assert_ne!(token, key.subkey(Purpose::DenialMark));
        assert_ne!(
            key.subkey(Purpose::InviteSeal),
            key.subkey(Purpose::DenialMark)
        );
        assert_ne!(token, key.subkey_v1(b"enrollment-token/v1"));
        assert_ne!(
            token,
            PasswordKey::new(vec![8u8; 32])
                .unwrap()
                .subkey(Purpose::EnrollmentToken)
        );
    }
}
