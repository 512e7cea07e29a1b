use std::sync::atomic::Ordering;

use lambda_http::http::{self, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use shared::admission::{Reason, StoredDevice};
use shared::domain::{Password, Platform};
use shared::fakes::MemoryAdmission;
use shared::password::PasswordKey;
use shared::records::DeviceStatus;

use super::{handle, App};

fn key() -> PasswordKey {
    PasswordKey::new(vec![9u8; 32]).unwrap()
}

/// An app whose store holds `ABC123` (ios, password "s3cret", group Sales) and `NOPW1` (android, no password).
fn app(pre_approved_only: bool) -> App<MemoryAdmission> {
    let store = MemoryAdmission::default();
    store
        .pre_approved_only
        .store(pre_approved_only, Ordering::Relaxed);
    let key = key();
    let hash = key.hash("ABC123", &Password::parse("s3cret").unwrap());
    let mut devices = store.devices.lock().unwrap();
    devices.insert(
        "ABC123".into(),
        StoredDevice {
            status: DeviceStatus::PreApproved,
            platform: Platform::Ios,
            groups: vec!["Sales".into()],
            password_hash: Some(hash),
        },
    );
    devices.insert(
        "NOPW1".into(),
        StoredDevice {
            status: DeviceStatus::PreApproved,
            platform: Platform::Android,
            groups: vec![],
            password_hash: None,
        },
    );
    drop(devices);
    App {
        store,
        password_key: key,
    }
}

fn request(method: &str, path: &str, body: impl Into<Body>) -> Request {
    http::Request::builder()
        .method(method)
        .uri(format!("https://api.example.com{path}"))
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap()
}

/// Handles a request; the answer must be the one openapi.yaml documents.
async fn respond(
    app: &App<MemoryAdmission>,
    method: &str,
    path: &str,
    body: impl Into<Body>,
) -> Response<Body> {
    let response = handle(app, request(method, path, body)).await;
    let bytes: &[u8] = response.body();
    openapi_check::assert_documented(method, path, response.status().as_u16(), bytes);
    response
}

async fn call(
    app: &App<MemoryAdmission>,
    method: &str,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    parts(respond(app, method, path, body.to_string()).await)
}

fn parts(response: Response<Body>) -> (StatusCode, Value) {
    let status = response.status();
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: &[u8] = response.body();
    (status, serde_json::from_slice(body).expect("JSON body"))
}

async fn admit(app: &App<MemoryAdmission>, body: Value) -> Value {
    let (status, v) = call(app, "POST", "/v1/admission", body).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    v
}

#[tokio::test]
async fn serial_numbers_are_case_sensitive() {
    let app = app(true);
    let v = admit(
        &app,
        json!({"serial_number": "ABC123", "platform": "ios", "password": "s3cret"}),
    )
    .await;
    assert_eq!(
        (v["decision"].as_str(), v["reason"].as_str()),
        (Some("allow"), Some("pre_approved"))
    );
    assert_eq!(v["pre_approved"], true);
    assert_eq!(v["groups"], json!(["Sales"]));
    let v = admit(
        &app,
        json!({"serial_number": "abc123", "platform": "ios", "password": "s3cret"}),
    )
    .await;
    assert_eq!(
        (v["decision"].as_str(), v["reason"].as_str()),
        (Some("deny"), Some("not_pre_approved"))
    );
    let v = admit(
        &app,
        json!({"serial_number": "ABC123 ", "platform": "ios", "password": "s3cret"}),
    )
    .await;
    assert_eq!(v["reason"], "not_pre_approved", "no trimming");
}

#[tokio::test]
async fn passwords_are_checked_against_the_keyed_hash() {
    let app = app(true);
    for (password, reason) in [
        (json!("s3cret"), "pre_approved"),
        (json!("S3cret"), "password_mismatch"),
        (json!(null), "password_required"),
        (json!(""), "password_required"),
    ] {
        let v = admit(
            &app,
            json!({"serial_number": "ABC123", "platform": "ios", "password": password}),
        )
        .await;
        assert_eq!(v["reason"], reason, "{password}");
    }
    let v = admit(
        &app,
        json!({"serial_number": "ABC123", "platform": "macos", "password": "s3cret"}),
    )
    .await;
    assert_eq!(v["reason"], "platform_mismatch");
}

#[tokio::test]
async fn open_enrollment_and_unsupported_requests() {
    let app = app(false);
    let v = admit(&app, json!({"serial_number": "ANY-1", "platform": "linux"})).await;
    assert_eq!(
        (v["decision"].as_str(), v["reason"].as_str()),
        (Some("allow"), Some("open_enrollment"))
    );
    assert_eq!(v["pre_approved"], false);
    let v = admit(
        &app,
        json!({"serial_number": "ANY-1", "platform": "windows"}),
    )
    .await;
    assert_eq!(
        (v["decision"].as_str(), v["reason"].as_str()),
        (Some("deny"), Some("unsupported_platform"))
    );
    app.store.pre_approved_only.store(true, Ordering::Relaxed);
    let v = admit(
        &app,
        json!({"serial_number": "NOPW1", "platform": "android", "enrollment_method": "qr", "os_version": "13"}),
    )
    .await;
    assert_eq!(v["reason"], "unsupported_enrollment_method");
    assert!(v["detail"].as_str().unwrap().contains("Android 10"));
}

#[tokio::test]
async fn denials_are_recorded_without_secrets_and_allows_are_not() {
    let app = app(true);
    admit(
        &app,
        json!({"serial_number": "ABC123", "platform": "ios", "password": "s3cret"}),
    )
    .await;
    assert!(
        app.store.denials.lock().unwrap().is_empty(),
        "the allow path writes nothing"
    );
    admit(
        &app,
        json!({"serial_number": "ABC123", "platform": "ios", "password": "wrong-one", "enrollment_method": "ade", "os_version": "17.1"}),
    )
    .await;
    let denials = app.store.denials.lock().unwrap();
    assert_eq!(denials.len(), 1);
    let d = &denials[0];
    assert_eq!(
        (d.serial.as_str(), d.platform, d.reason),
        ("ABC123", "ios", Reason::PasswordMismatch)
    );
    assert_eq!(
        (d.method.as_deref(), d.os_version.as_deref()),
        (Some("ade"), Some("17.1"))
    );
    assert_eq!(d.endpoint, "admission");
    assert!(!format!("{d:?}").contains("wrong-one"));
}

#[tokio::test]
async fn completing_an_enrollment_happens_once() {
    let app = app(true);
    let body = json!({"serial_number": "ABC123", "platform": "ios", "password": "s3cret", "enrollment_method": "ade"});
    let (status, v) = call(&app, "POST", "/v1/enrollments", body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        v,
        json!({"status": "enrolled", "pre_approved": true, "reason": "pre_approved", "groups": ["Sales"]})
    );
    let stored = app.store.devices.lock().unwrap()["ABC123"].clone();
    assert_eq!(stored.status, DeviceStatus::Enrolled);
    assert_eq!(stored.password_hash, None, "the one-time password is gone");
    let (status, v) = call(&app, "POST", "/v1/enrollments", body.clone()).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("already_enrolled"))
    );
    let v = admit(&app, body).await;
    assert_eq!(v["reason"], "already_enrolled");
}

