//! The ADE simulator (`infra/ade_simulator`) as tests drive it: its control
//! routes play Apple Business Manager (make an MDM server from a certificate
//! and get its server token, assign devices, script failures, move the clock).
//!
//! Tokens are real: a fresh key pair per server (`shared::ade::keypair`), and
//! the simulator's `.p7m` read with its key (`shared::ade::token`), as the
//! product reads the tokens admins upload.

use serde_json::{json, Value};
use shared::ade::keypair;
use shared::ade::token::ServerToken;
use shared::clock::epoch_now;

pub struct Simulator {
    pub url: String,
    http: reqwest::Client,
}

/// An MDM server in the simulator, with the credentials of its token.
pub struct MdmServer {
    pub consumer_key: String,
    pub token: ServerToken,
    /// The certificate's private key (PEM), to decrypt a renewed token.
    key_pem: String,
}

/// The credentials inside a `.p7m`, decrypted with the server's key.
fn read_token(p7m: &[u8], key_pem: &str) -> ServerToken {
    shared::ade::token::read(p7m, key_pem, epoch_now()).expect("the simulator's token")
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
        let pair = keypair::generate("preapprove-test", epoch_now()).expect("a key pair");
        let r = self
            .http
            .post(format!("{}/control/servers", self.url))
            .body(pair.certificate_pem.clone())
            .send()
            .await
            .expect("POST /control/servers");
        assert_eq!(r.status().as_u16(), 201, "{:?}", r.text().await);
        let p7m = r.bytes().await.expect("the token file");
        let token = read_token(&p7m, &pair.private_key_pem);
        MdmServer {
            consumer_key: token.consumer_key.clone(),
            token,
            key_pem: pair.private_key_pem.clone(),
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
