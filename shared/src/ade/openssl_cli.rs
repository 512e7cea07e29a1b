//! Tests make tokens exactly as ABM does, with the system's `openssl`
//! (`smime -encrypt -stream` writes the same indefinite-length BER), and read
//! certificates with it as ABM would. Without `openssl` those tests are
//! skipped with a message, except on CI (`CI` set), where they fail.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Whether `openssl` runs here; the caller returns early when not.
pub fn available() -> bool {
    let found = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "openssl is missing: `make unit` installs it (apt package openssl)"
        );
        eprintln!("SKIPPED: the `openssl` command is missing (apt-get install openssl)");
    }
    found
}

/// A directory of its own, removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "ade-openssl-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// Writes `contents` to `name` in the directory and gives its path.
    pub fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path.to_string_lossy().into_owned()
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `openssl ARGS...`'s standard output; panics with its standard error when it fails.
pub fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The plaintext ABM encrypts: MIME headers (CRLF), a blank line, the JSON between markers (LF).
pub fn message(json: &str) -> String {
    format!(
        "Content-Type: text/plain;charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n\
         -----BEGIN MESSAGE-----\n{json}\n-----END MESSAGE-----\n"
    )
}

/// A token's JSON with these credentials and expiry.
pub fn token_json(expiry: &str) -> String {
    format!(
        r#"{{"consumer_key":"CK_3a8f0e1b","consumer_secret":"CS_9c2d41e7","access_token":"AT_O5b6c7d8","access_secret":"AS_1f2e3d4c","access_token_expiry":"{expiry}"}}"#
    )
}

/// `openssl <command> -encrypt <extra...> -in msg.txt <certificates...>`: a
/// token file for `json`, encrypted to each certificate.
pub fn encrypt(command: &str, extra: &[&str], json: &str, certificates: &[&str]) -> Vec<u8> {
    let dir = Scratch::new();
    let msg = dir.file("msg.txt", message(json));
    let mut args = vec![command, "-encrypt"];
    args.extend_from_slice(extra);
    args.extend(["-in", &msg]);
    let certs: Vec<String> = certificates
        .iter()
        .enumerate()
        .map(|(i, pem)| dir.file(&format!("cert{i}.pem"), pem))
        .collect();
    args.extend(certs.iter().map(String::as_str));
    openssl(&args)
}
