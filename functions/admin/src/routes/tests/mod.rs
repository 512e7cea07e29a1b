//! The admin API in process, over the in-memory ports: every route's success,
//! its 4xx answers and the token check. Every answer must match openapi.yaml.
//! One module per use case; the helpers they share are here.

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use lambda_http::http::{self, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use shared::admin::{DenialView, Staging};
use shared::domain::InviteState;
use shared::domain::{InviteChannel, Ownership, Platform};
use shared::fakes::MemoryAdmin;
use shared::import::ports::ImportState;
use shared::import::{Counts, ImportObject, ImportStatus};
use shared::records::{DeviceRecord, DeviceStatus, EnrollmentInfo, UserRecord};

use super::{handle, segments, App};
use crate::auth::Verifier;

mod routing;
mod keys;
mod settings;
mod devices;
mod blocked;
mod imports;
mod uploads;
mod invites;
mod undo;
mod ade;

const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_test";
const CLIENT: &str = "client-1";
const PAGE_ORIGIN: &str = "https://admin.example.com";
const ISSUER_KEY: &[u8] = include_bytes!("../../../tests/fixtures/issuer.pem");
const FORGER_KEY: &[u8] = include_bytes!("../../../tests/fixtures/forger.pem");

fn app() -> App<MemoryAdmin> {
    App {
        ports: MemoryAdmin::default(),
        verifier: Verifier::new(
            include_bytes!("../../../tests/fixtures/jwks.json"),
            ISSUER.into(),
            CLIENT.into(),
        )
        .unwrap(),
        allowed_origins: vec![PAGE_ORIGIN.into()],
    }
}

fn now() -> u64 {
    shared::clock::epoch_now()
}

fn token(key: &[u8], exp: u64) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("test-key".into());
    let claims = json!({"iss": ISSUER, "aud": CLIENT, "token_use": "id", "exp": exp,
                        "sub": "u-1", "cognito:username": "ada"});
    encode(&header, &claims, &EncodingKey::from_rsa_pem(key).unwrap()).unwrap()
}

fn request(method: &str, path: &str, body: Option<&Value>, auth: Option<&str>) -> Request {
    let mut r = http::Request::builder()
        .method(method)
        .uri(format!("https://api.example.com{path}"))
        .header("origin", PAGE_ORIGIN);
    if let Some(a) = auth {
        r = r.header("authorization", a);
    }
    let body = body.map_or(Body::Empty, |b| Body::from(b.to_string()));
    lambda_http::RequestExt::with_query_string_parameters(r.body(body).unwrap(), query(path))
}

/// The query string as API Gateway hands it to the function.
fn query(path: &str) -> std::collections::HashMap<String, String> {
    let q = path.split_once('?').map_or("", |(_, q)| q);
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let v = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
            (k.to_owned(), v.into_owned())
        })
        .collect()
}

/// One request with this authorization; the answer must be documented.
async fn send(
    app: &App<MemoryAdmin>,
    method: &str,
    path: &str,
    body: Option<&Value>,
    auth: Option<&str>,
) -> Response<Body> {
    let response = handle(app, request(method, path, body, auth)).await;
    let bytes: &[u8] = response.body();
    openapi_check::assert_documented(method, path, response.status().as_u16(), bytes);
    response
}

/// A signed-in call: status and JSON body.
async fn call(
    app: &App<MemoryAdmin>,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let auth = format!("Bearer {}", token(ISSUER_KEY, now() + 600));
    let r = send(app, method, path, body.as_ref(), Some(&auth)).await;
    let status = r.status();
    let bytes: &[u8] = r.body();
    let v = serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into()));
    (status, v)
}

async fn get(app: &App<MemoryAdmin>, path: &str) -> Value {
    let (status, v) = call(app, "GET", path, None).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {v}");
    v
}

fn error_of(v: &Value) -> (&str, Option<&str>) {
    (v["error"].as_str().unwrap_or_default(), v["field"].as_str())
}

fn device(serial: &str, status: DeviceStatus, platform: Platform, owner: &str) -> DeviceRecord {
    DeviceRecord {
        serial: serial.into(),
        status,
        platform,
        ownership: Some(Ownership::Corporate),
        email: owner.into(),
        device_name: None,
        groups: vec!["Sales".into()],
        password_hash: Some("v1$00".into()),
        import_id: "imp-1".into(),
        domain: None,
        updated_at: "2026-11-01T00:00:00Z".into(),
        enrollment: (status == DeviceStatus::Enrolled).then(|| EnrollmentInfo {
            enrolled_at: "2026-11-02T00:00:00Z".into(),
            method: Some("ade".into()),
            os_version: None,
            pre_approved: true,
        }),
        checks: Default::default(),
        invite: None,
        expires: None,
        ade: None,
    }
}

fn user(email: &str, name: &str) -> UserRecord {
    UserRecord {
        email: email.to_lowercase(),
        address: email.into(),
        name: name.into(),
        sam_account_name: None,
        mobile: Some("+14155550123".into()),
        domain: Some("corp".into()),
        import_id: "imp-1".into(),
        updated_at: "2026-11-01T00:00:00Z".into(),
    }
}

fn add_device(app: &App<MemoryAdmin>, d: DeviceRecord) {
    app.ports
        .devices
        .lock()
        .unwrap()
        .insert(d.serial.clone(), d);
}

fn denial(id: &str, serial: &str, platform: &str, at: &str) -> DenialView {
    DenialView {
        id: id.into(),
        serial_number: serial.into(),
        platform: platform.into(),
        enrollment_method: Some("ade".into()),
        os_version: None,
        reason: "not_pre_approved".into(),
        endpoint: "admission".into(),
        at: at.into(),
        first_at: Some(at.into()),
        attempts: 3,
        source_ip: Some("203.0.113.9".into()),
        grouped: false,
        serials: 1,
        sample: Vec::new(),
        returned: Vec::new(),
        expires_at: 1_900_000_000,
        approved_by: None,
        approved_at: None,
    }
}

fn import(id: &str, key: &str, status: ImportStatus, created_at: &str) -> ImportState {
    ImportState {
        import_id: id.into(),
        bucket: "memory-bucket".into(),
        key: key.into(),
        version: Some("v1".into()),
        status,
        options: shared::domain::ImportOptions {
            invite: InviteChannel::Sms,
            ..Default::default()
        },
        counts: Counts {
            rows: 10,
            valid_rows: 8,
            devices_written: 4,
            invites_queued: 4,
            ..Counts::default()
        },
        rows_done: 5,
        rows_validated: 10,
        skipped: vec![],
        skipped_total: 0,
        created_at: created_at.into(),
    }
}

/// Approves denial `id` for the test user, sending the invite by `invite`.
async fn approve(app: &App<MemoryAdmin>, id: &str, invite: &str) -> (StatusCode, Value) {
    let path = format!("/v1/admission-denials/{id}/approve");
    call(app, "POST", &path, Some(approval(invite))).await
}

fn approval(invite: &str) -> Value {
    json!({"name": " Zoe Q ", "email": "Zoe@Example.com", "ownership": "personal", "groups": "Sales;Field",
           "mobile": "+14155550123", "invite": invite})
}