#[tokio::test]
async fn completion_is_refused_when_admission_would_deny() {
    let app = app(true);
    let (status, v) = call(
        &app,
        "POST",
        "/v1/enrollments",
        json!({"serial_number": "ABC123", "platform": "ios"}),
    )
    .await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("password_required"))
    );
    assert_eq!(
        app.store.devices.lock().unwrap()["ABC123"].status,
        DeviceStatus::PreApproved
    );
    assert_eq!(app.store.denials.lock().unwrap()[0].endpoint, "enrollments");
}

#[tokio::test]
async fn open_enrollment_completion_creates_the_enrolled_device() {
    let app = app(false);
    let body = json!({"serial_number": "NEW-9", "platform": "macos"});
    let (status, v) = call(&app, "POST", "/v1/enrollments", body.clone()).await;
    assert_eq!(
        (status, v["pre_approved"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    assert_eq!(
        app.store.devices.lock().unwrap()["NEW-9"].status,
        DeviceStatus::Enrolled
    );
    let (status, _) = call(&app, "POST", "/v1/enrollments", body).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn http_errors() {
    let app = app(true);
    let r = respond(&app, "GET", "/v1/admission", "").await;
    assert_eq!(r.headers()["allow"], "POST");
    assert_eq!(parts(r).0, StatusCode::METHOD_NOT_ALLOWED);
    let (status, _) = call(&app, "POST", "/v1/other", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let big = json!({"serial_number": "ABC123", "platform": "ios", "pad": "x".repeat(4096)});
    let (status, v) = call(&app, "POST", "/v1/admission", big).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );
    let (status, v) = call(
        &app,
        "POST",
        "/v1/admission",
        json!({"serial_number": "ABC123", "platform": "iOS"}),
    )
    .await;
    assert_eq!(
        (status, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("platform"))
    );
    assert!(v["message"].as_str().unwrap().contains("'ios'"));
    // A stage prefix or trailing slash in front of the route does not matter.
    let v = admit(
        &app,
        json!({"serial_number": "NOPW1", "platform": "android"}),
    )
    .await;
    assert_eq!(v["reason"], "pre_approved");
    let (status, _) = call(
        &app,
        "POST",
        "/prod/v1/admission/",
        json!({"serial_number": "NOPW1", "platform": "android"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn store_failures_answer_503() {
    let app = app(true);
    app.store.fail.store(true, Ordering::Relaxed);
    let r = respond(
        &app,
        "POST",
        "/v1/admission",
        r#"{"serial_number":"ABC123","platform":"ios"}"#,
    )
    .await;
    assert_eq!(r.headers()["retry-after"], "1");
    let (status, v) = parts(r);
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable"))
    );
}

/// Arbitrary bytes (a fixed-seed generator, so failures reproduce) never panic and never allow.
#[tokio::test]
async fn no_input_crashes_the_handler() {
    let app = app(true);
    let fragments: [&[u8]; 12] = [
        b"{",
        b"}",
        b"\"serial_number\"",
        b":",
        b"\"platform\"",
        b"\"ios\"",
        b",",
        b"[",
        b"null",
        b"\xff\xfe",
        b"\"\\u0000\"",
        b"1e999",
    ];
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..5_000 {
        let mut body = Vec::new();
        for _ in 0..(seed % 12) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            body.extend_from_slice(fragments[(seed % 12) as usize]);
        }
        let r = respond(&app, "POST", "/v1/admission", body.clone()).await;
        let (status, v) = parts(r);
        assert!(
            status == StatusCode::BAD_REQUEST || v["decision"] == "deny",
            "{body:?} -> {status} {v}"
        );
    }
}
