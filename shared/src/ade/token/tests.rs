//! Real tokens, made by `openssl` as ABM makes them, read back; and files
//! that are not tokens, tokens for another key, incomplete and expired ones.

use std::sync::OnceLock;

use base64::Engine;

use super::*;
use crate::ade::keypair::{generate, KeyPairError, MdmKeyPair};
use crate::ade::openssl_cli::{available, encrypt, openssl, token_json, Scratch};

/// 2026-12-05T17:00:00Z
const NOW: u64 = 1_796_490_000;
const EXPIRY: &str = "2027-12-05T17:00:00Z";

fn ours() -> &'static MdmKeyPair {
    static KEYS: OnceLock<MdmKeyPair> = OnceLock::new();
    KEYS.get_or_init(|| generate("Preapprove ADE test", NOW).unwrap())
}

fn another() -> &'static MdmKeyPair {
    static KEYS: OnceLock<MdmKeyPair> = OnceLock::new();
    KEYS.get_or_init(|| generate("Another MDM server", NOW).unwrap())
}

/// A token as ABM gives it: S/MIME, AES-128, streamed (indefinite lengths).
fn abm_token(json: &str, certificate: &str) -> Vec<u8> {
    encrypt("smime", &["-aes128", "-stream"], json, &[certificate])
}

/// The base64 body of a MIME file, decoded.
fn body_of(mime: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(mime).unwrap().replace("\r\n", "\n");
    let (_, body) = text.split_once("\n\n").unwrap();
    let packed: String = body.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(packed)
        .unwrap()
}

fn read_ours(file: &[u8]) -> Result<ServerToken, TokenError> {
    read(file, &ours().private_key_pem, NOW)
}

#[test]
fn a_token_as_abm_makes_it_is_read_with_its_key() {
    if !available() {
        return;
    }
    let file = abm_token(&token_json(EXPIRY), &ours().certificate_pem);
    let text = String::from_utf8(file.clone()).unwrap();
    assert!(
        text.contains("Content-Type: application/")
            && text.contains("pkcs7-mime")
            && text.contains("Content-Transfer-Encoding: base64"),
        "{text}"
    );
    let ber = body_of(&file);
    assert_eq!(&ber[..2], &[0x30, 0x80], "indefinite-length BER");
    assert!(
        ber.windows(3).any(|w| w == [0xA0, 0x80, 0x04]),
        "the content is a constructed string of chunks"
    );

    let token = read_ours(&file).unwrap();
    assert_eq!(token.consumer_key, "CK_3a8f0e1b");
    assert_eq!(token.consumer_secret, "CS_9c2d41e7");
    assert_eq!(token.access_token, "AT_O5b6c7d8");
    assert_eq!(token.access_secret, "AS_1f2e3d4c");
    assert_eq!(token.access_token_expiry, EXPIRY);
    assert_eq!(token.expiry_epoch, NOW + 365 * 86_400);
    assert_eq!(read_ours(&ber).unwrap(), token, "the binary form too");
}

#[test]
fn other_ciphers_and_forms_openssl_writes_are_read() {
    if !available() {
        return;
    }
    let cert = &ours().certificate_pem;
    let json = token_json(EXPIRY);
    let forms: &[(&str, &[&str])] = &[
        ("cms", &["-aes256", "-stream"]),
        ("cms", &["-aes192", "-stream", "-outform", "DER"]),
        ("cms", &["-aes128", "-outform", "DER"]),
        ("cms", &["-aes256", "-outform", "PEM"]),
        ("smime", &["-aes128", "-stream", "-outform", "PEM"]),
        ("smime", &["-aes256", "-binary"]),
    ];
    for (command, extra) in forms {
        let file = encrypt(command, extra, &json, &[cert]);
        let token = read_ours(&file).unwrap_or_else(|e| panic!("{command} {extra:?}: {e}"));
        assert_eq!(token.consumer_key, "CK_3a8f0e1b", "{command} {extra:?}");
    }
}

