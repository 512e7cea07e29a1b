//! Why a token file was refused, in words for the admin who uploaded it.
//! No variant carries a credential or the file's bytes.

use crate::ade::keypair::KeyPairError;

const DOWNLOAD: &str = "in Apple Business Manager open Preferences > Your MDM Servers, select the \
                        server, and click Download Token";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not MIME, base64 or CMS, or CMS but not EnvelopedData.
    #[error("this file is not an ABM server token (.p7m): {DOWNLOAD} ({reason})")]
    NotAToken { reason: &'static str },
    /// No recipient's key decrypts it: RSA, the AES padding or the message refused it.
    #[error(
        "this token was made for another MDM server's certificate: download this account's \
         certificate, upload it in ABM for this MDM server, and download a new token"
    )]
    WrongKey,
    /// A CMS algorithm ABM does not use.
    #[error("this token is encrypted with {what}, which ABM does not use: {DOWNLOAD}")]
    Unsupported { what: String },
    #[error("this token has no {field} (or it is empty): {DOWNLOAD}")]
    MissingField { field: &'static str },
    #[error("this token's access_token_expiry '{value}' is not a date and time: {DOWNLOAD}")]
    BadExpiry { value: String },
    #[error(
        "this token expired at {expiry}: {DOWNLOAD}, then upload the new token here; renewing \
         keeps this account's settings and devices"
    )]
    Expired { expiry: String },
    /// The MDM server's own private key is unusable.
    #[error("{0}")]
    Key(#[from] KeyPairError),
}
