//! The admin API in process, over the in-memory ports: every route's success,
//! its 4xx answers and the token check. Every answer must match openapi.yaml.

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

const ISSUER: &str = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_test";
const CLIENT: &str = "client-1";
const PAGE_ORIGIN: &str = "https://admin.example.com";
const ISSUER_KEY: &[u8] = include_bytes!("../../tests/fixtures/issuer.pem");
const FORGER_KEY: &[u8] = include_bytes!("../../tests/fixtures/forger.pem");

/// Every route of the table, as openapi.yaml must document it.
const ROUTES: [(&str, &str); 17] = [
    ("GET", "/v1/settings"),
    ("PUT", "/v1/settings"),
    ("GET", "/v1/settings/history"),
    ("GET", "/v1/devices"),
    ("GET", "/v1/devices/S1"),
    ("DELETE", "/v1/devices/S1"),
    ("POST", "/v1/devices/S1/reset"),
    ("POST", "/v1/devices/S1/unlock"),
    ("GET", "/v1/overview"),
    ("GET", "/v1/admission-denials"),
    ("POST", "/v1/admission-denials/d1/approve"),
    ("GET", "/v1/imports"),
    ("POST", "/v1/imports"),
    ("POST", "/v1/imports/preview"),
    ("GET", "/v1/imports/i1"),
    ("POST", "/v1/uploads"),
    ("GET", "/v1/sample.csv"),
];

