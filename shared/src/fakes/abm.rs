//! Apple Business Manager's "Download Token", for tests: a server token
//! file for an MDM server's certificate, made with the system's `openssl`
//! (`smime -encrypt -aes128 -stream`: MIME headers around indefinite-length
//! BER, as ABM writes it).

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// The JSON a token holds, with these credentials and expiry (RFC 3339).
pub fn token_json(consumer_key: &str, expiry: &str) -> String {
    serde_json::json!({
        "consumer_key": consumer_key,
        "consumer_secret": format!("CS_{consumer_key}"),
        "access_token": format!("AT_{consumer_key}"),
        "access_secret": format!("AS_{consumer_key}"),
        "access_token_expiry": expiry,
    })
    .to_string()
}

/// Whether `openssl` runs here; tests that need it say so and stop when not
/// (on CI, `CI` set, its absence fails them).
pub fn openssl_available() -> bool {
    let found = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "openssl is missing (apt package openssl)"
        );
        eprintln!("SKIPPED: the `openssl` command is missing (apt-get install openssl)");
    }
    found
}

/// A token file holding `json` (between ABM's message markers), encrypted to
/// `certificate_pem`.
pub fn token_file(certificate_pem: &str, json: &str) -> Vec<u8> {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "abm-token-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let message = dir.join("message.txt");
    let certificate = dir.join("certificate.pem");
    let plain = format!(
        "Content-Type: text/plain;charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n\
         -----BEGIN MESSAGE-----\n{json}\n-----END MESSAGE-----\n"
    );
    std::fs::write(&message, plain).expect("message written");
    std::fs::write(&certificate, certificate_pem).expect("certificate written");
    let out = Command::new("openssl")
        .args(["smime", "-encrypt", "-aes128", "-stream", "-in"])
        .arg(&message)
        .arg(&certificate)
        .output()
        .expect("openssl runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "openssl smime -encrypt: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}
