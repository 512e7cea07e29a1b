//! `preapprove ade-keypair` and `preapprove ade-token`: the key pair it
//! writes, and the three exit codes on tokens `openssl` makes as ABM does.

use std::path::Path;
use std::process::Command;

use shared::ade::openssl_cli::{self, Scratch};

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_preapprove"))
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A key pair made by the CLI itself, in `dir`.
fn keypair(dir: &Path) -> (String, String) {
    let r = run(&[
        "ade-keypair",
        "--out",
        dir.to_str().unwrap(),
        "--name",
        "CLI test",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let key = dir.join("key.pem").to_string_lossy().into_owned();
    let cert = dir.join("cert.pem").to_string_lossy().into_owned();
    (key, cert)
}

/// A token file as ABM makes it, for the certificate at `cert`, expiring at `expiry`; its path.
fn token(dir: &Scratch, name: &str, cert: &str, expiry: &str) -> String {
    let pem = std::fs::read_to_string(cert).unwrap();
    let p7m = openssl_cli::encrypt(
        "smime",
        &["-aes128", "-stream"],
        &openssl_cli::token_json(expiry),
        &[&pem],
    );
    dir.file(&format!("{name}_smime.p7m"), p7m)
}

/// The token's secrets (never printed).
const SECRETS: [&str; 3] = ["CS_9c2d41e7", "AT_O5b6c7d8", "AS_1f2e3d4c"];

#[test]
fn ade_keypair_writes_a_private_key_and_its_certificate_and_never_replaces_them() {
    let dir = Scratch::new();
    let (key, cert) = keypair(dir.path());
    let key_pem = std::fs::read_to_string(&key).unwrap();
    assert!(key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(std::fs::read_to_string(&cert)
        .unwrap()
        .starts_with("-----BEGIN CERTIFICATE-----"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the key is its owner's only");
    }
    let again = run(&["ade-keypair", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(&key).unwrap(), key_pem);
}

#[test]
fn a_valid_token_exits_0_and_shows_no_secret() {
    if !openssl_cli::available() {
        return;
    }
    let dir = Scratch::new();
    let (key, cert) = keypair(dir.path());
    let file = token(&dir, "valid", &cert, "2999-01-01T00:00:00Z");
    let r = run(&["ade-token", "--key", &key, &file]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "consumer_key": "CK_3a8f0e1b",
            "access_token_expiry": "2999-01-01T00:00:00Z",
            "expired": false
        })
    );
    let printed = format!("{}{}", r.stdout, r.stderr);
    assert!(SECRETS.iter().all(|secret| !printed.contains(secret)));
}

#[test]
fn an_expired_token_exits_1_and_says_how_to_renew() {
    if !openssl_cli::available() {
        return;
    }
    let dir = Scratch::new();
    let (key, cert) = keypair(dir.path());
    let file = token(&dir, "old", &cert, "2020-01-01T00:00:00Z");
    let r = run(&["ade-token", "--key", &key, &file]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json["expired"], true);
    assert_eq!(json["access_token_expiry"], "2020-01-01T00:00:00Z");
    assert!(r.stderr.contains("Download Token"), "{}", r.stderr);
}

#[test]
fn a_token_for_another_key_or_no_token_at_all_exits_2() {
    if !openssl_cli::available() {
        return;
    }
    let dir = Scratch::new();
    let (key, _) = keypair(&dir.path().join("ours"));
    let (_, other_cert) = keypair(&dir.path().join("other"));
    let theirs = token(&dir, "theirs", &other_cert, "2999-01-01T00:00:00Z");
    let r = run(&["ade-token", "--key", &key, &theirs]);
    assert_eq!(r.code, 2);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr
            .contains("made for another MDM server's certificate"),
        "{}",
        r.stderr
    );

    let csv = dir.file("devices.csv", "Name,Email\nAda,ada@example.com\n");
    let r = run(&["ade-token", "--key", &key, &csv]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not an ABM server token"), "{}", r.stderr);

    let r = run(&["ade-token", "--key", &csv, &theirs]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not an RSA private key"), "{}", r.stderr);

    assert_eq!(
        run(&["ade-token", "--key", &key, "/nonexistent.p7m"]).code,
        2
    );
    assert_eq!(run(&["ade-token", &theirs]).code, 2, "no key");
    assert_eq!(run(&["ade-token", "--key", &key]).code, 2, "no file");
}
