//! Apple Business Manager's "Download Token", for tests: a server token
//! file for an MDM server's certificate, made with the system's `openssl`
//! (`smime -encrypt -aes128 -stream`: MIME headers around indefinite-length
//! BER, as ABM writes it).

/// Whether `openssl` runs here; tests that need it say so and stop when not
/// (on CI, `CI` set, its absence fails them).
pub use crate::ade::openssl_cli::available as openssl_available;

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

/// A token file holding `json` (between ABM's message markers), encrypted to
/// `certificate_pem`.
pub fn token_file(certificate_pem: &str, json: &str) -> Vec<u8> {
    crate::ade::openssl_cli::encrypt("smime", &["-aes128", "-stream"], json, &[certificate_pem])
}
