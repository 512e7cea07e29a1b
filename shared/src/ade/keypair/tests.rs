//! The key pair as ABM needs it, read back in Rust and by `openssl`.

use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::signature::Verifier;
use x509_cert::der::{DecodePem, Encode};
use x509_cert::Certificate;

use super::*;
use crate::ade::openssl_cli::{available, openssl, Scratch};

/// 2026-12-05T17:00:00Z
const NOW: u64 = 1_796_490_000;

fn certificate(pair: &MdmKeyPair) -> Certificate {
    Certificate::from_pem(&pair.certificate_pem).unwrap()
}

#[test]
fn a_self_signed_rsa_2048_certificate_for_encryption_valid_two_days() {
    let pair = generate("Preapprove ADE: Acme, Inc. / \"EU\"", NOW).unwrap();
    let cert = certificate(&pair);
    let tbs = cert.tbs_certificate();
    assert_eq!(tbs.version(), x509_cert::certificate::Version::V3);
    assert_eq!(tbs.subject(), tbs.issuer(), "self-signed");
    assert_eq!(
        String::from(tbs.subject().common_name().unwrap().unwrap()),
        "Preapprove ADE: Acme, Inc. / \"EU\"",
        "the name is kept as given, with no string syntax to escape"
    );
    let validity = tbs.validity();
    assert_eq!(validity.not_before.to_unix_duration().as_secs(), NOW - 3600);
    assert_eq!(
        validity.not_after.to_unix_duration().as_secs(),
        NOW + 2 * 86_400
    );
    let serial = tbs.serial_number().as_bytes();
    assert!(
        serial.len() >= 16 && serial[0] & 0x80 == 0,
        "positive, 128 bits"
    );

    let usage: KeyUsage = tbs.get_extension().unwrap().unwrap().1;
    assert!(usage.digital_signature() && usage.key_encipherment());
    assert!(!usage.key_cert_sign());

    let key = private_key(&pair.private_key_pem).unwrap();
    assert_eq!(key.size() * 8, 2048);
    assert_eq!(
        tbs.subject_public_key_info(),
        &SubjectPublicKeyInfo::from_key(&key.to_public_key()).unwrap(),
        "the certificate is the key's"
    );
    // sha256WithRSAEncryption, verified with the key's own public half.
    assert_eq!(
        cert.signature_algorithm().oid.to_string(),
        "1.2.840.113549.1.1.11"
    );
    let verifier = rsa::pkcs1v15::VerifyingKey::<rsa::sha2::Sha256>::new(key.to_public_key());
    let signature = rsa::pkcs1v15::Signature::try_from(cert.signature().raw_bytes()).unwrap();
    verifier
        .verify(&tbs.to_der().unwrap(), &signature)
        .expect("the signature verifies");
}

#[test]
fn openssl_reads_the_certificate_and_the_key_as_abm_would() {
    if !available() {
        return;
    }
    let pair = generate("Preapprove ADE", NOW).unwrap();
    let dir = Scratch::new();
    let cert = dir.file("cert.pem", &pair.certificate_pem);
    let key = dir.file("key.pem", &pair.private_key_pem);
    let text = String::from_utf8(openssl(&["x509", "-in", &cert, "-noout", "-text"])).unwrap();
    for needle in [
        "Version: 3",
        "Signature Algorithm: sha256WithRSAEncryption",
        "Issuer: CN = Preapprove ADE",
        "Subject: CN = Preapprove ADE",
        "Public-Key: (2048 bit)",
        "X509v3 Key Usage: critical",
        "Digital Signature, Key Encipherment",
    ] {
        assert!(text.contains(needle), "{needle} in\n{text}");
    }
    let modulus = |args: &[&str]| String::from_utf8(openssl(args)).unwrap();
    assert_eq!(
        modulus(&["x509", "-in", &cert, "-noout", "-modulus"]),
        modulus(&["rsa", "-in", &key, "-noout", "-modulus"]),
        "the key is the certificate's"
    );
    assert!(pair
        .private_key_pem
        .starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert!(dir.path().exists());
}

#[test]
fn every_key_pair_is_new() {
    let (a, b) = (generate("A", NOW).unwrap(), generate("A", NOW).unwrap());
    assert_ne!(a.private_key_pem, b.private_key_pem);
    assert_ne!(
        certificate(&a).tbs_certificate().serial_number(),
        certificate(&b).tbs_certificate().serial_number()
    );
}

#[test]
fn debug_never_shows_the_private_key() {
    let pair = generate("A", NOW).unwrap();
    let debug = format!("{pair:?}");
    assert!(debug.contains("<redacted>") && debug.contains("BEGIN CERTIFICATE"));
    assert!(!debug.contains("PRIVATE KEY"), "{debug}");
}

#[test]
fn names_are_checked() {
    for bad in ["", "   ", "tab\there", &"x".repeat(65)] {
        assert_eq!(
            generate(bad, NOW).unwrap_err(),
            KeyPairError::BadName,
            "{bad:?}"
        );
    }
    assert!(name(&"é".repeat(64)).is_ok(), "64 characters, not bytes");
}

#[test]
fn only_rsa_private_keys_of_2048_bits_or_more_are_accepted() {
    let pair = generate("A", NOW).unwrap();
    check_private_key(&pair.private_key_pem).unwrap();
    let pkcs1 = private_key(&pair.private_key_pem)
        .unwrap()
        .to_pkcs1_pem(LineEnding::CRLF)
        .unwrap();
    assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    check_private_key(&pkcs1).unwrap();

    let small = PrivateKey::new(&mut getrandom::SysRng, 1024).unwrap();
    let small = small.to_pkcs8_pem(LineEnding::LF).unwrap();
    for bad in [
        "",
        "garbage",
        pair.certificate_pem.as_str(),
        small.as_str(),
        &pair.private_key_pem[..200],
    ] {
        assert_eq!(
            check_private_key(bad),
            Err(KeyPairError::BadPrivateKey),
            "{bad}"
        );
    }
}
