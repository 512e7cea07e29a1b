//! From the file an admin uploads to the CMS bytes inside it. ABM's
//! `*_smime.p7m` is MIME headers (any order, CRLF or LF), a blank line and
//! line-wrapped base64; a raw binary p7m, a PEM-armoured one and bare base64
//! are accepted too, since tools that re-save the file produce them.

use std::borrow::Cow;

use base64::engine::{general_purpose::GeneralPurpose, DecodePaddingMode, GeneralPurposeConfig};
use base64::Engine;

/// A token is a few kilobytes; anything this large is something else.
pub const MAX_FILE_BYTES: usize = 1 << 20;

const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why the file is not a token, in words for the admin (never its contents).
pub type NotAToken = &'static str;

/// The CMS (BER or DER) bytes of a token file.
pub fn cms_bytes(file: &[u8]) -> Result<Cow<'_, [u8]>, NotAToken> {
    if file.len() > MAX_FILE_BYTES {
        return Err("it is far larger than a token, which is a few kilobytes");
    }
    let file = file.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(file);
    if file.iter().all(u8::is_ascii_whitespace) {
        return Err("the file is empty");
    }
    let bytes = match file.first() {
        // A binary p7m: a BER SEQUENCE.
        Some(0x30) => Cow::Borrowed(file),
        _ if file.starts_with(b"-----BEGIN ") => Cow::Owned(pem(file)?),
        _ if starts_with_header(file) => mime(file)?,
        _ => Cow::Owned(base64(file).ok_or("it is neither a MIME file nor base64")?),
    };
    if bytes.first() != Some(&0x30) {
        return Err("its contents are not a CMS structure");
    }
    Ok(bytes)
}

fn base64(text: &[u8]) -> Option<Vec<u8>> {
    let packed: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    BASE64.decode(packed).ok()
}

/// `Name:` at the very start: a MIME header line.
fn starts_with_header(file: &[u8]) -> bool {
    let name_len = file
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'-')
        .count();
    name_len > 0 && file.get(name_len) == Some(&b':')
}

fn mime(file: &[u8]) -> Result<Cow<'_, [u8]>, NotAToken> {
    let (headers, body) =
        split_headers(file).ok_or("it has MIME headers but no body after them")?;
    let text = std::str::from_utf8(headers).map_err(|_| "its MIME headers are not text")?;
    let mut content_type = None;
    let mut encoding = None;
    for (name, value) in unfold(text) {
        if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(value.to_ascii_lowercase());
        } else if name.eq_ignore_ascii_case("content-transfer-encoding") {
            encoding = Some(value.trim().to_ascii_lowercase());
        }
    }
    if let Some(t) = content_type {
        if !t.contains("pkcs7-mime") {
            return Err("its MIME type is not application/pkcs7-mime");
        }
    }
    match encoding.as_deref() {
        None | Some("base64") => base64(body).map(Cow::Owned).ok_or("its body is not base64"),
        Some("binary") => Ok(Cow::Borrowed(body)),
        Some(_) => Err("its body is neither base64 nor binary"),
    }
}

/// The header block and the body, split at the first blank line (CRLF or LF).
fn split_headers(file: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut line_start = 0;
    for (i, b) in file.iter().enumerate() {
        if *b != b'\n' {
            continue;
        }
        let line = &file[line_start..i];
        if line.is_empty() || line == b"\r" {
            return Some((&file[..line_start], &file[i + 1..]));
        }
        line_start = i + 1;
    }
    None
}

/// Header fields, continuation lines (starting with a space or tab) joined to their field.
fn unfold(text: &str) -> Vec<(&str, String)> {
    let mut fields: Vec<(&str, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim(), value.trim().to_owned()));
        }
    }
    fields
}