fn app() -> App<MemoryAdmin> {
    App {
        ports: MemoryAdmin::default(),
        verifier: Verifier::new(
            include_bytes!("../../tests/fixtures/jwks.json"),
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
        failures: Vec::new(),
        invite: None,
        expires: None,
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
        expires_at: 1_900_000_000,
        approved_by: None,
        approved_at: None,
    }
}

#[tokio::test]
async fn every_route_needs_a_valid_token() {
    let app = app();
    let expired = format!("Bearer {}", token(ISSUER_KEY, now() - 3600));
    let forged = format!("Bearer {}", token(FORGER_KEY, now() + 600));
    for (method, path) in ROUTES {
        for auth in [
            None,
            Some("Bearer garbage"),
            Some(forged.as_str()),
            Some(expired.as_str()),
        ] {
            let r = send(&app, method, path, Some(&json!({})), auth).await;
            assert_eq!(
                r.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {path} with {auth:?}"
            );
            assert_eq!(r.headers()["www-authenticate"], "Bearer");
        }
    }
    // The preflight needs no token; CORS answers only the page's origin.
    let r = handle(&app, request("OPTIONS", "/v1/settings", None, None)).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(r.headers()["access-control-allow-origin"], PAGE_ORIGIN);
    let mut other = request("OPTIONS", "/v1/settings", None, None);
    other
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    let r = handle(&app, other).await;
    assert!(r.headers().get("access-control-allow-origin").is_none());
}

#[test]
fn every_route_is_in_the_openapi_file() {
    for (method, path) in ROUTES {
        assert!(
            openapi_check::spec().documents(method, path),
            "{method} {path} is not in openapi.yaml"
        );
    }
}

#[test]
fn path_segments() {
    assert_eq!(
        segments("/v1/devices/AB%2F1%20x").unwrap(),
        ["devices", "AB/1 x"]
    );
    assert_eq!(segments("/prod/v1/settings/").unwrap(), ["settings"]);
    assert!(segments("/v2/settings").is_none());
    assert!(segments("/v1/devices/%FF").is_none());
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let app = app();
    let (status, v) = call(&app, "GET", "/v1/nothing", None).await;
    assert_eq!(
        (status, error_of(&v).0),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let (status, _) = call(&app, "GET", "/v2/settings", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let auth = format!("Bearer {}", token(ISSUER_KEY, now() + 600));
    let r = send(&app, "DELETE", "/v1/settings", None, Some(&auth)).await;
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()["allow"], "GET, PUT");
}

#[tokio::test]
async fn settings_round_trip_with_their_audit_trail() {
    let app = app();
    let v = get(&app, "/v1/settings").await;
    assert_eq!(
        (
            v["pre_approved_only"].as_bool(),
            v["default_invite"].as_str()
        ),
        (Some(false), Some("email"))
    );
    let (status, v) = call(
        &app,
        "PUT",
        "/v1/settings",
        Some(json!({"pre_approved_only": true, "enrollment_url": "https://enroll.example.com/"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["pre_approved_only"], true);
    assert_eq!(
        get(&app, "/v1/settings").await["enrollment_url"],
        "https://enroll.example.com/"
    );
    let h = get(&app, "/v1/settings/history").await;
    assert_eq!(h["items"][0]["by"], "ada");
    assert_eq!(h["items"][0]["changes"].as_array().unwrap().len(), 2);
    // Saving what is already there changes nothing and records nothing.
    call(
        &app,
        "PUT",
        "/v1/settings",
        Some(json!({"pre_approved_only": true})),
    )
    .await;
    assert_eq!(
        get(&app, "/v1/settings/history").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    for (body, field) in [
        (json!({"enrollment_url": "ftp://x"}), Some("enrollment_url")),
        (json!({"invite_sender": "nobody"}), Some("invite_sender")),
        (json!({"pre_approved": true}), None),
        (json!({"default_invite": "Email"}), None),
    ] {
        let (status, v) = call(&app, "PUT", "/v1/settings", Some(body.clone())).await;
        assert_eq!(
            (status, error_of(&v)),
            (StatusCode::BAD_REQUEST, ("invalid_request", field)),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_save_that_keeps_losing_its_race_is_a_conflict() {
    let app = app();
    app.ports
        .lost_saves
        .store(3, std::sync::atomic::Ordering::Relaxed);
    let (status, v) = call(
        &app,
        "PUT",
        "/v1/settings",
        Some(json!({"pre_approved_only": true})),
    )
    .await;
    assert_eq!((status, error_of(&v).0), (StatusCode::CONFLICT, "conflict"));
    app.ports
        .lost_saves
        .store(2, std::sync::atomic::Ordering::Relaxed);
    let (status, _) = call(
        &app,
        "PUT",
        "/v1/settings",
        Some(json!({"pre_approved_only": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "the third attempt wins");
}

#[tokio::test]
async fn a_failing_store_answers_503_without_its_cause() {
    let app = app();
    app.ports
        .fail
        .store(true, std::sync::atomic::Ordering::Relaxed);
    for path in [
        "/v1/settings",
        "/v1/devices",
        "/v1/overview",
        "/v1/imports",
        "/v1/admission-denials",
    ] {
        let (status, v) = call(&app, "GET", path, None).await;
        assert_eq!(
            (status, error_of(&v).0),
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            "{path}"
        );
        assert!(
            !v["message"].as_str().unwrap().contains("purpose"),
            "the cause is logged, not shown"
        );
    }
}

#[tokio::test]
async fn devices_are_listed_by_status_searched_and_paged() {
    let app = app();
    for i in 0..60 {
        add_device(
            &app,
            device(
                &format!("P{i:03}"),
                DeviceStatus::PreApproved,
                Platform::Ios,
                "ann@x.com",
            ),
        );
    }
    for i in 0..5 {
        add_device(
            &app,
            device(
                &format!("E{i}"),
                DeviceStatus::Enrolled,
                Platform::Macos,
                "bob@x.com",
            ),
        );
    }
    let first = get(&app, "/v1/devices").await;
    assert_eq!(first["items"].as_array().unwrap().len(), 50);
    assert_eq!(first["total"], 65, "every status, from the totals");
    assert_eq!(first["items"][0]["serial_number"], "P000");
    assert_eq!(first["items"][0]["pre_approved"], true);
    assert_eq!(first["items"][0]["has_enrollment_password"], true);
    assert!(first["items"][0].get("password_hash").is_none());
    let cursor = first["cursor"].as_str().unwrap();
    assert!(cursor.starts_with("pre_approved."));
    let second = get(&app, &format!("/v1/devices?cursor={cursor}")).await;
    let serials: Vec<&str> = second["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["serial_number"].as_str().unwrap())
        .collect();
    assert_eq!(
        serials.len(),
        15,
        "the last 10 pre-approved, then the 5 enrolled"
    );
    assert_eq!((serials[9], serials[10]), ("P059", "E0"));
    assert_eq!(second["cursor"], Value::Null);
    let enrolled = get(&app, "/v1/devices?status=enrolled").await;
    assert_eq!(enrolled["items"].as_array().unwrap().len(), 5);
    assert_eq!(enrolled["total"], 5);
    assert_eq!(enrolled["items"][0]["enrollment"]["method"], "ade");
    let prefix = get(&app, "/v1/devices?status=pre_approved&q=P05").await;
    assert_eq!(prefix["items"].as_array().unwrap().len(), 10);
    let lower = get(&app, "/v1/devices?status=pre_approved&q=p05").await;
    assert!(
        lower["items"].as_array().unwrap().is_empty(),
        "serials are case-sensitive"
    );
    let by_owner = get(&app, "/v1/devices?q=BOB@X.com").await;
    assert_eq!(
        by_owner["items"].as_array().unwrap().len(),
        5,
        "owners are found case-insensitively"
    );
    assert_eq!(
        by_owner["total"],
        Value::Null,
        "a search is not counted ahead"
    );
    let both = get(&app, "/v1/devices?q=ann@x.com").await;
    assert_eq!(both["items"].as_array().unwrap().len(), 60, "one page");
    assert_eq!(both["cursor"], Value::Null);
    for bad in [
        "/v1/devices?status=gone",
        "/v1/devices?cursor=zz",
        "/v1/devices?status=enrolled&cursor=pre_approved.",
    ] {
        let (status, v) = call(&app, "GET", bad, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(matches!(error_of(&v).1, Some("status" | "cursor")));
    }
}

#[tokio::test]
async fn one_device_shows_its_user_and_the_banner_until_it_enrolls() {
    let app = app();
    add_device(
        &app,
        device(
            "AB/1 x",
            DeviceStatus::PreApproved,
            Platform::Ios,
            "ann@x.com",
        ),
    );
    add_device(
        &app,
        device("E1", DeviceStatus::Enrolled, Platform::Macos, ""),
    );
    app.ports
        .users
        .lock()
        .unwrap()
        .insert("ann@x.com".into(), user("Ann@X.com", "Ann"));
    let v = get(&app, "/v1/devices/AB%2F1%20x").await;
    assert_eq!(v["serial_number"], "AB/1 x");
    assert_eq!(v["banner"], "Pre-approved Device");
    assert!(v["details_note"]
        .as_str()
        .unwrap()
        .contains("only after the device enrolls"));
    assert_eq!(
        (v["user"]["name"].as_str(), v["user"]["email"].as_str()),
        (Some("Ann"), Some("Ann@X.com"))
    );
    let e = get(&app, "/v1/devices/E1").await;
    assert_eq!(
        (
            e["banner"].clone(),
            e["user"].clone(),
            e["pre_approved"].as_bool()
        ),
        (Value::Null, Value::Null, Some(false))
    );
    let (status, v) = call(&app, "GET", "/v1/devices/ab%2F1%20x", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(v["message"].as_str().unwrap().contains("case-sensitive"));
}

#[tokio::test]
async fn the_overview_counts_by_status_and_platform() {
    let app = app();
    add_device(
        &app,
        device("A", DeviceStatus::PreApproved, Platform::Ios, ""),
    );
    add_device(
        &app,
        device("B", DeviceStatus::PreApproved, Platform::Ios, ""),
    );
    add_device(
        &app,
        device("C", DeviceStatus::Enrolled, Platform::Android, ""),
    );
    let v = get(&app, "/v1/overview").await;
    assert_eq!(
        v["counts"],
        json!([{"status": "enrolled", "platform": "android", "count": 1},
               {"status": "pre_approved", "platform": "ios", "count": 2}])
    );
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

#[tokio::test]
async fn a_blocked_attempt_is_listed_and_approved_once() {
    let app = app();
    app.ports.denials.lock().unwrap().extend([
        denial("d1", "C02ABC", "macos", "2026-11-20T10:00:00Z"),
        denial("d2", "OTHER", "ios", "2026-11-21T10:00:00Z"),
    ]);
    let list = get(&app, "/v1/admission-denials").await;
    assert_eq!(list["items"][0]["id"], "d2", "newest first");
    let (status, v) = approve(&app, "d1", "email").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        v,
        json!({"serial_number": "C02ABC", "status": "pre_approved", "invite": "email", "invite_state": "queued"})
    );
    // The sender function delivers what the approval queued.
    app.ports.deliver_invites().await;
    let device = app.ports.devices.lock().unwrap()["C02ABC"].clone();
    assert_eq!(
        (device.status, device.platform, device.email.as_str()),
        (
            DeviceStatus::PreApproved,
            Platform::Macos,
            "zoe@example.com"
        )
    );
    assert_eq!(
        (device.import_id.as_str(), device.groups.len()),
        ("approval:d1", 2)
    );
    assert_eq!(
        app.ports.users.lock().unwrap()["zoe@example.com"].name,
        "Zoe Q"
    );
    {
        let sent = app.ports.sender.sent.lock().unwrap();
        assert_eq!(
            (sent.len(), sent[0].to.as_str(), sent[0].serial.as_str()),
            (1, "Zoe@Example.com", "C02ABC")
        );
        assert_eq!(
            app.ports.sender.origins.lock().unwrap()[0].sender,
            "noreply@deploy.example"
        );
    }
    let after = get(&app, "/v1/admission-denials").await;
    assert_eq!(after["items"][1]["approved_by"], "ada");
    // A second click: conflict, and still one invite.
    let (status, v) = approve(&app, "d1", "email").await;
    assert_eq!((status, error_of(&v).0), (StatusCode::CONFLICT, "conflict"));
    app.ports.deliver_invites().await;
    assert_eq!(app.ports.sender.sent.lock().unwrap().len(), 1);
    let device = get(&app, "/v1/devices/C02ABC").await;
    assert_eq!(device["invite"]["state"], "sent");
}

#[tokio::test]
async fn approvals_say_what_is_wrong() {
    let app = app();
    app.ports.denials.lock().unwrap().extend([
        denial("d1", "S1", "ios", "2026-11-20T10:00:00Z"),
        denial("win", "W1", "windows", "2026-11-20T10:00:00Z"),
        denial("enrolled", "E1", "ios", "2026-11-20T10:00:00Z"),
    ]);
    add_device(
        &app,
        device("E1", DeviceStatus::Enrolled, Platform::Ios, ""),
    );
    let path = "/v1/admission-denials/d1/approve";
    for (body, field) in [
        (json!({"name": " ", "email": "a@x.com"}), Some("name")),
        (
            json!({"name": "A", "email": "not-an-address"}),
            Some("email"),
        ),
        (
            json!({"name": "A", "email": "a@x.com", "ownership": "Corporate"}),
            Some("ownership"),
        ),
        (
            json!({"name": "A", "email": "a@x.com", "invite": "sms"}),
            Some("mobile"),
        ),
        (
            json!({"name": "A", "email": "a@x.com", "mobile": "0415 555"}),
            Some("mobile"),
        ),
        (
            json!({"name": "A", "email": "a@x.com", "surname": "B"}),
            None,
        ),
        (json!("not an object"), None),
    ] {
        let (status, v) = call(&app, "POST", path, Some(body.clone())).await;
        assert_eq!(
            (status, error_of(&v)),
            (StatusCode::BAD_REQUEST, ("invalid_request", field)),
            "{body}"
        );
    }
    let (status, _) = call(
        &app,
        "POST",
        "/v1/admission-denials/none/approve",
        Some(approval("email")),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, v) = call(
        &app,
        "POST",
        "/v1/admission-denials/win/approve",
        Some(approval("none")),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    let (status, v) = call(
        &app,
        "POST",
        "/v1/admission-denials/enrolled/approve",
        Some(approval("none")),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "an enrolled device is never pre-approved again: {v}"
    );
    assert_eq!(
        app.ports.devices.lock().unwrap()["E1"].status,
        DeviceStatus::Enrolled
    );
    // Nor is a pre-approved one replaced: its password and user stay.
    app.ports
        .denials
        .lock()
        .unwrap()
        .push(denial("pre", "P1", "ios", "2026-11-20T10:00:00Z"));
    add_device(
        &app,
        device(
            "P1",
            DeviceStatus::PreApproved,
            Platform::Ios,
            "owner@x.com",
        ),
    );
    let (status, v) = call(
        &app,
        "POST",
        "/v1/admission-denials/pre/approve",
        Some(approval("none")),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    let kept = app.ports.devices.lock().unwrap()["P1"].clone();
    assert_eq!(
        (kept.email.as_str(), kept.password_hash.as_deref()),
        ("owner@x.com", Some("v1$00"))
    );
    assert!(app.ports.sender.sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn an_approval_without_or_with_a_refused_invite_still_stands() {
    let mut app = app();
    app.ports.sender.refuse = vec!["+14155550123".into()];
    app.ports.denials.lock().unwrap().extend([
        denial("d1", "S1", "ios", "2026-11-20T10:00:00Z"),
        denial("d2", "S2", "android", "2026-11-20T10:00:00Z"),
    ]);
    let (status, v) = approve(&app, "d1", "none").await;
    assert_eq!(
        (status, v["invite_state"].clone()),
        (StatusCode::OK, Value::Null)
    );
    let (status, v) = approve(&app, "d2", "sms").await;
    assert_eq!(
        (status, v["invite_state"].as_str()),
        (StatusCode::OK, Some("queued"))
    );
    app.ports.deliver_invites().await;
    assert_eq!(app.ports.devices.lock().unwrap().len(), 2);
    let refused = get(&app, "/v1/devices/S2").await;
    assert_eq!(
        (
            refused["invite"]["state"].as_str(),
            refused["invite"]["channel"].as_str()
        ),
        (Some("failed"), Some("sms"))
    );
    // The admin's sender address, once set, is the one invites come from.
    app.ports.sender.refuse.clear();
    app.ports
        .denials
        .lock()
        .unwrap()
        .push(denial("d3", "S3", "ios", "2026-11-20T10:00:00Z"));
    call(
        &app,
        "PUT",
        "/v1/settings",
        Some(json!({"invite_sender": "it@corp.example"})),
    )
    .await;
    approve(&app, "d3", "email").await;
    app.ports.deliver_invites().await;
    let origins = app.ports.sender.origins.lock().unwrap();
    assert_eq!(origins.last().unwrap().sender, "it@corp.example");
    assert_eq!(
        origins.last().unwrap().enrollment_url,
        "https://deploy.example/enroll"
    );
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

#[tokio::test]
async fn imports_show_history_progress_errors_and_report_links() {
    let app = app();
    {
        let mut imports = app.ports.imports.lock().unwrap();
        for i in 0..30 {
            imports.push(import(
                &format!("i{i:02}"),
                &format!("imports/f{i:02}.csv"),
                ImportStatus::Completed,
                &format!("2026-11-01T00:00:{i:02}Z"),
            ));
        }
        imports.push(import(
            "w",
            "imports/q3/devices.csv",
            ImportStatus::Writing,
            "2026-11-02T00:00:00Z",
        ));
    }
    app.ports.objects.lock().unwrap().insert(
        "reports/q3/devices.csv/w.json".into(),
        serde_json::to_vec(&json!({"errors": [{"row": 4, "column": "Platform", "value": "Windows", "message": "not supported"}], "warnings": []})).unwrap(),
    );
    app.ports
        .objects
        .lock()
        .unwrap()
        .insert("reports/q3/devices.csv/w.errors.csv".into(), b"x".to_vec());
    app.ports.outbox.counters.lock().unwrap().extend([
        (("w".to_owned(), InviteState::Sent), 2),
        (("w".to_owned(), InviteState::Bounced), 1),
    ]);
    let page = get(&app, "/v1/imports").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 25);
    let w = &page["items"][0];
    assert_eq!(
        (w["import_id"].as_str(), w["file"].as_str()),
        (Some("w"), Some("devices.csv"))
    );
    assert_eq!(
        w["progress"]["fraction"], 0.75,
        "half for validating, half of the rest written"
    );
    assert_eq!(w["options"]["invite"], "sms");
    let rest = get(
        &app,
        &format!("/v1/imports?cursor={}", page["cursor"].as_str().unwrap()),
    )
    .await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 6);
    let one = get(&app, "/v1/imports/w").await;
    assert_eq!(one["errors"][0]["column"], "Platform");
    assert_eq!(
        one["invites"],
        json!({"queued": 1, "sent": 2, "delivered": 0, "bounced": 1, "complained": 0, "failed": 0, "unconfirmed": 0})
    );
    assert!(one["report_url"]
        .as_str()
        .unwrap()
        .contains("reports/q3/devices.csv/w.json"));
    assert!(one["errors_csv_url"]
        .as_str()
        .unwrap()
        .contains("errors.csv"));
    let done = get(&app, "/v1/imports/i00").await;
    assert_eq!(
        (done["report_url"].clone(), done["errors"].clone()),
        (Value::Null, json!([]))
    );
    assert_eq!(done["progress"]["fraction"], 1.0);
    let (status, _) = call(&app, "GET", "/v1/imports/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, v) = call(&app, "GET", "/v1/imports?cursor=zz", None).await;
    assert_eq!(
        (status, error_of(&v).1),
        (StatusCode::BAD_REQUEST, Some("cursor"))
    );
}

#[tokio::test]
async fn uploads_are_staged_and_the_sample_is_a_valid_file() {
    let app = app();
    let (status, v) = call(&app, "POST", "/v1/uploads", None).await;
    assert_eq!(status, StatusCode::CREATED);
    let key = v["key"].as_str().unwrap();
    assert!(
        key.starts_with("staging/") && key.ends_with(".csv"),
        "{key}"
    );
    assert_eq!(
        (v["method"].as_str(), v["headers"]["content-type"].as_str()),
        (Some("PUT"), Some("text/csv"))
    );
    assert!(v["url"].as_str().unwrap().contains(key));
    let auth = format!("Bearer {}", token(ISSUER_KEY, now() + 600));
    let r = send(&app, "GET", "/v1/sample.csv", None, Some(&auth)).await;
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let body: &[u8] = r.body();
    assert!(body.starts_with(b"Name,Email,Ownership,Serial Number,Platform"));
}

const STAGED: &str = "Display Name;E-mail;Ownership;Serial Number;Platform;Password\r\n\
    Ann;ann@example.com;corporate;S1;ios;pw1\r\n\
    Bob;bob@example.com;Corporate;S2;android;\r\n\
    Ann Again;ANN@example.com;personal;S3;macos;\r\n";

#[tokio::test]
async fn the_guided_upload_previews_then_publishes_the_kept_rows() {
    let app = app();
    app.ports
        .objects
        .lock()
        .unwrap()
        .insert("staging/abc.csv".into(), STAGED.as_bytes().to_vec());
    add_device(
        &app,
        device("S3", DeviceStatus::Enrolled, Platform::Macos, ""),
    );
    app.ports
        .users
        .lock()
        .unwrap()
        .insert("ann@example.com".into(), user("ann@example.com", "Ann"));
    let (status, p) = call(
        &app,
        "POST",
        "/v1/imports/preview",
        Some(json!({"key": "staging/abc.csv", "page_size": 2})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(
        (
            p["rows_total"].as_u64(),
            p["valid_rows"].as_u64(),
            p["pages"].as_u64()
        ),
        (Some(3), Some(2), Some(2))
    );
    assert_eq!(p["dialect"]["delimiter"], ";");
    assert_eq!(p["rows"][0]["existing_user"], true);
    assert_eq!(p["rows"][0]["has_password"], true);
    assert!(
        p["rows"][0]["cells"].get("password").is_none(),
        "passwords never leave the file"
    );
    assert_eq!(p["rows"][1]["errors"][0]["column"], "Ownership");
    assert_eq!(p["duplicate_emails"][0]["rows"], json!([2, 4]));
    let page2 = call(
        &app,
        "POST",
        "/v1/imports/preview",
        Some(json!({"key": "staging/abc.csv", "page": 2, "page_size": 2})),
    )
    .await
    .1;
    assert_eq!(page2["rows"][0]["existing_device"], "enrolled");

    let (status, c) = call(&app, "POST", "/v1/imports", Some(json!({"key": "staging/abc.csv", "exclude_rows": [3, 3],
        "existing_users": "replace", "domain": " corp.example ", "file_name": "C:\\\\q3 list.csv"}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{c}");
    assert_eq!(c["rows"], 2);
    let key = c["key"].as_str().unwrap();
    assert_eq!(
        key, "imports/guided/abc/q3-list.csv",
        "named for the staged upload"
    );
    let published = String::from_utf8(app.ports.objects.lock().unwrap()[key].clone()).unwrap();
    assert_eq!(published, "Name,Email,Ownership,Serial Number,Platform,Password\r\n\
        Ann,ann@example.com,corporate,S1,ios,pw1\r\nAnn Again,ANN@example.com,personal,S3,macos,\r\n");
    let meta = app.ports.metadata.lock().unwrap()[key].clone();
    for pair in [
        ("invite", "email"),
        ("existing-users", "replace"),
        ("on-error", "reject-file"),
        ("domain", "corp.example"),
        ("submitted-by", "ada"),
    ] {
        assert!(
            meta.contains(&(pair.0.to_owned(), pair.1.to_owned())),
            "{pair:?} in {meta:?}"
        );
    }
    assert!(
        !app.ports
            .objects
            .lock()
            .unwrap()
            .contains_key("staging/abc.csv"),
        "the staged copy is removed"
    );
    // The id the S3 event's import will have.
    let etag = format!("\"{}\"", hex::encode(&published.as_bytes()[..8]));
    let expected = ImportObject::new(
        app.ports.bucket(),
        key,
        &shared::files::ObjectVersion::new(None, Some(etag)),
    )
    .import_id();
    assert_eq!(c["import_id"], expected);

    // Adversary 2: "Send" again (a retry after a timeout, a double click): the
    // same import and one object, whether the staged copy is still there or not.
    let objects_before = app.ports.objects.lock().unwrap().len();
    for _ in 0..2 {
        let (status, again) = call(
            &app,
            "POST",
            "/v1/imports",
            Some(json!({"key": "staging/abc.csv",
            "file_name": "other name.csv"})),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{again}");
        assert_eq!(
            (&again["import_id"], &again["key"], &again["rows"]),
            (&c["import_id"], &c["key"], &c["rows"])
        );
    }
    assert_eq!(
        app.ports.objects.lock().unwrap().len(),
        objects_before,
        "nothing published twice"
    );
}

#[tokio::test]
async fn the_guided_upload_says_what_is_wrong() {
    let app = app();
    app.ports
        .objects
        .lock()
        .unwrap()
        .insert("staging/one.csv".into(), STAGED.as_bytes().to_vec());
    app.ports
        .objects
        .lock()
        .unwrap()
        .insert("staging/cols.csv".into(), b"Who,Where\r\nA,B\r\n".to_vec());
    for (path, body, status, field) in [
        (
            "/v1/imports/preview",
            json!({"key": "imports/x.csv"}),
            StatusCode::BAD_REQUEST,
            Some("key"),
        ),
        (
            "/v1/imports/preview",
            json!({"key": "staging/gone.csv"}),
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            "/v1/imports/preview",
            json!({"key": "staging/one.csv", "pages": 2}),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "/v1/imports",
            json!({"key": "staging/gone.csv"}),
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            "/v1/imports",
            json!({"key": "staging/one.csv", "exclude_rows": [2, 3, 4]}),
            StatusCode::BAD_REQUEST,
            Some("exclude_rows"),
        ),
        (
            "/v1/imports",
            json!({"key": "staging/one.csv", "invite": "pigeon"}),
            StatusCode::BAD_REQUEST,
            None,
        ),
    ] {
        let (s, v) = call(&app, "POST", path, Some(body.clone())).await;
        assert_eq!((s, error_of(&v).1), (status, field), "{path} {body}: {v}");
    }
    let (status, v) = call(
        &app,
        "POST",
        "/v1/imports/preview",
        Some(json!({"key": "staging/cols.csv"})),
    )
    .await;
    assert_eq!(
        (status, error_of(&v).0),
        (StatusCode::UNPROCESSABLE_ENTITY, "unreadable_file")
    );
    assert_eq!(
        v["headers"],
        json!(["Who", "Where"]),
        "the file's columns, to map by hand"
    );
    let (status, v) = call(
        &app,
        "POST",
        "/v1/imports/preview",
        Some(json!({"key": "staging/cols.csv", "mapping": {"Who": "name"}})),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "still missing email and more: {v}"
    );
    assert!(
        app.ports.metadata.lock().unwrap().is_empty(),
        "nothing was published"
    );
}

#[tokio::test]
async fn an_administrator_removes_resets_and_unlocks_devices_with_an_audit_trail() {
    let app = app();
    let mut locked = device("L1", DeviceStatus::PreApproved, Platform::Ios, "");
    locked.failures = vec![now(); 5];
    add_device(&app, locked);
    add_device(
        &app,
        device("E1", DeviceStatus::Enrolled, Platform::Macos, ""),
    );
    add_device(
        &app,
        device("P1", DeviceStatus::PreApproved, Platform::Ios, ""),
    );
    let v = get(&app, "/v1/devices/L1").await;
    assert_eq!(v["failed_attempts"], 5);
    assert!(v["locked_until"].as_str().is_some(), "{v}");
    let (status, v) = call(&app, "POST", "/v1/devices/L1/unlock", None).await;
    assert_eq!(
        (status, v["action"].as_str()),
        (StatusCode::OK, Some("unlock"))
    );
    let v = get(&app, "/v1/devices/L1").await;
    assert_eq!(
        (v["failed_attempts"].as_u64(), v["locked_until"].clone()),
        (Some(0), Value::Null)
    );
    assert_eq!(
        (
            v["audit"][0]["action"].as_str(),
            v["audit"][0]["by"].as_str()
        ),
        (Some("unlock"), Some("ada"))
    );

    let (status, v) = call(&app, "POST", "/v1/devices/E1/reset", None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let v = get(&app, "/v1/devices/E1").await;
    assert_eq!(
        (v["status"].as_str(), v["banner"].as_str()),
        (Some("pre_approved"), Some("Pre-approved Device"))
    );
    assert_eq!(v["enrollment"], Value::Null);
    let (status, _) = call(&app, "POST", "/v1/devices/E1/reset", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "nothing to reset any more");

    add_device(
        &app,
        device("E2", DeviceStatus::Enrolled, Platform::Macos, ""),
    );
    let (status, v) = call(&app, "DELETE", "/v1/devices/E2", None).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "an enrolled device is reset, not removed: {v}"
    );
    let (status, v) = call(&app, "DELETE", "/v1/devices/P1", None).await;
    assert_eq!(
        (status, v["action"].as_str()),
        (StatusCode::OK, Some("remove"))
    );
    let (status, _) = call(&app, "GET", "/v1/devices/P1", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for (method, path) in [
        ("DELETE", "/v1/devices/P1"),
        ("POST", "/v1/devices/NONE/unlock"),
        ("POST", "/v1/devices/NONE/reset"),
    ] {
        let (status, _) = call(&app, method, path, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}");
    }
    let audit = app.ports.device_audit.lock().unwrap();
    assert_eq!(audit["P1"][0].action, shared::admin::DeviceAction::Remove);
    assert!(
        !audit.contains_key("E2"),
        "a refused action leaves no entry"
    );
}

#[tokio::test]
async fn an_expired_device_is_listed_as_such_and_renewed_from_its_page() {
    use shared::domain::Expiry;
    let app = app();
    let mut lapsed = device("X1", DeviceStatus::PreApproved, Platform::Ios, "");
    lapsed.expires = Some(Expiry::from_epoch(now() - 60));
    add_device(&app, lapsed);
    add_device(&app, device("M1", DeviceStatus::Expired, Platform::Ios, ""));
    add_device(
        &app,
        device("E1", DeviceStatus::Enrolled, Platform::Ios, ""),
    );
    // Lapsed but not yet swept: shown as it is, with no banner and no invite to resend.
    let v = get(&app, "/v1/devices/X1").await;
    assert_eq!(
        (v["status"].as_str(), v["pre_approved"].as_bool()),
        (Some("expired"), Some(false))
    );
    assert_eq!(v["banner"], Value::Null);
    let (status, v) = call(&app, "POST", "/v1/devices/X1/invite", None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("renew it first"),
        "{v}"
    );

    let (status, v) = call(
        &app,
        "POST",
        "/v1/devices/X1/renew",
        Some(json!({"expires": "2099-12-31"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["expires_at"], "2100-01-01T00:00:00Z");
    let v = get(&app, "/v1/devices/X1").await;
    assert_eq!(
        (v["status"].as_str(), v["expires_at"].as_str()),
        (Some("pre_approved"), Some("2100-01-01T00:00:00Z"))
    );
    assert_eq!(
        (
            v["audit"][0]["action"].as_str(),
            v["audit"][0]["expires"].as_str()
        ),
        (Some("renew"), Some("2100-01-01T00:00:00Z"))
    );

    // No body: the settings' default, here none, so it no longer expires.
    let (status, v) = call(&app, "POST", "/v1/devices/M1/renew", None).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(v.get("expires_at").is_none(), "{v}");
    let (status, _) = call(
        &app,
        "PUT",
        "/v1/settings",
        Some(json!({"default_expiry_days": 30})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, v) = call(&app, "POST", "/v1/devices/M1/renew", Some(json!({}))).await;
    let until = v["expires_at"].as_str().unwrap().to_owned();
    let in_30_days = shared::clock::rfc3339(now() + 30 * 86_400);
    assert_eq!(until[..13], in_30_days[..13], "{v}");
    let (_, v) = call(
        &app,
        "POST",
        "/v1/devices/M1/renew",
        Some(json!({"expires": null})),
    )
    .await;
    assert!(
        v.get("expires_at").is_none(),
        "null: never, whatever the default: {v}"
    );

    for (body, field) in [
        (json!({"expires": "31/12/2099"}), "expires"),
        (json!({"expires": "2001-01-01"}), "expires"),
        (json!({"expires_in_days": 0}), "expires_in_days"),
        (json!({"expires": null, "expires_in_days": 3}), "expires"),
    ] {
        let (status, v) = call(&app, "POST", "/v1/devices/M1/renew", Some(body.clone())).await;
        assert_eq!(
            (status, error_of(&v).1),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{body}: {v}"
        );
    }
    let (status, v) = call(&app, "POST", "/v1/devices/E1/renew", None).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "enrolled devices do not expire: {v}"
    );
    let (status, _) = call(&app, "POST", "/v1/devices/NONE/renew", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn blocked_attempts_show_their_counter_and_source() {
    let app = app();
    app.ports
        .denials
        .lock()
        .unwrap()
        .push(denial("d1", "S1", "ios", "2026-11-20T10:00:00Z"));
    let v = get(&app, "/v1/admission-denials").await;
    assert_eq!(
        (
            v["items"][0]["attempts"].as_u64(),
            v["items"][0]["source_ip"].as_str()
        ),
        (Some(3), Some("203.0.113.9"))
    );
}

/// Adversary 3 at the console: a file with every cell at its longest and wrong
/// on every row, and an import with full lists. Preview and import detail both
/// stay under 1 MB (Lambda answers at most 6 MB; the page must stay quick).
#[tokio::test]
async fn preview_and_import_detail_stay_under_a_megabyte_for_the_worst_file() {
    let long = |c: &str, n: usize| c.repeat(n);
    let header = "Name,Email,Ownership,Serial Number,Platform,Mobile,Password,Device Group,Device Name,SAMAccountName\n";
    let body: String = (0..3000)
        .map(|i| {
            format!(
                "{},{}{}@example.com,{},{},{}{i},{},{},{},{},{}\n",
                long("n", 900),
                long("e", 200),
                i / 2,
                long("o", 900),
                long("s", 900),
                long("p", 900),
                long("9", 900),
                long("w", 900),
                long("g;", 3000),
                long("d", 900),
                long("a", 900)
            )
        })
        .collect();
    let file = format!("{header}{body}");
    let app = app();
    app.ports
        .objects
        .lock()
        .unwrap()
        .insert("staging/worst.csv".into(), file.clone().into_bytes());
    let body = json!({"key": "staging/worst.csv", "page_size": 500});
    let auth = format!("Bearer {}", token(ISSUER_KEY, now() + 600));
    let r = send(
        &app,
        "POST",
        "/v1/imports/preview",
        Some(&body),
        Some(&auth),
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let preview: &[u8] = r.body();
    assert!(
        preview.len() < 1_000_000,
        "preview: {} bytes",
        preview.len()
    );
    let p: Value = serde_json::from_slice(preview).unwrap();
    assert!(p["errors_total"].as_u64().unwrap() >= 3000 * 8);
    assert_eq!(p["rows"].as_array().unwrap().len(), 100);

    // The report the import writes for the same file, and an import record with full lists.
    let options = shared::domain::ImportOptions::default();
    let scan =
        shared::import::scan(
            || {
                Ok(Box::new(std::io::Cursor::new(file.clone().into_bytes()))
                    as shared::csvfile::BoxRead)
            },
            &options,
            |_| {},
        )
        .unwrap();
    let report =
        shared::import::Report::new("worst", "imports/worst.csv", &options).with_scan(&scan);
    let mut st = import(
        "worst",
        "imports/worst.csv",
        ImportStatus::Rejected,
        "2026-11-22T00:00:00Z",
    );
    st.skipped = (0..1000)
        .map(|row| shared::import::Skipped {
            row,
            serial_number: long("S", 128),
            reason: "the device is enrolled already; an import never changes an enrolled device"
                .into(),
        })
        .collect();
    app.ports.imports.lock().unwrap().push(st);
    let (json_key, _) = shared::import::report_keys("imports/worst.csv", "worst");
    app.ports
        .objects
        .lock()
        .unwrap()
        .insert(json_key, serde_json::to_vec_pretty(&report).unwrap());
    let r = send(&app, "GET", "/v1/imports/worst", None, Some(&auth)).await;
    assert_eq!(r.status(), StatusCode::OK);
    let detail: &[u8] = r.body();
    assert!(
        detail.len() < 1_000_000,
        "import detail: {} bytes",
        detail.len()
    );
    let d: Value = serde_json::from_slice(detail).unwrap();
    assert_eq!(d["errors_total"], scan.errors_total);
    assert_eq!(d["errors"].as_array().unwrap().len(), 500);
}

#[tokio::test]
async fn a_device_invite_is_resent_at_most_once_a_minute() {
    let app = app();
    app.ports
        .denials
        .lock()
        .unwrap()
        .push(denial("d1", "S1", "ios", "2026-11-20T10:00:00Z"));
    approve(&app, "d1", "email").await;
    app.ports.deliver_invites().await;
    // Just sent: too soon for another.
    let (status, v) = call(&app, "POST", "/v1/devices/S1/invite", None).await;
    assert_eq!(
        (status, error_of(&v).0),
        (StatusCode::TOO_MANY_REQUESTS, "too_soon")
    );
    // A minute later (the record was queued 61 s ago).
    for rec in app.ports.outbox.records.lock().unwrap().values_mut() {
        rec.queued_at -= 61;
    }
    let (status, v) = call(&app, "POST", "/v1/devices/S1/invite", None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    assert_eq!(
        (v["invite_state"].as_str(), v["attempt"].as_u64()),
        (Some("queued"), Some(2))
    );
    let (status, _) = call(&app, "POST", "/v1/devices/S1/invite", None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "one resend a minute");
    app.ports.deliver_invites().await;
    assert_eq!(app.ports.sender.sent.lock().unwrap().len(), 2);
    let (status, v) = call(&app, "POST", "/v1/devices/NOPE/invite", None).await;
    assert_eq!(
        (status, error_of(&v).0),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[tokio::test]
async fn an_import_resend_picks_bounced_failed_and_unconfirmed_invites_only() {
    use shared::outbox::{Outbox, OutboxEntry, Transition};
    let app = app();
    app.ports.imports.lock().unwrap().push(import(
        "imp",
        "imports/a.csv",
        ImportStatus::Completed,
        "2026-11-01T00:00:00Z",
    ));
    let entries: Vec<OutboxEntry> = (1..=4)
        .map(|row| OutboxEntry {
            origin: "imp".into(),
            invite: shared::outbox::Invite {
                row,
                channel: InviteChannel::Email,
                to: format!("u{row}@x.com"),
                user_name: "U".into(),
                serial: format!("S{row}"),
                device_name: None,
                platform: "ios",
                password: None,
            },
        })
        .collect();
    let outbox = &app.ports.outbox;
    outbox.insert(&entries);
    // Row 1 sent, 2 bounced, 3 failed, 4 unconfirmed; all a while ago.
    let ends = [
        InviteState::Sent,
        InviteState::Bounced,
        InviteState::Failed,
        InviteState::Unconfirmed,
    ];
    for (row, end) in (1..=4).zip(ends) {
        let r = shared::outbox::InviteRef::new("imp", row);
        outbox.claim(&r, 1, "t", u64::MAX).await.unwrap();
        let via_sent = matches!(end, InviteState::Bounced);
        let first = if via_sent { InviteState::Sent } else { end };
        let t = Transition {
            invite: &r,
            attempt: 1,
            from: InviteState::Sending,
            to: first,
            token: Some("t"),
            message_id: Some("m"),
            reason: None,
        };
        assert!(outbox.transition(&t).await.unwrap());
        if via_sent {
            let t = Transition {
                from: InviteState::Sent,
                to: end,
                token: None,
                ..t
            };
            assert!(outbox.transition(&t).await.unwrap());
        }
    }
    for rec in outbox.records.lock().unwrap().values_mut() {
        rec.queued_at -= 3600;
    }
    let (status, v) = call(&app, "POST", "/v1/imports/imp/invites/resend", None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v, json!({"resent": 3, "skipped": 0, "more": false}));
    app.ports.deliver_invites().await;
    assert_eq!(
        app.ports.sender.sent_to(),
        ["u2@x.com", "u3@x.com", "u4@x.com"]
    );
    let one = get(&app, "/v1/imports/imp").await;
    assert_eq!(one["invites"]["sent"], 4);
    assert_eq!(one["invites"]["bounced"], 0);
}

#[tokio::test]
async fn an_undo_is_asked_for_once_dry_run_first_and_its_state_read_back() {
    let app = app();
    for (id, status) in [
        ("done", ImportStatus::Completed),
        ("busy", ImportStatus::Writing),
        ("bad", ImportStatus::Rejected),
    ] {
        app.ports.imports.lock().unwrap().push(import(
            id,
            &format!("imports/{id}.csv"),
            status,
            "2026-11-01T00:00:00Z",
        ));
    }
    let (status, _) = call(&app, "GET", "/v1/imports/done/undo", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing asked yet");
    let (status, v) = call(
        &app,
        "POST",
        "/v1/imports/done/undo",
        Some(json!({"dry_run": true})),
    )
    .await;
    assert_eq!(
        (status, v["dry_run"].as_bool(), v["status"].as_str()),
        (StatusCode::ACCEPTED, Some(true), Some("queued")),
        "{v}"
    );
    assert_eq!(v["requested_by"], "ada");
    let (status, _) = call(
        &app,
        "POST",
        "/v1/imports/done/undo",
        Some(json!({"dry_run": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "the running dry run answers");
    let (status, v) = call(&app, "POST", "/v1/imports/done/undo", None).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "not while the dry run counts: {v}"
    );
    assert_eq!(*app.ports.undo.undo_requests.lock().unwrap(), ["done"]);

    // The dry run answered: the undo itself is queued, once.
    {
        let mut undos = app.ports.undo.undos.lock().unwrap();
        undos.get_mut("done").unwrap().status = shared::undo::UndoStatus::Done;
    }
    let (status, v) = call(&app, "POST", "/v1/imports/done/undo", Some(json!({}))).await;
    assert_eq!(
        (status, v["dry_run"].as_bool()),
        (StatusCode::ACCEPTED, Some(false)),
        "{v}"
    );
    let (status, _) = call(&app, "POST", "/v1/imports/done/undo", None).await;
    assert_eq!(status, StatusCode::OK, "asked again: the same undo");
    assert_eq!(app.ports.undo.undo_requests.lock().unwrap().len(), 2);
    let v = get(&app, "/v1/imports/done/undo").await;
    assert_eq!(
        (v["dry_run"].as_bool(), v["status"].as_str()),
        (Some(false), Some("queued"))
    );

    for (id, code) in [
        ("busy", StatusCode::CONFLICT),
        ("bad", StatusCode::CONFLICT),
        ("none", StatusCode::NOT_FOUND),
    ] {
        let (status, v) = call(
            &app,
            "POST",
            &format!("/v1/imports/{id}/undo"),
            Some(json!({"dry_run": true})),
        )
        .await;
        assert_eq!(status, code, "{id}: {v}");
    }
    let (status, v) = call(
        &app,
        "POST",
        "/v1/imports/done/undo",
        Some(json!({"dry": true})),
    )
    .await;
    assert_eq!(
        (status, error_of(&v).0),
        (StatusCode::BAD_REQUEST, "invalid_request"),
        "{v}"
    );
}
