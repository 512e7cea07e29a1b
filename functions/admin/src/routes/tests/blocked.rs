//! Blocked attempts and their approval.

use super::*;

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

/// A flood's address is one row: attempts, serials, a sample and the serials
/// that came back past the budget, never approvable.
#[tokio::test]
async fn a_grouped_row_shows_its_source_and_is_not_approvable() {
    let app = app();
    let mut grouped = denial("src-1", "", "ios", "2026-11-20T11:00:00Z");
    grouped.grouped = true;
    grouped.attempts = 9_996;
    grouped.serials = 9_990;
    grouped.sample = vec!["FLOOD-00004".into(), "FLOOD-00007".into()];
    grouped.returned = vec!["REAL-NAT-6".into()];
    app.ports.denials.lock().unwrap().extend([
        grouped,
        denial("d1", "REAL-1", "ios", "2026-11-20T10:00:00Z"),
    ]);
    let v = get(&app, "/v1/admission-denials").await;
    let row = &v["items"][0];
    assert_eq!(
        (
            row["grouped"].as_bool(),
            row["attempts"].as_u64(),
            row["serials"].as_u64(),
            row["source_ip"].as_str()
        ),
        (Some(true), Some(9_996), Some(9_990), Some("203.0.113.9"))
    );
    assert_eq!(row["sample"], json!(["FLOOD-00004", "FLOOD-00007"]));
    assert_eq!(row["returned"], json!(["REAL-NAT-6"]));
    assert_eq!(v["items"][1]["returned"], json!([]));
    assert_eq!(
        (
            v["items"][1]["grouped"].as_bool(),
            v["items"][1]["serials"].as_u64()
        ),
        (Some(false), Some(1))
    );
    let (status, v) = approve(&app, "src-1", "none").await;
    assert_eq!(
        (status, error_of(&v).0),
        (StatusCode::CONFLICT, "conflict"),
        "{v}"
    );
    assert!(app.ports.devices.lock().unwrap().is_empty());
    let (status, _) = approve(&app, "d1", "none").await;
    assert_eq!(status, StatusCode::OK);
}
