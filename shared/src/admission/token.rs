//! The enrollment token an `allow` answer carries: proof, checked without a
//! database read, that this serial was admitted on this platform in the last
//! 15 minutes, with what the admission granted and against which record.
//!
//! `et2.<expiry>.<grant>.<record>.<nonce>.<mac>`: `grant` is `p` (the
//! pre-approval applied) or `o` (open enrollment); `record` is the
//! fingerprint of the device record the admission judged ([`TokenKey::record`]:
//! a MAC of its platform, password hash and groups, or of its absence); the
//! MAC (HMAC-SHA256 with a key derived from the password secret, in the
//! token's own domain: [`crate::password::domain_mac`]) covers serial,
//! platform, expiry, grant, record and nonce, so none of them can be altered.
//! Completion compares the fingerprint with the record it reads, and grants
//! exactly the token's grant ([`super::rules::decide`]). `et1` tokens (the
//! first format, whose key a password hash could equal) are refused as
//! malformed. Completing an enrollment records the nonce as used, in the
//! same transaction that marks the device enrolled and apart from the device
//! item (which a reset, re-import or undo rewrites), so a token works once.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::rules::{Grant, StoredDevice};
use crate::password::{domain_mac, Domain, PasswordKey, Purpose};

/// How long a token is good for.
pub const TOKEN_TTL_SECS: u64 = 15 * 60;
const PREFIX: &str = "et2";
/// Hex digits of a record's fingerprint (16 bytes).
const RECORD_HEX: usize = 32;

#[derive(Clone)]
pub struct TokenKey([u8; 32]);

/// Why a token is refused (never told to the caller: every refusal is `invalid_token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no token")]
    Missing,
    #[error("not a token this service issued")]
    Malformed,
    #[error("the token was issued for another serial or platform, or forged")]
    Mismatch,
    #[error("the token has expired")]
    Expired,
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// What the admission granted.
    pub grant: Grant,
    /// The fingerprint of the record it judged ([`TokenKey::record`]).
    pub record: String,
    /// Recorded as used by the completion.
    pub nonce: String,
    /// When the token stops being valid (epoch seconds): its use is kept until then.
    pub expires: u64,
}

