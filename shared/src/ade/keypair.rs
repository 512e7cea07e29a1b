//! The MDM server's key pair: an RSA-2048 key and a self-signed certificate
//! that the admin uploads in ABM (Preferences > Your MDM Servers), which then
//! encrypts the server token to it. The certificate only has to be valid
//! until the token is downloaded; the key decrypts every later token for
//! that server, so it is kept (Secrets Manager) and never shown.

use std::fmt;
use std::time::Duration;

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::PrivateKey;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::der::{DateTime, Decode, EncodePem};
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{SubjectPublicKeyInfo, SubjectPublicKeyInfoRef};
use x509_cert::time::{Time, Validity};

const KEY_BITS: usize = 2048;
/// Backdated for clocks that run behind ours (ABM's, or the admin's computer).
const NOT_BEFORE_SLACK: u64 = 3600;
/// Long enough to upload the certificate in ABM and download the token.
const VALID_FOR: u64 = 2 * 86_400;
/// X.520's upper bound for a common name.
const MAX_NAME_CHARS: usize = 64;

/// The private key (PKCS#8 PEM) and its self-signed certificate (PEM).
/// Its `Debug` leaves the key out.
#[derive(Clone, PartialEq, Eq)]
pub struct MdmKeyPair {
    pub private_key_pem: String,
    pub certificate_pem: String,
}

impl fmt::Debug for MdmKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MdmKeyPair")
            .field("private_key_pem", &"<redacted>")
            .field("certificate_pem", &self.certificate_pem)
            .finish()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyPairError {
    #[error(
        "the MDM server's name must be 1 to {MAX_NAME_CHARS} characters, without control characters"
    )]
    BadName,
    #[error("the system's random number generator failed: try again")]
    Random,
    #[error("the certificate could not be made: {0}")]
    Certificate(String),
    #[error(
        "this is not an RSA private key of at least {KEY_BITS} bits in PEM ('BEGIN PRIVATE KEY' or \
         'BEGIN RSA PRIVATE KEY'): give the key that was made with the MDM server's certificate"
    )]
    BadPrivateKey,
}

/// A new key pair for an MDM server named `common_name` (the certificate's
/// subject and issuer), its certificate valid from shortly before `now_epoch`
/// until two days after.
pub fn generate(common_name: &str, now_epoch: u64) -> Result<MdmKeyPair, KeyPairError> {
    let subject = name(common_name)?;
    let key =
        PrivateKey::new(&mut getrandom::SysRng, KEY_BITS).map_err(|_| KeyPairError::Random)?;
    let spki = SubjectPublicKeyInfo::from_key(&key.to_public_key())
        .map_err(|e| KeyPairError::Certificate(e.to_string()))?;
    let builder = CertificateBuilder::new(
        SelfSigned(subject),
        serial_number()?,
        validity(now_epoch)?,
        spki,
    )
    .map_err(|e| KeyPairError::Certificate(e.to_string()))?;
    let signer = rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha256>::new(key.clone());
    let certificate = builder
        .build::<_, rsa::pkcs1v15::Signature>(&signer)
        .map_err(|e| KeyPairError::Certificate(e.to_string()))?;
    Ok(MdmKeyPair {
        private_key_pem: key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| KeyPairError::Certificate(e.to_string()))?
            .to_string(),
        certificate_pem: certificate
            .to_pem(LineEnding::LF)
            .map_err(|e| KeyPairError::Certificate(e.to_string()))?,
    })
}

/// Whether `pem` is an RSA private key this module can decrypt tokens with.
pub fn check_private_key(pem: &str) -> Result<(), KeyPairError> {
    private_key(pem).map(drop)
}

/// The key of a PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`) PEM.
pub(crate) fn private_key(pem: &str) -> Result<PrivateKey, KeyPairError> {
    let pem = pem.trim();
    let key = PrivateKey::from_pkcs8_pem(pem)
        .or_else(|_| PrivateKey::from_pkcs1_pem(pem))
        .map_err(|_| KeyPairError::BadPrivateKey)?;
    if key.size() * 8 < KEY_BITS {
        return Err(KeyPairError::BadPrivateKey);
    }
    Ok(key)
}

/// `CN=<common_name>`, the name as one UTF8String (no string syntax to escape).
fn name(common_name: &str) -> Result<Name, KeyPairError> {
    let cn = common_name.trim();
    if cn.is_empty() || cn.chars().count() > MAX_NAME_CHARS || cn.chars().any(char::is_control) {
        return Err(KeyPairError::BadName);
    }
    const COMMON_NAME: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x03];
    let attribute = tlv(0x30, &[COMMON_NAME, &tlv(0x0C, cn.as_bytes())].concat());
    let der = tlv(0x30, &tlv(0x31, &attribute));
    Name::from_der(&der).map_err(|e| KeyPairError::Certificate(e.to_string()))
}

/// One DER element; `content` is at most a few hundred bytes here.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = vec![tag];
    match len {
        0..=0x7F => out.push(len as u8),
        0x80..=0xFF => out.extend([0x81, len as u8]),
        _ => out.extend([0x82, (len >> 8) as u8, len as u8]),
    }
    out.extend_from_slice(content);
    out
}

/// A random positive serial of 128 bits (RFC 5280: at most 20 octets, positive).
fn serial_number() -> Result<SerialNumber, KeyPairError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| KeyPairError::Random)?;
    // Top bit clear (positive), next bit set (no leading zero octet to strip).
    bytes[0] = (bytes[0] & 0x7F) | 0x40;
    SerialNumber::new(&bytes).map_err(|e| KeyPairError::Certificate(e.to_string()))
}

fn validity(now: u64) -> Result<Validity, KeyPairError> {
    let at = |secs: u64| {
        DateTime::from_unix_duration(Duration::from_secs(secs))
            .map(Time::from)
            .map_err(|e| KeyPairError::Certificate(e.to_string()))
    };
    Ok(Validity::new(
        at(now.saturating_sub(NOT_BEFORE_SLACK))?,
        at(now + VALID_FOR)?,
    ))
}

/// Issuer = subject; an end-entity key for encryption (the token) and signatures.
struct SelfSigned(Name);

impl BuilderProfile for SelfSigned {
    fn get_issuer(&self, subject: &Name) -> Name {
        subject.clone()
    }

    fn get_subject(&self) -> Name {
        self.0.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let subject = tbs.subject();
        let basic = BasicConstraints {
            ca: false,
            path_len_constraint: None,
        };
        let usage = KeyUsage(KeyUsages::DigitalSignature | KeyUsages::KeyEncipherment);
        let key_id = SubjectKeyIdentifier::try_from(spk)?;
        Ok(vec![
            (&basic).to_extension(subject, &[])?,
            (&usage).to_extension(subject, &[])?,
            (&key_id).to_extension(subject, &[])?,
        ])
    }
}

#[cfg(test)]
mod tests;