/// The base64 between a PEM armour's BEGIN and END lines.
fn pem(file: &[u8]) -> Result<Vec<u8>, NotAToken> {
    let text = std::str::from_utf8(file).map_err(|_| "it is not a PEM file")?;
    let first = text.lines().next().unwrap_or_default().trim();
    let label = first
        .strip_prefix("-----BEGIN ")
        .and_then(|l| l.strip_suffix("-----"))
        .unwrap_or_default();
    match label {
        "PKCS7" | "CMS" | "PKCS #7 SIGNED DATA" => {}
        "CERTIFICATE" => return Err(
            "it is a certificate: upload the certificate in ABM, and here the token ABM gives back",
        ),
        l if l.contains("PRIVATE KEY") => {
            return Err("it is a private key, which never needs uploading")
        }
        _ => return Err("it is a PEM file of another kind"),
    }
    let rest = &text[first.len()..];
    let end = rest
        .find(&format!("-----END {label}-----"))
        .ok_or("its PEM armour has no END line")?;
    base64(&rest.as_bytes()[..end]).ok_or("its PEM body is not base64")
}

#[cfg(test)]
mod tests {
    use super::*;

    const CMS: &[u8] = &[0x30, 0x80, 0x06, 0x01, 0x2A, 0x00, 0x00];
    // base64 of CMS, wrapped.
    const B64: &str = "MIAGASoA\nAA==\n";

    #[test]
    fn mime_headers_in_any_order_with_crlf_or_lf() {
        let lf = format!(
            "MIME-Version: 1.0\nContent-Disposition: attachment; filename=\"smime.p7m\"\n\
             Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\"\n\
             Content-Transfer-Encoding: base64\n\n{B64}"
        );
        assert_eq!(&*cms_bytes(lf.as_bytes()).unwrap(), CMS);
        let crlf = format!(
            "Content-Transfer-Encoding: base64\r\ncontent-type: application/x-pkcs7-mime;\r\n\t name=smime.p7m\r\n\r\n{}",
            B64.replace('\n', "\r\n")
        );
        assert_eq!(&*cms_bytes(crlf.as_bytes()).unwrap(), CMS);
        let bom = format!("\u{FEFF}Content-Type: application/pkcs7-mime\n\n{B64}");
        assert_eq!(&*cms_bytes(bom.as_bytes()).unwrap(), CMS);
    }

    #[test]
    fn binary_pem_and_bare_base64_are_read() {
        assert_eq!(&*cms_bytes(CMS).unwrap(), CMS);
        assert_eq!(&*cms_bytes(B64.as_bytes()).unwrap(), CMS);
        let pem = format!("-----BEGIN PKCS7-----\n{B64}-----END PKCS7-----\n");
        assert_eq!(&*cms_bytes(pem.as_bytes()).unwrap(), CMS);
        let cms = format!("-----BEGIN CMS-----\r\n{B64}-----END CMS-----\r\n");
        assert_eq!(&*cms_bytes(cms.as_bytes()).unwrap(), CMS);
    }

    #[test]
    fn other_files_are_told_apart() {
        let why = |f: &[u8]| cms_bytes(f).unwrap_err();
        assert_eq!(why(b""), "the file is empty");
        assert_eq!(why(b" \r\n"), "the file is empty");
        assert_eq!(
            why(b"Name,Email,Ownership\nAda,ada@example.com,corporate\n"),
            "it is neither a MIME file nor base64"
        );
        assert_eq!(
            why(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            "it is neither a MIME file nor base64"
        );
        assert!(
            why(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
                .starts_with("it is a certificate")
        );
        assert!(
            why(b"-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n")
                .starts_with("it is a private key")
        );
        assert_eq!(
            why(b"-----BEGIN PKCS7-----\nMIAG\n"),
            "its PEM armour has no END line"
        );
        assert_eq!(
            why(b"Content-Type: text/plain\n\nhello"),
            "its MIME type is not application/pkcs7-mime"
        );
        assert_eq!(
            why(b"Content-Type: application/pkcs7-mime\n"),
            "it has MIME headers but no body after them"
        );
        assert_eq!(
            why(b"Content-Type: application/pkcs7-mime\n\n!!!"),
            "its body is not base64"
        );
        assert_eq!(
            why(b"Content-Transfer-Encoding: quoted-printable\n\nabc"),
            "its body is neither base64 nor binary"
        );
        // Base64, but of something else.
        assert_eq!(why(b"aGVsbG8="), "its contents are not a CMS structure");
        assert_eq!(
            why(&vec![b'A'; MAX_FILE_BYTES + 1]),
            "it is far larger than a token, which is a few kilobytes"
        );
    }
}
