//! The server token ABM gives for an MDM server (`*_smime.p7m`): the OAuth
//! 1.0a credentials of Apple's device-assignment API, encrypted to the MDM
//! server's certificate. The layers, outside in: the file (`mime`), BER
//! (`ber`), CMS EnvelopedData (`cms`), and the decrypted message (`message`).
//!
//! Which key a token is for: the one that decrypts it. The recipient's issuer
//! and serial are not compared with a certificate; a token for another
//! certificate fails at RSA, at the AES padding or at the message, and each
//! of these is [`TokenError::WrongKey`].

mod ber;
mod cms;
mod error;
mod message;
mod mime;

use std::fmt;

use serde::{Deserialize, Serialize};

use super::keypair;
pub use error::TokenError;
pub use mime::MAX_FILE_BYTES;

/// The credentials a token holds. Its `Debug` leaves out the consumer
/// secret, the access token and the access secret.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerToken {
    pub consumer_key: String,
    pub consumer_secret: String,
    pub access_token: String,
    pub access_secret: String,
    /// As the token gives it (RFC 3339).
    pub access_token_expiry: String,
    /// The same instant, epoch seconds.
    pub expiry_epoch: u64,
}

impl ServerToken {
    pub fn has_expired(&self, now_epoch: u64) -> bool {
        now_epoch >= self.expiry_epoch
    }
}

impl fmt::Debug for ServerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerToken")
            .field("consumer_key", &self.consumer_key)
            .field("consumer_secret", &"<redacted>")
            .field("access_token", &"<redacted>")
            .field("access_secret", &"<redacted>")
            .field("access_token_expiry", &self.access_token_expiry)
            .field("expiry_epoch", &self.expiry_epoch)
            .finish()
    }
}

/// The credentials of the token file `p7m`, as ABM gives it (or its binary
/// or PEM form), decrypted with the MDM server's `private_key_pem`. An
/// expired token is returned too: see [`read`].
pub fn decrypt(p7m: &[u8], private_key_pem: &str) -> Result<ServerToken, TokenError> {
    let key = keypair::private_key(private_key_pem)?;
    let bytes = mime::cms_bytes(p7m).map_err(|reason| TokenError::NotAToken { reason })?;
    let root = ber::parse(&bytes).map_err(|e| TokenError::NotAToken { reason: e.0 })?;
    let envelope = cms::open(&root)?;
    let token = envelope
        .plaintexts(&key)
        .find_map(|plain| message::parse(&plain))
        .unwrap_or(Err(TokenError::WrongKey));
    token
}

/// [`decrypt`], refusing a token that has expired at `now_epoch`.
pub fn read(p7m: &[u8], private_key_pem: &str, now_epoch: u64) -> Result<ServerToken, TokenError> {
    let token = decrypt(p7m, private_key_pem)?;
    if token.has_expired(now_epoch) {
        return Err(TokenError::Expired {
            expiry: token.access_token_expiry,
        });
    }
    Ok(token)
}

#[cfg(test)]
mod tests;
