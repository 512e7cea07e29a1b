//! `preapprove ade-keypair` and `preapprove ade-token`: the key pair it
//! writes, and the three exit codes on tokens `openssl` makes as ABM does.

use std::path::{Path, PathBuf};
use std::process::Command;

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

/// Whether `openssl` runs here: without it these tests are skipped, except on CI.
fn openssl_available() -> bool {
    let found = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "openssl is missing: `make unit` installs it"
        );
        eprintln!("SKIPPED: the `openssl` command is missing (apt-get install openssl)");
    }
    found
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("preapprove-ade-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
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

/// A token file as ABM makes it, for `cert`, expiring at `expiry`; its path.
fn token(dir: &Path, name: &str, cert: &str, expiry: &str) -> String {
    let msg = dir.join(format!("{name}.txt"));
    std::fs::write(
        &msg,
        format!(
            "Content-Type: text/plain;charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n\
             -----BEGIN MESSAGE-----\n\
             {{\"consumer_key\":\"CK_cli\",\"consumer_secret\":\"CS_secret\",\"access_token\":\"AT_secret\",\
             \"access_secret\":\"AS_secret\",\"access_token_expiry\":\"{expiry}\"}}\n\
             -----END MESSAGE-----\n"
        ),
    )
    .unwrap();
    let out = dir.join(format!("{name}_smime.p7m"));
    let status = Command::new("openssl")
        .args(["smime", "-encrypt", "-aes128", "-stream", "-in"])
        .arg(&msg)
        .arg("-out")
        .arg(&out)
        .arg(cert)
        .status()
        .unwrap();
    assert!(status.success());
    out.to_string_lossy().into_owned()
}

#[test]
fn ade_keypair_writes_a_private_key_and_its_certificate_and_never_replaces_them() {
    let dir = scratch("keypair");
    let (key, cert) = keypair(&dir);
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
    let again = run(&["ade-keypair", "--out", dir.to_str().unwrap()]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert_eq!(std::fs::read_to_string(&key).unwrap(), key_pem);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_valid_token_exits_0_and_shows_no_secret() {
    if !openssl_available() {
        return;
    }
    let dir = scratch("valid");
    let (key, cert) = keypair(&dir);
    let file = token(&dir, "valid", &cert, "2999-01-01T00:00:00Z");
    let r = run(&["ade-token", "--key", &key, &file]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "consumer_key": "CK_cli",
            "access_token_expiry": "2999-01-01T00:00:00Z",
            "expired": false
        })
    );
    assert!(!format!("{}{}", r.stdout, r.stderr).contains("_secret"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_expired_token_exits_1_and_says_how_to_renew() {
    if !openssl_available() {
        return;
    }
    let dir = scratch("expired");
    let (key, cert) = keypair(&dir);
    let file = token(&dir, "old", &cert, "2020-01-01T00:00:00Z");
    let r = run(&["ade-token", "--key", &key, &file]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(json["expired"], true);
    assert_eq!(json["access_token_expiry"], "2020-01-01T00:00:00Z");
    assert!(r.stderr.contains("Download Token"), "{}", r.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_token_for_another_key_or_no_token_at_all_exits_2() {
    if !openssl_available() {
        return;
    }
    let dir = scratch("refused");
    let (key, _) = keypair(&dir.join("ours"));
    let (_, other_cert) = keypair(&dir.join("other"));
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

    let csv = dir.join("devices.csv");
    std::fs::write(&csv, "Name,Email\nAda,ada@example.com\n").unwrap();
    let r = run(&["ade-token", "--key", &key, csv.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not an ABM server token"), "{}", r.stderr);

    let r = run(&["ade-token", "--key", &csv.to_string_lossy(), &theirs]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not an RSA private key"), "{}", r.stderr);

    assert_eq!(
        run(&["ade-token", "--key", &key, "/nonexistent.p7m"]).code,
        2
    );
    assert_eq!(run(&["ade-token", &theirs]).code, 2, "no key");
    assert_eq!(run(&["ade-token", "--key", &key]).code, 2, "no file");
    let _ = std::fs::remove_dir_all(&dir);
}
