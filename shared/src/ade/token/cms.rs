//! CMS EnvelopedData (RFC 5652) as ABM writes it: key transport recipients
//! (RSA PKCS#1 v1.5) and AES-CBC content, the IV in the algorithm's
//! parameters. Only what a token needs is read; the rest is skipped.

use std::borrow::Cow;

use aes::cipher::{block_padding::Pkcs7, BlockCipherDecrypt, BlockModeDecrypt, KeyIvInit};
use rsa::PrivateKey;
use zeroize::Zeroizing;

use super::ber::{
    self, context, context_primitive, Node, INTEGER, OCTET_STRING, OID, SEQUENCE, SET,
};
use super::TokenError;

const ENVELOPED_DATA: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x03];
const RSA_ENCRYPTION: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
const AES_CBC_PREFIX: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x01];

/// The content cipher: AES-CBC with a key of this many bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cipher {
    Aes128,
    Aes192,
    Aes256,
}

impl Cipher {
    fn key_len(self) -> usize {
        match self {
            Self::Aes128 => 16,
            Self::Aes192 => 24,
            Self::Aes256 => 32,
        }
    }
}

/// What a token carries, still encrypted.
#[derive(Debug)]
pub struct Envelope<'a> {
    /// Each RSA key transport recipient's encrypted content key (ABM writes one).
    pub encrypted_keys: Vec<Cow<'a, [u8]>>,
    pub cipher: Cipher,
    pub iv: [u8; 16],
    pub ciphertext: Cow<'a, [u8]>,
}

fn not_a_token(e: ber::BerError) -> TokenError {
    TokenError::NotAToken { reason: e.0 }
}

const NOT_ENVELOPED: TokenError = TokenError::NotAToken {
    reason: "it is a CMS structure, but not an encrypted one (EnvelopedData)",
};

/// The envelope of a ContentInfo holding EnvelopedData.
pub fn open<'a>(root: &'a Node<'a>) -> Result<Envelope<'a>, TokenError> {
    let info = root.children(SEQUENCE).map_err(not_a_token)?;
    let [content_type, content, ..] = info else {
        return Err(NOT_ENVELOPED);
    };
    if content_type.primitive(OID).map_err(not_a_token)? != ENVELOPED_DATA {
        return Err(NOT_ENVELOPED);
    }
    let enveloped = match content.children(context(0)).map_err(not_a_token)? {
        [one] => one.children(SEQUENCE).map_err(not_a_token)?,
        _ => return Err(NOT_ENVELOPED),
    };
    // version, [0] originatorInfo OPTIONAL, recipientInfos, encryptedContentInfo, [1] attributes OPTIONAL
    let mut parts = enveloped.iter();
    parts
        .next()
        .ok_or(NOT_ENVELOPED)?
        .primitive(INTEGER)
        .map_err(not_a_token)?;
    let mut next = parts.next().ok_or(NOT_ENVELOPED)?;
    if next.tag == context(0) {
        next = parts.next().ok_or(NOT_ENVELOPED)?;
    }
    let encrypted_keys = key_transport_recipients(next.children(SET).map_err(not_a_token)?)?;
    let content_info = parts
        .next()
        .ok_or(NOT_ENVELOPED)?
        .children(SEQUENCE)
        .map_err(not_a_token)?;
    let (cipher, iv, ciphertext) = encrypted_content(content_info)?;
    Ok(Envelope {
        encrypted_keys,
        cipher,
        iv,
        ciphertext,
    })
}