fn grant_code(grant: Grant) -> &'static str {
    match grant {
        Grant::PreApproved => "p",
        Grant::OpenEnrollment => "o",
    }
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl TokenKey {
    /// A key of its own, so a token can never double as a password hash.
    pub fn derive(secret: &PasswordKey) -> Self {
        Self(secret.subkey(Purpose::EnrollmentToken))
    }

    /// The fingerprint of a device record as admission judges it: its
    /// platform, password hash and groups (what a re-import changes), or its
    /// absence. Status, expiry and the attempt count are not in it: the rules
    /// and the completing write check those as they are then.
    pub fn record(&self, device: Option<&StoredDevice>) -> String {
        let mac = match device {
            None => domain_mac(&self.0, Domain::PreApproval, &[b"absent"]),
            Some(d) => {
                let mut fields: Vec<&[u8]> = vec![b"device", d.platform.as_str().as_bytes()];
                match &d.password_hash {
                    None => fields.push(b"no-password"),
                    Some(hash) => fields.extend([&b"password"[..], hash.as_bytes()]),
                }
                fields.extend(d.groups.iter().map(|g| g.as_bytes()));
                domain_mac(&self.0, Domain::PreApproval, &fields)
            }
        };
        hex::encode(&mac.finalize().into_bytes()[..RECORD_HEX / 2])
    }

    fn mac(
        &self,
        serial: &str,
        platform: &str,
        expires: u64,
        grant: &str,
        record: &str,
        nonce: &str,
    ) -> Hmac<Sha256> {
        domain_mac(
            &self.0,
            Domain::EnrollmentToken,
            &[
                serial.as_bytes(),
                platform.as_bytes(),
                expires.to_string().as_bytes(),
                grant.as_bytes(),
                record.as_bytes(),
                nonce.as_bytes(),
            ],
        )
    }

    /// A token for `serial` on `platform`, granting `grant` as judged against
    /// `device` (the record admission read), valid from `now` for [`TOKEN_TTL_SECS`].
    pub fn issue(
        &self,
        serial: &str,
        platform: &str,
        grant: Grant,
        device: Option<&StoredDevice>,
        now: u64,
    ) -> String {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let expires = now + TOKEN_TTL_SECS;
        let grant = grant_code(grant);
        let record = self.record(device);
        let mac = self
            .mac(serial, platform, expires, grant, &record, &nonce)
            .finalize()
            .into_bytes();
        format!(
            "{PREFIX}.{expires}.{grant}.{record}.{nonce}.{}",
            hex::encode(mac)
        )
    }

    /// What the token says, when it is one this key issued for `serial` on
    /// `platform` and it has not expired. Whether its record is still the
    /// device's is for the caller to compare, after reading it.
    pub fn verify(
        &self,
        token: Option<&str>,
        serial: &str,
        platform: &str,
        now: u64,
    ) -> Result<Claims, TokenError> {
        let token = token.filter(|t| !t.is_empty()).ok_or(TokenError::Missing)?;
        let mut parts = token.splitn(6, '.');
        let (Some(PREFIX), Some(expires), Some(grant), Some(record), Some(nonce), Some(mac)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(TokenError::Malformed);
        };
        let expires: u64 = expires.parse().map_err(|_| TokenError::Malformed)?;
        let mac = hex::decode(mac).map_err(|_| TokenError::Malformed)?;
        let claimed = match grant {
            "p" => Grant::PreApproved,
            "o" => Grant::OpenEnrollment,
            _ => return Err(TokenError::Malformed),
        };
        if !is_hex(nonce, 32) || !is_hex(record, RECORD_HEX) {
            return Err(TokenError::Malformed);
        }
        // Constant time: the comparison says nothing about how close a forgery came.
        self.mac(serial, platform, expires, grant, record, nonce)
            .verify_slice(&mac)
            .map_err(|_| TokenError::Mismatch)?;
        if now >= expires {
            return Err(TokenError::Expired);
        }
        Ok(Claims {
            grant: claimed,
            record: record.to_owned(),
            nonce: nonce.to_owned(),
            expires,
        })
    }
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::domain::Platform;
    use crate::records::{DeviceStatus, PasswordChecks};

    fn key(byte: u8) -> TokenKey {
        TokenKey::derive(&PasswordKey::new(vec![byte; 32]).unwrap())
    }

    fn device(hash: Option<&str>, groups: &[&str]) -> StoredDevice {
        StoredDevice {
            status: DeviceStatus::PreApproved,
            platform: Platform::Ios,
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            password_hash: hash.map(str::to_owned),
            checks: PasswordChecks::default(),
            expires: None,
        }
    }

    /// A pre-approved token for `ABC1` on iOS judged against a device with a password.
    fn issue(k: &TokenKey, now: u64) -> String {
        k.issue(
            "ABC1",
            "ios",
            Grant::PreApproved,
            Some(&device(Some("v2$aa"), &["Sales"])),
            now,
        )
    }

    #[test]
    fn a_token_is_bound_to_serial_platform_key_and_time() {
        let k = key(1);
        let t = issue(&k, 1000);
        let claims = k.verify(Some(&t), "ABC1", "ios", 1000).unwrap();
        assert_eq!(claims.nonce.len(), 32);
        assert!(t.contains(&claims.nonce));
        assert_eq!(claims.grant, Grant::PreApproved);
        assert_eq!(claims.expires, 1000 + TOKEN_TTL_SECS);
        assert_eq!(
            claims.record,
            k.record(Some(&device(Some("v2$aa"), &["Sales"])))
        );
        assert_eq!(
            k.verify(Some(&t), "ABC1", "ios", 1000 + TOKEN_TTL_SECS - 1),
            Ok(claims)
        );
        assert_eq!(
            k.verify(Some(&t), "ABC1", "ios", 1000 + TOKEN_TTL_SECS),
            Err(TokenError::Expired)
        );
        assert_eq!(
            k.verify(Some(&t), "abc1", "ios", 1000),
            Err(TokenError::Mismatch)
        );
        assert_eq!(
            k.verify(Some(&t), "ABC1", "macos", 1000),
            Err(TokenError::Mismatch)
        );
        assert_eq!(
            key(2).verify(Some(&t), "ABC1", "ios", 1000),
            Err(TokenError::Mismatch)
        );
        assert_ne!(issue(&k, 1000), t, "a fresh nonce each time");
    }

    #[test]
    fn altered_and_malformed_tokens_are_refused() {
        let k = key(1);
        let t = issue(&k, 1000);
        let later = t.replacen(
            &format!(".{}.", 1000 + TOKEN_TTL_SECS),
            &format!(".{}.", 9_999_999_999u64),
            1,
        );
        assert_eq!(
            k.verify(Some(&later), "ABC1", "ios", 2000),
            Err(TokenError::Mismatch),
            "a longer life is forged"
        );
        assert_eq!(
            k.verify(None, "ABC1", "ios", 1000),
            Err(TokenError::Missing)
        );
        assert_eq!(
            k.verify(Some(""), "ABC1", "ios", 1000),
            Err(TokenError::Missing)
        );
        let old = t.replacen("et2.", "et1.", 1);
        for bad in [
            "et2",
            "et2.x.y.z",
            "et2.x.p.y.z.w",
            "et3.1.p.2.3.4",
            "et2.2000.p.00000000000000000000000000000000.nothex.00",
            "et2.2000.p.00000000000000000000000000000000.0123456789abcdef0123456789abcdef.zz",
            "et2.2000.x.00000000000000000000000000000000.0123456789abcdef0123456789abcdef.00",
            "et2.2000.p.0000.0123456789abcdef0123456789abcdef.00",
            // The first format: its key was derivable from a password hash.
            old.as_str(),
        ] {
            assert_eq!(
                k.verify(Some(bad), "ABC1", "ios", 1000),
                Err(TokenError::Malformed),
                "{bad}"
            );
        }
    }

    /// Issue 26: the grant and the record judged are under the MAC.
    #[test]
    fn an_open_token_cannot_be_altered_to_say_pre_approved_or_name_another_record() {
        let k = key(1);
        let judged = device(Some("v2$aa"), &["Sales"]);
        let t = k.issue("ABC1", "ios", Grant::OpenEnrollment, Some(&judged), 1000);
        let claims = k.verify(Some(&t), "ABC1", "ios", 1000).unwrap();
        assert_eq!(claims.grant, Grant::OpenEnrollment);
        let pre = t.replacen(".o.", ".p.", 1);
        assert_ne!(pre, t);
        assert_eq!(
            k.verify(Some(&pre), "ABC1", "ios", 1000),
            Err(TokenError::Mismatch),
            "open altered to pre-approved is a forgery"
        );
        let reimported = k.record(Some(&device(Some("v2$bb"), &["Sales"])));
        let other = t.replacen(&claims.record, &reimported, 1);
        assert_ne!(other, t);
        assert_eq!(
            k.verify(Some(&other), "ABC1", "ios", 1000),
            Err(TokenError::Mismatch),
            "another record's fingerprint is a forgery"
        );
    }

    #[test]
    fn a_record_fingerprint_changes_with_what_a_re_import_changes() {
        let k = key(1);
        let a = device(Some("v2$aa"), &["Sales"]);
        let fp = k.record(Some(&a));
        assert_eq!(fp.len(), RECORD_HEX);
        let mut same = a.clone();
        same.checks.claimed = 2;
        same.status = DeviceStatus::Expired;
        assert_eq!(k.record(Some(&same)), fp, "checked as they are, not pinned");
        let mut other_platform = a.clone();
        other_platform.platform = Platform::Macos;
        for changed in [
            device(Some("v2$bb"), &["Sales"]),
            device(None, &["Sales"]),
            device(Some("v2$aa"), &["Sales", "Exec"]),
            device(Some("v2$aa"), &["SalesExec"]),
            device(Some("v2$aa"), &[]),
            other_platform,
        ] {
            assert_ne!(k.record(Some(&changed)), fp, "{changed:?}");
        }
        assert_ne!(k.record(None), k.record(Some(&device(None, &[]))));
        assert_ne!(key(2).record(Some(&a)), fp, "keyed");
    }

    #[test]
    fn no_imported_password_hash_is_the_token_key() {
        use crate::domain::Password;
        let secret = PasswordKey::new(vec![1u8; 32]).unwrap();
        let token_key = TokenKey::derive(&secret).0;
        for (serial, password) in [
            ("subkey", "enrollment-token/v1"),
            ("subkey", "enrollment-token"),
            ("subkey", "enrollment-token/v2"),
            ("subkey\0enrollment-token/v1", ""),
            ("preapprove/subkey/v2", "enrollment-token"),
            ("", "subkey\0enrollment-token/v1"),
        ] {
            let hash = secret.hash(serial, &Password::parse(password).unwrap());
            let stored = hex::decode(hash.split_once('$').unwrap().1).unwrap();
            assert_ne!(
                stored, token_key,
                "importing serial {serial:?} with password {password:?} stores the token key \
                 as its password hash ({hash}): whoever reads the table forges tokens"
            );
        }
    }
}
