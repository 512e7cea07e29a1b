use std::sync::atomic::Ordering;

use lambda_http::http::{self, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use shared::admission::lockout::{since_cleared, ATTEMPTS};
use shared::admission::{Grant, Reason, StoredDevice, TokenKey, TOKEN_TTL_SECS};
use shared::clock::epoch_now;
use shared::domain::{Password, Platform};
use shared::fakes::MemoryAdmission;
use shared::password::PasswordKey;
use shared::records::{DeviceStatus, PasswordChecks};

use super::{handle, App};

fn key() -> PasswordKey {
    PasswordKey::new(vec![9u8; 32]).unwrap()
}

fn stored(platform: Platform, password_hash: Option<String>) -> StoredDevice {
    StoredDevice {
        status: DeviceStatus::PreApproved,
        platform,
        groups: vec!["Sales".into()],
        password_hash,
        checks: PasswordChecks::default(),
        expires: None,
    }
}

/// An app whose store holds `ABC123` (ios, password "s3cret", group Sales) and `NOPW1` (android, no password).
fn app(pre_approved_only: bool) -> App<MemoryAdmission> {
    let store = MemoryAdmission::default();
    store
        .pre_approved_only
        .store(pre_approved_only, Ordering::Relaxed);
    let key = key();
    let hash = key.hash("ABC123", &Password::parse("s3cret").unwrap());
    {
        let mut devices = store.devices.lock().unwrap();
        devices.insert("ABC123".into(), stored(Platform::Ios, Some(hash)));
        let mut nopw = stored(Platform::Android, None);
        nopw.groups.clear();
        devices.insert("NOPW1".into(), nopw);
    }
    App::new(store, key)
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
    checked(method, path, handle(app, request(method, path, body)).await)
}

fn checked(method: &str, path: &str, response: Response<Body>) -> Response<Body> {
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

/// The raw answer, for byte-for-byte comparisons.
async fn raw(app: &App<MemoryAdmission>, body: Value) -> Vec<u8> {
    let r = respond(app, "POST", "/v1/admission", body.to_string()).await;
    let bytes: &[u8] = r.body();
    bytes.to_vec()
}

async fn complete(app: &App<MemoryAdmission>, body: Value) -> (StatusCode, Value) {
    call(app, "POST", "/v1/enrollments", body).await
}

fn right() -> Value {
    json!({"serial_number": "ABC123", "platform": "ios", "password": "s3cret", "enrollment_method": "ade"})
}

fn with_token(mut body: Value, token: &Value) -> Value {
    body["enrollment_token"] = token.clone();
    body
}

/// The precise reasons of the denials recorded so far, in order.
fn recorded_reasons(app: &App<MemoryAdmission>) -> Vec<Reason> {
    let denials = app.store.denials.lock().unwrap();
    denials.iter().map(|d| d.reason).collect()
}

fn status_of(app: &App<MemoryAdmission>, serial: &str) -> DeviceStatus {
    app.store.devices.lock().unwrap()[serial].status
}

/// The password checks counted on a device since its last clearing.
fn checks_of(app: &App<MemoryAdmission>, serial: &str) -> u64 {
    since_cleared(&app.store.devices.lock().unwrap()[serial].checks)
}

/// Checks that fill a window, the last at `at`: locked from then.
fn locked_at(at: u64) -> PasswordChecks {
    PasswordChecks {
        claimed: ATTEMPTS,
        cleared: 0,
        last_at: at,
    }
}

#[tokio::test]
async fn serial_numbers_are_case_sensitive() {
    let app = app(true);
    let v = admit(&app, right()).await;
    assert_eq!(
        (v["decision"].as_str(), v["reason"].as_str()),
        (Some("allow"), Some("pre_approved"))
    );
    assert_eq!(v["pre_approved"], true);
    assert_eq!(v["groups"], json!(["Sales"]));
    assert!(v["enrollment_token"].as_str().unwrap().starts_with("et2."));
    let v = admit(
        &app,
        json!({"serial_number": "abc123", "platform": "ios", "password": "s3cret"}),
    )
    .await;
    assert_eq!(
        (v["decision"].as_str(), v["reason"].as_str()),
        (Some("deny"), Some("not_allowed"))
    );
    assert!(v.get("enrollment_token").is_none());
    let (status, v) = call(
        &app,
        "POST",
        "/v1/admission",
        json!({"serial_number": "ABC123 ", "platform": "ios", "password": "s3cret"}),
    )
    .await;
    assert_eq!(
        (status, v["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("serial_number")),
        "never trimmed: refused"
    );
    assert!(
        v["message"].as_str().unwrap().contains("U+0020 SPACE"),
        "{v}"
    );
    let records = recorded_reasons(&app);
    assert_eq!(records, [Reason::NotPreApproved]);
}

#[tokio::test]
async fn every_refusal_that_depends_on_the_list_is_the_same_answer() {
    let app = app(true);
    let enrolled = {
        let mut d = stored(Platform::Macos, None);
        d.status = DeviceStatus::Enrolled;
        d
    };
    let mut locked = stored(Platform::Ios, None);
    locked.checks = locked_at(epoch_now());
    {
        let mut devices = app.store.devices.lock().unwrap();
        devices.insert("DONE1".into(), enrolled);
        devices.insert("LOCK1".into(), locked);
    }
    let unknown = raw(&app, json!({"serial_number": "NOPE", "platform": "ios"})).await;
    let answers = [
        raw(
            &app,
            json!({"serial_number": "ABC123", "platform": "macos", "password": "s3cret"}),
        )
        .await,
        raw(&app, json!({"serial_number": "ABC123", "platform": "ios"})).await,
        raw(
            &app,
            json!({"serial_number": "ABC123", "platform": "ios", "password": "S3cret"}),
        )
        .await,
        raw(&app, json!({"serial_number": "DONE1", "platform": "macos"})).await,
        raw(&app, json!({"serial_number": "LOCK1", "platform": "ios"})).await,
    ];
    for a in &answers {
        assert_eq!(
            String::from_utf8_lossy(a),
            String::from_utf8_lossy(&unknown)
        );
    }
    let v: Value = serde_json::from_slice(&unknown).unwrap();
    assert_eq!(v["reason"], "not_allowed");
    assert!(v["detail"].as_str().unwrap().contains("IT administrator"));
    // The admin's records keep the precise reasons.
    let records = recorded_reasons(&app);
    assert_eq!(
        records,
        [
            Reason::NotPreApproved,
            Reason::PlatformMismatch,
            Reason::PasswordRequired,
            Reason::PasswordMismatch,
            Reason::AlreadyEnrolled,
            Reason::Locked
        ]
    );
    // Only what depends on the request alone is said as it is.
    let v = admit(&app, json!({"serial_number": "ANY", "platform": "windows"})).await;
    assert_eq!(v["reason"], "unsupported_platform");
    let v = admit(&app, json!({"serial_number": "NOPW1", "platform": "android", "enrollment_method": "qr", "os_version": "13"})).await;
    assert_eq!(v["reason"], "unsupported_enrollment_method");
    assert!(v["detail"].as_str().unwrap().contains("Android 10"));
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_serial_even_for_the_right_one() {
    let app = app(true);
    for _ in 0..ATTEMPTS - 1 {
        admit(
            &app,
            json!({"serial_number": "ABC123", "platform": "ios", "password": "guess"}),
        )
        .await;
    }
    // A right password before the fifth clears the count.
    assert_eq!(admit(&app, right()).await["decision"], "allow");
    assert_eq!(checks_of(&app, "ABC123"), 0);
    for _ in 0..ATTEMPTS {
        admit(
            &app,
            json!({"serial_number": "ABC123", "platform": "ios", "password": "guess"}),
        )
        .await;
    }
    let v = admit(&app, right()).await;
    assert_eq!(
        (v["decision"].as_str(), v["reason"].as_str()),
        (Some("deny"), Some("not_allowed"))
    );
    assert_eq!(
        app.store.denials.lock().unwrap().last().unwrap().reason,
        Reason::Locked
    );
    // Guesses while locked are not counted (nor checked).
    admit(
        &app,
        json!({"serial_number": "ABC123", "platform": "ios", "password": "guess"}),
    )
    .await;
    assert_eq!(checks_of(&app, "ABC123"), ATTEMPTS);
    // Fifteen minutes later the lock is over.
    app.store
        .devices
        .lock()
        .unwrap()
        .get_mut("ABC123")
        .unwrap()
        .checks
        .last_at -= 15 * 60;
    assert_eq!(admit(&app, right()).await["decision"], "allow");
    assert_eq!(checks_of(&app, "ABC123"), 0);
}

#[tokio::test]
async fn a_wrong_password_counts_even_when_enrollment_is_open() {
    let app = app(false);
    let v = admit(
        &app,
        json!({"serial_number": "ABC123", "platform": "ios", "password": "guess"}),
    )
    .await;
    assert_eq!(
        (v["reason"].as_str(), v["pre_approved"].as_bool()),
        (Some("open_enrollment"), Some(false))
    );
    assert!(
        v.get("groups").is_none() && v.get("detail").is_none(),
        "says nothing of the pre-approval: {v}"
    );
    assert_eq!(checks_of(&app, "ABC123"), 1);
}

#[tokio::test]
async fn denials_are_recorded_once_per_serial_reason_and_hour_without_secrets() {
    let app = app(true);
    admit(&app, right()).await;
    assert!(
        app.store.denials.lock().unwrap().is_empty(),
        "the allow path writes nothing"
    );
    let mut req = request(
        "POST",
        "/v1/admission",
        json!({"serial_number": "ABC123", "platform": "ios", "password": "wrong-one", "enrollment_method": "ade", "os_version": "17.1"}).to_string(),
    );
    let mut context =
        lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
    context.http.source_ip = Some("203.0.113.9".into());
    req.extensions_mut()
        .insert(lambda_http::request::RequestContext::ApiGatewayV2(context));
    checked("POST", "/v1/admission", handle(&app, req).await);
    {
        let denials = app.store.denials.lock().unwrap();
        let d = &denials[0];
        assert_eq!(
            (d.serial.as_str(), d.platform, d.reason),
            ("ABC123", "ios", Reason::PasswordMismatch)
        );
        assert_eq!(
            (d.method.as_deref(), d.os_version.as_deref()),
            (Some("ade"), Some("17.1"))
        );
        assert_eq!(
            (d.endpoint, d.source_ip.as_deref()),
            ("admission", Some("203.0.113.9"))
        );
        assert!(!format!("{d:?}").contains("wrong-one"));
    }
    for _ in 0..1000 {
        admit(&app, json!({"serial_number": "FLOOD", "platform": "ios"})).await;
    }
    let records = app.store.denial_records.lock().unwrap();
    let flood: Vec<u64> = records
        .values()
        .filter(|(d, _)| d.serial == "FLOOD")
        .map(|(_, n)| *n)
        .collect();
    // One record per hour: the test may straddle an hour's end.
    assert_eq!(flood.iter().sum::<u64>(), 1000);
    assert!(flood.len() <= 2, "{flood:?}");
}

#[tokio::test]
async fn completing_an_enrollment_needs_the_token_of_an_admission_and_happens_once() {
    let app = app(true);
    let token = admit(&app, right()).await["enrollment_token"].clone();
    let (status, v) = complete(&app, with_token(right(), &token)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        v,
        json!({"status": "enrolled", "pre_approved": true, "reason": "pre_approved", "groups": ["Sales"]})
    );
    let device = app.store.devices.lock().unwrap()["ABC123"].clone();
    assert_eq!(device.status, DeviceStatus::Enrolled);
    assert_eq!(device.password_hash, None, "the one-time password is gone");
    let (status, v) = complete(&app, with_token(right(), &token)).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("already_enrolled"))
    );
    assert_eq!(admit(&app, right()).await["reason"], "not_allowed");
    // Reset by an admin: the used token still cannot enroll it again.
    app.store
        .devices
        .lock()
        .unwrap()
        .get_mut("ABC123")
        .unwrap()
        .status = DeviceStatus::PreApproved;
    let (status, v) = complete(&app, with_token(right(), &token)).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_token"))
    );
    assert_eq!(status_of(&app, "ABC123"), DeviceStatus::PreApproved);
}

#[tokio::test]
async fn completion_without_a_valid_token_changes_nothing() {
    let app = app(true);
    let now = epoch_now();
    // Each as the admission of ABC123 would issue it, but for the one thing tried.
    let abc = app.store.devices.lock().unwrap()["ABC123"].clone();
    let issue = |tokens: &TokenKey, serial: &str, platform: &str, at: u64| {
        tokens.issue(serial, platform, Grant::PreApproved, Some(&abc), at)
    };
    let expired = issue(&app.tokens, "ABC123", "ios", now - TOKEN_TTL_SECS - 1);
    let other_serial = issue(&app.tokens, "NOPW1", "ios", now);
    let other_platform = issue(&app.tokens, "ABC123", "macos", now);
    let forged = format!(
        "et2.{}.p.{}.{}.{}",
        now + 600,
        app.tokens.record(Some(&abc)),
        "0".repeat(32),
        "ab".repeat(32)
    );
    let foreign = issue(
        &App::new(
            MemoryAdmission::default(),
            PasswordKey::new(vec![1u8; 32]).unwrap(),
        )
        .tokens,
        "ABC123",
        "ios",
        now,
    );
    for token in [
        Value::Null,
        json!(""),
        json!(expired),
        json!(other_serial),
        json!(other_platform),
        json!(forged),
        json!(foreign),
        json!("x".repeat(300)),
    ] {
        let (status, v) = complete(&app, with_token(right(), &token)).await;
        assert_eq!(
            (status, v["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_token")),
            "{token}"
        );
    }
    // A password-less device cannot be enrolled by an outsider who knows its serial.
    let (status, _) = complete(
        &app,
        json!({"serial_number": "NOPW1", "platform": "android"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(status_of(&app, "ABC123"), DeviceStatus::PreApproved);
    assert_eq!(status_of(&app, "NOPW1"), DeviceStatus::PreApproved);
    assert!(
        app.store.denials.lock().unwrap().is_empty(),
        "refused tokens write nothing"
    );
}

#[tokio::test]
async fn a_token_does_not_outlive_a_lock_or_a_platform_change() {
    let app = app(true);
    let token = admit(&app, right()).await["enrollment_token"].clone();
    app.store
        .devices
        .lock()
        .unwrap()
        .get_mut("ABC123")
        .unwrap()
        .checks = locked_at(epoch_now());
    let (status, v) = complete(&app, with_token(right(), &token)).await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_allowed"))
    );
    assert_eq!(status_of(&app, "ABC123"), DeviceStatus::PreApproved);
}

fn set_restriction(app: &App<MemoryAdmission>, on: bool) {
    app.store.pre_approved_only.store(on, Ordering::Relaxed);
}

/// What the last completed enrollment recorded: did its pre-approval apply?
fn last_enrollment_applied(app: &App<MemoryAdmission>) -> bool {
    app.store
        .enrollments
        .lock()
        .unwrap()
        .last()
        .unwrap()
        .pre_approved
}

/// Issue 26, attack 1: with the restriction off, a stranger who knows a
/// pre-approved serial but not its password is let in as an open enrollment,
/// and completing that admission must grant exactly that: no pre-approval,
/// no groups. The pre-approval stays unused for the password's holder.
#[tokio::test]
async fn an_open_enrollment_token_does_not_grant_the_pre_approval() {
    let stranger_bodies = [
        json!({"serial_number": "ABC123", "platform": "ios", "password": "guess"}),
        json!({"serial_number": "ABC123", "platform": "ios"}),
    ];
    for stranger in stranger_bodies {
        let app = app(false);
        let hash = app.store.devices.lock().unwrap()["ABC123"]
            .password_hash
            .clone();
        let v = admit(&app, stranger.clone()).await;
        assert_eq!(
            (v["reason"].as_str(), v["pre_approved"].as_bool()),
            (Some("open_enrollment"), Some(false)),
            "{stranger}: {v}"
        );
        let token = v["enrollment_token"].clone();
        let (status, v) = complete(&app, with_token(stranger.clone(), &token)).await;
        assert_eq!(status, StatusCode::OK, "{stranger}: {v}");
        assert_eq!(
            v,
            json!({"status": "enrolled", "pre_approved": false, "reason": "open_enrollment"}),
            "{stranger}: an open admission completes as an open enrollment, without groups"
        );
        assert!(!last_enrollment_applied(&app), "{stranger}");
        // The serial enrolled once (openly); its pre-approval was not used: the
        // password's hash stays, so an administrator's reset gives it back intact.
        let device = app.store.devices.lock().unwrap()["ABC123"].clone();
        assert_eq!(device.status, DeviceStatus::Enrolled);
        assert_eq!(
            device.password_hash, hash,
            "{stranger}: the pre-approval is unused"
        );
        app.store
            .devices
            .lock()
            .unwrap()
            .get_mut("ABC123")
            .unwrap()
            .status = DeviceStatus::PreApproved;
        let v = admit(&app, right()).await;
        assert_eq!(
            (v["reason"].as_str(), v["groups"].clone()),
            (Some("pre_approved"), json!(["Sales"])),
            "{stranger}: the rightful owner still gets the pre-approval"
        );
        let (status, v) = complete(&app, with_token(right(), &v["enrollment_token"])).await;
        assert_eq!(
            (status, v["pre_approved"].as_bool(), v["groups"].clone()),
            (StatusCode::OK, Some(true), json!(["Sales"])),
            "{stranger}: {v}"
        );
        assert!(last_enrollment_applied(&app));
    }
}

/// Issue 26: the restriction turned on after an open admission refuses its
/// completion (the setting is read again), for a pre-approved serial as for
/// an unknown one.
#[tokio::test]
async fn a_token_issued_while_enrollment_was_open_is_refused_once_the_restriction_is_on() {
    let app = app(false);
    let wrong = json!({"serial_number": "ABC123", "platform": "ios", "password": "guess"});
    let unknown = json!({"serial_number": "NEW-7", "platform": "macos"});
    let tokens = [
        admit(&app, wrong.clone()).await["enrollment_token"].clone(),
        admit(&app, unknown.clone()).await["enrollment_token"].clone(),
    ];
    set_restriction(&app, true);
    for (body, token) in [wrong, unknown].into_iter().zip(tokens) {
        let (status, v) = complete(&app, with_token(body.clone(), &token)).await;
        assert_eq!(
            (status, v["decision"].as_str(), v["reason"].as_str()),
            (StatusCode::FORBIDDEN, Some("deny"), Some("not_allowed")),
            "{body}: {v}"
        );
    }
    assert_eq!(status_of(&app, "ABC123"), DeviceStatus::PreApproved);
    assert_eq!(
        checks_of(&app, "ABC123"),
        1,
        "the admission's wrong password counted; the completion is no guess"
    );
    assert!(!app.store.devices.lock().unwrap().contains_key("NEW-7"));
    assert!(app.store.enrollments.lock().unwrap().is_empty());
}

/// Re-imports the device with another password and groups: another pre-approval.
fn reimport(app: &App<MemoryAdmission>, password: &str, groups: &[&str]) {
    let hash = app
        .password_key
        .hash("ABC123", &Password::parse(password).unwrap());
    let mut device = stored(Platform::Ios, Some(hash));
    device.groups = groups.iter().map(|g| (*g).to_owned()).collect();
    app.store
        .devices
        .lock()
        .unwrap()
        .insert("ABC123".into(), device);
}

/// Issue 26: a token names the pre-approval it was judged against; one of a
/// re-imported device (another password, other groups) is not granted by it.
#[tokio::test]
async fn a_token_does_not_grant_a_pre_approval_imported_after_it() {
    for restricted in [true, false] {
        let app = app(restricted);
        let mut tokens = vec![(
            right(),
            admit(&app, right()).await["enrollment_token"].clone(),
        )];
        if !restricted {
            let wrong = json!({"serial_number": "ABC123", "platform": "ios", "password": "guess"});
            let token = admit(&app, wrong.clone()).await["enrollment_token"].clone();
            tokens.push((wrong, token));
        }
        reimport(&app, "other-pw", &["Executives"]);
        for (body, token) in tokens {
            let (status, v) = complete(&app, with_token(body.clone(), &token)).await;
            assert_eq!(
                (status, v["error"].as_str()),
                (StatusCode::CONFLICT, Some("changed")),
                "restricted={restricted} {body}: {v}"
            );
            assert_eq!(status_of(&app, "ABC123"), DeviceStatus::PreApproved);
        }
        assert!(app.store.enrollments.lock().unwrap().is_empty());
        // The new pre-approval's own admission completes with its groups.
        let b = json!({"serial_number": "ABC123", "platform": "ios", "password": "other-pw"});
        let token = admit(&app, b.clone()).await["enrollment_token"].clone();
        let (status, v) = complete(&app, with_token(b, &token)).await;
        assert_eq!(
            (status, v["groups"].clone()),
            (StatusCode::OK, json!(["Executives"])),
            "{v}"
        );
    }
    // An open admission of a serial nobody imported does not grant the
    // pre-approval imported for it afterwards.
    let app = app(false);
    let body = json!({"serial_number": "NEW-8", "platform": "ios"});
    let token = admit(&app, body.clone()).await["enrollment_token"].clone();
    let imported = app.store.devices.lock().unwrap()["NOPW1"].clone();
    app.store.devices.lock().unwrap().insert(
        "NEW-8".into(),
        StoredDevice {
            platform: Platform::Ios,
            ..imported
        },
    );
    let (status, v) = complete(&app, with_token(body, &token)).await;
    assert_eq!(
        (status, v["error"].as_str()),
        (StatusCode::CONFLICT, Some("changed")),
        "{v}"
    );
    assert_eq!(status_of(&app, "NEW-8"), DeviceStatus::PreApproved);
}

/// No regression: the right password completes as pre-approved with its
/// groups, whatever the setting, and the setting flipping in between does not matter.
#[tokio::test]
async fn the_right_password_still_completes_as_pre_approved_with_its_groups() {
    for (at_admission, at_completion) in
        [(true, true), (false, false), (false, true), (true, false)]
    {
        let app = app(at_admission);
        let token = admit(&app, right()).await["enrollment_token"].clone();
        set_restriction(&app, at_completion);
        let (status, v) = complete(&app, with_token(right(), &token)).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(
            v,
            json!({"status": "enrolled", "pre_approved": true, "reason": "pre_approved", "groups": ["Sales"]})
        );
        assert!(last_enrollment_applied(&app));
    }
}

#[tokio::test]
async fn open_enrollment_completion_creates_the_enrolled_device() {
    let app = app(false);
    let body = json!({"serial_number": "NEW-9", "platform": "macos"});
    let token = admit(&app, body.clone()).await["enrollment_token"].clone();
    let (status, v) = complete(&app, with_token(body.clone(), &token)).await;
    assert_eq!(
        (status, v["pre_approved"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    assert_eq!(status_of(&app, "NEW-9"), DeviceStatus::Enrolled);
    let (status, _) = complete(&app, with_token(body, &token)).await;
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
    let (status, v) = call(
        &app,
        "POST",
        "/prod/v1/admission/",
        json!({"serial_number": "NOPW1", "platform": "android"}),
    )
    .await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (StatusCode::OK, Some("pre_approved"))
    );
}

#[tokio::test]
async fn store_failures_answer_503() {
    // No comparison without its count: a claim that cannot be written is a 503,
    // whatever the password.
    for password in ["s3cret", "guess"] {
        let app = app(true);
        *app.store.fail_on.lock().unwrap() = Some("claim_check");
        let body = json!({"serial_number": "ABC123", "platform": "ios", "password": password});
        let (status, v) = call(&app, "POST", "/v1/admission", body).await;
        assert_eq!(
            (status, v["error"].as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, Some("unavailable")),
            "{password}"
        );
        assert!(app.store.denials.lock().unwrap().is_empty());
    }
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
        for path in ["/v1/admission", "/v1/enrollments"] {
            let (status, v) = parts(respond(&app, "POST", path, body.clone()).await);
            assert!(
                status == StatusCode::BAD_REQUEST
                    || status == StatusCode::UNAUTHORIZED
                    || v["decision"] == "deny",
                "{body:?} -> {status} {v}"
            );
        }
    }
}

/// Issue 26, item 2: a burst of wrong guesses arriving at once (each its own
/// task, interleaving at every store call) gets at most five password checks
/// in the lock window; the rest are refused unchecked, and so is the right
/// password afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_wrong_guesses_is_checked_at_most_five_times() {
    let app = std::sync::Arc::new(app(true));
    // All fifty in flight before the first is answered.
    let start = std::sync::Arc::new(tokio::sync::Barrier::new(50));
    let guesses: Vec<_> = (0..50)
        .map(|i| {
            let (app, start) = (app.clone(), start.clone());
            tokio::spawn(async move {
                start.wait().await;
                let body = json!({"serial_number": "ABC123", "platform": "ios", "password": format!("guess-{i}")});
                handle(&app, request("POST", "/v1/admission", body.to_string())).await
            })
        })
        .collect();
    for g in guesses {
        let (status, v) = parts(g.await.unwrap());
        assert_eq!(
            (status, v["reason"].as_str()),
            (StatusCode::OK, Some("not_allowed"))
        );
    }
    let reasons = recorded_reasons(&app);
    let checked = reasons
        .iter()
        .filter(|r| **r == Reason::PasswordMismatch)
        .count();
    assert_eq!(
        (checked as u64, (reasons.len() - checked) as u64),
        (ATTEMPTS, 50 - ATTEMPTS),
        "password checks, refusals unchecked: {reasons:?}"
    );
    assert_eq!(checks_of(&app, "ABC123"), ATTEMPTS);
    assert_eq!(admit(&app, right()).await["reason"], "not_allowed");
    assert_eq!(recorded_reasons(&app).last(), Some(&Reason::Locked));
}

/// Issue 26, item 5: a token that completed an enrollment never completes
/// one again: not after an administrator's reset, nor after a re-import or an
/// undo put the device back as it was. (A device without a password: its
/// record's fingerprint is the same each time, so only the used token tells.)
#[tokio::test]
async fn a_used_token_never_completes_again() {
    let app = app(true);
    let body = json!({"serial_number": "NOPW1", "platform": "android"});
    let token = admit(&app, body.clone()).await["enrollment_token"].clone();
    let imported = app.store.devices.lock().unwrap()["NOPW1"].clone();
    app.store.take_calls();
    let (status, v) = complete(&app, with_token(body.clone(), &token)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(app.store.take_calls(), ["lookup_completion", "enroll"]);
    let replay = |what: &'static str| {
        let (app, body, token) = (&app, body.clone(), token.clone());
        async move {
            app.store.take_calls();
            let (status, v) = complete(app, with_token(body, &token)).await;
            assert_eq!(
                (status, v["error"].as_str()),
                (StatusCode::UNAUTHORIZED, Some("invalid_token")),
                "after {what}: {v}"
            );
            assert_eq!(app.store.take_calls(), ["lookup_completion"], "{what}");
            assert_eq!(
                status_of(app, "NOPW1"),
                DeviceStatus::PreApproved,
                "after {what}"
            );
        }
    };
    // An administrator's reset.
    let reset = {
        let mut devices = app.store.devices.lock().unwrap();
        let d = devices.get_mut("NOPW1").unwrap();
        d.status = DeviceStatus::PreApproved;
        d.clone()
    };
    replay("a reset").await;
    // A re-import writes the item anew, as the file says.
    app.store
        .devices
        .lock()
        .unwrap()
        .insert("NOPW1".into(), imported);
    replay("a re-import").await;
    // Its undo puts back the before-image: the reset device.
    app.store
        .devices
        .lock()
        .unwrap()
        .insert("NOPW1".into(), reset);
    replay("an undo").await;
    // A new admission's token still completes it.
    let fresh = admit(&app, body.clone()).await["enrollment_token"].clone();
    let (status, v) = complete(&app, with_token(body, &fresh)).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(app.store.enrollments.lock().unwrap().len(), 2);
}

/// Every answer that could be a compared password's makes the same requests
/// as one: with a password, the read, one claim's request (the claim, or one
/// its condition refuses) and the denial; without one, the read and the
/// denial. So their time does not tell which serials have a password to guess.
#[tokio::test]
async fn answers_make_the_same_requests_whether_or_not_a_password_was_compared() {
    for restricted in [true, false] {
        let app = app(restricted);
        {
            let mut devices = app.store.devices.lock().unwrap();
            let mut locked = devices["ABC123"].clone();
            locked.checks = locked_at(epoch_now());
            devices.insert("LOCK1".into(), locked);
            let mut done = stored(Platform::Ios, None);
            done.status = DeviceStatus::Enrolled;
            devices.insert("DONE1".into(), done);
        }
        let with_password = [
            json!({"serial_number": "ABC123", "platform": "ios", "password": "guess"}),
            json!({"serial_number": "NOPE", "platform": "ios", "password": "guess"}),
            json!({"serial_number": "ABC123", "platform": "macos", "password": "guess"}),
            json!({"serial_number": "LOCK1", "platform": "ios", "password": "guess"}),
            json!({"serial_number": "DONE1", "platform": "ios", "password": "guess"}),
        ];
        let without = [
            json!({"serial_number": "ABC123", "platform": "ios"}),
            json!({"serial_number": "NOPE", "platform": "ios"}),
        ];
        let answer_only = if restricted {
            vec!["lookup", "claim_check", "record_denial"]
        } else {
            vec!["lookup", "claim_check"]
        };
        for (bodies, expected) in [
            (&with_password[..], answer_only),
            (
                &without[..],
                if restricted {
                    vec!["lookup", "record_denial"]
                } else {
                    vec!["lookup"]
                },
            ),
        ] {
            for body in bodies {
                app.store.take_calls();
                let v = admit(&app, body.clone()).await;
                // Enrolled is refused whatever the setting.
                if body["serial_number"] == "DONE1" && !restricted {
                    assert_eq!(v["reason"], "not_allowed");
                    continue;
                }
                let calls: Vec<&str> = app
                    .store
                    .take_calls()
                    .into_iter()
                    // The same UpdateItem; its condition refuses it.
                    .map(|c| {
                        if c == "claim_nothing" {
                            "claim_check"
                        } else {
                            c
                        }
                    })
                    .collect();
                assert_eq!(calls, expected, "restricted={restricted} {body}: {v}");
            }
        }
    }
    // A pre-approval's allow says what it is anyway: no stand-in there.
    let app = app(true);
    app.store.take_calls();
    let v = admit(
        &app,
        json!({"serial_number": "NOPW1", "platform": "android", "password": "x"}),
    )
    .await;
    assert_eq!(v["reason"], "pre_approved");
    assert_eq!(app.store.take_calls(), ["lookup"]);
}

/// A right password costs its claim and the clearing: the count is back to zero.
#[tokio::test]
async fn a_right_password_claims_then_clears() {
    let app = app(true);
    admit(
        &app,
        json!({"serial_number": "ABC123", "platform": "ios", "password": "guess"}),
    )
    .await;
    app.store.take_calls();
    assert_eq!(admit(&app, right()).await["reason"], "pre_approved");
    assert_eq!(
        app.store.take_calls(),
        ["lookup", "claim_check", "clear_checks"]
    );
    assert_eq!(checks_of(&app, "ABC123"), 0);
    let checks = app.store.devices.lock().unwrap()["ABC123"].checks;
    assert_eq!(
        (checks.claimed, checks.cleared),
        (2, 2),
        "cleared, not rewound"
    );
}