/// The encrypted content keys of the RSA KeyTransRecipientInfos (SEQUENCEs;
/// the other kinds of recipient are tagged `[1]` to `[4]`). Others are
/// skipped, and named only when no recipient is left.
fn key_transport_recipients<'a>(infos: &'a [Node<'a>]) -> Result<Vec<Cow<'a, [u8]>>, TokenError> {
    let mut keys = Vec::new();
    let mut other = None;
    for info in infos.iter().filter(|i| i.tag == SEQUENCE) {
        // version, rid (issuerAndSerialNumber or [0] subjectKeyIdentifier), keyEncryptionAlgorithm, encryptedKey
        let [_, _, algorithm, encrypted_key] = info.children(SEQUENCE).map_err(not_a_token)? else {
            return Err(TokenError::NotAToken {
                reason: "a recipient of its CMS structure is malformed",
            });
        };
        let oid = algorithm_oid(algorithm)?;
        if oid == RSA_ENCRYPTION {
            keys.push(encrypted_key.octets(OCTET_STRING).map_err(not_a_token)?);
        } else {
            other.get_or_insert(oid);
        }
    }
    if keys.is_empty() {
        return Err(TokenError::Unsupported {
            what: match other {
                Some(oid) => format!("the key transport algorithm {}", ber::dotted(oid)),
                None => "a kind of recipient other than RSA key transport".into(),
            },
        });
    }
    Ok(keys)
}

fn algorithm_oid<'a>(algorithm: &'a Node<'a>) -> Result<&'a [u8], TokenError> {
    algorithm
        .children(SEQUENCE)
        .map_err(not_a_token)?
        .first()
        .ok_or(TokenError::NotAToken {
            reason: "an algorithm of its CMS structure is missing",
        })?
        .primitive(OID)
        .map_err(not_a_token)
}

type Content<'a> = (Cipher, [u8; 16], Cow<'a, [u8]>);

fn encrypted_content<'a>(info: &'a [Node<'a>]) -> Result<Content<'a>, TokenError> {
    let [_, algorithm, content, ..] = info else {
        return Err(TokenError::NotAToken {
            reason: "it has no encrypted content",
        });
    };
    let oid = algorithm_oid(algorithm)?;
    let cipher = match oid.strip_prefix(AES_CBC_PREFIX) {
        Some([0x02]) => Cipher::Aes128,
        Some([0x16]) => Cipher::Aes192,
        Some([0x2A]) => Cipher::Aes256,
        _ => {
            return Err(TokenError::Unsupported {
                what: format!("the content cipher {}", ber::dotted(oid)),
            })
        }
    };
    let iv = algorithm
        .children(SEQUENCE)
        .map_err(not_a_token)?
        .get(1)
        .and_then(|p| p.primitive(OCTET_STRING).ok())
        .and_then(|iv| <[u8; 16]>::try_from(iv).ok())
        .ok_or(TokenError::NotAToken {
            reason: "its cipher has no 16-byte IV",
        })?;
    let ciphertext = content.octets(context_primitive(0)).map_err(not_a_token)?;
    if ciphertext.is_empty() || ciphertext.len() % 16 != 0 {
        return Err(TokenError::NotAToken {
            reason: "its encrypted content is not whole AES blocks",
        });
    }
    Ok((cipher, iv, ciphertext))
}

impl Envelope<'_> {
    /// The content as decrypted with `key` for each recipient in turn; empty
    /// when no recipient's key decrypts it (the token is for another key).
    pub fn plaintexts<'k>(
        &'k self,
        key: &'k PrivateKey,
    ) -> impl Iterator<Item = Zeroizing<Vec<u8>>> + 'k {
        self.encrypted_keys
            .iter()
            .filter_map(move |ek| self.decrypt(key, ek))
    }

    fn decrypt(&self, key: &PrivateKey, encrypted_key: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        // With another key, implicit rejection yields a random-looking "key"
        // rather than an error: the padding or the message then refuses it.
        let cek = Zeroizing::new(key.pkcs1v15_decrypt(encrypted_key).ok()?);
        if cek.len() != self.cipher.key_len() {
            return None;
        }
        let mut buf = Zeroizing::new(self.ciphertext.to_vec());
        let len = match self.cipher {
            Cipher::Aes128 => cbc_decrypt::<aes::Aes128>(&cek, &self.iv, &mut buf),
            Cipher::Aes192 => cbc_decrypt::<aes::Aes192>(&cek, &self.iv, &mut buf),
            Cipher::Aes256 => cbc_decrypt::<aes::Aes256>(&cek, &self.iv, &mut buf),
        }?;
        buf.truncate(len);
        Some(buf)
    }
}

/// The length of the plaintext left in `buf`, or `None` when the padding is wrong.
fn cbc_decrypt<C>(key: &[u8], iv: &[u8], buf: &mut [u8]) -> Option<usize>
where
    C: BlockCipherDecrypt,
    cbc::Decryptor<C>: KeyIvInit + BlockModeDecrypt,
{
    let plain = cbc::Decryptor::<C>::new_from_slices(key, iv)
        .ok()?
        .decrypt_padded::<Pkcs7>(buf)
        .ok()?;
    Some(plain.len())
}
