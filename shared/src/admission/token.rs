//! The enrollment token an `allow` answer carries: proof, checked without a
//! database read, that this serial was admitted on this platform in the last
//! 15 minutes. `et2.<expiry>.<nonce>.<mac>`, the MAC (HMAC-SHA256 with a key
//! derived from the password secret, in the token's own domain:
//! [`crate::password::domain_mac`]) covering serial, platform, expiry and
//! nonce. `et1` tokens (the first key derivation) are refused as malformed. Completing an enrollment consumes the nonce in the same conditional
//! update that marks the device enrolled, so a token works once.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::password::{domain_mac, Domain, PasswordKey, Purpose};

/// How long a token is good for.
pub const TOKEN_TTL_SECS: u64 = 15 * 60;
const PREFIX: &str = "et2";

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

impl TokenKey {
    /// A key of its own, so a token can never double as a password hash.
    pub fn derive(secret: &PasswordKey) -> Self {
        Self(secret.subkey(Purpose::EnrollmentToken))
    }

    fn mac(&self, serial: &str, platform: &str, expires: u64, nonce: &str) -> Hmac<Sha256> {
        domain_mac(
            &self.0,
            Domain::EnrollmentToken,
            &[
                serial.as_bytes(),
                platform.as_bytes(),
                expires.to_string().as_bytes(),
                nonce.as_bytes(),
            ],
        )
    }

    /// A token for `serial` on `platform`, valid from `now` for [`TOKEN_TTL_SECS`].
    pub fn issue(&self, serial: &str, platform: &str, now: u64) -> String {
        let nonce = uuid::Uuid::new_v4().simple().to_string();
        let expires = now + TOKEN_TTL_SECS;
        let mac = self
            .mac(serial, platform, expires, &nonce)
            .finalize()
            .into_bytes();
        format!("{PREFIX}.{expires}.{nonce}.{}", hex::encode(mac))
    }

    /// The token's nonce when it is one this key issued for `serial` on
    /// `platform` and it has not expired.
    pub fn verify(
        &self,
        token: Option<&str>,
        serial: &str,
        platform: &str,
        now: u64,
    ) -> Result<String, TokenError> {
        let token = token.filter(|t| !t.is_empty()).ok_or(TokenError::Missing)?;
        let mut parts = token.splitn(4, '.');
        let (Some(PREFIX), Some(expires), Some(nonce), Some(mac)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let expires: u64 = expires.parse().map_err(|_| TokenError::Malformed)?;
        let mac = hex::decode(mac).map_err(|_| TokenError::Malformed)?;
        if nonce.len() != 32 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TokenError::Malformed);
        }
        // Constant time: the comparison says nothing about how close a forgery came.
        self.mac(serial, platform, expires, nonce)
            .verify_slice(&mac)
            .map_err(|_| TokenError::Mismatch)?;
        if now >= expires {
            return Err(TokenError::Expired);
        }
        Ok(nonce.to_owned())
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

    fn key(byte: u8) -> TokenKey {
        TokenKey::derive(&PasswordKey::new(vec![byte; 32]).unwrap())
    }

    #[test]
    fn a_token_is_bound_to_serial_platform_key_and_time() {
        let k = key(1);
        let t = k.issue("ABC1", "ios", 1000);
        let nonce = k.verify(Some(&t), "ABC1", "ios", 1000).unwrap();
        assert_eq!(nonce.len(), 32);
        assert!(t.contains(&nonce));
        assert_eq!(
            k.verify(Some(&t), "ABC1", "ios", 1000 + TOKEN_TTL_SECS - 1),
            Ok(nonce)
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
        assert_ne!(k.issue("ABC1", "ios", 1000), t, "a fresh nonce each time");
    }

    #[test]
    fn altered_and_malformed_tokens_are_refused() {
        let k = key(1);
        let t = k.issue("ABC1", "ios", 1000);
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
            "et3.1.2.3",
            "et2.2000.nothex.00",
            "et2.2000.0123456789abcdef0123456789abcdef.zz",
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
