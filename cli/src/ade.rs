//! `preapprove ade-token --key KEY.pem TOKEN.p7m`: decrypts an ABM server
//! token offline and prints `{"consumer_key", "access_token_expiry",
//! "expired"}`, never a secret, so an admin can check a token file before
//! uploading it. Exit status: 0 valid, 1 expired, 2 unreadable or for another key.
//!
//! `preapprove ade-keypair --out DIR [--name NAME]`: writes a new MDM server
//! key pair, `DIR/key.pem` and `DIR/cert.pem` (to upload in ABM).

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use shared::ade::{keypair, token};
use shared::clock::epoch_now;

/// The two commands, as the usage lines show them.
pub const COMMANDS: &str = "preapprove ade-token --key KEY.pem TOKEN.p7m\n       \
                            preapprove ade-keypair --out DIR [--name NAME]";

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("{msg}\nusage: {COMMANDS}");
    ExitCode::from(2)
}

pub fn check_token(mut args: impl Iterator<Item = String>) -> ExitCode {
    let (mut key, mut file) = (None, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--key" => key = args.next(),
            s if s.starts_with("--") => return usage_error(&format!("unknown option '{s}'")),
            _ if file.is_none() => file = Some(arg),
            _ => return usage_error("one token file at a time"),
        }
    }
    let (Some(key), Some(file)) = (key, file) else {
        return usage_error("ade-token needs --key KEY.pem and the token file");
    };
    let key_pem = match fs::read_to_string(&key) {
        Ok(k) => k,
        Err(e) => return fail(&key, &e),
    };
    let p7m = match read_capped(&file) {
        Ok(b) => b,
        Err(e) => return fail(&file, &e),
    };
    match token::decrypt(&p7m, &key_pem) {
        Ok(t) => {
            let expired = t.has_expired(epoch_now());
            let out = serde_json::json!({
                "consumer_key": t.consumer_key,
                "access_token_expiry": t.access_token_expiry,
                "expired": expired,
            });
            println!("{out:#}");
            if expired {
                eprintln!(
                    "{file}: {}",
                    token::TokenError::Expired {
                        expiry: t.access_token_expiry
                    }
                );
                return ExitCode::from(1);
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(&file, &e),
    }
}

/// The file, or as much of it as shows it is too large to be a token.
fn read_capped(path: &str) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    fs::File::open(path)?
        .take(token::MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn fail(path: &str, e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("{path}: {e}");
    ExitCode::from(2)
}

pub fn write_keypair(mut args: impl Iterator<Item = String>) -> ExitCode {
    let (mut out, mut name) = (None, "preapprove ADE".to_owned());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => out = args.next(),
            "--name" => match args.next() {
                Some(n) => name = n,
                None => return usage_error("--name needs a value"),
            },
            other => return usage_error(&format!("unknown argument '{other}'")),
        }
    }
    let Some(out) = out else {
        return usage_error("ade-keypair needs --out DIR");
    };
    let dir = Path::new(&out);
    let (key_path, cert_path) = (dir.join("key.pem"), dir.join("cert.pem"));
    // A key in use decrypts that server's every later token: never replace one.
    if key_path.exists() {
        return fail(
            &key_path.to_string_lossy(),
            &"already exists: choose another --out DIR",
        );
    }
    let pair = match keypair::generate(&name, epoch_now()) {
        Ok(p) => p,
        Err(e) => return fail(&out, &e),
    };
    let written = fs::create_dir_all(dir)
        .and_then(|_| write_private(&key_path, &pair.private_key_pem))
        .and_then(|_| fs::write(&cert_path, &pair.certificate_pem));
    if let Err(e) = written {
        return fail(&out, &e);
    }
    println!(
        "{}: the private key (keep it; tokens are decrypted with it)\n{}: the certificate \
         (upload it in ABM: Preferences > Your MDM Servers), valid for two days",
        key_path.display(),
        cert_path.display()
    );
    ExitCode::SUCCESS
}

/// Readable by its owner only, from the moment it exists.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(contents.as_bytes())
}
