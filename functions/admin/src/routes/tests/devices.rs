//! Devices: the list, one device, the overview, and the actions on a device.

use super::*;

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

#[tokio::test]
async fn an_administrator_removes_resets_and_unlocks_devices_with_an_audit_trail() {
    let app = app();
    let mut locked = device("L1", DeviceStatus::PreApproved, Platform::Ios, "");
    locked.checks = shared::records::PasswordChecks {
        claimed: 5,
        cleared: 0,
        last_at: now(),
    };
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
