//! The settings and their audit trail.

use super::*;

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