#[test]
fn a_token_for_several_recipients_is_read_with_any_of_their_keys() {
    if !available() {
        return;
    }
    let file = encrypt(
        "cms",
        &["-aes128", "-stream"],
        &token_json(EXPIRY),
        &[&another().certificate_pem, &ours().certificate_pem],
    );
    assert_eq!(read_ours(&file).unwrap().consumer_key, "CK_3a8f0e1b");
    assert!(read(&file, &another().private_key_pem, NOW).is_ok());

    // A recipient by an algorithm ABM does not use is passed over.
    let dir = Scratch::new();
    let msg = dir.file(
        "msg.txt",
        crate::ade::openssl_cli::message(&token_json(EXPIRY)),
    );
    let theirs = dir.file("theirs.pem", &another().certificate_pem);
    let mine = dir.file("ours.pem", &ours().certificate_pem);
    let mixed = openssl(&[
        "cms",
        "-encrypt",
        "-aes128",
        "-stream",
        "-in",
        &msg,
        "-recip",
        &theirs,
        "-keyopt",
        "rsa_padding_mode:oaep",
        "-recip",
        &mine,
    ]);
    assert_eq!(read_ours(&mixed).unwrap().consumer_key, "CK_3a8f0e1b");
}

#[test]
fn a_token_for_another_certificate_says_so() {
    if !available() {
        return;
    }
    // Each token has its own random content key: the refusal may come at
    // RSA, at the AES padding or at the message, and is the same each time.
    for _ in 0..4 {
        let file = abm_token(&token_json(EXPIRY), &another().certificate_pem);
        let e = read_ours(&file).unwrap_err();
        assert_eq!(e, TokenError::WrongKey);
        assert!(e.to_string().contains(
            "made for another MDM server's certificate: download this account's certificate"
        ));
    }
}

#[test]
fn files_that_are_not_tokens_say_how_to_get_one() {
    if !available() {
        return;
    }
    let dir = Scratch::new();
    let msg = dir.file("msg.txt", "hello");
    let cert = dir.file("cert.pem", &ours().certificate_pem);
    let key = dir.file("key.pem", &ours().private_key_pem);
    let signed = openssl(&[
        "cms",
        "-sign",
        "-nodetach",
        "-signer",
        &cert,
        "-inkey",
        &key,
        "-in",
        &msg,
    ]);
    let data = openssl(&["cms", "-data_create", "-in", &msg, "-outform", "PEM"]);
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        (
            "a CSV",
            b"Name,Email,Ownership,Serial Number,Platform\nAda,ada@example.com,corporate,C02X,macos\n"
                .to_vec(),
        ),
        ("a PNG", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01".to_vec()),
        ("the certificate", ours().certificate_pem.clone().into_bytes()),
        ("the private key", ours().private_key_pem.clone().into_bytes()),
        ("signed, not encrypted", signed),
        ("plain CMS data", data),
        ("a DER certificate", body_of(format!("x: y\n\n{}", pem_body(&ours().certificate_pem)).as_bytes())),
    ];
    for (what, file) in files {
        let e = read_ours(&file).unwrap_err();
        assert!(matches!(e, TokenError::NotAToken { .. }), "{what}: {e:?}");
        let m = e.to_string();
        assert!(
            m.starts_with("this file is not an ABM server token (.p7m): in Apple Business Manager open Preferences > Your MDM Servers, select the server, and click Download Token"),
            "{what}: {m}"
        );
        assert!(
            !m.contains("BEGIN"),
            "{what}: the file never shows in the message"
        );
    }
}

fn pem_body(pem: &str) -> String {
    pem.lines().filter(|l| !l.starts_with("-----")).collect()
}

#[test]
fn each_missing_or_empty_field_is_named() {
    if !available() {
        return;
    }
    let cert = &ours().certificate_pem;
    let full: serde_json::Value = serde_json::from_str(&token_json(EXPIRY)).unwrap();
    for field in [
        "consumer_key",
        "consumer_secret",
        "access_token",
        "access_secret",
        "access_token_expiry",
    ] {
        let mut missing = full.clone();
        missing.as_object_mut().unwrap().remove(field);
        let mut empty = full.clone();
        empty[field] = " ".into();
        for json in [missing, empty] {
            let e = read_ours(&abm_token(&json.to_string(), cert)).unwrap_err();
            assert_eq!(e, TokenError::MissingField { field }, "{json}");
            let m = e.to_string();
            assert!(
                m.contains(&format!("has no {field}")) && m.contains("Download Token"),
                "{m}"
            );
        }
    }
    let e = read_ours(&abm_token(&token_json("soon"), cert)).unwrap_err();
    assert_eq!(
        e,
        TokenError::BadExpiry {
            value: "soon".into()
        }
    );
}

