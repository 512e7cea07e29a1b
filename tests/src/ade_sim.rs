//! The ADE simulator (`infra/ade_simulator`) as tests drive it: its control
//! routes play Apple Business Manager (make an MDM server from a certificate
//! and get its server token, assign devices, script failures, move the clock).
//!
//! Tokens are real: a fresh RSA key and self-signed certificate per server,
//! the simulator's `.p7m` decrypted with that key. Until the token module
//! (`shared::ade::token::read`) lands, the openssl CLI decrypts it.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use shared::ade::token::ServerToken;

pub struct Simulator {
    pub url: String,
    http: reqwest::Client,
}

/// An MDM server in the simulator, with the credentials of its token.
pub struct MdmServer {
    pub consumer_key: String,
    pub token: ServerToken,
    /// The certificate's private key (PEM), to decrypt a renewed token.
    key_pem: Vec<u8>,
}

/// A scratch directory, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("ade-sim-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Self(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn openssl(args: &[&str], dir: &Path) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl CLI");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The credentials inside a `.p7m`, decrypted with `key_pem`.
fn read_token(p7m: &[u8], key_pem: &[u8]) -> ServerToken {
    let scratch = Scratch::new();
    std::fs::write(scratch.path("token.p7m"), p7m).unwrap();
    std::fs::write(scratch.path("key.pem"), key_pem).unwrap();
    let message = openssl(
        &["smime", "-decrypt", "-in", "token.p7m", "-inkey", "key.pem"],
        &scratch.0,
    );
    let text = String::from_utf8(message).expect("UTF-8 message");
    let json = text
        .split("-----BEGIN MESSAGE-----")
        .nth(1)
        .and_then(|rest| rest.split("-----END MESSAGE-----").next())
        .expect("the token's message markers");
    let v: Value = serde_json::from_str(json.trim()).expect("the token's JSON");
    let field = |name: &str| v[name].as_str().expect(name).to_owned();
    ServerToken {
        consumer_key: field("consumer_key"),
        consumer_secret: field("consumer_secret"),
        access_token: field("access_token"),
        access_secret: field("access_secret"),
        access_token_expiry: field("access_token_expiry"),
        expiry_epoch: 0,
    }
}

impl Simulator {
    /// The simulator `infra/stack.py` started (`ADE_SIMULATOR_URL`).
    pub fn from_env() -> Self {
        let url = std::env::var("ADE_SIMULATOR_URL").unwrap_or_else(|_| {
            panic!(
                "ADE_SIMULATOR_URL is not set: run with `make integration`, or start \
                 `python -m ade_simulator --port N` in infra/ and set it to http://127.0.0.1:N"
            )
        });
        Self {
            url: url.trim_end_matches('/').to_owned(),
            http: reqwest::Client::new(),
        }
    }

    async fn control(&self, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.url);
        let request = match body {
            Some(body) => self.http.post(url).json(&body),
            None => self.http.get(url),
        };
        let r = request.send().await.expect("the simulator's control route");
        let status = r.status();
        let text = r.text().await.expect("control answer");
        assert!(status.is_success(), "{path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: not JSON: {text}"))
    }

    /// A new MDM server for a fresh certificate: ABM's "Download Token".
    pub async fn new_server(&self) -> MdmServer {
        let scratch = Scratch::new();
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "key.pem",
                "-out",
                "cert.pem",
                "-days",
                "2",
                "-subj",
                "/CN=preapprove-test",
            ],
            &scratch.0,
        );
        let cert = std::fs::read(scratch.path("cert.pem")).unwrap();
        let key_pem = std::fs::read(scratch.path("key.pem")).unwrap();
        let r = self
            .http
            .post(format!("{}/control/servers", self.url))
            .body(cert)
            .send()
            .await
            .expect("POST /control/servers");
        assert_eq!(r.status().as_u16(), 201, "{:?}", r.text().await);
        let p7m = r.bytes().await.expect("the token file");
        let token = read_token(&p7m, &key_pem);
        MdmServer {
            consumer_key: token.consumer_key.clone(),
            token,
            key_pem,
        }
    }

    /// ABM's "Download Token" again: new secrets; the old token stops working.
    pub async fn renew_token(&self, server: &MdmServer) -> ServerToken {
        let r = self
            .http
            .post(format!(
                "{}/control/servers/{}/token",
                self.url, server.consumer_key
            ))
            .send()
            .await
            .expect("renew the token");
        assert!(r.status().is_success(), "{:?}", r.text().await);
        read_token(&r.bytes().await.unwrap(), &server.key_pem)
    }

    /// Assigns, modifies or releases devices: `[{"serial_number", "device_family", "op"}]`.
    pub async fn devices(&self, server: &MdmServer, entries: Value) -> Value {
        let path = format!("/control/servers/{}/devices", server.consumer_key);
        self.control(&path, Some(entries)).await
    }

    /// Scripts failures: a rule `{"path", "status", "body"?, "retry_after"?, "delay_seconds"?,
    /// "times"?}`, a list of them, or `{"terms": false}`.
    pub async fn failures(&self, server: &MdmServer, rules: Value) {
        let path = format!("/control/servers/{}/failures", server.consumer_key);
        self.control(&path, Some(rules)).await;
    }

    pub async fn options(&self, server: &MdmServer, options: Value) {
        let path = format!("/control/servers/{}/options", server.consumer_key);
        self.control(&path, Some(options)).await;
    }

    /// Ends every session of the server now (as Apple's undocumented session lifetime does).
    pub async fn expire_sessions(&self, server: &MdmServer) {
        let path = format!("/control/servers/{}/sessions/expire", server.consumer_key);
        self.control(&path, Some(json!({}))).await;
    }

    /// The server's state: devices, `requests` per path, `sessions_issued`, ...
    pub async fn describe(&self, server: &MdmServer) -> Value {
        self.control(&format!("/control/servers/{}", server.consumer_key), None)
            .await
    }

    /// Requests the server got on `path` (`/session`, `/account`, ...).
    pub async fn requests(&self, server: &MdmServer, path: &str) -> u64 {
        self.describe(server).await["requests"][path]
            .as_u64()
            .unwrap_or(0)
    }

    /// Moves the simulator's clock (sessions, cursors and tokens age; it never goes back).
    pub async fn advance_clock(&self, seconds: u64) {
        self.control("/control/clock", Some(json!({"advance_seconds": seconds})))
            .await;
    }
}