#[test]
fn an_expired_token_says_when_and_how_to_renew() {
    if !available() {
        return;
    }
    let file = abm_token(&token_json("2026-12-05T16:59:59Z"), &ours().certificate_pem);
    let key = &ours().private_key_pem;
    let e = read(&file, key, NOW).unwrap_err();
    assert_eq!(
        e,
        TokenError::Expired {
            expiry: "2026-12-05T16:59:59Z".into()
        }
    );
    let m = e.to_string();
    assert!(
        m.contains("expired at 2026-12-05T16:59:59Z")
            && m.contains("click Download Token")
            && m.contains("renewing keeps this account's settings"),
        "{m}"
    );
    assert!(
        read(&file, key, NOW - 2).is_ok(),
        "valid until its last second"
    );
    let token = decrypt(&file, key).unwrap();
    assert!(token.has_expired(NOW) && !token.has_expired(NOW - 2));
}

#[test]
fn unsupported_algorithms_are_named() {
    if !available() {
        return;
    }
    let cert = &ours().certificate_pem;
    let json = token_json(EXPIRY);
    let des = encrypt("cms", &["-des3"], &json, &[cert]);
    let e = read_ours(&des).unwrap_err();
    assert_eq!(
        e,
        TokenError::Unsupported {
            what: "the content cipher 1.2.840.113549.3.7".into()
        }
    );
    let dir = Scratch::new();
    let msg = dir.file("msg.txt", crate::ade::openssl_cli::message(&json));
    let recipient = dir.file("cert.pem", cert);
    let oaep = openssl(&[
        "cms",
        "-encrypt",
        "-aes128",
        "-in",
        &msg,
        "-recip",
        &recipient,
        "-keyopt",
        "rsa_padding_mode:oaep",
    ]);
    let e = read_ours(&oaep).unwrap_err();
    assert_eq!(
        e,
        TokenError::Unsupported {
            what: "the key transport algorithm 1.2.840.113549.1.1.7".into()
        }
    );
}

#[test]
fn a_private_key_that_is_not_one_is_named() {
    let e = decrypt(b"whatever", "not a key").unwrap_err();
    assert_eq!(e, TokenError::Key(KeyPairError::BadPrivateKey));
    assert!(e.to_string().contains("not an RSA private key"));
}

#[test]
fn garbage_and_truncation_never_panic() {
    if !available() {
        return;
    }
    let key = &ours().private_key_pem;
    let file = abm_token(&token_json(EXPIRY), &ours().certificate_pem);
    let ber = body_of(&file);
    for n in 0..ber.len() {
        assert!(decrypt(&ber[..n], key).is_err(), "truncated to {n} bytes");
    }
    for n in (0..file.len()).step_by(7) {
        let _ = decrypt(&file[..n], key);
    }
    // Every byte of the structure ahead of the encrypted key, then a sample
    // of the rest (each of those costs an RSA decryption).
    let key_at = ber
        .windows(4)
        .position(|w| w == [0x04, 0x82, 0x01, 0x00])
        .expect("a 2048-bit encrypted key")
        + 4;
    for at in (0..key_at).chain((key_at..ber.len()).step_by(11)) {
        for flip in [0xFF, 0x80] {
            let mut bad = ber.clone();
            bad[at] ^= flip;
            let _ = decrypt(&bad, key);
        }
    }
    let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
    for len in [1, 2, 3, 16, 100, 1000, 5000] {
        for _ in 0..40 {
            let mut bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            bytes[0] = 0x30;
            if len > 1 {
                bytes[1] = 0x80;
            }
            assert!(decrypt(&bytes, key).is_err());
        }
    }
}

#[test]
fn a_token_never_shows_its_secrets_in_debug_and_round_trips_through_json() {
    let token = ServerToken {
        consumer_key: "CK_visible".into(),
        consumer_secret: "CS_hidden".into(),
        access_token: "AT_hidden".into(),
        access_secret: "AS_hidden".into(),
        access_token_expiry: EXPIRY.into(),
        expiry_epoch: NOW + 365 * 86_400,
    };
    let debug = format!("{token:?}");
    assert!(
        debug.contains("CK_visible") && debug.contains(EXPIRY),
        "{debug}"
    );
    assert!(!debug.contains("_hidden"), "{debug}");
    let json = serde_json::to_string(&token).unwrap();
    assert_eq!(serde_json::from_str::<ServerToken>(&json).unwrap(), token);
}
